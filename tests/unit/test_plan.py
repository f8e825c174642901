"""Config -> plan, without root: the order the kernel imposes, and refusals."""

import pytest

from pyrunc import uapi
from pyrunc.errors import PyruncError
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config

ROOTFS = "/bundle/rootfs"


def plan_of(cfg: dict, cgroup_dirs: dict | None = None, **opts):
    plan, _ = build(cfg, ROOTFS, Options(**opts), cgroup_dirs or {})
    return plan


def ops(plan, phase: str | None = None) -> list[str]:
    return [s.op for p, s in plan.steps() if phase in (None, p)]


def with_ns(*extra: dict) -> dict:
    cfg = default_config()
    cfg["linux"]["namespaces"] += list(extra)
    return cfg


def test_default_config_clones_all_namespaces_at_once():
    plan = plan_of(default_config())
    (clone,) = plan.phases["clone"]
    flags = clone.args[0]
    for bit in (uapi.CLONE_NEWPID, uapi.CLONE_NEWNET, uapi.CLONE_NEWIPC, uapi.CLONE_NEWUTS,
                uapi.CLONE_NEWNS):
        assert flags & bit
    assert not flags & uapi.CLONE_NEWUSER
    assert ops(plan, "namespaces") == ["close_inherited_fds", "link_up", "sethostname", "join_session_keyring"]


def test_user_namespace_maps_are_written_gid_first_then_released():
    cfg = with_ns({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000},
                                   {"containerID": 1000, "hostID": 200000, "size": 10}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    plan = plan_of(cfg)
    parent = plan.phases["parent"]
    assert [s.op for s in parent[:3]] == ["write_id_map", "write_id_map", "release_init"]
    assert parent[0].args == ("gid", "0 100000 65536\n")
    assert parent[1].args == ("uid", "0 100000 1000\n1000 200000 10\n")
    assert plan.phases["clone"][0].args[0] & uapi.CLONE_NEWUSER
    assert ops(plan, "rootfs").count("bind_device") == 6 and "mknod" not in ops(plan)


def test_user_namespace_without_mappings_is_refused():
    with pytest.raises(PyruncError, match="gidMappings"):
        plan_of(with_ns({"type": "user"}))


def test_joined_namespaces_open_all_then_join_user_last_then_fork_for_pid():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [{"type": "mount"}, {"type": "uts"}, {"type": "user", "path": "/proc/1/ns/user"},
                                  {"type": "network", "path": "/proc/1/ns/net"}, {"type": "pid"}]
    plan = plan_of(cfg)
    assert plan.phases["clone"][0].args == (0,)
    assert ops(plan, "namespaces")[:6] == ["close_inherited_fds", "open_namespace", "open_namespace", "setns", "setns",
                                           "unshare"]
    setns_kinds = [s.args[0] for s in plan.phases["namespaces"] if s.op == "setns"]
    assert setns_kinds == ["network", "user"]
    assert "fork_init" in ops(plan, "namespaces")


def test_cgroups_exist_before_clone_and_hold_the_init_before_it_runs():
    """The init waits in the shim until it is in every cgroup (and has its id maps): the pids and
    memory limits bound all of its set-up, and a cgroup namespace is rooted at its cgroup."""
    dirs = {"memory": "/sys/fs/cgroup/memory/pyrunc/x", "pids": "/sys/fs/cgroup/pids/pyrunc/x"}
    cfg = with_ns({"type": "cgroup"}, {"type": "user"})
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    plan = plan_of(cfg, dirs)
    assert ops(plan, "runtime")[-2:] == ["create_cgroups", "protect_exe"]
    assert ops(plan, "parent") == ["write_id_map", "write_id_map", "enter_cgroup", "enter_cgroup", "release_init",
                                   "prlimit"]
    assert ops(plan, "namespaces")[:2] == ["close_inherited_fds", "unshare"]
    assert plan.phases["namespaces"][1].args == (uapi.CLONE_NEWCGROUP,)


def test_a_late_user_namespace_gets_its_maps_when_the_init_asks():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [{"type": "mount"}, {"type": "uts"}, {"type": "network", "path": "/proc/1/ns/net"},
                                  {"type": "user"}]
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    plan = plan_of(cfg, {"": "/sys/fs/cgroup/x"})
    assert ops(plan, "parent") == ["enter_cgroup", "release_init", "write_id_map", "write_id_map", "maps_written",
                                   "prlimit"]


def test_nothing_to_wait_for_means_no_release():
    assert "release_init" not in ops(plan_of(default_config()))


def test_time_namespace_offsets_are_written_by_the_runtime_before_clone():
    cfg = with_ns({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 3600}, "boottime": {"secs": 7, "nanosecs": 5}}
    plan = plan_of(cfg)
    assert ops(plan, "runtime") == ["open_procfs", "listen_start", "unshare_time", "protect_exe"]
    step = plan.phases["runtime"][2]
    assert step.args == ("monotonic 3600 0\nboottime 7 5\n",)
    assert not plan.phases["clone"][0].args[0] & uapi.CLONE_NEWTIME


def test_namespace_listed_twice_or_unknown_is_an_error():
    with pytest.raises(PyruncError, match="listed twice"):
        plan_of(with_ns({"type": "pid"}))
    with pytest.raises(PyruncError, match="unknown namespace"):
        plan_of(with_ns({"type": "bogus"}))


def test_mounts_in_config_order_before_pivot_then_masks_then_readonly_root():
    plan = plan_of(default_config())
    rootfs = [s for s in plan.phases["rootfs"] if s.op in ("mount_at", "bind_mount")]
    dests = [s.args[2] for s in rootfs]
    assert dests[:6] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]
    pivot = ops(plan, "pivot")
    assert pivot[0] == "pivot_root"
    assert pivot.index("mask_path") < pivot.index("readonly_path")
    assert plan.phases["pivot"][-1].args == ("/",) and plan.phases["pivot"][-1].source == "root.readonly"


def test_no_pivot_moves_the_root():
    assert ops(plan_of(default_config(), no_pivot=True), "pivot")[0] == "move_root"


def test_process_order_bounding_user_caps_nnp_then_exec():
    names = ops(plan_of(default_config()), "process")
    assert names.index("drop_bounding") < names.index("set_user") < names.index("capset")
    assert names.index("capset") < names.index("no_new_privs") < names.index("signal_ready")
    assert names[-1] == "signal_ready"
    assert ops(plan_of(default_config()), "start") == ["execve"]


def test_start_watches_exec_unless_poststart_hooks_wait_for_it():
    """The thread `start` watches (sync.watch_exec) is made for `start` only, not when poststart
    hooks must run after the program has started (runtime.md, lifecycle step 9), nor under a
    seccomp filter already loaded, nor with a seccomp listener `start` receives after it."""
    def watched(cfg, **opts):
        return next(s for s in plan_of(cfg, **opts).phases["process"] if s.op == "signal_ready").args == (True, True)

    cfg = default_config()
    assert watched(cfg)
    assert not watched(cfg, wait_for_start=False)  # run: no `start` to watch
    cfg["hooks"] = {"poststart": [{"path": "/bin/true"}]}
    assert not watched(cfg)
    cfg = default_config()  # a filter loaded before start (no noNewPrivileges) may refuse or kill clone
    cfg["process"]["noNewPrivileges"] = False
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_KILL", "syscalls": [
        {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
    assert not watched(cfg)
    cfg["process"]["noNewPrivileges"] = True
    assert watched(cfg)
    cfg["linux"]["seccomp"]["listenerPath"] = "/run/agent.sock"
    assert not watched(cfg)


def test_hooks_have_their_moments():
    cfg = default_config()
    hook = [{"path": "/bin/true"}]
    cfg["hooks"] = {k: hook for k in ("prestart", "createContainer", "startContainer")}
    plan = plan_of(cfg)
    rootfs = ops(plan, "rootfs")
    assert rootfs[-2:] == ["request_hooks", "run_hooks"]
    assert ops(plan, "start") == ["run_hooks", "execve"]


def test_rlimit_soft_above_hard_is_refused():
    cfg = default_config()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]
    with pytest.raises(PyruncError, match="above the hard limit"):
        plan_of(cfg)


def test_unknown_capability_is_refused_with_its_path():
    cfg = default_config()
    cfg["process"]["capabilities"]["effective"].append("CAP_BOGUS")
    with pytest.raises(PyruncError, match=r"process.capabilities.effective\[3\]"):
        plan_of(cfg)


def test_v1_cgroup_mount_is_a_tmpfs_of_binds():
    plan = plan_of(default_config(), {"memory": "/sys/fs/cgroup/memory/pyrunc/x",
                                      "pids": "/sys/fs/cgroup/pids/pyrunc/x"})
    steps = [s for s in plan.phases["rootfs"] if s.source == "mounts[6]"]
    assert steps[0].args[3] == "tmpfs"
    binds = [s.args[2] for s in steps if s.op == "bind_mount"]
    assert binds == ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"]


def test_every_side_action_is_a_step():
    """What create used to do beside the plan (explain's whole truth): the grace-period task and the
    sealed exec before the plan, the subreaper of `run`, leaving the time namespace after clone,
    the init's sweep of inherited fds and its clearing of the parent-death signal."""
    cfg = with_ns({"type": "time"}, {"type": "network", "path": "/proc/1/ns/net"})
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n != {"type": "network"}]
    plan = plan_of(cfg, wait_for_start=False, exe_sealed=True, grace="launcher")
    assert ops(plan, "before") == ["sealed_exec", "grace_task"]
    assert "set_child_subreaper" in ops(plan, "runtime"), "run's init is a grandchild after the joins"
    assert ops(plan, "parent")[0] == "leave_time_namespace"
    assert ops(plan, "namespaces")[0] == "close_inherited_fds"
    process = ops(plan, "process")
    assert process[-2:] == ["clear_pdeathsig", "signal_ready"]
    assert "set_child_subreaper" in ops(plan_of(cfg, wait_for_start=False, subreaper=False)), "run waits for it"
    assert "set_child_subreaper" in ops(plan_of(default_config(), wait_for_start=False)), "runc's default"
    assert "set_child_subreaper" not in ops(plan_of(default_config(), wait_for_start=False, subreaper=False))
    assert "set_child_subreaper" not in ops(plan_of(default_config())), "create: the init is not ours to wait for"


def test_runtime_steps_the_init_asks_for_are_marked_in_the_plan():
    """The runtime does not reorder its steps: those answering a request of the init say which."""
    cfg = with_ns({"type": "user"}, {"type": "network", "path": "/proc/1/ns/net"})
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n != {"type": "network"}]
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 64}]
    cfg["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    plan = plan_of(cfg)
    assert [s.op for s in plan.on("parent", "maps")] == ["write_id_map", "write_id_map", "maps_written"]
    assert [s.op for s in plan.on("parent", "rlimits")] == ["prlimit"]
    assert [s.args for s in plan.on("parent", "hooks")] == [("prestart",)]
    assert plan.on("parent", "maps")[0].describe().startswith("when the init asks for its id maps: write")


def test_on_cgroup2_the_init_is_born_in_its_cgroup():
    """clone3(CLONE_INTO_CGROUP): no migration of the init into the cgroup2 directory; the v1
    hierarchies of a hybrid host are still entered while the init is held."""
    dirs = {"memory": "/sys/fs/cgroup/memory/pyrunc/c", "unified": "/sys/fs/cgroup/unified/pyrunc/c"}
    plan = plan_of(default_config(), dirs, clone_into=dirs["unified"])
    (clone,) = plan.phases["clone"]
    assert clone.args[1] == dirs["unified"] and "CLONE_INTO_CGROUP" in clone.text
    assert [s.args for s in plan.phases["parent"] if s.op == "enter_cgroup"] == [(dirs["memory"],)]
    v2 = plan_of(default_config(), {"": "/sys/fs/cgroup/pyrunc/c"}, clone_into="/sys/fs/cgroup/pyrunc/c")
    assert "enter_cgroup" not in ops(v2) and "release_init" not in ops(v2), "nothing to wait for on pure v2"


def test_rootless_plan():
    """An unprivileged runtime: setgroups `deny` before the gid map (the kernel's rule for such a
    writer), the init left dumpable until its maps are written, supplementary groups left alone."""
    from pyrunc.specgen import default_config as spec

    cfg = spec(rootless=True)
    plan = plan_of(cfg, rootless=True)
    maps = [s.args[0] for s in plan.phases["parent"] if s.op == "write_id_map"]
    assert maps == ["setgroups", "gid", "uid"]
    assert next(s for s in plan.phases["runtime"] if s.op == "protect_exe").args == (False, True)
    assert next(s for s in plan.phases["process"] if s.op == "set_user").args[2] is None
    cfg["process"]["user"]["additionalGids"] = [5]
    with pytest.raises(PyruncError, match="additionalGids"):
        plan_of(cfg, rootless=True)
    assert [s.args[0] for s in plan_of(spec(rootless=True)).phases["parent"]
            if s.op == "write_id_map"] == ["gid", "uid"], "a privileged runtime writes no setgroups"


def test_rootless_wide_maps_go_through_the_setuid_helpers():
    """Maps beyond the caller's own id: newgidmap, newuidmap (they check /etc/subgid, /etc/subuid)."""
    cfg = default_config()
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [
        {"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 1000}]
    opts = Options(rootless=True, caller=(1001, 1001))
    plan, _ = build(cfg, ROOTFS, opts, {})
    steps = [s for s in plan.phases["parent"] if s.op in ("new_id_map", "write_id_map")]
    assert [s.args[0] for s in steps] == ["newgidmap", "newuidmap"]
    assert steps[1].args[1].split() == ["0", "1001", "1", "1", "100000", "1000"]
