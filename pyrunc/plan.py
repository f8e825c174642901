"""Pure planning: a config and the host's facts in, the ordered steps of create/start out.

Nothing here touches the kernel; `pyrunc explain` and `--debug` print the same steps that
the runtime (phases runtime, clone, parent) and the init (the others) perform.
"""

from pyrunc import devices, mounts, process
from pyrunc.errors import PyruncError
from pyrunc.namespaces import Namespaces, id_map_text
from pyrunc.options import Options, plan_before, plan_procfs_handle
from pyrunc.steps import Plan, Step


def build(cfg: dict, rootfs: str, opts: Options, cgroup_dirs: dict[str, str],
          cgroup_actions: tuple[str, ...] = ()) -> tuple[Plan, Namespaces]:
    """`cgroup_dirs` and `cgroup_actions` come from the cgroups planner (paths_for, describe)."""
    plan = Plan()
    linux = cfg.get("linux") or {}
    if opts.rootless:
        from pyrunc import rootless

        rootless.check(cfg)
    ns = Namespaces(linux)
    if not ns.has("mount"):
        # runc then makes the host's / rslave, mounts the config's filesystems on the host under the
        # rootfs (left there by delete) and chroots: pyrunc changes no host mount (README).
        raise PyruncError("linux.namespaces: a mount namespace is required: without one the config's mounts "
                          "would be made in the host's mount namespace and root.path reached by chroot")
    has_process = cfg.get("process") is not None
    if not has_process and not opts.wait_for_start:
        raise PyruncError("config.json: process is required to run a container (config.md: REQUIRED when "
                          "start is called)")
    plan_before(plan, opts)
    if opts.wait_for_start:
        plan.add("runtime", "listen_start", (), "listen on <state dir>/start.sock, for the init to wait on `start`")
    elif opts.subreaper or not ns.single_clone:
        plan.add("runtime", "set_child_subreaper", (), "prctl(PR_SET_CHILD_SUBREAPER, 1): `run` reaps what the "
                 "container orphans" + ("" if ns.single_clone else ", and its init, forked after the joins"))
    ns.plan(plan)
    if opts.cgroups_skipped:
        n = len(opts.cgroups_skipped)
        plan.add("runtime", "skip_cgroups", (opts.cgroups_skipped,),
                 f"no cgroup made in {n} hierarch{'y' if n == 1 else 'ies'} the caller (uid {opts.caller[0]}) "
                 "cannot write, as runc's rootless managers do (no limit needs them)",
                 "linux.resources", tuple(f"skip {d}" for d in opts.cgroups_skipped))
    unit = opts.systemd_unit if cgroup_dirs else None
    if cgroup_dirs and unit is None:
        plan.add("runtime", "create_cgroups", (), "create and configure the container's cgroups", "linux.resources",
                 cgroup_actions)
    net_steps: list[Step] = []
    etc_mounts: list[tuple[dict, str]] = []
    if wants_network(cfg, opts):  # else its module is not even loaded
        from pyrunc import network

        bridge = network.bridge_settings(cfg.get("annotations") or {}, opts.network, list(opts.publish),
                                         opts.container_id)
        etc = tuple(f for f in network.ETC_FILES if f in opts.etc_missing) if bridge else ()
        net_steps = network.plan(plan, linux, ns, bridge, opts.rootless, etc, cfg.get("hostname") or opts.container_id)
        etc_mounts = network.etc_mounts(bridge, etc, opts.state_dir)
    process.plan_protect(plan, opts.exe_sealed, opts.rootless)  # the last step before clone
    if opts.clone_into:
        (clone,) = plan.phases["clone"]
        clone.args = (clone.args[0], opts.clone_into)
        clone.text += f"; born in {opts.clone_into} (clone3 with CLONE_INTO_CGROUP)"
    plan_parent(plan, linux, ns, {k: d for k, d in cgroup_dirs.items() if d != opts.clone_into},
                cfg.get("process") or {}, opts.rootless, opts.caller, bool(net_steps))
    if unit is not None:
        plan_systemd_unit(plan, unit, cgroup_actions)
    if net_steps:  # while the init is held: its program finds the network made
        steps = plan.phases["parent"]
        at = next(i for i, s in enumerate(steps) if s.op == "release_init")
        steps[at:at] = net_steps
    ns.plan_cgroup(plan)
    if ns.new & 0x40000000:  # CLONE_NEWNET
        plan.add("namespaces", "link_up", ("lo",), "ip link set lo up", ns.source("network"))
    for field, op in (("hostname", "sethostname"), ("domainname", "setdomainname")):
        if cfg.get(field):
            if not ns.has("uts"):
                raise PyruncError(f"{field}: setting it needs a uts namespace")
            plan.add("namespaces", op, (cfg[field],), f"{op}({cfg[field]!r})", field)
    if not opts.no_new_keyring:
        process.plan_keyring(plan, opts.container_id, bool(ns.new & 0x10000000))  # CLONE_NEWUSER
    mounts.plan_rootfs(plan, cfg, rootfs, cgroup_dirs, ns, opts.bundle, opts.rootless, etc_mounts)
    devices.plan_devices(plan, cfg, rootfs, bool(ns.has("user")))
    hooks = cfg.get("hooks") or {}
    if hooks.get("prestart") or hooks.get("createRuntime"):
        plan.add("rootfs", "request_hooks", (), "the runtime runs the prestart and createRuntime hooks", "hooks")
        for kind in ("prestart", "createRuntime"):
            if hooks.get(kind):
                plan.add("parent", "run_hooks", (kind,), f"run the {kind} hooks in the runtime's namespaces",
                         f"hooks.{kind}", on="hooks")
    if hooks.get("createContainer"):
        plan.add("rootfs", "run_hooks", ("createContainer", False, rootfs), "run the createContainer hooks in the "
                 f"container's mount namespace, in {rootfs}", "hooks.createContainer")
    mounts.plan_pivot(plan, rootfs, opts.no_pivot)
    process.plan_cwd(plan, cfg)
    proc = cfg.get("process") or {}
    if proc.get("terminal"):
        size = proc.get("consoleSize")
        rows_cols = (size.get("height", 0), size.get("width", 0)) if size else None
        plan.add("pivot", "setup_terminal", (rows_cols,),
                 "open /dev/ptmx and its peer (TIOCGPTPEER): the controlling terminal, stdio and, by "
                 "open_tree of its fd, /dev/console; the master goes to the runtime", "process.terminal")
    process.plan_sysctl(plan, cfg, ns.has, ns.joined)
    mounts.plan_protect(plan, cfg)
    if hooks.get("startContainer"):
        # Without noNewPrivileges the filter is loaded before start (it needs CAP_SYS_ADMIN): the hooks are
        # then started by fork and waited for without a pidfd, as a profile need not allow clone3
        # (posix_spawn's) or pidfd_open.
        filtered = linux.get("seccomp") is not None and not proc.get("noNewPrivileges")
        plan.add("start", "run_hooks", ("startContainer", filtered),
                 "run the startContainer hooks" + (" (fork+exec, under the seccomp filter)" if filtered else ""),
                 "hooks.startContainer")
    watch = False
    if has_process:  # else `create` makes the container and `start` refuses it (lifecycle.start)
        process.plan_process(plan, cfg, opts.preserve_fds, opts.listen_fds, in_userns=ns.has("user"),
                         rootless=opts.rootless)
        # The thread `start` watches (sync.watch_exec): not for poststart hooks, which wait for the program,
        # nor under a filter loaded before start (without noNewPrivileges), which may not let a thread be
        # made, nor with a seccomp listener, which `start` takes over the start socket after it.
        seccomp = linux.get("seccomp")
        watch = opts.wait_for_start and not hooks.get("poststart") and not (
            seccomp is not None and (not proc.get("noNewPrivileges") or seccomp.get("listenerPath")))
    if next((s.args[2] for s in plan.phases["process"] if s.op == "seccomp_load"), None):
        plan.add("parent", "hand_over_listener", (), "send the seccomp listener fd and the state to "
                 "linux.seccomp.listenerPath", "linux.seccomp.listenerPath", on="seccomp")
    plan.add("process", "clear_pdeathsig", (), "prctl(PR_SET_PDEATHSIG, 0): the init outlives `create`")
    if opts.start_at_once:
        plan.add("process", "signal_ready", (False,), "tell the runtime the container is created, and go on: a "
                 "foreground run starts it at once")
    else:
        plan.add("process", "signal_ready", (True, watch), "tell the runtime the container is created; wait for "
                 "start" + ("; meanwhile a thread with a file table of its own (unshare(CLONE_FILES)) that execve's "
                            "point of no return ends: `start` watches it and returns then, not once the kernel has "
                            "freed the init's memory" if watch else ""))
    first = process.first_cloexec(plan)
    plan.phases["namespaces"][:0] = [Step("namespaces", "close_inherited_fds", (first,), f"close every fd from "
                                          f"{first} on but the init's own (the sync socket, start socket, log, "
                                          "procfs handle)"), *plan_await_release(plan)]
    plan_after_clone(plan)
    plan_procfs_handle(plan)
    return plan, ns


def wants_network(cfg: dict, opts: Options) -> bool:
    """linux.netDevices or pyrunc's bridge network (network.py), by the config or the command line."""
    return bool(opts.network or opts.publish or (cfg.get("linux") or {}).get("netDevices")
                or "org.pyrunc.network" in (cfg.get("annotations") or {}))


def plan_await_release(plan: Plan) -> list[Step]:
    """Without a user namespace from clone the init need not wait in the shim for release_init:
    it closes the fds it inherited while the runtime places it in its cgroups, then waits here,
    before any of the container's set-up. With one it waits in the shim (no code of ours runs
    before its maps are written)."""
    (clone,) = plan.phases["clone"]
    if not plan.has("release_init") or clone.args[0] & 0x10000000:  # CLONE_NEWUSER
        return []
    return [Step("namespaces", "await_release", (), "wait until the runtime lets the init go on (release_init)")]


def plan_after_clone(plan: Plan) -> None:
    """The runtime's own state right after clone (the first steps of the parent phase): what only
    the init needed goes."""
    first = []
    ops = plan.ops()
    if "unshare_time" in ops:
        first.append(Step("parent", "leave_time_namespace", (), "setns(<the runtime's former time namespace>): "
                          "hooks the runtime runs keep the host's clocks"))
    if "prepare_idmapped_mount" in ops or "prepare_bind_mount" in ops:
        first.append(Step("parent", "close_idmapped_mounts", (), "close the detached mounts prepared for the init: "
                          "it holds its own copies"))
    plan.phases["parent"][:0] = first


def plan_systemd_unit(plan: Plan, unit, cgroup_actions: tuple[str, ...]) -> None:
    """--systemd-cgroup, as runc's Apply then Set: once the init exists, systemd starts a scope
    holding it (PIDs), then takes the resource properties; pyrunc then makes what systemd did not
    and writes the files, before the init is moved into the other hierarchies and let go."""
    parent = plan.phases["parent"]
    at = next((i for i, s in enumerate(parent) if s.op in ("enter_cgroup", "release_init")), len(parent))
    steps = [Step("parent", "start_unit", (unit.name, unit.properties, unit.user),
                  f"StartTransientUnit {unit.name} over {unit.bus} with PIDs=[<pid>]; wait for its JobRemoved",
                  "linux.cgroupsPath", unit.describe()[: len(unit.properties)])]
    if unit.resources:
        steps.append(Step("parent", "set_unit_properties", (unit.name, unit.resources),
                          f"SetUnitProperties {unit.name} (runtime) over {unit.bus}: the resource limits systemd knows",
                          "linux.resources", unit.describe()[len(unit.properties):]))
    steps.append(Step("parent", "create_cgroups", (), "make what systemd did not and configure the container's "
                      "cgroups", "linux.resources", cgroup_actions))
    parent[at:at] = steps


def plan_parent(plan: Plan, linux: dict, ns: Namespaces, cgroup_dirs: dict[str, str], proc: dict,
                rootless: bool = False, caller: tuple[int, int] = (0, 0), held: bool = False) -> None:
    """What the runtime does to the new init from outside, while it waits (in the shim, or
    having only closed its inherited fds: plan_await_release): its cgroups, made before clone,
    are entered, so the pids and memory limits bound all of its set-up, and its oom_score_adj
    is written (as runc's nsexec does before any user namespace: lowering it needs
    CAP_SYS_RESOURCE in the host's); with a user namespace from clone, the id maps are written
    too. A user namespace unshared after joins gets its maps when the init asks (maps_written)."""
    if not ns.has("user"):  # the spec is silent; runc refuses them (validator.go), with these words
        for kind in ("uid", "gid"):
            if linux.get(f"{kind}Mappings"):
                raise PyruncError(f"linux.{kind}Mappings: user namespace mappings specified, but user namespace "
                                  "isn't enabled in the config (no linux.namespaces entry of type user)")
    at_clone = bool(ns.new & 0x10000000) and ns.single_clone  # CLONE_NEWUSER
    map_steps = []
    if ns.new & 0x10000000:
        texts = {kind: id_map_text(linux.get(f"{kind}Mappings") or []) for kind in ("gid", "uid")}
        for kind, lines in texts.items():
            if not lines:
                raise PyruncError(f"linux.{kind}Mappings: a new user namespace needs {kind} mappings")
        own = rootless and all(linux.get(f"{kind}Mappings") == [{"containerID": 0, "hostID": host, "size": 1}]
                               for kind, host in zip(("uid", "gid"), caller, strict=True))
        if rootless and not own:  # the user's subordinate ids: the setuid helpers check /etc/subuid, /etc/subgid
            for kind in ("gid", "uid"):
                tool = f"new{kind}map"
                map_steps.append(("new_id_map", (tool, texts[kind]), f"{tool} <pid> {' '.join(texts[kind].split())} "
                                  f"(the setuid helper writes /proc/<pid>/{kind}_map after checking /etc/sub{kind})",
                                  f"linux.{kind}Mappings"))
        else:
            if rootless:  # the kernel lets an unprivileged writer set gid_map only after this
                map_steps.append(("write_id_map", ("setgroups", "deny"), "write /proc/<pid>/setgroups 'deny'",
                                  "linux.gidMappings"))
            who = f" (this unprivileged runtime, uid {caller[0]}: its own id only)" if rootless else ""
            for kind, lines in texts.items():
                map_steps.append(("write_id_map", (kind, lines),
                                  f"write /proc/<pid>/{kind}_map {lines.strip()!r}{who}", f"linux.{kind}Mappings"))
    if at_clone:
        for step in map_steps:
            plan.add("parent", *step)
    for path in cgroup_dirs.values():
        plan.add("parent", "enter_cgroup", (path,), f"echo <pid> > {path}/cgroup.procs", "linux.cgroupsPath")
    oom = proc.get("oomScoreAdj")
    if oom is not None:
        plan.add("parent", "set_oom_score_adj", (str(oom),), f"write /proc/<pid>/oom_score_adj {oom}",
                 "process.oomScoreAdj")
    if at_clone or cgroup_dirs or oom is not None or held:
        plan.add("parent", "release_init", (), "let the init go on" + (", in its cgroups" if cgroup_dirs else "")
                 + (", as root of its user namespace" if at_clone else ""))
    if map_steps and not at_clone:
        for step in map_steps:
            plan.add("parent", *step, on="maps")
        plan.add("parent", "maps_written", (), "let the init go on as root of its user namespace", on="maps")
