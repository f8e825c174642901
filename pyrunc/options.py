"""What the command line adds to a config, and the runtime's own steps that every plan (create's
and exec's) shares: what the launcher did before the plan existed, and the procfs handle.

Apart from plan.py so that `exec`, which plans no mounts or devices, does not import the
planner (plan, devices, namespaces: about 0.5 ms).
"""

from pyrunc.steps import Plan, Step


class Options:
    """What the command line adds to the config, and the host facts create finds before planning
    (rootless, caller, clone_into, grace, exe_sealed), so that planning itself reads nothing."""

    def __init__(self, no_pivot: bool = False, preserve_fds: int = 0, wait_for_start: bool = True,
                 console_socket: str | None = None, listen_fds: int = 0, bundle: str = "",
                 no_new_keyring: bool = False, container_id: str = "", exe_sealed: bool = False,
                 grace: str = "", subreaper: bool = True, clone_into: str = "", rootless: bool = False,
                 caller: tuple[int, int] = (0, 0), network: str = "", publish: tuple[str, ...] = (),
                 state_dir: str = "<state dir>", etc_missing: tuple[str, ...] = (), systemd_unit=None,
                 cgroups_skipped: tuple[str, ...] = (), start_at_once: bool = False) -> None:
        self.state_dir = state_dir  # the container's: the bridge network's /etc files are there
        self.etc_missing = etc_missing  # a host fact: network.ETC_FILES the image lacks (or has empty)
        self.network = network  # --network: pyrunc's own network for the container (network.py)
        self.publish = publish  # --publish HOST:CONTAINER[/tcp|udp], with --network bridge
        self.no_pivot = no_pivot
        self.systemd_unit = systemd_unit  # --systemd-cgroup: the unit to start (cgroups/systemd.py Unit)
        self.rootless = rootless  # a host fact: the runtime lacks privileges in the host's user namespace
        self.caller = caller  # with rootless, the caller's ids: single-id maps of them need no helper
        self.cgroups_skipped = cgroups_skipped  # with rootless, the cgroups the caller cannot write (left out)
        self.clone_into = clone_into  # the container's cgroup2 directory: the init is born in it
        self.grace = grace  # who started the cgroup grace-period task: "launcher", "runtime" or "" (none)
        self.subreaper = subreaper  # `run` reaps what the container orphans (runc's --no-subreaper: False)
        self.exe_sealed = exe_sealed  # a host fact: the interpreter runs from a sealed view (exeseal.py)
        self.bundle = bundle  # relative bind mount sources are relative to it
        self.container_id = container_id  # names the container's session keyring
        self.no_new_keyring = no_new_keyring
        self.listen_fds = listen_fds  # LISTEN_FDS handed on to the container (socket activation)
        self.preserve_fds = preserve_fds
        self.wait_for_start = wait_for_start
        self.start_at_once = start_at_once  # a foreground `run`: no `start` to wait for once ready
        self.console_socket = console_socket


def plan_before(plan: Plan, opts: Options) -> None:
    """What was done before the plan existed, so that it overlaps the interpreter's start-up:
    listed (and logged by create) so that every kernel action of a create has its step."""
    if opts.exe_sealed:
        plan.add("before", "sealed_exec", (), "the launcher: execveat(the interpreter, seen through a detached "
                 "overlayfs with no upper layer): /proc/self/exe cannot be opened for writing (exeseal.py)")
    elif opts.rootless:
        plan.add("before", "plain_exec", (), "the launcher: fsopen(overlay) is refused without privileges, so "
                 "execve(the interpreter) as it is")
    if opts.grace == "launcher":
        plan.add("before", "grace_task", (), "the launcher: fork a task that writes 0 to its own cgroup.procs "
                 "every 4 ms (at most 60 times): the kernel's cgroup grace period begins (cgroups/grace.py)")
    elif opts.grace == "runtime":
        plan.add("before", "grace_task", (), "clone(CLONE_VM) a task that writes 0 to the runtime's own "
                 "cgroup.procs: the kernel's cgroup grace period begins (cgroups/grace.py)")


# The step ops that reach procfs through the handle; a plan with one of them opens it first.
PROCFS_USERS = frozenset(("write_proc", "write_id_map", "set_oom_score_adj", "unshare_time", "set_exec_label",
                          "prepare_idmapped_mount", "move_root"))


def plan_procfs_handle(plan: Plan) -> None:
    """The runtime's first step when any later one writes into procfs (PROCFS_USERS, procfs.py)."""
    if not PROCFS_USERS.isdisjoint(plan.ops()):
        plan.phases["runtime"].insert(0, Step("runtime", "open_procfs", (),
                                              "open the host's /proc (verified procfs root): every procfs "
                                              "write goes below it"))
