"""config-linux.md: namespaces, id maps, devices, cgroups, sysctl, seccomp, masked and read-only paths."""

import contextlib
import json
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
    try:
        groups = started_view(c).cgroups
        assert all(p == path for ctl, p in groups.items() if "freezer" in ctl or "pids" in ctl or ctl == ""), groups
    finally:  # some runtimes (runc 1.1.5) leave the parent they made: the kit leaves the host as it was
        c.delete("--force")
        for parent in (*Path("/sys/fs/cgroup").glob("*/pyrunc-suite"), Path("/sys/fs/cgroup/pyrunc-suite")):
            with contextlib.suppress(OSError):
                parent.rmdir()


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
    value = _read(started_view(c), "memory", "memory.limit_in_bytes", "memory.max")
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
    value = _read(started_view(c), "memory", "memory.soft_limit_in_bytes", "memory.low")
    assert int(value) == 32 << 20


# -- the remaining resource fields, one case each: the field set, the cgroup file read on the host ----------

def _read(view, controller, *names):
    """The first of the cgroup files (v1 name, v2 name) that exists, or skip: the host lacks both."""
    for name in names:
        try:
            return view.cgroup_file(controller, name)
        except FileNotFoundError:
            continue
    pytest.skip(f"the host has none of {', '.join(names)}")


def _resource_case(name, section, text, group, value, controller, files, check, control=None, refusable=False,
                   since=None, lacking=None):
    """A case: linux.resources.<group> = value; check(content of the first of `files` that exists).
    `lacking`: why the host cannot exercise it (a skip), or None."""
    @cite(f"config-linux.md#{section}", "MUST" if refusable else "statement", text,
          control=control or f"drop:linux.resources.{group}", since=since)
    def case(container):
        if lacking:
            pytest.skip(lacking)
        c = container("sleep", "300")
        c.config["linux"]["resources"][group] = value
        if refusable:
            c.applied_or_refused(lambda view: check(_read(view, controller, *files)))
        else:
            assert check(_read(started_view(c), controller, *files))

    case.__name__ = f"test_{name}"
    return case


def _disk() -> str:
    """major:minor of a whole disk of this host (throttles apply to disks, not partitions)."""
    for dev in sorted(Path("/sys/block").glob("*")):
        if not dev.name.startswith(("loop", "ram", "zram", "dm-")) and (dev / "device").exists():
            return (dev / "dev").read_text().strip()
    return ""


_DISK = _disk()
_MiB = 1 << 20
_CANNOT = " (If the runtime cannot apply a property as specified in the configuration, it MUST generate an error.)"
for _case in (
    _resource_case("memory_swap", "configLinuxMemory", "swap (int64, OPTIONAL) - sets limit of memory+Swap usage",
                   "memory", {"limit": 64 * _MiB, "swap": 128 * _MiB}, "memory",
                   ("memory.memsw.limit_in_bytes", "memory.swap.max"), lambda v: int(v) in (128 * _MiB, 64 * _MiB)),
    _resource_case("memory_swappiness", "configLinuxMemory", "swappiness (uint64, OPTIONAL) - sets swappiness "
                   "parameter of vmscan (See sysctl's vm.swappiness)", "memory", {"swappiness": 10}, "memory",
                   ("memory.swappiness",), lambda v: v == "10"),
    _resource_case("memory_disable_oom_killer", "configLinuxMemory", "disableOOMKiller (bool, OPTIONAL) - enables "
                   "or disables the OOM killer.", "memory", {"disableOOMKiller": True}, "memory",
                   ("memory.oom_control",), lambda v: "oom_kill_disable 1" in v),
    _resource_case("cpu_burst", "configLinuxCPU", "burst (uint64, OPTIONAL) - specifies the maximum amount of "
                   "accumulated time in microseconds for which all tasks in a cgroup can run additionally for burst "
                   "during one period (as defined by period below)" + _CANNOT, "cpu",
                   {"quota": 50000, "period": 100000, "burst": 10000}, "cpu", ("cpu.cfs_burst_us", "cpu.max.burst"),
                   lambda v: v == "10000", refusable=True, since="1.1.0"),
    _resource_case("cpu_idle", "configLinuxCPU", "idle (int64, OPTIONAL) - cgroups are configured with minimum "
                   "weight, 0: default behavior, 1: SCHED_IDLE." + _CANNOT, "cpu", {"idle": 1}, "cpu",
                   ("cpu.idle",), lambda v: v == "1", refusable=True, since="1.1.0"),
    _resource_case("cpu_realtime", "configLinuxCPU", "realtimeRuntime (int64, OPTIONAL) - specifies a period of "
                   "time in microseconds for the longest continuous period in which the tasks in a cgroup have "
                   "access to CPU resources" + _CANNOT, "cpu", {"realtimeRuntime": 1000, "realtimePeriod": 100000},
                   "cpu", ("cpu.rt_runtime_us",), lambda v: v == "1000", refusable=True),
    _resource_case("hugepage_limits", "configLinuxHugePageLimits", "hugepageLimits (array of objects, OPTIONAL) "
                   "represents the hugetlb controller which allows to limit the HugeTLB reservations (if supported) "
                   "or usage (page fault)." + _CANNOT, "hugepageLimits", [{"pageSize": "2MB", "limit": 4 * _MiB}],
                   "hugetlb", ("hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.max",
                               "hugetlb.2MB.max"), lambda v: v == str(4 * _MiB), refusable=True),
    *(_resource_case(f"block_io_{key}", "configLinuxBlockIO", f"{key} (array of objects, OPTIONAL) - an array of "
                     f"per-device {'bandwidth' if 'Bps' in key else 'IO'} rate limits.", "blockIO",
                     {key: [{"major": int(_DISK.partition(":")[0] or 0), "minor": int(_DISK.partition(":")[2] or 0),
                             "rate": 1048576}]}, "blkio", (f"blkio.throttle.{v1}", "io.max"),
                     lambda v, v2=v2: v == f"{_DISK} 1048576" or f"{_DISK} " in v and f"{v2}=1048576" in v,
                     lacking=None if _DISK else "the host has no whole disk to throttle")
      for key, v1, v2 in (("throttleReadBpsDevice", "read_bps_device", "rbps"),
                          ("throttleWriteBpsDevice", "write_bps_device", "wbps"),
                          ("throttleReadIOPSDevice", "read_iops_device", "riops"),
                          ("throttleWriteIOPSDevice", "write_iops_device", "wiops"))),
):
    globals()[_case.__name__] = _case


@cite("config-linux.md#configLinuxCPU", "statement", "mems (string, OPTIONAL) - list of memory nodes the container "
      "will run on.", control="drop:linux.resources.cpu")
def test_cpuset_mems(container):
    nodes = Path("/sys/fs/cgroup/cpuset/cpuset.mems")
    if not nodes.exists() or "," not in nodes.read_text() and "-" not in nodes.read_text():
        pytest.skip("the host has one memory node: no value of mems differs from the default")
    c = container("sleep", "300")
    last = nodes.read_text().strip().replace("-", ",").split(",")[-1]
    c.config["linux"]["resources"]["cpu"] = {"mems": last}
    assert started_view(c).cgroup_file("cpuset", "cpuset.mems") == last


@cite("config-linux.md#configLinuxBlockIO", "MUST", "weight (uint16, OPTIONAL) - specifies per-cgroup weight." +
      _CANNOT, control="drop:linux.resources.blockIO")
def test_block_io_weight(container):
    """Applied where the host has weights (BFQ, or CFQ before 5.0); elsewhere the runtime must refuse it."""
    c = container("sleep", "300")
    c.config["linux"]["resources"]["blockIO"] = {"weight": 300}
    names = ("blkio.bfq.weight", "blkio.weight", "io.bfq.weight", "io.weight")
    v1 = any(Path("/sys/fs/cgroup/blkio", name).exists() for name in names[:2])
    v2 = any("io" in p.read_text().split() for p in (Path("/sys/fs/cgroup/cgroup.controllers"),
                                                      Path("/sys/fs/cgroup/unified/cgroup.controllers")) if p.exists())
    if not v1 and not v2:  # on cgroup2 the files are the children's: io.weight (iocost) or io.bfq.weight
        refused_create(c)
        return
    c.applied_or_refused(lambda view: _read(view, "blkio", *names).split()[-1] in ("300", "2930"))


@cite("config-linux.md#configLinuxMemory", "MUST", "checkBeforeUpdate (bool, OPTIONAL) - enables container memory "
      "usage check before setting a new limit. If enabled (true), runtime MAY check if a new memory limit is lower "
      "than the current usage, and MUST reject the new limit.", control="ok:update")
def test_memory_check_before_update(container, rt):
    c = container("sh", "-c", "head -c 16777216 /dev/zero > /dev/shm/fill && exec sleep 300")
    c.config["linux"]["resources"]["memory"] = {"limit": 64 * _MiB}
    view = started_view(c)
    wait_for(lambda: int(_read(view, "memory", "memory.usage_in_bytes", "memory.current")) > 16 * _MiB,
             what="16 MiB charged to the container")
    r = rt.update(c.id, {"memory": {"limit": 8 * _MiB, "checkBeforeUpdate": True}})
    assert r.rc != 0, f"a limit below the usage was accepted: {r}"
    assert int(_read(view, "memory", "memory.limit_in_bytes", "memory.max")) == 64 * _MiB


@cite("config-linux.md#configLinuxNetwork", "statement", "classID (uint32, OPTIONAL) - is the network class "
      "identifier the cgroup's network packets will be tagged with", control="drop:linux.resources.network")
def test_network_class_id(container):
    if "net_cls" not in Path("/proc/self/cgroup").read_text():
        pytest.skip("the host has no net_cls hierarchy mounted (net_cls and net_prio exist on cgroup v1 only)")
    c = container("sleep", "300")
    c.config["linux"]["resources"]["network"] = {"classID": 1048577}
    assert started_view(c).cgroup_file("net_cls", "net_cls.classid") == "1048577"


@cite("config-linux.md#configLinuxRDMA", "statement", "rdma (object, OPTIONAL) represents the cgroup subsystem "
      "rdma.", control="drop:linux.resources.rdma", feature=("linux.cgroup.rdma", True))
def test_rdma(container):
    if not any(line.split()[0] == "rdma" for line in Path("/proc/cgroups").read_text().splitlines()[1:]):
        pytest.skip("the host's kernel has no rdma cgroup controller")
    devices = sorted(os.listdir("/sys/class/infiniband")) if os.path.isdir("/sys/class/infiniband") else []
    if not devices:
        pytest.skip("the host has no RDMA device")
    c = container("sleep", "300")
    c.config["linux"]["resources"]["rdma"] = {devices[0]: {"hcaHandles": 3}}
    assert f"{devices[0]} hca_handle=3" in started_view(c).cgroup_file("rdma", "rdma.max")


@cite("config-linux.md#configLinuxUnified", "MUST", "unified (object, OPTIONAL) allows cgroup v2 parameters to be to "
      "be set and modified for the container. (The runtime MUST generate an error when the configuration refers to "
      "a cgroup controller that is not present or that cannot be enabled.)", control="drop:linux.resources.unified")
def test_unified(container):
    roots = [r for r in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified") if os.path.exists(f"{r}/cgroup.controllers")]
    if not roots or "pids" not in Path(f"{roots[0]}/cgroup.controllers").read_text().split() \
            and "hugetlb" not in Path(f"{roots[0]}/cgroup.controllers").read_text().split():
        pytest.skip("the host's cgroup2 hierarchy has neither pids nor hugetlb")
    key = "pids.max" if "pids" in Path(f"{roots[0]}/cgroup.controllers").read_text().split() else "hugetlb.2MB.max"
    c = container("sleep", "300")
    c.config["linux"]["resources"]["unified"] = {key: "8388608"}

    def applied(view):
        path = Path(roots[0]) / view.cgroups.get("", "/").lstrip("/") / key
        return path.read_text().strip() == "8388608"
    c.applied_or_refused(applied)


@cite("config-linux.md#configLinuxIntelRdt", "MUST", "If intelRdt is set, the runtime MUST write the container "
      "process ID to the tasks file in a proper sub-directory in a mounted resctrl pseudo-filesystem. That "
      "sub-directory name is specified by closID parameter.", control="drop:linux.intelRdt",
      feature=("linux.intelRdt.enabled", True))
def test_intel_rdt_clos(container):
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    resctrl = next((m[1] for m in mounts if m[2] == "resctrl"), None)
    if resctrl is None:
        pytest.skip("the host has no resctrl filesystem mounted (no Intel RDT)")
    c = container("sleep", "300")
    c.config["linux"]["intelRdt"] = {"closID": f"suite-{c.id}"}
    pid = started_view(c).pid
    assert str(pid) in Path(resctrl, f"suite-{c.id}", "tasks").read_text().split()


@cite("config-linux.md#configLinuxMemoryPolicy", "MUST", "memoryPolicy (object, OPTIONAL) sets the NUMA memory "
      "policy for the container." + _CANNOT, control="drop:linux.memoryPolicy", since="1.3.0")
def test_memory_policy(container):
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("the host's kernel has no NUMA support (no numa_maps)")
    c = container("sleep", "300")
    c.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    c.applied_or_refused(lambda v: "bind:0" in Path(f"/proc/{v.pid}/numa_maps").read_text())


@cite("config-linux.md#configLinuxMountLabel", "statement", "mountLabel (string, OPTIONAL) will set the Selinux "
      "context for the mounts in the container.", control="drop:linux.mountLabel",
      feature=("linux.selinux.enabled", True))
def test_mount_label(container):
    if not Path("/sys/fs/selinux/enforce").exists():
        pytest.skip("the host lacks SELinux")
    c = container("sleep", "300")
    c.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    assert "container_file_t" in started_view(c).mounts.get("/dev/shm", ("", ""))[-1]


@cite("config-linux.md#configLinuxSeccomp", "statement", "args (array of objects, OPTIONAL) - the specific syscall "
      "in seccomp.", control="drop:linux.seccomp", feature=("linux.seccomp.enabled", True))
def test_seccomp_args(container):
    c = container("sh", "-c", "touch /tmp/f; chmod 700 /tmp/f 2>/dev/null || echo 700-refused; "
                              "chmod 755 /tmp/f && echo 755-done")
    c.mount("/tmp", "tmpfs", "tmpfs")
    rules = [{"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
              "args": [{"index": index, "value": 0o700, "op": "SCMP_CMP_EQ"}]}
             for name, index in (("chmod", 1), ("fchmodat", 2), ("fchmodat2", 2))]
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                    "syscalls": rules}
    assert output(c) == "700-refused\n755-done\n"


def _listener(path: Path):
    """A seccomp agent on <path>: one connection, the message and the fds it brought, in a list."""
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(30)
    got: list = []

    def serve():
        try:
            conn, _ = server.accept()
            with conn:
                msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                while chunk := conn.recv(65536):  # the runtime closes the connection after one state
                    msg += chunk
                got.append((json.loads(msg), fds))
        finally:
            server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, got


@cite("config-linux.md#configLinuxSeccomp", "MUST", "listenerPath (string, OPTIONAL) - specifies the path of UNIX "
      "domain socket over which the runtime will send the container process state data structure when the "
      "SCMP_ACT_NOTIFY action is used. This socket MUST use AF_UNIX domain and SOCK_STREAM type. The runtime "
      "MUST send exactly one container process state per connection.", control="drop:linux.seccomp.listenerPath",
      feature=("linux.seccomp.actions", "SCMP_ACT_NOTIFY"))
def test_seccomp_listener(container):
    sock = container.dir / "agent.sock"
    thread, got = _listener(sock)
    c = container("sleep", "300")
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                    "listenerPath": str(sock), "listenerMetadata": "suite-metadata",
                                    "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    pid = started_view(c).pid
    thread.join(30)
    assert got, "no container process state arrived on listenerPath"
    state, fds = got[0]
    for fd in fds:
        os.close(fd)
    assert state.get("fds") == ["seccompFd"] and len(fds) == 1, state
    assert (state.get("pid"), state.get("metadata"), state["state"]["id"]) == (pid, "suite-metadata", c.id), state


@cite("config-linux.md#configLinuxNetworkDevices", "MUST", "netDevices (object, OPTIONAL) - A set of network "
      "devices that MUST be made available in the container. name (string, OPTIONAL) - the name of the network "
      "device inside the container namespace.", control="drop:linux.netDevices",
      feature=("linux.netDevices.enabled", True), since="1.3.0")
def test_net_devices(container, rt):
    """The runtime runs (through nsenter) in a network namespace the case made, standing in for the host, with
    a veth pair in it (no dummy module here): the real host's links are never touched."""
    from pyrunc.testing.runtime import Runtime

    holder = subprocess.Popen(["unshare", "--net", "sleep", "300"])
    try:
        wait_for(lambda: ns_inode(holder.pid, "net") != ns_inode("self", "net"), what="the stand-in netns")
        stand_in = f"/proc/{holder.pid}/ns/net"
        subprocess.run(["nsenter", f"--net={stand_in}", "ip", "link", "add", "sv0", "type", "veth", "peer", "name",
                        "sv1"], check=True)
        wrapper = container.dir / "runtime-in-netns"
        wrapper.write_text(f"#!/bin/sh\nexec nsenter --net={stand_in} {rt.exe} \"$@\"\n")
        wrapper.chmod(0o755)
        c = container("/bin/busybox", "ip", "-o", "link", "show", "ctr0")
        c.rt = Runtime(str(wrapper), rt.root, rt.base)
        c.config["linux"]["netDevices"] = {"sv0": {"name": "ctr0"}}
        assert ": ctr0@" in output(c)
    finally:
        holder.kill()
        holder.wait()


_STATIC_BUSYBOX = ("execve", "execveat", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "brk", "mmap",
                   "munmap", "mprotect", "madvise", "getuid", "geteuid", "getgid", "getegid", "getpid", "gettid",
                   "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "write", "writev", "read",
                   "exit", "exit_group", "futex", "prlimit64", "getrandom", "close", "close_range", "fcntl", "ioctl",
                   "fstat", "newfstatat", "statx", "uname", "readlinkat", "readlink", "tgkill", "nanosleep",
                   "clock_gettime", "sched_yield", "capget", "capset", "prctl", "setgroups", "setuid", "setgid",
                   "setresuid", "setresgid", "openat", "dup3", "getcwd", "chdir", "fchdir",
                   "fstatfs", "statfs", "getdents64", "lseek", "epoll_ctl", "epoll_pwait", "epoll_create1", "pipe2",
                   "clone", "clone3", "wait4", "waitid", "kill", "getppid", "sched_getaffinity", "mincore",
                   "faccessat", "faccessat2", "access")


@cite("config-linux.md#configLinuxSeccomp", "statement", "defaultErrnoRet (uint, OPTIONAL) - the errno return code "
      "to use. Some actions like SCMP_ACT_ERRNO and SCMP_ACT_TRACE allow to specify the errno code to return.",
      control="drop:linux.seccomp.defaultErrnoRet", feature=("linux.seccomp.enabled", True))
def test_seccomp_default_errno_ret(container):
    """Everything a static busybox `mkdir` (and a runtime's last steps before execve) needs is allowed; mkdir
    itself meets the default action."""
    c = container("mkdir", "/suite-dir")
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 30,  # EROFS
                                    "architectures": ["SCMP_ARCH_X86_64"],
                                    "syscalls": [{"names": list(_STATIC_BUSYBOX), "action": "SCMP_ACT_ALLOW"}]}
    output(c)
    assert "Read-only file system" in c.stderr.read_text(), c.stderr.read_text()
