"""The process planners and compilers, without root: seccomp, sysctl, rlimits, scheduler, I/O
priority, personality, the exec plan, ps and the exec command line."""

import errno
import struct

import pytest

from pyrunc import cli, process, ps, scheduling, seccomp
from pyrunc import exec as execmod
from pyrunc.errors import PyruncError
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config

ROOTFS = "/bundle/rootfs"


def plan_of(cfg: dict, **opts):
    plan, _ = build(cfg, ROOTFS, Options(**opts), {})
    return plan


def ops(plan, phase=None):
    return [s.op for p, s in plan.steps() if phase in (None, p)]


def step(plan, op):
    return next(s for _, s in plan.steps() if s.op == op)


def cfg_with(**process_fields) -> dict:
    cfg = default_config()
    cfg["process"]["terminal"] = False
    cfg["process"].update(process_fields)
    return cfg


SECCOMP = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": errno.ENOSYS,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
        {"names": ["read", "write", "exit_group", "no_such_syscall_here"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},  # = the default: dropped
        {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
    ],
}


# -- seccomp ----------------------------------------------------------------------------------

def test_seccomp_check_turns_the_profile_into_rules():
    f = seccomp.check(SECCOMP)
    assert f.default == 0x00050000 | errno.ENOSYS
    assert f.flags == 2 and not f.notify
    by_name = {}
    for r in f.rules:
        by_name.setdefault(r.name, []).append(r)
    assert "kill" not in by_name, "a rule with the default action is redundant"
    assert len(by_name["personality"]) == 2, "conditions on one argument become separate rules (runc)"
    assert by_name["clone"][0].conditions == ((0, 7, 0x7E020000, 0),)
    assert by_name["ptrace"][0].action == 0x80000000


def test_seccomp_compiles_to_bpf_and_skips_unknown_syscalls():
    f = seccomp.compile(SECCOMP)
    assert f.bpf and len(f.bpf) % 8 == 0
    assert f.skipped == ["no_such_syscall_here"]
    insns = [struct.unpack_from("=HBBI", f.bpf, i) for i in range(0, len(f.bpf), 8)]
    rets = {k for code, _, _, k in insns if code == 0x06}  # BPF_RET|BPF_K
    assert 0x7FFF0000 in rets and 0x00050000 | errno.ENOSYS in rets and 0x80000000 in rets
    assert "unknown to libseccomp, skipped: no_such_syscall_here" in f.describe()


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(defaultAction="SCMP_ACT_BOGUS"), "unknown seccomp action"),
    (lambda s: s.update(defaultAction="SCMP_ACT_NOTIFY"), "cannot be the default action"),
    (lambda s: s.update(defaultAction="SCMP_ACT_ALLOW", defaultErrnoRet=1), "takes no errno"),
    (lambda s: s.update(architectures=["SCMP_ARCH_VAX"]), "unknown architecture"),
    (lambda s: s.update(flags=["SECCOMP_FILTER_FLAG_BOGUS"]), "unknown seccomp flag"),
    (lambda s: s["syscalls"][0].update(names=[]), "needs at least one syscall name"),
    (lambda s: s["syscalls"][2]["args"][0].update(op="SCMP_CMP_ALMOST"), "unknown seccomp operator"),
    (lambda s: s["syscalls"][2]["args"][0].update(index=6), "argument index"),
    (lambda s: s["syscalls"][2]["args"][0].update(value=-1), "not a uint64"),
    (lambda s: s["syscalls"][4].update(errnoRet=3), "takes no errno"),
    (lambda s: s["syscalls"][3].update(errnoRet=70000), "not an errno value"),
    (lambda s: s["syscalls"].append({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}), "listener"),
    (lambda s: s.update(listenerPath="/run/agent.sock",
                        syscalls=[{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]), "cannot be used for sendmsg"),
    (lambda s: s.update(listenerMetadata="x"), "needs listenerPath"),
])
def test_malformed_seccomp_is_refused_naming_the_field(change, message):
    import copy

    sc = copy.deepcopy(SECCOMP)
    change(sc)
    with pytest.raises(PyruncError, match=message) as e:
        seccomp.check(sc)
    assert e.value.message.startswith("linux.seccomp")


def test_notify_asks_for_a_listener_fd():
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    f = seccomp.check(sc)
    assert f.notify and f.flags == 1 | 8 | 16  # TSYNC | NEW_LISTENER | TSYNC_ESRCH
    state = seccomp.process_state(f, 42, {"id": "c"})
    assert b'"fds":["seccompFd"]' in state and b'"pid":42' in state


def test_seccomp_is_loaded_last_with_no_new_privs():
    cfg = cfg_with(noNewPrivileges=True)
    cfg["linux"]["seccomp"] = SECCOMP
    plan = plan_of(cfg)
    assert "seccomp_load" not in ops(plan)
    execve = step(plan, "execve")
    bpf, flags, notify = execve.args[4]
    assert bpf == seccomp.compile(SECCOMP).bpf and flags == 2 and not notify


def test_seccomp_is_loaded_before_capabilities_drop_without_no_new_privs():
    cfg = cfg_with(noNewPrivileges=False)
    cfg["linux"]["seccomp"] = SECCOMP
    names = ops(plan_of(cfg), "process")
    assert names.index("seccomp_load") < names.index("drop_bounding") < names.index("set_user")
    assert step(plan_of(cfg), "execve").args[4] is None


def test_no_seccomp_module_without_seccomp(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "pyrunc._seccomp", raising=False)
    plan_of(cfg_with())
    assert "pyrunc._seccomp" not in sys.modules


# -- limits, scheduling, personality ----------------------------------------------------------

def test_rlimits_scheduler_ioprio_personality_come_before_the_user_switch():
    cfg = cfg_with(rlimits=[{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}], oomScoreAdj=10,
                   scheduler={"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
                   ioPriority={"class": "IOPRIO_CLASS_IDLE", "priority": 7})
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    plan = plan_of(cfg)
    names = ops(plan, "process")
    assert names[:5] == ["home_from_passwd", "setrlimit", "sched_setattr", "ioprio_set", "personality"]
    assert ops(plan, "runtime")[0] == "open_procfs"  # before clone: the runtime writes oom_score_adj below it
    assert names.index("personality") < names.index("set_user")
    assert ops(plan, "parent")[-2:] == ["set_oom_score_adj", "release_init"], "written before the init runs"
    assert step(plan, "set_oom_score_adj").args == ("10",)
    assert step(plan, "sched_setattr").args == (3, 1, 5, 0, 0, 0, 0)
    assert step(plan, "ioprio_set").args == (3 << 13 | 7,)
    assert step(plan, "personality").args == (8,)


def test_in_a_user_namespace_the_runtime_sets_the_rlimits_when_the_init_asks():
    """runc's setupRlimits from the parent: the init's root in its user namespace could not raise
    a hard limit (that needs CAP_SYS_RESOURCE in the host's namespace)."""
    cfg = cfg_with(rlimits=[{"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                            {"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128}])
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    plan = plan_of(cfg)
    assert "setrlimit" not in ops(plan)
    assert ops(plan, "process")[:2] == ["home_from_passwd", "request_rlimits"]
    assert [s.args for s in plan.phases["parent"] if s.op == "prlimit"] == [(4, 0, 0), (7, 64, 128)]


@pytest.mark.parametrize("fields, message", [
    ({"rlimits": [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]}, "unknown rlimit"),
    ({"rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] * 2}, "listed twice"),
    ({"rlimits": [{"type": "RLIMIT_CORE", "soft": 2, "hard": 1}]}, "above the hard limit"),
    ({"scheduler": {"policy": "SCHED_NOPE"}}, "unknown scheduling policy"),
    ({"scheduler": {"policy": "SCHED_FIFO"}}, "priority in 1..99"),
    ({"scheduler": {"policy": "SCHED_OTHER", "priority": 3}}, "only SCHED_FIFO and SCHED_RR"),
    ({"scheduler": {"policy": "SCHED_OTHER", "nice": 30}}, "outside -20..19"),
    ({"scheduler": {"policy": "SCHED_OTHER", "runtime": 5}}, "SCHED_DEADLINE only"),
    ({"scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}}, "unknown scheduling flag"),
    ({"ioPriority": {"class": "IOPRIO_CLASS_NOPE", "priority": 1}}, "unknown I/O priority class"),
    ({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}, "outside 0..7"),
    ({"cwd": "relative"}, "not an absolute path"),
])
def test_bad_process_fields_are_refused(fields, message):
    with pytest.raises(PyruncError, match=message):
        plan_of(cfg_with(**fields))


def test_bad_personality_is_refused():
    cfg = cfg_with()
    cfg["linux"]["personality"] = {"domain": "LINUX", "flags": ["SHORT_INODE"]}
    with pytest.raises(PyruncError, match="no personality flag"):
        plan_of(cfg)


# -- sysctl -----------------------------------------------------------------------------------

def test_namespaced_sysctls_are_written_after_pivot():
    cfg = cfg_with()
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096", "fs.mqueue.msg_max": "9",
                              "kernel.domainname": "example.org"}
    plan = plan_of(cfg)
    writes = [s.args for s in plan.phases["pivot"] if s.op == "write_proc"]
    assert ("sys/net/ipv4/ip_forward", "1") in writes and len(writes) == 4
    assert ops(plan, "runtime")[0] == "open_procfs"


@pytest.mark.parametrize("key, drop, message", [
    ("vm.swappiness", None, "not in a separate kernel namespace"),
    ("kernel.pid_max", None, "not in a separate kernel namespace"),
    ("net.ipv4.ip_forward", "network", "host's network namespace"),
    ("kernel.shmmax", "ipc", "host's ipc namespace"),
    ("kernel.domainname", "uts", "host's uts namespace"),
    ("kernel.hostname", None, "conflicts with the hostname field"),
    ("net..ipv4", None, "invalid sysctl name"),
])
def test_sysctls_outside_a_namespace_are_refused(key, drop, message):
    cfg = cfg_with()
    if drop:
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != drop]
        cfg.pop("hostname", None) if drop == "uts" else None
    cfg["linux"]["sysctl"] = {key: "1"}
    with pytest.raises(PyruncError, match=message):
        plan_of(cfg)


def test_sysctl_in_the_hosts_own_joined_namespace_is_refused():
    cfg = cfg_with()
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    cfg["linux"]["namespaces"].append({"type": "network", "path": "/proc/self/ns/net"})
    cfg["linux"]["sysctl"] = {"net.core.somaxconn": "256"}
    with pytest.raises(PyruncError, match="host's network namespace"):
        plan_of(cfg)


# -- fds, protection --------------------------------------------------------------------------

def test_preserved_and_listen_fds_stay_open_across_execve():
    plan = plan_of(cfg_with(), preserve_fds=1, listen_fds=2)
    args, env, first_cloexec, listen, filt, marked = step(plan, "execve").args
    assert first_cloexec == 5 and listen == 2 and filt is None and not marked
    assert process.first_cloexec(plan) == 5


@pytest.mark.parametrize("nnp", [True, False])
def test_fds_are_marked_close_on_exec_before_the_filter(nnp):
    """CVE-2024-21626: a filter need not allow close_range, so the marking comes first: in the
    execve call before its filter (no_new_privs), or as a step before seccomp_load."""
    cfg = cfg_with(noNewPrivileges=nnp)
    cfg["linux"]["seccomp"] = SECCOMP
    plan = plan_of(cfg, preserve_fds=2)
    names = ops(plan, "process")
    execve = step(plan, "execve")
    if nnp:
        assert "cloexec_from" not in names and execve.args[4] is not None and not execve.args[5]
        assert execve.text.index("close_range(5") < execve.text.index("load the seccomp filter")
    else:
        assert names.index("cloexec_from") + 1 == names.index("seccomp_load")
        assert step(plan, "cloexec_from").args == (5,)
        assert execve.args[4] is None and execve.args[5], "execve must not call close_range under the filter"


def test_home_is_looked_up_only_when_the_env_has_none():
    assert step(plan_of(cfg_with(user={"uid": 7, "gid": 7})), "home_from_passwd").args == (7,)
    assert "home_from_passwd" not in ops(plan_of(cfg_with(env=["HOME=/data"])))
    assert "home_from_passwd" in ops(plan_of(cfg_with(env=["HOME=/data", "HOME="]))), "empty is unset (runc)"
    passwd = b"root:x:0:0:root:/root:/bin/sh\n# comment\nbad line\napp:x:1000:1000::/home/app:/bin/sh\nnohome:x:5:5::\n"
    assert process.passwd_home(passwd, 1000) == "/home/app"
    assert process.passwd_home(passwd, 0) == "/root"
    assert process.passwd_home(passwd, 5) == "/"
    assert process.passwd_home(passwd, 4242) == "/" and process.passwd_home(None, 0) == "/"


def test_a_missing_cwd_is_made_after_pivot_before_the_root_is_read_only():
    cfg = cfg_with(cwd="/work/dir")
    cfg["root"]["readonly"] = True
    names = ops(plan_of(cfg), "pivot")
    assert names.index("pivot_root") < names.index("make_cwd") < len(names) - 1
    assert step(plan_of(cfg), "make_cwd").args == ("/work/dir",)
    assert names[-1] == "readonly_path"
    assert "make_cwd" not in ops(plan_of(cfg_with(cwd="/")))


def test_the_init_joins_a_session_keyring_of_its_own_unless_no_new_keyring():
    plan = plan_of(cfg_with(), container_id="box")
    assert step(plan, "join_session_keyring").args == ("_ses.box", 0x80000)
    assert "join_session_keyring" not in ops(plan_of(cfg_with(), container_id="box", no_new_keyring=True))
    cfg = cfg_with()
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert step(plan_of(cfg, container_id="box"), "join_session_keyring").args == ("_ses.box", 0x80008)
    assert process.exec_record(cfg, no_new_keyring=True)["noNewKeyring"] is True


def test_listen_fds_only_when_listen_pid_is_the_runtime():
    import os

    assert process.listen_fds_from_env({"LISTEN_FDS": "2", "LISTEN_PID": str(os.getpid())}) == 2
    assert process.listen_fds_from_env({"LISTEN_FDS": "2", "LISTEN_PID": "1"}) == 0
    assert process.listen_fds_from_env({"LISTEN_FDS": "x", "LISTEN_PID": str(os.getpid())}) == 0


def test_the_runtime_protects_itself_last_before_clone():
    """Whatever the capabilities: detach /proc/self/exe unless the launcher sealed the interpreter."""
    plan = plan_of(cfg_with())
    assert ops(plan, "runtime")[-1] == "protect_exe"
    assert step(plan, "protect_exe").args == (True,), "not sealed: /proc/self/exe is detached"
    assert step(plan_of(cfg_with(), exe_sealed=True), "protect_exe").args == (False,)


def test_parse_cpus():
    assert scheduling.parse_cpus("0-3,7", "x") == {0, 1, 2, 3, 7}
    for bad in ("3-1", "a", "", "-1"):
        with pytest.raises(PyruncError):
            scheduling.parse_cpus(bad, "x")


# -- exec -------------------------------------------------------------------------------------

def exec_args(*argv):
    args = cli.Args()
    left = cli.parse_flags(list(argv), cli.COMMANDS["exec"][1], args, True)
    args.positional.extend(left)
    return args


def test_exec_command_line_passes_the_program_through():
    args = exec_args("-e", "A=1", "--env", "B=2", "-t", "--cap", "CAP_CHOWN", "-d", "box", "ls", "-l", "--env", "x")
    assert args.env == ["A=1", "B=2"] and args.tty and args.detach and args.cap == ["CAP_CHOWN"]
    assert args.positional == ["box", "ls", "-l", "--env", "x"]


def test_exec_process_from_the_container_and_flags():
    kept = {"process": default_config()["process"]}
    kept["process"]["capabilities"]["inheritable"] = []
    req = execmod.Request(exec_args("--env", "A=1", "--cwd", "/tmp", "--user", "7:8", "-g", "5,6", "--cap",
                                    "CAP_CHOWN", "--no-new-privs", "box", "id", "-u"))
    proc = execmod.build_process(req, kept)
    assert proc["args"] == ["id", "-u"] and proc["env"][-1] == "A=1" and proc["cwd"] == "/tmp"
    assert proc["user"]["uid"] == 7 and proc["user"]["gid"] == 8 and proc["user"]["additionalGids"] == [5, 6]
    assert "CAP_CHOWN" in proc["capabilities"]["bounding"] and "CAP_CHOWN" in proc["capabilities"]["ambient"]
    assert proc["noNewPrivileges"] is True and proc["terminal"] is False
    assert kept["process"]["args"] != ["id", "-u"], "the kept config is not modified"
    with pytest.raises(PyruncError, match="unknown capability"):
        execmod.build_process(execmod.Request(exec_args("--cap", "CAP_NOPE", "box", "true")), kept)
    with pytest.raises(PyruncError, match="uid"):
        execmod.build_process(execmod.Request(exec_args("--user", "root", "box", "true")), kept)


def test_exec_plan_order():
    kept = {"process": default_config()["process"], "seccomp": SECCOMP}
    proc = dict(kept["process"], args=["true"], terminal=True, noNewPrivileges=True,
                execCPUAffinity={"initial": "0", "final": "0-1"})
    plan = execmod.plan_exec(proc, kept, {"": "/sys/fs/cgroup/box"}, ["user", "mnt", "pid", "net"], 0, 0)
    assert ops(plan, "runtime") == ["protect_exe", "set_affinity", "join_pid_namespace"]
    assert step(plan, "protect_exe").args == (True,), "not sealed: detached, user namespace or not"
    assert ops(plan, "namespaces") == ["close_inherited_fds", "set_affinity", "setrlimit", "join_namespaces"]
    assert step(plan, "fork").args == ("/sys/fs/cgroup/box",), "born in its cgroup2 directory"
    keyring = execmod.plan_exec(proc, kept, {}, ["mnt"], 0, 0, "_ses.box")
    assert ops(keyring, "namespaces")[-1] == "join_session_keyring"
    assert step(keyring, "join_session_keyring").args == ("_ses.box", 0), "the init's keyring is joined as it is"
    assert ops(plan, "pivot") == ["exec_terminal"]
    names = ops(plan, "process")
    assert names.index("set_user") < names.index("lookup") < names.index("clear_pdeathsig")
    assert step(plan, "execve").args[4] is not None, "no_new_privs: the filter comes with execve"
    plan = execmod.plan_exec(dict(proc, terminal=False), kept, {}, ["mnt"], 0, 0, exe_sealed=True)
    assert step(plan, "protect_exe").args == (False,)


# -- ps ---------------------------------------------------------------------------------------

def test_ps_table_keeps_the_header_and_the_container_pids():
    out = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 420 1 other\n"
    assert ps.table(out, [42]) == "UID PID PPID CMD\nroot 42 1 sleep\n"
    with pytest.raises(PyruncError, match="PID field"):
        ps.table("USER COMMAND\n", [1])


def test_exec_into_a_user_namespace_sets_rlimits_before_joining_it():
    """Still in the host's user namespace, the exec'd process can raise what its root inside could not."""
    proc = default_config()["process"]
    plan = execmod.plan_exec(proc, {}, {"": "/sys/fs/cgroup/box"}, ["user", "mnt", "pid"], 0, 0)
    names = ops(plan, "namespaces")
    assert names.index("setrlimit") < names.index("join_namespaces")
    assert "setrlimit" not in ops(plan, "process")
    plain = execmod.plan_exec(proc, {}, {"": "/sys/fs/cgroup/box"}, ["mnt", "pid"], 0, 0)
    assert "setrlimit" in ops(plain, "process") and "setrlimit" not in ops(plain, "namespaces")
