"""config-linux.md: namespaces, id maps, devices, cgroups, sysctl, seccomp, masked and read-only paths."""

import os
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.requirement import cite
from pyrunc.testing.view import View, ns_inode, wait_for

pytestmark = pytest.mark.root

NAMESPACES = "config-linux.md#configLinuxNamespaces"
NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup",
            "time": "time", "user": "user"}


def output(c):
    r = c.create()
    assert r.rc == 0, r
    assert c.start().rc == 0
    return c.finish()


def started_view(c):
    r = c.create()
    assert r.rc == 0, r
    assert c.start().rc == 0
    return View(c.state()["pid"])


def refused_create(c):
    r = c.create()
    assert r.rc != 0, f"expected an error: {r}"
    assert c.state_dir_gone()


def _new_namespace(container, ns):
    if not os.path.exists(f"/proc/self/ns/{NS_FILES[ns]}"):
        pytest.skip(f"the host lacks {ns} namespaces")
    c = container("sleep", "300")
    c.namespace(ns)
    if ns == "user":
        c.user_namespace()
        c.config["root"]["readonly"] = False  # a remount in a user namespace may not drop locked flags
        for path in (c.bundle, *c.bundle.rglob("*")):
            os.lchown(path, 100000, 100000)
    view = started_view(c)
    assert view.namespace(NS_FILES[ns]) != ns_inode("self", NS_FILES[ns])


def _namespace_case(ns):
    @cite(NAMESPACES, "MUST", "If path is not specified, the runtime MUST create a new container namespace of type "
          f"type. ({ns})", control="drop:linux.namespaces", feature=("linux.namespaces", ns))
    def case(container):
        _new_namespace(container, ns)

    case.__name__ = f"test_new_{ns}_namespace"
    return case


for _ns in ("pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"):
    globals()[f"test_new_{_ns}_namespace"] = _namespace_case(_ns)


@cite(NAMESPACES, "MUST", "The runtime MUST place the container process in the namespace associated with that "
      "path.", control="drop:linux.namespaces")
def test_join_namespace_path(container):
    helper = subprocess.Popen(["unshare", "--net", "sleep", "300"])
    try:
        wait_for(lambda: ns_inode(helper.pid, "net") != ns_inode("self", "net"), what="the helper's netns")
        c = container("sleep", "300")
        c.namespace("network", f"/proc/{helper.pid}/ns/net")
        assert started_view(c).namespace("net") == ns_inode(helper.pid, "net")
    finally:
        helper.kill()
        helper.wait()


@cite(NAMESPACES, "MUST", "The runtime MUST generate an error if path is not associated with a namespace of type "
      "type.", control="ok:create")
def test_namespace_path_of_another_type(container):
    c = container("true")
    c.namespace("network", "/proc/self/ns/ipc")
    refused_create(c)


@cite(NAMESPACES, "MUST", "If a namespace type is not specified in the namespaces array, the container MUST inherit "
      "the runtime namespace of that type.", control='set:linux.namespaces=[{"type": "ipc"}]')
def test_namespace_inherited(container):
    c = container("sleep", "300")
    c.drop_namespace("ipc")
    assert started_view(c).namespace("ipc") == ns_inode("self", "ipc")


@cite(NAMESPACES, "MUST", "If a namespaces field contains duplicated namespaces with same type, the runtime MUST "
      "generate an error.", control="ok:create")
def test_namespace_duplicates(container):
    c = container("true")
    c.config["linux"]["namespaces"].append({"type": "ipc"})
    refused_create(c)


@cite("config-linux.md#configLinuxUserNamespaceMappings", "statement", "uidMappings (array of objects, OPTIONAL) "
      "describes the user namespace uid mappings from the host to the container. gidMappings (array of objects, "
      "OPTIONAL) describes the user namespace gid mappings from the host to the container.",
      control="drop:linux.uidMappings", feature=("linux.namespaces", "user"))
def test_id_mappings(container):
    c = container("sleep", "300")
    c.user_namespace(((0, 200000, 1000),), ((0, 300000, 1000),))
    c.config["root"]["readonly"] = False
    for path in (c.bundle, *c.bundle.rglob("*")):
        os.lchown(path, 200000, 300000)
    view = started_view(c)
    assert (view.uid_map, view.gid_map) == ([(0, 200000, 1000)], [(0, 300000, 1000)])


@cite("config-linux.md#configLinuxDevices", "MUST", "devices (array of objects, OPTIONAL) lists devices that MUST be "
      "available in the container.", control="drop:linux.devices")
def test_devices(container):
    c = container("stat", "-c", "%F %t:%T %a", "/dev/suite-null")
    c.config["linux"]["devices"] = [{"path": "/dev/suite-null", "type": "c", "major": 1, "minor": 3,
                                     "fileMode": 0o640, "uid": 0, "gid": 0}]
    assert output(c) == "character special file 1:3 640\n"


@cite("config-linux.md#configLinuxDefaultDevices", "MUST", "In addition to any devices configured with this "
      "setting, the runtime MUST also supply: /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty, "
      "/dev/console (if terminal is enabled), /dev/ptmx.",
      control="addhook:startContainer=/bin/busybox rm -f /dev/full")
def test_default_devices(container):
    names = ["null", "zero", "full", "random", "urandom", "tty"]
    c = container("stat", "-c", "%n %F", *(f"/dev/{n}" for n in names), "/dev/ptmx")
    lines = output(c).splitlines()
    assert [line.split()[0] for line in lines] == [f"/dev/{n}" for n in names] + ["/dev/ptmx"], lines
    assert all("character special" in line for line in lines[:-1]), lines


@cite("config-linux.md#configLinuxCgroupsPath", "MUST", "If the value is specified, the runtime MUST consistently "
      "attach to the same place in the cgroups hierarchy given the same value of cgroupsPath.",
      control="drop:linux.cgroupsPath")
def test_cgroups_path(container):
    c = container("sleep", "300")
    path = f"/pyrunc-suite/{c.id}"
    c.config["linux"]["cgroupsPath"] = path
    groups = started_view(c).cgroups
    assert all(p == path for ctl, p in groups.items() if "freezer" in ctl or "pids" in ctl or ctl == ""), groups


@cite("config-linux.md#configLinuxPIDS", "statement", "limit (int64, REQUIRED) - specifies the maximum number of "
      "tasks in the cgroup", control="drop:linux.resources.pids")
def test_pids_limit(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["pids"] = {"limit": 42}
    assert started_view(c).cgroup_file("pids", "pids.max") == "42"


@cite("config-linux.md#configLinuxMemory", "statement", "limit (int64, OPTIONAL) - sets limit of memory usage in "
      "bytes", control="drop:linux.resources.memory")
def test_memory_limit(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    view = started_view(c)
    try:
        value = view.cgroup_file("memory", "memory.limit_in_bytes")
    except FileNotFoundError:
        value = view.cgroup_file("memory", "memory.max")
    assert int(value) == 64 << 20


@cite("config-linux.md#configLinuxCPU", "statement", "shares (uint64, OPTIONAL) - specifies a relative share of CPU "
      "time available to the tasks in a cgroup", control="drop:linux.resources.cpu")
def test_cpu_shares(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["cpu"] = {"shares": 512}
    view = started_view(c)
    try:
        assert view.cgroup_file("cpu", "cpu.shares") == "512"
    except FileNotFoundError:
        pytest.skip("the host lacks a v1 cpu controller")


@cite("config-linux.md#configLinuxSysctl", "statement", "sysctl (object, OPTIONAL) allows kernel parameters to be "
      "modified at runtime for the container.", control="drop:linux.sysctl")
def test_sysctl(container):
    c = container("cat", "/proc/sys/net/ipv4/ip_forward")
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    c.config["linux"]["readonlyPaths"].remove("/proc/sys")
    assert output(c) == "1\n"


@cite("config-linux.md#configLinuxSeccomp", "statement", "Seccomp provides application sandboxing mechanism in the "
      "Linux kernel. Seccomp configuration allows one to configure actions to take for matched syscalls.",
      control="drop:linux.seccomp", feature=("linux.seccomp.enabled", True))
def test_seccomp(container):
    c = container("sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1 || echo refused")
    c.mount("/tmp", "tmpfs", "tmpfs")
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    out = output(c)
    assert "Seccomp:\t2" in out and "refused" in out, out


@cite("config-linux.md#configLinuxMaskedPaths", "statement", "maskedPaths (array of strings, OPTIONAL) will mask "
      "over the provided paths inside the container so that they cannot be read.", control="drop:linux.maskedPaths")
def test_masked_paths(container):
    secret = container.dir / "secret"
    secret.mkdir()
    (secret / "file").write_text("secret")
    c = container("sh", "-c", "cat /data/file; echo .")
    c.bind(secret, "/data")
    c.config["linux"]["maskedPaths"] = ["/data/file"]
    assert output(c) == ".\n"


@cite("config-linux.md#configLinuxReadonlyPaths", "statement", "readonlyPaths (array of strings, OPTIONAL) will set "
      "the provided paths as readonly inside the container.", control="drop:linux.readonlyPaths")
def test_readonly_paths(container):
    shared = container.dir / "rw"
    shared.mkdir()
    c = container("sh", "-c", "touch /data/x 2>/dev/null && echo writable || echo read-only")
    c.bind(shared, "/data")
    c.config["linux"]["readonlyPaths"] = ["/data"]
    assert output(c) == "read-only\n"
    assert not (shared / "x").exists()


@cite("config-linux.md#configLinuxRootfsMountPropagation", "statement", "rootfsPropagation (string, OPTIONAL) sets "
      "the rootfs's mount propagation. Its value is either shared, slave, private or unbindable.",
      control="drop:linux.rootfsPropagation")
def test_rootfs_propagation(container):
    c = container("sleep", "300")
    c.config["linux"]["rootfsPropagation"] = "shared"
    line = next(line for line in Path(f"/proc/{started_view(c).pid}/mountinfo").read_text().splitlines()
                if line.split()[4] == "/")
    assert "shared:" in line.partition(" - ")[0], line


@cite("config-linux.md#configLinuxTimeOffset", "statement", "timeOffsets (object, OPTIONAL) sets the offset for "
      "Time Namespace.", control="drop:linux.timeOffsets", feature=("linux.namespaces", "time"))
def test_time_offsets(container):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("the host lacks time namespaces")
    c = container("cat", "/proc/self/timens_offsets")
    c.namespace("time")
    c.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0}}
    offsets = {line.split()[0]: line.split()[1:] for line in output(c).splitlines()}
    assert offsets["monotonic"] == ["86400", "0"], offsets


@cite("config-linux.md#configLinuxDefaultFilesystems", "SHOULD", "The following filesystems SHOULD be made "
      "available in each container's filesystem: /proc proc, /sys sysfs, /dev/pts devpts, /dev/shm tmpfs.",
      control="drop:mounts")
def test_default_filesystems(container):
    mounts = started_view(container("sleep", "300")).mounts
    found = {point: mounts.get(point, ("",))[0] for point in ("/proc", "/sys", "/dev/pts", "/dev/shm")}
    assert found == {"/proc": "proc", "/sys": "sysfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs"}, found


@cite("config-linux.md#configLinuxDevices", "MUST", "If a file already exists at path that does not match the "
      "requested device, the runtime MUST generate an error.", control="ok:create")
def test_device_path_taken_by_another_file(container):
    c = container("true")
    c.config["linux"]["devices"] = [{"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3}]
    refused_create(c)


@cite("config-linux.md#configLinuxDeviceAllowedlist", "MUST", "The runtime MUST apply entries in the listed order.",
      control="reverse:linux.resources.devices")
def test_device_allow_list(container):
    c = container("sleep", "300")
    fuse = {"type": "c", "major": 10, "minor": 229, "access": "rwm"}  # in no default list (runc allows tun)
    c.config["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"}, {"allow": False} | fuse,
                                                 {"allow": True} | fuse]  # the later entry wins
    view = started_view(c)
    try:
        allowed = view.cgroup_file("devices", "devices.list").splitlines()
    except FileNotFoundError:
        pytest.skip("the host lacks a v1 devices controller")
    assert "c 10:229 rwm" in allowed and "a *:* rwm" not in allowed, allowed


@cite("config-linux.md#configLinuxUnified", "MUST", "The runtime MUST generate an error when the configuration "
      "refers to a cgroup controller that is not present or that cannot be enabled.", control="ok:create")
def test_unified_unknown_controller(container):
    c = container("true")
    c.config["linux"]["resources"]["unified"] = {"nosuchcontroller.max": "1"}
    refused_create(c)


@cite("config-linux.md#configLinuxIntelRdt", "MUST", "If no mounted resctrl pseudo-filesystem is available in the "
      "runtime mount namespace, the runtime MUST generate an error.", control="ok:create")
def test_intel_rdt_without_resctrl(container):
    if any(line.split()[2] == "resctrl" for line in Path("/proc/self/mounts").read_text().splitlines()):
        pytest.skip("the host has resctrl mounted")
    c = container("true")
    c.config["linux"]["intelRdt"] = {"closID": "suite"}
    refused_create(c)


@cite("config-linux.md#configLinuxSeccomp", "MUST", "When the action doesn't support an errno, the runtime MUST "
      "print and error and fail.", control="ok:create", feature=("linux.seccomp.enabled", True))
def test_seccomp_errno_on_an_action_without_one(container):
    c = container("true")
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}
    refused_create(c)


@cite("config-linux.md#configLinuxPersonality", "statement", "domain (string, REQUIRED) sets the execution domain "
      "for the process. Valid values are LINUX and LINUX32.", control="drop:linux.personality")
def test_personality(container, rt):
    rt.lacks("linux.personality")
    c = container("uname", "-m")
    c.config["linux"]["personality"] = {"domain": "LINUX32"}
    assert output(c) in ("i686\n", "i386\n", "armv8l\n", "armv7l\n")


@cite("config-linux.md#configLinuxCPU", "statement", "quota (int64, OPTIONAL) - specifies the total amount of time "
      "in microseconds for which all tasks in a cgroup can run during one period (as defined by period below)",
      control="drop:linux.resources.cpu")
def test_cpu_quota(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["cpu"] = {"quota": 50000, "period": 100000}
    view = started_view(c)
    try:
        assert (view.cgroup_file("cpu", "cpu.cfs_quota_us"), view.cgroup_file("cpu", "cpu.cfs_period_us")) == \
            ("50000", "100000")
    except FileNotFoundError:
        assert view.cgroup_file("cpu", "cpu.max") == "50000 100000"


@cite("config-linux.md#configLinuxCPU", "statement", "cpus (string, OPTIONAL) - list of CPUs the container will run "
      "on.", control="drop:linux.resources.cpu")
def test_cpuset_cpus(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["cpu"] = {"cpus": "0"}
    assert started_view(c).cgroup_file("cpuset", "cpuset.cpus") == "0"


@cite("config-linux.md#configLinuxMemory", "statement", "reservation (int64, OPTIONAL) - sets soft limit of memory "
      "usage in bytes", control="drop:linux.resources.memory")
def test_memory_reservation(container):
    c = container("sleep", "300")
    c.config["linux"]["resources"]["memory"] = {"reservation": 32 << 20}
    view = started_view(c)
    try:
        value = view.cgroup_file("memory", "memory.soft_limit_in_bytes")
    except FileNotFoundError:
        value = view.cgroup_file("memory", "memory.low")
    assert int(value) == 32 << 20
