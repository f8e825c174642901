"""config.md: the fields a Linux host can exercise, each applied as the spec words it."""

import json
import os
from pathlib import Path

import pytest

from pyrunc.testing.requirement import cite
from pyrunc.testing.view import View

pytestmark = pytest.mark.root

ROOT = "config.md#configRoot"
MOUNTS = "config.md#configMounts"
PROCESS = "config.md#configProcess"
POSIX_PROCESS = "config.md#configPOSIXProcess"
LINUX_PROCESS = "config.md#configLinuxProcess"
USER = "config.md#configPOSIXUser"
HOOKS = "config.md#configHooks"


def output(c):
    """create, start, wait: what the program printed."""
    r = c.create()
    assert r.rc == 0, r
    assert c.start().rc == 0
    return c.finish()


def created_view(c):
    r = c.create()
    assert r.rc == 0, r
    return View(c.state()["pid"])


def refused_create(c):
    r = c.create()
    assert r.rc != 0, f"expected an error: {r}"
    assert c.state_dir_gone()


@cite(ROOT, "MUST", "readonly (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the "
      "container, defaults to false.", control="drop:root.readonly")
def test_root_readonly(container):
    c = container("sh", "-c", "touch /x 2>/dev/null && echo writable || echo read-only")
    assert output(c) == "read-only\n"


@cite(ROOT, "MUST", "A directory MUST exist at the path declared by the field.", control="ok:create")
def test_root_path_must_exist(container):
    c = container("true")
    c.config["root"]["path"] = "no-such-rootfs"
    refused_create(c)


@cite(MOUNTS, "MUST", "The runtime MUST mount entries in the listed order.", control="reverse:mounts")
def test_mounts_in_order(container):
    first, second = container.dir / "first", container.dir / "second"
    for d in (first, second):
        d.mkdir()
        (d / "name").write_text(d.name)
    c = container("cat", "/data/name")
    c.bind(first, "/data")
    c.bind(second, "/data")
    assert output(c) == "second"


@cite(MOUNTS, "MUST", "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux: ro, nosuid, "
      "noexec, nodev (MUST).", control="drop:mounts")
def test_mount_options(container):
    c = container(*("sleep", "300"))
    c.mount("/data", "tmpfs", "tmpfs", ["ro", "nosuid", "noexec", "nodev", "size=1m"])
    fstype, per_mount, _ = created_view(c).mounts.get("/data", ("", set(), set()))
    assert fstype == "tmpfs" and {"ro", "nosuid", "noexec", "nodev"} <= per_mount, (fstype, per_mount)


@cite(MOUNTS, "MUST", "For compatibility with old tools and configurations, it MAY be a relative path, in which "
      "case it MUST be interpreted as relative to \"/\".", control="drop:mounts")
def test_mount_relative_destination(container):
    c = container("sleep", "300")
    c.mount("/data", "tmpfs", "tmpfs")
    c.config["mounts"][-1]["destination"] = "data"
    assert created_view(c).mounts.get("/data", ("",))[0] == "tmpfs"


@cite(PROCESS, "MUST", "cwd (string, REQUIRED) is the working directory that will be set for the executable. This "
      "value MUST be an absolute path.", control="drop:process.cwd")
def test_process_cwd(container):
    c = container("pwd")
    c.config["process"]["cwd"] = "/tmp"
    assert output(c) == "/tmp\n"


@cite(PROCESS, "statement", "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's "
      "environ.", control="drop:process.env")
def test_process_env(container):
    c = container("sh", "-c", 'echo "$GREETING"')
    c.config["process"]["env"].append("GREETING=hello")
    assert output(c) == "hello\n"


@cite(POSIX_PROCESS, "MUST", "rlim.rlim_cur MUST match the configured value. rlim.rlim_max MUST match the "
      "configured value.", control="drop:process.rlimits")
def test_rlimits_applied(container):
    c = container("sleep", "300")
    c.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}]
    assert c.create().rc == 0
    assert c.start().rc == 0
    assert View(c.state()["pid"]).limits["Max open files"] == (512, 768)


@cite(POSIX_PROCESS, "MUST", "The runtime MUST generate an error for any values which cannot be mapped to a "
      "relevant kernel interface.", control="ok:create")
def test_rlimit_unknown_type(container):
    c = container("true")
    c.config["process"]["rlimits"].append({"type": "RLIMIT_NO_SUCH_LIMIT", "soft": 1, "hard": 1})
    refused_create(c)


@cite(POSIX_PROCESS, "MUST", "If rlimits contains duplicated entries with same type, the runtime MUST generate an "
      "error.", control="ok:create")
def test_rlimit_duplicates(container):
    c = container("true")
    c.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}] * 2
    refused_create(c)


@cite(LINUX_PROCESS, "MUST", "If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value.",
      control="drop:process.oomScoreAdj")
def test_oom_score_adj_set(container):
    c = container("sleep", "300")
    c.config["process"]["oomScoreAdj"] = 123
    assert c.create().rc == 0 and c.start().rc == 0
    assert View(c.state()["pid"]).oom_score_adj == 123


@cite(LINUX_PROCESS, "MUST NOT", "If oomScoreAdj is not set, the runtime MUST NOT change the value of "
      "oom_score_adj.", control="set:process.oomScoreAdj=321")
def test_oom_score_adj_unset(container):
    c = container("sleep", "300")
    c.config["process"].pop("oomScoreAdj", None)
    assert c.create().rc == 0 and c.start().rc == 0
    assert View(c.state()["pid"]).oom_score_adj == View(os.getpid()).oom_score_adj


@cite(LINUX_PROCESS, "statement", "capabilities (object, OPTIONAL) is an object containing arrays that specifies "
      "the sets of capabilities for the process.", control="drop:process.capabilities")
def test_capabilities(container):
    c = container("sleep", "300")
    caps = ["CAP_KILL", "CAP_CHOWN"]
    c.config["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    assert c.create().rc == 0 and c.start().rc == 0
    view = View(c.state()["pid"])
    assert view.capabilities("Eff") == set(caps) and view.capabilities("Bnd") == set(caps)


@cite(LINUX_PROCESS, "statement", "noNewPrivileges (bool, OPTIONAL) setting noNewPrivileges to true prevents the "
      "process from gaining additional privileges.", control="drop:process.noNewPrivileges")
def test_no_new_privileges(container):
    c = container("sleep", "300")
    c.config["process"]["noNewPrivileges"] = True
    assert c.create().rc == 0 and c.start().rc == 0
    assert View(c.state()["pid"]).no_new_privs


@cite(USER, "statement", "uid (int, REQUIRED) specifies the user ID in the container namespace. gid (int, "
      "REQUIRED) specifies the group ID in the container namespace. additionalGids (array of ints, OPTIONAL) "
      "specifies additional group IDs in the container namespace to be added to the process.",
      control='set:process.user={"uid": 0, "gid": 0}')
def test_user(container):
    c = container("id")
    c.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [1002]}
    out = output(c)
    assert "uid=1000" in out and "gid=1001" in out and "1002" in out.partition("groups=")[2], out


@cite(USER, "statement", "umask (int, OPTIONAL) specifies the umask of the user.",
      control="drop:process.user.umask")
def test_user_umask(container):
    c = container("sh", "-c", "umask")
    c.config["process"]["user"]["umask"] = 0o027
    assert output(c) == "0027\n"


@cite("config.md#configHostname", "statement", "hostname (string, OPTIONAL) specifies the container's hostname as "
      "seen by processes running inside the container.", control="drop:hostname")
def test_hostname(container):
    c = container("hostname")
    c.config["hostname"] = "suite-host"
    assert output(c) == "suite-host\n"


@cite("config.md#configDomainname", "statement", "domainname (string, OPTIONAL) specifies the container's domainname "
      "as seen by processes running inside the container.", control="drop:domainname")
def test_domainname(container, rt):
    rt.lacks("domainname")
    c = container("cat", "/proc/sys/kernel/domainname")
    c.config["domainname"] = "suite.example"
    assert output(c) == "suite.example\n"


@cite("config.md#configAnnotations", "MUST", "Runtimes MUST handle unknown annotation keys like any other unknown "
      "property.", control="drop:annotations")
def test_annotations(container):
    c = container("sleep", "300")
    c.config["annotations"] = {"com.example.suite": "yes"}
    assert c.create().rc == 0
    assert c.state().get("annotations") == {"com.example.suite": "yes"}


@cite("config.md#configExtensibility", "MUST", "Runtimes MAY log unknown properties but MUST otherwise ignore them.",
      control="set:process.args=[\"false\"]")
def test_unknown_properties_ignored(container):
    c = container("echo", "ok")
    c.config["com.example.unknown"] = {"deep": [1, 2]}
    c.config["process"]["com.example.field"] = True
    assert output(c) == "ok\n"


@cite("config.md#configExtensibility", "MUST", "Runtimes MUST generate an error when invalid or unsupported values "
      "are encountered.", control="ok:create")
def test_invalid_values_refused(container):
    c = container("true")
    c.config["linux"]["namespaces"].append({"type": "no-such-namespace"})
    refused_create(c)


def hook_to(log, name):
    return {"path": "/bin/sh", "args": ["sh", "-c", f"echo {name} >> {log}/log; cat > {log}/{name}.json"]}


@cite(HOOKS, "MUST", "Hooks MUST be called in the listed order.", control="reverse:hooks.prestart")
def test_hooks_in_listed_order(container):
    log = container.dir
    c = container("true")
    c.config["hooks"] = {"prestart": [hook_to(log, "one"), hook_to(log, "two"), hook_to(log, "three")]}
    output(c)
    assert (log / "log").read_text().split() == ["one", "two", "three"]


@cite(HOOKS, "MUST", "The state of the container MUST be passed to hooks over stdin so that they may do work "
      "appropriate to the current state of the container.", control="drop:hooks.createRuntime")
def test_hooks_get_the_state(container):
    log = container.dir
    c = container("true")
    c.config["hooks"] = {"createRuntime": [hook_to(log, "hook")]}
    output(c)
    state = json.loads((log / "hook.json").read_text())
    assert (state["id"], state["bundle"]) == (c.id, str(c.bundle)), state


def _hook_namespace(container, kind):
    """The mount namespace the hook ran in, compared with the runtime's (this process's)."""
    log = container.dir
    c = container("true")
    c.bind(log, str(log))
    c.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", f"readlink /proc/self/ns/mnt > {log}/ns"]}]}
    output(c)
    return (log / "ns").read_text().strip() == os.readlink("/proc/self/ns/mnt")


@cite("config.md#configHooksPrestart", "MUST", "The prestart hooks MUST be executed in the runtime namespace.",
      control="drop:hooks.prestart", feature=("hooks", "prestart"))
def test_prestart_in_runtime_namespace(container):
    assert _hook_namespace(container, "prestart")


@cite("config.md#configHooksCreateContainer", "MUST", "The createContainer hooks MUST be executed in the container "
      "namespace.", control="drop:hooks.createContainer", feature=("hooks", "createContainer"))
def test_create_container_in_container_namespace(container):
    assert not _hook_namespace(container, "createContainer")


@cite("config.md#configHooksStartContainer", "MUST", "The startContainer hooks' path MUST resolve in the container "
      "namespace.", control="drop:hooks.startContainer", feature=("hooks", "startContainer"))
def test_start_container_path_in_container(container):
    log = container.dir
    c = container("true")
    c.bind(log, str(log))
    c.config["hooks"] = {"startContainer": [{"path": "/bin/only-in-the-container",
                                             "args": ["sh", "-c", f"echo ran > {log}/ran"]}]}
    (c.rootfs / "bin/only-in-the-container").symlink_to("busybox")
    output(c)
    assert (log / "ran").read_text() == "ran\n"


@cite("config.md#configHooksPoststart", "MUST", "The poststart hooks MUST be called after the user-specified process "
      "is executed but before the start operation returns.", control="drop:hooks.poststart",
      feature=("hooks", "poststart"))
def test_poststart_before_start_returns(container):
    log = container.dir
    c = container("sleep", "300")
    c.config["hooks"] = {"poststart": [hook_to(log, "poststart")]}
    assert c.create().rc == 0
    assert c.start().rc == 0
    assert (log / "log").exists(), "start returned before the poststart hook ran"


@cite("config.md#configHooksPoststop", "MUST", "The poststop hooks MUST be called after the container is deleted but "
      "before the delete operation returns.", control="drop:hooks.poststop", feature=("hooks", "poststop"))
def test_poststop_before_delete_returns(container):
    log = container.dir
    c = container("true")
    c.config["hooks"] = {"poststop": [hook_to(log, "poststop")]}
    assert c.create().rc == 0 and c.start().rc == 0
    c.wait_status("stopped")
    assert c.delete().rc == 0
    assert (log / "log").exists(), "delete returned before the poststop hook ran"


@cite(PROCESS, "statement", "terminal (bool, OPTIONAL) specifies whether a terminal is attached to the process, "
      "defaults to false.", control="drop:process.terminal")
def test_terminal(container):

    c = container("sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty")
    c.config["process"]["terminal"] = True
    assert c.terminal_output().split() == ["/dev/pts/0", "stdin-is-a-tty"]


@cite(LINUX_PROCESS, "MUST", "scheduler (object, OPTIONAL) is an object describing the scheduler properties for "
      "the process. (If the runtime cannot apply a property as specified in the configuration, it MUST generate an "
      "error.)", control="drop:process.scheduler", since="1.2.0")
def test_scheduler(container):
    c = container("sleep", "300")
    c.config["process"]["scheduler"] = {"policy": "SCHED_BATCH"}
    c.applied_or_refused(lambda v: os.sched_getscheduler(v.pid) == os.SCHED_BATCH)


@cite(LINUX_PROCESS, "MUST", "execCPUAffinity (object, OPTIONAL) specifies CPU affinity used to execute the "
      "process. This setting is not applicable to the container's init process. (If the runtime cannot apply a "
      "property as specified in the configuration, it MUST generate an error.)",
      control="drop:process.execCPUAffinity", since="1.2.0")
def test_exec_cpu_affinity(container):
    c = container("sleep", "300")
    assert c.create().rc == 0 and c.start().rc == 0
    process = dict(c.config["process"], args=["sleep", "300"], execCPUAffinity={"final": "0"})
    (container.dir / "process.json").write_text(json.dumps(process))
    pid_file = container.dir / "exec.pid"
    r = c.rt("exec", "--detach", "--pid-file", pid_file, "--process", container.dir / "process.json", c.id)
    if r.rc != 0:
        assert r.err.strip(), r
        return
    assert os.sched_getaffinity(int(pid_file.read_text())) == {0}, "execCPUAffinity was accepted but not applied"


@cite(LINUX_PROCESS, "statement", "apparmorProfile (string, OPTIONAL) specifies the name of the AppArmor profile for "
      "the process.", control="drop:process.apparmorProfile", feature=("linux.apparmor.enabled", True))
def test_apparmor_profile(container):
    if Path("/sys/module/apparmor/parameters/enabled").read_text().strip() != "Y" \
            if Path("/sys/module/apparmor/parameters/enabled").exists() else True:
        pytest.skip("the host lacks AppArmor")
    c = container("sleep", "300")
    c.config["process"]["apparmorProfile"] = "unconfined"
    assert c.create().rc == 0 and c.start().rc == 0
    assert Path(f"/proc/{c.state()['pid']}/attr/current").read_text().strip() == "unconfined"


@cite(LINUX_PROCESS, "statement", "selinuxLabel (string, OPTIONAL) specifies the SELinux label for the process.",
      control="drop:process.selinuxLabel", feature=("linux.selinux.enabled", True))
def test_selinux_label(container):
    if not Path("/sys/fs/selinux/enforce").exists():
        pytest.skip("the host lacks SELinux")
    c = container("sleep", "300")
    c.config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    assert c.create().rc == 0 and c.start().rc == 0
    assert "container_t" in Path(f"/proc/{c.state()['pid']}/attr/current").read_text()


@cite("config.md#configHooksCreateRuntime", "MUST", "The createRuntime hooks MUST be executed in the runtime "
      "namespace.", control="drop:hooks.createRuntime", feature=("hooks", "createRuntime"))
def test_create_runtime_in_runtime_namespace(container):
    assert _hook_namespace(container, "createRuntime")


@cite("config.md#configHooksStartContainer", "MUST", "The startContainer hooks MUST be executed in the container "
      "namespace.", control="drop:hooks.startContainer", feature=("hooks", "startContainer"))
def test_start_container_in_container_namespace(container):
    assert not _hook_namespace(container, "startContainer")


@cite("config.md#configHooksPoststart", "MUST", "The poststart hooks MUST be executed in the runtime namespace.",
      control="drop:hooks.poststart", feature=("hooks", "poststart"))
def test_poststart_in_runtime_namespace(container):
    assert _hook_namespace(container, "poststart")


@cite("config.md#configHooksPoststop", "MUST", "The poststop hooks MUST be executed in the runtime namespace.",
      control="drop:hooks.poststop", feature=("hooks", "poststop"))
def test_poststop_in_runtime_namespace(container):
    assert _hook_namespace(container, "poststop")


@cite("config.md#configHooksCreateContainer", "MUST", "The createContainer hooks MUST be called after the "
      "createRuntime hooks.", control="swap:hooks.createRuntime=hooks.createContainer",
      feature=("hooks", "createContainer"))
def test_hook_kinds_in_lifecycle_order(container):
    log = container.dir
    c = container("true")
    c.bind(log, str(log))
    kinds = ("prestart", "createRuntime", "createContainer", "startContainer", "poststop")
    c.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {kind} >> {log}/log"]}]
                         for kind in kinds}
    c.config["hooks"]["createRuntime"].append({"path": "/bin/sh", "args": ["sh", "-c", f"echo late >> {log}/log"]})
    output(c)
    assert (log / "log").read_text().split() == ["prestart", "createRuntime", "late", *kinds[2:]]


_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}  # the syscall numbers of ioprio_get(2)


def _io_priority(pid: int) -> int:
    """ioprio_get(IOPRIO_WHO_PROCESS, pid): (class << 13) | level."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(_IOPRIO_GET[os.uname().machine], 1, pid)
    assert value >= 0, os.strerror(ctypes.get_errno())
    return value


@cite(LINUX_PROCESS, "MUST", "ioPriority (object, OPTIONAL) configures the I/O priority settings for the "
      "container's processes within the process group. (If the runtime cannot apply a property as specified in the "
      "configuration, it MUST generate an error.)", control="drop:process.ioPriority",
      since="1.2.0")
def test_io_priority(container):
    if os.uname().machine not in _IOPRIO_GET:
        pytest.skip(f"the suite knows no ioprio_get number for {os.uname().machine}")
    c = container("sleep", "300")
    c.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    c.applied_or_refused(lambda v: _io_priority(v.pid) == (2 << 13) | 6)


@cite(PROCESS, "MUST", "consoleSize (object, OPTIONAL) specifies the console size in characters of the terminal. "
      "Runtimes MUST ignore consoleSize if terminal is false or unset.", control="set:process.terminal=true")
def test_console_size_ignored_without_terminal(container):
    c = container("sh", "-c", "test -t 0 && echo tty || echo no-tty")
    c.config["process"]["terminal"] = False
    c.config["process"]["consoleSize"] = {"height": 40, "width": 100}
    assert output(c) == "no-tty\n"


@cite(MOUNTS, "MUST", "uidMappings (array of type LinuxIDMapping, OPTIONAL) The mapping to convert UIDs from the "
      "source file system to the destination mount point. (idmap: If uidMappings or gidMappings are specified for "
      "the mount, the runtime MUST use those values for the mount's mapping.)",
      control="drop:mounts", feature=("mountOptions", "idmap"), since="1.1.0")
def test_idmapped_mount(container):
    tree = container.dir / "owned"
    tree.mkdir()
    (tree / "file").write_text("x")
    os.chown(tree / "file", 1000, 1000)
    c = container("stat", "-c", "%u %g", "/mnt/id/file")
    c.config["mounts"].append({"destination": "/mnt/id", "type": "bind", "source": str(tree),
                               "options": ["rbind", "idmap"],
                               "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                               "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]})
    assert output(c) == "101000 201000\n"


@cite(MOUNTS, "MUST", "If there are no uidMappings and gidMappings specified and the container isn't using user "
      "namespaces, an error MUST be returned. (ridmap)", control="ok:create", feature=("mountOptions", "ridmap"),
      since="1.1.0")
def test_ridmap_without_maps_refused(container):
    c = container("true")
    c.config["mounts"].append({"destination": "/mnt/id", "type": "bind", "source": str(container.dir),
                               "options": ["rbind", "ridmap"]})
    refused_create(c)


@cite(PROCESS, "statement", "consoleSize (object, OPTIONAL) specifies the console size in characters of the "
      "terminal.", control="drop:process.consoleSize")
def test_console_size(container):

    c = container("/bin/busybox", "stty", "size")
    c.config["process"]["terminal"] = True
    c.config["process"]["consoleSize"] = {"height": 40, "width": 100}
    assert c.terminal_output().split() == ["40", "100"]


@cite(HOOKS, "statement", "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's "
      "environ.", control="drop:hooks.createRuntime")
def test_hook_env(container):
    log = container.dir
    c = container("true")
    c.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo $SUITE_HOOK > {log}/env"],
                                            "env": ["SUITE_HOOK=from-env"]}]}
    output(c)
    assert (log / "env").read_text() == "from-env\n"


@cite(HOOKS, "MUST", "timeout (int, OPTIONAL) is the number of seconds before aborting the hook. (runtime.md: If "
      "any prestart hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle "
      "at step 12.)", control="drop:hooks.prestart")
def test_hook_timeout(container):
    import time

    c = container("true")
    c.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    began = time.monotonic()
    refused_create(c)
    assert time.monotonic() - began < 20, "the hook was not aborted after its timeout"
