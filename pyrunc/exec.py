"""`pyrunc exec`: run another process in a running container, confined like its init.

    runtime: check the container, build the process (--process F, or the config kept at create
             plus the flags), plan it; protect_exe (non-dumpable, /proc/self/exe sealed by the
             launcher or detached); execCPUAffinity.initial; open /proc/<init>/ns/*; setns(pid)
             for the children only; fork
    child:   enter the container's cgroups (write 0 to cgroup.procs), execCPUAffinity.final,
             join the other namespaces in one shim call (user last), the init's session keyring
             (unless create had --no-new-keyring), [terminal], then the process phase of
             process.py (HOME, rlimits ... seccomp ... caps, user, chdir + its check), execve
    runtime: relays pty / seccomp listener fds, learns of the exec by EOF on the close-on-exec
             socket (or the child's one-line error), writes --pid-file, then either leaves (-d:
             the process is reparented to the caller's subreaper) or waits and exits with its
             status. Failures exit 255 with `exec failed: ...`, as runc does.
The runtime joins only the pid namespace (pid_for_children), so the process is its own child
and no second fork is needed.
"""

import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)
import sys

from pyrunc import (
    OCI_VERSION,
    capabilities,
    crashpoint,
    executor,
    exeseal,
    init,
    jsonio,
    native,
    process,
    procfs,
    sync,
    uapi,
)
from pyrunc.cgroups import grace
from pyrunc.errors import PyruncError, os_error
from pyrunc.kernel import LinuxKernel, preload
from pyrunc.options import Options, plan_before, plan_procfs_handle
from pyrunc.state import Container, proc_start_time
from pyrunc.steps import Plan, Step

# /proc/<pid>/ns name -> CLONE_NEW* flag, in the order they are opened.
NAMESPACES = (("user", uapi.CLONE_NEWUSER), ("mnt", uapi.CLONE_NEWNS), ("pid", uapi.CLONE_NEWPID),
              ("net", uapi.CLONE_NEWNET), ("ipc", uapi.CLONE_NEWIPC), ("uts", uapi.CLONE_NEWUTS),
              ("cgroup", uapi.CLONE_NEWCGROUP), ("time", uapi.CLONE_NEWTIME))
EXIT_FAILED = 255


class Request:
    """The command line of `exec` (see cli.COMMANDS)."""

    def __init__(self, args) -> None:
        self.command = list(args.positional[1:])
        self.process_file = args.process
        self.detach = bool(args.detach)
        self.tty = bool(args.tty)
        self.pid_file = args.pid_file
        self.console_socket = _abspath(args.console_socket) if args.console_socket else None
        self.env = list(args.env or [])
        self.cwd = args.cwd
        self.user = args.user
        self.additional_gids = [g for v in (args.additional_gids or []) for g in v.split(",") if g]
        self.caps = list(args.cap or [])
        self.no_new_privs = bool(args.no_new_privs)
        self.preserve_fds = args.preserve_fds
        self.apparmor = args.apparmor
        self.process_label = args.process_label
        self.sub_cgroups = parse_sub_cgroups(args.cgroup or [])
        self.ignore_paused = bool(args.ignore_paused)


def _abspath(path: str) -> str:
    """os.path.abspath, for a flag only some callers give."""
    from pyrunc.posixfs import abspath

    return abspath(path)


def parse_sub_cgroups(values: list[str]) -> dict[str, str]:
    """`--cgroup [controller[,controller]:]path`, as runc's getSubCgroupPaths: controller -> path,
    or {"": path} for one path without a prefix (every hierarchy; the only form on v2)."""
    paths: dict[str, str] = {}
    for value in values:
        parts = value.split(":")
        if len(parts) > 2:
            raise PyruncError(f"invalid --cgroup argument: {value}")
        if len(parts) == 1:
            if len(values) != 1:
                raise PyruncError(f"invalid --cgroup argument: {value} (missing <controller>: prefix)")
            paths[""] = value
            continue
        for ctrl in parts[0].split(","):
            if not ctrl:
                raise PyruncError(f"invalid --cgroup argument: {value} (empty <controller> prefix)")
            if ctrl in paths:
                raise PyruncError(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            paths[ctrl] = parts[1]
    return paths


def sub_cgroup_dirs(dirs: dict[str, str], subs: dict[str, str]) -> dict[str, str]:
    """The container's cgroup directories with --cgroup's sub-paths joined (runc's
    newSetnsProcess): a path that leaves the container's cgroup, or an unknown controller, is refused."""
    def join(base: str, sub: str) -> str:
        from pyrunc import posixfs  # with --cgroup only

        joined = posixfs.normpath(posixfs.join(base, sub.lstrip("/")))
        if joined != base and not joined.startswith(base.rstrip("/") + "/"):
            raise PyruncError(f"{sub} is not a sub cgroup path")
        return joined

    if "" in subs:
        return {k: join(v, subs[""]) for k, v in dirs.items()}
    out = dict(dirs)
    for ctrl, sub in subs.items():
        if ctrl not in dirs:
            raise PyruncError(f"unknown controller {ctrl} in SubCgroupPaths")
        joined = join(dirs[ctrl], sub)
        for k, v in dirs.items():  # co-mounted controllers (cpu,cpuacct) share the hierarchy: one place
            if v == dirs[ctrl]:
                out[k] = joined
    return out


def build_process(req: Request, kept: dict) -> dict:
    """runc's getProcess: --process is authoritative; otherwise the container's process with
    the arguments and flags applied."""
    if req.process_file:
        from pyrunc import config

        text = config.read_text(req.process_file)
        try:
            proc = jsonio.loads(text)
        except ValueError as e:
            raise PyruncError(f"{req.process_file}: invalid JSON: {e}") from None
        if not isinstance(proc, dict):
            raise PyruncError(f"{req.process_file}: must be a JSON object")
        config.check_supported(proc, config.SUPPORTED["process"], "process")
        return proc
    if not req.command:
        raise PyruncError("exec: no command given (nor --process)")
    proc = jsonio.loads(jsonio.dumps(kept.get("process") or {}))  # a deep copy
    proc["args"] = req.command
    proc["terminal"] = req.tty
    proc.pop("consoleSize", None)
    if req.cwd:
        proc["cwd"] = req.cwd
    proc["env"] = list(proc.get("env") or []) + req.env
    if req.no_new_privs:
        proc["noNewPrivileges"] = True
    if req.apparmor:
        proc["apparmorProfile"] = req.apparmor
    if req.process_label:
        proc["selinuxLabel"] = req.process_label
    user = proc.setdefault("user", {"uid": 0, "gid": 0})
    if req.user:
        uid, _, gid = req.user.partition(":")
        try:
            user["uid"] = int(uid)
            if gid:
                user["gid"] = int(gid)
        except ValueError:
            raise PyruncError(f"--user {req.user}: expected uid[:gid] as numbers") from None
    if req.additional_gids:
        try:
            user["additionalGids"] = list(user.get("additionalGids") or []) + [int(g) for g in req.additional_gids]
        except ValueError:
            raise PyruncError(f"--additional-gids: {','.join(req.additional_gids)}: not numbers") from None
    if req.caps:
        caps = proc.setdefault("capabilities", {})
        for name in req.caps:
            capabilities.mask([name], "--cap", capabilities.last_cap())
            for s in ("bounding", "effective", "permitted"):
                caps[s] = list(caps.get(s) or []) + [name]
            if caps.get("inheritable") is not None:  # ambient needs inheritable (runc does the same)
                caps["ambient"] = list(caps.get("ambient") or []) + [name]
    return proc


class ExecRuntime:
    """The runtime's steps of an exec, before the fork."""

    def __init__(self, grace_pidfd: int = -1) -> None:
        self.pid_ns_fd = -1
        self.user_ns_fd = -1
        self.pid = -1
        # cgroups/grace.py's task, started by the launcher: its no-op migrations keep the kernel's
        # fast path on, so the process's write into the container's cgroups need not wait a grace period.
        self.grace_pidfd = grace_pidfd

    def alone(self, wait: bool = True) -> None:
        """End and reap the grace-period task."""
        grace.finish(self.grace_pidfd, wait)
        self.grace_pidfd = -1

    def fork(self, into: str = "") -> None:
        """The process: 0 in it, its pid here. No user namespace of its own: nothing to wait for.
        Born in the cgroup2 directory `into` when there is one (no migration, as create's init).
        The grace-period task is told to end right before, and reaped once the process has exec'd:
        a SIGKILLed task makes no further migration, and its exit need not delay the fork."""
        grace.stop(self.grace_pidfd)
        fd = posix.open(into, uapi.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC) if into else -1
        try:
            self.pid = native.clone(0, -1, uapi.SIGKILL, fd)
        finally:
            if fd >= 0:
                posix.close(fd)

    def protect_exe(self, hide: bool) -> None:
        native.prctl(uapi.PR_SET_DUMPABLE, 0)
        if hide:
            self.alone()  # it remaps this process's memory: no other task may share it
            native.hide_exe()

    def set_affinity(self, cpus: frozenset) -> None:
        posix.sched_setaffinity(0, cpus)

    def open_procfs(self) -> None:
        """Before joining: the process writes into procfs through the host's, not the container's."""
        procfs.open_handle()

    def join_pid_namespace(self) -> None:
        native.setns(self.pid_ns_fd, uapi.CLONE_NEWPID)

    def join_user_namespace(self) -> None:
        native.setns(self.user_ns_fd, uapi.CLONE_NEWUSER)


class ExecKernel(LinuxKernel):
    """The exec'd process's steps: LinuxKernel's process ops plus joining a running container."""

    def __init__(self, channel, ns_fds: list[tuple[int, int]], keep: tuple[int, ...]) -> None:
        super().__init__(channel, None, keep)
        self.join_fds = ns_fds

    def enter_cgroups(self, dirs: tuple[str, ...]) -> None:
        """Every hierarchy's write in one call of the shim (native.write_each), in order: Python
        between them is time before the process goes on. A cgroup that a concurrent `delete`
        removes answers ENODEV (v1) or ENOENT: one line naming it, not a traceback."""
        done, error = native.write_each([f"{d}/cgroup.procs" for d in dirs], "0")
        if error is not None:
            raise os_error(f"join cgroup {dirs[done]}", error) from None

    def set_affinity(self, cpus: frozenset) -> None:
        posix.sched_setaffinity(0, cpus)

    def join_namespaces(self) -> None:
        fds = [fd for fd, _ in self.join_fds]
        try:
            native.join_namespaces(fds, [flag for _, flag in self.join_fds])
        finally:
            for fd in fds:
                posix.close(fd)

    def exec_terminal(self, size: tuple[int, int] | None) -> None:
        """A pty from the container's devpts: the master to the runtime, the slave our stdio."""
        console = sys.modules["pyrunc.console"]  # imported before the fork (kernel.preload)
        master, slave = console.open_terminal(size)
        try:
            self.channel.send_fds("pty", [master])
        finally:
            posix.close(master)
        self.channel.expect("pty-done")
        console.become_terminal_session(slave)


def _same_ns(pid: int, name: str) -> bool:
    """The links name the namespace by kind and inode ("mnt:[4026531841]"), all on the one nsfs:
    equal text, the same namespace. Half the cost of two stat calls and their results."""
    try:
        return posix.readlink(f"/proc/{pid}/ns/{name}") == posix.readlink(f"/proc/self/ns/{name}")
    except FileNotFoundError:
        return True  # the kernel lacks this kind


def plan_exec(proc: dict, kept: dict, cgroup_dirs: dict, joins: list[str], preserve_fds: int,
              listen_fds: int, keyring: str = "", exe_sealed: bool = False,
              cgroup_source: str = "state.cgroups", rootless: bool = False, grace: str = "") -> Plan:
    """Pure: the steps of one exec (shown by --debug); `keyring` names the container's session
    keyring to join ("" with create's --no-new-keyring: the caller's is kept); `cgroup_dirs`
    are the container's, or the sub-cgroups of --cgroup (`cgroup_source`); `grace` who started the
    grace-period task (Options.grace)."""
    plan = Plan()
    plan_before(plan, Options(exe_sealed=exe_sealed, rootless=rootless, grace=grace))
    plan.add("runtime", "protect_exe", (not exe_sealed and not rootless,), "prctl(PR_SET_DUMPABLE, 0); "
             + process.exeseal_text(exe_sealed, rootless))
    affinity = proc.get("execCPUAffinity") or {}
    if affinity:
        from pyrunc import scheduling
    if affinity.get("initial"):
        cpus = scheduling.parse_cpus(affinity["initial"], "process.execCPUAffinity.initial")
        plan.add("runtime", "set_affinity", (cpus,), f"sched_setaffinity({affinity['initial']}) before the cgroup",
                 "process.execCPUAffinity.initial")
    first = ("user", "pid") if rootless and "user" in joins else ("pid",)
    if "user" in first:  # joining the pid namespace needs CAP_SYS_ADMIN there, which only its owner's root has
        plan.add("runtime", "join_user_namespace", (), "setns(/proc/<init>/ns/user): this unprivileged runtime "
                 "becomes root of the container's user namespace, to join its other namespaces")
    if "pid" in joins:
        plan.add("runtime", "join_pid_namespace", (), "setns(/proc/<init>/ns/pid): the process is born in it")
    into = next((cgroup_dirs[k] for k in ("", "unified") if k in cgroup_dirs), "")  # the cgroup2 directory
    if into:
        plan.add("clone", "fork", (into,), f"fork: the process, a child of the runtime, born in {into} "
                 "(clone3 with CLONE_INTO_CGROUP)", cgroup_source)
    else:
        plan.add("clone", "fork", (), "fork: the process, a child of the runtime")
    dirs = tuple(sorted(set(cgroup_dirs.values()) - {into}))
    if dirs:
        plan.add("namespaces", "enter_cgroups", (dirs,),
                 "echo 0 > " + " ".join(f"{d}/cgroup.procs" for d in dirs), cgroup_source)
    if affinity.get("final"):
        cpus = scheduling.parse_cpus(affinity["final"], "process.execCPUAffinity.final")
        plan.add("namespaces", "set_affinity", (cpus,), f"sched_setaffinity({affinity['final']}) in the cgroup",
                 "process.execCPUAffinity.final")
    if "user" in joins:  # the host's CAP_SYS_RESOURCE would be out of reach once joined
        process.plan_rlimits(plan, proc, "namespaces")
    others = [n for n in joins if n not in first]
    if others:
        plan.add("namespaces", "join_namespaces", (),
                 "setns " + ", ".join(f"/proc/<init>/ns/{n}" for n in others) + " (user last)")
    if keyring:
        plan.add("namespaces", "join_session_keyring", (keyring, 0),
                 f"keyctl(KEYCTL_JOIN_SESSION_KEYRING, {keyring!r}): the init's, not the caller's")
    if proc.get("selinuxLabel") or proc.get("apparmorProfile"):
        from pyrunc import lsm  # imported here, in the runtime: the child finds it loaded

        for kind, field in (("selinux", "selinuxLabel"), ("apparmor", "apparmorProfile")):
            if proc.get(field):
                lsm.check(kind, f"process.{field}")
        lsm.plan_exec_labels(plan, proc)
    if proc.get("terminal"):
        size = proc.get("consoleSize")
        rows_cols = (size.get("height", 0), size.get("width", 0)) if size else None
        plan.add("pivot", "exec_terminal", (rows_cols,),
                 "open /dev/ptmx of the container: the master goes to the runtime", "process.terminal")
    cfg = {"process": proc, "linux": {k: kept[k] for k in ("seccomp", "personality") if k in kept}}
    process.plan_process(plan, cfg, preserve_fds, listen_fds, for_exec=True, in_userns="user" in joins,
                         rootless=rootless)
    plan.phases["namespaces"].insert(0, Step("namespaces", "close_inherited_fds", (process.first_cloexec(plan),),
                                             f"close every fd from {process.first_cloexec(plan)} on but the "
                                             "process's own (the sync socket, namespace fds, log, procfs handle)"))
    plan_procfs_handle(plan)
    return plan


def _check_terminal(terminal: bool, console_socket: str | None, detached: bool) -> None:
    if terminal and detached and not console_socket:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if console_socket and not terminal:
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")


def run(root: str, cid: str, args, log=None) -> int:
    """The exec command; runc's exit codes: the process's status, or 255 when exec fails."""
    ops = ExecRuntime(grace.start())
    try:
        return _run(root, cid, Request(args), log, ops)
    except PyruncError as e:
        raise PyruncError(f"exec failed: {e.message}", EXIT_FAILED) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise PyruncError(f"exec failed: {where}{(e.strerror or str(e)).lower()}", EXIT_FAILED) from None
    finally:
        ops.alone(wait=False)  # failed before the fork: it is left to finish on its own (grace.finish)


def prepare(root: str, cid: str, req: Request, grace_origin: str = "") -> tuple[Container, dict, Plan, list[str]]:
    """Check the container and plan the exec: (the container, the process, the plan, the namespaces
    to join). `explain --exec` prints this plan; `exec` performs it."""
    c = Container(root, cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    c.read()
    status = c.status()
    if status == "paused" and not req.ignore_paused:
        raise PyruncError("cannot exec in a paused container (use --ignore-paused to override)")
    if status not in ("created", "running", "paused"):
        raise PyruncError(f"cannot exec in a {status} container")
    kept = c.record.get("exec") or {}
    proc = build_process(req, kept)
    terminal = bool(proc.get("terminal"))
    _check_terminal(terminal, req.console_socket, req.detach)
    try:
        preserve = int(req.preserve_fds or 0)
    except ValueError:
        raise PyruncError(f"invalid --preserve-fds: {req.preserve_fds}") from None
    listen = process.listen_fds_from_env()
    process.check_kept_fds(max(preserve, listen))
    init_pid = c.record["pid"]
    joins = [name for name, _ in NAMESPACES if not _same_ns(init_pid, name)]
    keyring = "" if kept.get("noNewKeyring") else process.session_keyring_name(cid)
    dirs = sub_cgroup_dirs(c.record.get("cgroups") or {}, req.sub_cgroups)
    sealed, rootless = exeseal.sealed(), posix.geteuid() != 0
    if rootless and not sealed:
        exeseal.check_unprivileged()
    plan = plan_exec(proc, kept, dirs, joins, preserve, listen, keyring, sealed,
                     "--cgroup" if req.sub_cgroups else "state.cgroups", rootless, grace_origin)
    return c, proc, plan, joins


def _run(root: str, cid: str, req: Request, log, runtime_ops: ExecRuntime) -> int:
    c, proc, plan, joins = prepare(root, cid, req, grace.origin if runtime_ops.grace_pidfd >= 0 else "")
    init_pid = c.record["pid"]
    terminal = bool(proc.get("terminal"))
    kept = c.record.get("exec") or {}

    flags = dict(NAMESPACES)
    ns_fds = [(posix.open(f"/proc/{init_pid}/ns/{n}", posix.O_RDONLY | posix.O_CLOEXEC), flags[n]) for n in joins]
    pid = 0
    parent = child = None
    try:
        if (proc_start_time(init_pid) or (0, ""))[0] != c.record.get("start_time"):
            raise PyruncError("cannot exec in a stopped container")  # the init went away meanwhile
        by_runtime = {f: fd for fd, f in ns_fds if f == uapi.CLONE_NEWPID
                      or (f == uapi.CLONE_NEWUSER and plan.has("join_user_namespace"))}
        runtime_ops.pid_ns_fd = by_runtime.get(uapi.CLONE_NEWPID, -1)
        runtime_ops.user_ns_fd = by_runtime.get(uapi.CLONE_NEWUSER, -1)
        preload(plan)  # before the runtime joins the container's user namespace, if it does
        executor.run(plan.phases["runtime"], runtime_ops, log)
        for fd in by_runtime.values():  # the child joins the others
            posix.close(fd)
        ns_fds = [(fd, f) for fd, f in ns_fds if f not in by_runtime]
        parent, child = sync.socketpair()
        executor.run(plan.phases["clone"], runtime_ops, log)
        pid = runtime_ops.pid
        if pid == 0:
            try:
                parent.close()
                own = (child.fileno(), *(fd for fd, _ in ns_fds), getattr(getattr(log, "__self__", None), "fd", -1),
                       procfs.handle())
                init.main(plan, ExecKernel(child, ns_fds, own), log)
            finally:
                posix._exit(1)
        child.close()
        child = None
        master = _drive(parent, pid, req, c, kept, terminal)
        runtime_ops.alone()
        if crashpoint.AT:
            crashpoint.reached("at:exec_started")
        if req.pid_file:  # a pid file that cannot be written ends the process, as in runc
            from pyrunc.lifecycle import write_pid_file

            write_pid_file(req.pid_file, pid)
    except BaseException:
        if pid:
            from pyrunc.lifecycle import kill_and_reap

            kill_and_reap(pid)
        raise
    finally:
        for fd, _ in ns_fds:
            posix.close(fd)
        for ch in (parent, child):
            if ch is not None:
                ch.close()
    if req.detach:
        if master >= 0:
            posix.close(master)
        return 0
    return _wait(pid, master)


def _drive(parent: sync.Channel, pid: int, req: Request, c: Container, kept: dict, terminal: bool) -> int:
    """Until the process has exec'd (EOF) or failed; returns the pty master when we keep it."""
    master = -1
    while True:
        tag, payload = parent.recv()
        if tag == "":
            return master
        if tag == "error":
            raise PyruncError(payload)
        if tag == "pty":
            master = parent.fds.pop(0)
            if req.console_socket:
                from pyrunc import console

                try:
                    console.send_to_socket(req.console_socket, master)
                finally:
                    posix.close(master)
                    master = -1
            parent.send("pty-done")
        elif tag == "seccomp":
            from pyrunc import seccomp

            r = c.record
            state = {"ociVersion": OCI_VERSION, "id": c.id, "status": "running", "pid": r["pid"],
                     "bundle": r.get("bundle", ""), "annotations": r.get("annotations") or {}}
            seccomp.handover(kept.get("seccomp") or {}, parent.fds.pop(0), pid, state)
            parent.send("seccomp-done")
        else:
            raise PyruncError(f"sync: unexpected {tag} from the exec'd process")


def _wait(pid: int, master: int) -> int:
    """Foreground: forward signals, relay the terminal, return the exit status (128+N if killed)."""
    import _signal

    if master >= 0:
        from pyrunc import console

    def forward(signum: int, _frame: object) -> None:
        if signum == 28 and master >= 0:  # SIGWINCH
            console.resize_from(0, master)
            return
        try:
            posix.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (1, 2, 3, 10, 12, 15, 28):
        _signal.signal(signum, forward)
    if master >= 0:
        flags = posix.WEXITED | posix.WNOHANG | posix.WNOWAIT
        console.relay(master, lambda: posix.waitid(posix.P_PID, pid, flags) is None)
        posix.close(master)
    while True:
        try:
            _, status = posix.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = posix.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code

