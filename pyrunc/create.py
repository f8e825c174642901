"""create and run: decide everything first (Prepared), then clone the init and drive it.

Whatever create made is undone in reverse order when it fails, so a failed create leaves
nothing behind. The init's modules are imported here, before clone, and those only some steps
need by kernel.preload: after the init joins a mount namespace or changes user, an import could
read the container's files or fail.
"""

import errno
import posix
import sys

from pyrunc import cgroups, config, crashpoint, executor, exeseal, init, native, procfs, sync, uapi
from pyrunc.cgroups import grace
from pyrunc.commands import Context
from pyrunc.errors import PyruncError
from pyrunc.kernel import LinuxKernel, preload
from pyrunc.mountops import MountOps, prepare_runs
from pyrunc.plan import Options, build, wants_network
from pyrunc.posixfs import abspath, join
from pyrunc.process import exec_record
from pyrunc.state import Container, proc_start_time, rfc3339_now


class InitKernel(LinuxKernel, MountOps):
    """The init's steps: its process's (kernel.py) and its root filesystem's (mountops.py)."""


class RuntimeOps:
    """The runtime's steps (phases runtime and parent): before and around the clone."""

    def __init__(self, channel: sync.Channel, state_dir: str, cgroup_plan, ctx: Context, cfg: dict,
                 state_for_hooks) -> None:
        self.channel = channel
        self.child_sync = -1  # the init's end of the socket, when it waits in the shim after clone
        self.cfg = cfg
        self.state_for_hooks = state_for_hooks  # (status, pid) -> the state JSON hooks read
        self.state_dir = state_dir
        self.cgroup_plan = cgroup_plan
        self.cgroups_created: list[str] = []
        self.record_cgroups = lambda: None  # saves the record naming them, for a delete after a crash
        self.while_init_sets_up = lambda: None  # the runtime's own work once the init is released (_drive)
        self.ctx = ctx  # holds grace_pidfd: cgroups/grace.py's task, sharing our memory
        self.pid = 0
        self.systemd = None  # --systemd-cgroup: the D-Bus connection (systemd_dbus.Manager)
        self.unit_started = ""
        self.start_listener = None
        self._time_ns = -1
        self.net = None  # netops.NetOps, when the plan has network steps

    def __getattr__(self, op: str):
        """The network's steps (network.py) are performed by netops.NetOps."""
        if op.startswith("net_") and self.net is not None:
            return self.net.perform(op)
        raise AttributeError(op)

    def protect_exe(self, hide: bool, dumpable: bool = False) -> None:
        """Inherited by the init: non-dumpable, and with `hide` /proc/<pid>/exe not the host's
        interpreter (process.plan_protect; without `hide` the launcher has sealed it). An
        unprivileged runtime stays `dumpable`: the init turns it off once its maps are written."""
        if not dumpable:
            native.prctl(uapi.PR_SET_DUMPABLE, 0)
        if hide:
            self.alone()  # it remaps this process's memory: no other task may share it
            native.hide_exe()

    def open_procfs(self) -> None:
        """Before clone: the init inherits the handle every procfs write goes through."""
        procfs.open_handle()

    def listen_start(self) -> None:
        """Bound by the runtime, inherited by the init: a user namespace's root could not."""
        self.start_listener = self.channel.listen(self.state_dir)

    def unshare_time(self, offsets: str) -> None:
        """The new time namespace is for children: write offsets before the init exists. The
        kernel wants the caller alone in its memory, so the grace-period task is waited for."""
        self.alone()
        try:
            self._time_ns = posix.open("/proc/self/ns/time", posix.O_RDONLY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise OSError(errno.EINVAL, "this kernel has no time namespaces (no /proc/self/ns/time)") from None
        native.unshare(uapi.CLONE_NEWTIME)
        if offsets:
            procfs.write("self/timens_offsets", offsets)

    def prepare_idmapped_mount(self, *args) -> None:
        """A detached idmapped bind mount, made with the host's privileges; the init inherits
        its fd and attaches it (pyrunc/idmap.py)."""
        from pyrunc import idmap

        self.alone()
        idmap.prepare(*args)

    def prepare_bind_mount(self, *args) -> None:
        """A bind mount's source reached with the host's credentials before the init enters its
        user namespace (runc's mount source fds); the init inherits the fd and attaches it."""
        from pyrunc import idmap

        idmap.prepare_bind(*args)

    def set_child_subreaper(self) -> None:
        native.prctl(uapi.PR_SET_CHILD_SUBREAPER, 1)

    def clone(self, flags: int, into: str = "") -> None:
        """The init: 0 in it (it goes on to _become_init), its pid here; born in the cgroup2
        directory `into` when there is one."""
        fd = posix.open(into, uapi.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC) if into else -1
        try:
            self.pid = native.clone(flags, self.child_sync, uapi.SIGKILL, fd)
        finally:
            if fd >= 0:
                posix.close(fd)

    def leave_time_namespace(self) -> None:
        native.setns(self._time_ns, uapi.CLONE_NEWTIME)
        posix.close(self._time_ns)
        self._time_ns = -1

    def close_idmapped_mounts(self) -> None:
        from pyrunc import idmap

        idmap.close_all()

    def run_hooks(self, kind: str) -> None:
        """prestart and createRuntime: in the runtime's namespaces, with the state `created` (the
        environment exists: runtime.md's lifecycle, steps 2 then 3 and 4)."""
        from pyrunc import hooks

        hooks.run(kind, (self.cfg.get("hooks") or {}).get(kind) or [], self.state_for_hooks("created", self.pid))

    def hand_over_listener(self) -> None:
        hand_over_listener(self.channel, self.cfg, self.state_for_hooks("created", self.pid), self.pid)

    def write_id_map(self, kind: str, lines: str) -> None:
        procfs.write(f"{self.pid}/setgroups" if kind == "setgroups" else f"{self.pid}/{kind}_map", lines)

    def new_id_map(self, tool: str, lines: str) -> None:
        """newuidmap/newgidmap (Debian's uidmap): setuid helpers that write a map of the caller's
        subordinate ids, as /etc/subuid and /etc/subgid allow; their refusal is the error."""
        import subprocess

        r = subprocess.run([tool, str(self.pid), *lines.split()], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            reason = " ".join(r.stderr.split()) or f"exit status {r.returncode}"
            raise PyruncError(f"{tool} {self.pid} {' '.join(lines.split())}: {reason}")

    def maps_written(self) -> None:
        self.channel.send_byte()

    def release_init(self) -> None:
        """The byte the init waits for, in the shim or in await_release (sync.py: go byte)."""
        self.channel.send_byte()

    def alone(self) -> None:
        """Wait for the grace-period task: some syscalls want no other task in our memory."""
        grace.finish(self.ctx.grace_pidfd)
        self.ctx.grace_pidfd = -1

    def skip_cgroups(self, dirs: tuple[str, ...]) -> None:
        """Nothing to do: the step shows (explain, --debug) which cgroups an unprivileged runtime leaves out."""

    def create_cgroups(self) -> None:
        """Record first, then make: the record names every directory about to be made before the
        first mkdir, so a runtime killed among them leaves `delete` the list (runc issue 4534's
        class of leak). A directory someone else made meanwhile is dropped from it afterwards."""
        self.alone()  # its repeated migrations would contend with these writes; one suffices now
        if self.unit_started:  # runc's Destroy removes every path of a systemd container, whoever made it
            made = cgroups.create(self.cgroup_plan, self.ctx.warn, check=False)
            self.cgroups_created[:] = [*made, *(d for d in self.cgroup_plan.dirs.values() if d not in made)]
            self.record_cgroups()
            return
        self.cgroups_created[:] = cgroups.missing(self.cgroup_plan)
        self.record_cgroups()
        if crashpoint.AT:
            crashpoint.reached("at:cgroups_recorded")
        try:
            made = cgroups.create(self.cgroup_plan, self.ctx.warn)
        except BaseException:
            self.cgroups_created.clear()  # create() removed what it made; the undo must not touch others'
            raise
        if made != self.cgroups_created:
            self.cgroups_created[:] = made
            self.record_cgroups()

    def start_unit(self, name: str, properties: list, user: bool = False) -> None:
        """runc's startUnit, holding the init (PIDs). A cgroup already there is checked first, as
        runc's factory does before Apply; the unit is recorded before it is asked for."""
        from pyrunc.cgroups import systemd_dbus

        cgroups.check_existing(self.cgroup_plan.dirs, self.ctx.warn)
        self.systemd = systemd_dbus.Manager(user)
        self.unit_started = name
        self.record_cgroups()
        self.systemd.start_transient_unit(name, [*properties, ("PIDs", "au", [self.pid], 0)])

    def set_unit_properties(self, name: str, properties: list) -> None:
        self.systemd.set_unit_properties(name, properties)

    def undo_cgroups(self, dirs: dict[str, str]) -> None:
        """A failed create: the unit stopped (runc's Destroy), then the cgroups removed."""
        try:
            if self.unit_started:
                self.systemd.stop_unit(self.unit_started, self.ctx.warn)
        finally:
            cgroups.destroy(dirs, self.cgroups_created)

    def set_oom_score_adj(self, value: str) -> None:
        procfs.write(f"{self.pid}/oom_score_adj", value)

    def prlimit(self, res: int, soft: int, hard: int) -> None:
        native.prlimit(self.pid, res, soft, hard)

    def enter_cgroup(self, path: str) -> None:
        """One write(2), no file object: the init waits for these (await_release)."""
        _, error = native.write_each([f"{path}/cgroup.procs"], str(self.pid))
        if error is not None:
            raise error

    # -- runs of steps in one call of the shim (executor.run) --------------------------------
    BATCHED = frozenset({"enter_cgroup"})

    def perform_steps(self, steps: list) -> tuple[int, OSError | None]:
        """The cgroup.procs writes of a run of enter_cgroup steps in one shim call: the init waits
        for them, and Python between them is time of its set-up."""
        return native.write_each([f"{s.args[0]}/cgroup.procs" for s in steps], str(self.pid))


class Prepared:
    """Everything decided before anything is done: the config, cgroups and the plan."""

    def __init__(self, ctx: Context, cid: str, bundle: str, opts: Options) -> None:
        self.bundle = abspath(bundle)
        self.cfg = config.load(self.bundle)
        self.rootfs = config.rootfs_path(self.bundle, self.cfg)
        layout = cgroups.detect()
        linux = self.cfg.get("linux") or {}
        opts.rootless = posix.geteuid() != 0
        opts.caller = (posix.geteuid(), posix.getegid())
        if opts.rootless and not posix.access(self.rootfs, posix.R_OK | posix.X_OK):  # the kernel would name /proc
            raise PyruncError(f"root.path: {self.rootfs}: permission denied: the caller (uid {opts.caller[0]}) "
                              "cannot read it, and an unprivileged runtime has no more access than its caller")
        manager_cgroup = None
        if ctx.systemd_cgroup and opts.rootless:  # the unit is the caller's systemd's, below its own cgroup
            from pyrunc.cgroups import systemd, systemd_dbus

            systemd.preflight(linux.get("cgroupsPath"), cid, layout, user=True)
            manager_cgroup = systemd_dbus.user_manager_cgroup()
        self.cgroups = cgroups.plan(linux, cid, layout, systemd=ctx.systemd_cgroup, rootless=opts.rootless,
                                    manager_cgroup=manager_cgroup)
        if opts.rootless:  # runc's rootless rule: the cgroups the caller may write, none without limits
            every = self.cgroups.dirs
            if manager_cgroup is None:
                self.cgroups = cgroups.restrict(self.cgroups, cgroups.usable_by_caller(every),
                                                bool(linux.get("cgroupsPath")))
            else:  # the user's systemd makes the cgroup2 one; the v1 hierarchies are not its to delegate
                self.cgroups = cgroups.restrict(self.cgroups, {layout.unified.key}, False)
            opts.cgroups_skipped = tuple(d for d in every.values() if d not in self.cgroups.dirs.values())
        self.cgroup_dirs = cgroups.paths_for(self.cgroups)
        self.unit = None
        if ctx.systemd_cgroup and self.cgroup_dirs:  # systemd makes the cgroup once the init exists
            from pyrunc.cgroups import systemd

            self.unit = opts.systemd_unit = systemd.unit(linux.get("cgroupsPath"), cid, linux.get("resources") or {},
                                                         layout.version == cgroups.V2, self.cgroups.device_rules,
                                                         user=manager_cgroup is not None)
        elif layout.unified is not None:  # the init is born in its cgroup2 directory
            opts.clone_into = self.cgroup_dirs.get(layout.unified.key, "")
        if ctx.log:
            for path in config.ignored:
                ctx.log(f"config: ignoring unknown property {path}")
        opts.bundle = self.bundle
        opts.exe_sealed = exeseal.sealed()
        if opts.rootless and not opts.exe_sealed:
            exeseal.check_unprivileged()
        if ctx.grace_pidfd >= 0:
            opts.grace = grace.origin
        opts.container_id = cid
        opts.state_dir = join(ctx.root, cid)
        if wants_network(self.cfg, opts):
            opts.etc_missing = etc_missing(self.rootfs)
        self.plan, self.ns = build(self.cfg, self.rootfs, opts, self.cgroup_dirs, tuple(self.cgroups.describe()))
        self.annotations = self.cfg.get("annotations") or {}


def etc_missing(rootfs: str) -> tuple[str, ...]:
    """The name files the image lacks or has empty, for the bridge network."""
    from pyrunc import network

    found = []
    for name in network.ETC_FILES:
        try:
            if posix.lstat(join(rootfs, "etc", name)).st_size == 0:
                found.append(name)
        except FileNotFoundError:
            found.append(name)
    return tuple(found)


def check_terminal(terminal: bool, console_socket: str | None, detached: bool) -> None:
    """runc's rules for who holds the pty master, with runc's wording."""
    if terminal and detached and not console_socket:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if console_socket and not terminal:
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")


def create(ctx: Context, cid: str, bundle: str, opts: Options, pid_file: str | None = None,
           run_mode: bool = False, detached: bool = True) -> tuple[Container, int, int]:
    """Create the container; returns it, the init's pid and the pty master (-1 unless `run`
    in the foreground with a terminal). With run_mode, the init is started at once (no start
    socket) and stays this process's child."""
    c = Container(ctx.root, cid)
    opts.wait_for_start = not run_mode
    opts.start_at_once = run_mode and not detached
    p = Prepared(ctx, cid, bundle, opts)
    terminal = bool((p.cfg.get("process") or {}).get("terminal"))
    check_terminal(terminal, opts.console_socket, detached)
    master = -1
    c.reserve()
    undo: list = [c.remove]
    try:
        def state_for_hooks(status: str, pid: int) -> bytes:
            from pyrunc.lifecycle import hook_state  # for the init, loaded before clone (kernel.STEP_MODULES)

            return hook_state(cid, p.bundle, p.annotations, status, pid)

        parent, child = sync.socketpair()
        undo.append(parent.close)
        ops = RuntimeOps(parent, c.dir, p.cgroups, ctx, p.cfg, state_for_hooks)
        undo.append(lambda: ops.undo_cgroups(p.cgroup_dirs))
        c.record = {  # saved before the cgroups are made, so that `delete` can clean up after a crash
            "bundle": p.bundle,
            "rootfs": p.rootfs,
            "created": rfc3339_now(),
            "annotations": p.annotations,
            "cgroups": p.cgroup_dirs,
            "cgroups_created": ops.cgroups_created,
            **({"systemd_unit": p.unit.name} if p.unit else {}),
            **({"systemd_user": True} if p.unit and p.unit.user else {}),
            "resources": (p.cfg.get("linux") or {}).get("resources") or {},  # update merges into it
            "hooks": {k: v for k, v in (p.cfg.get("hooks") or {}).items() if k in ("poststart", "poststop")},
            "exec": exec_record(p.cfg, opts.no_new_keyring),
        }
        ops.record_cgroups = c.save
        staged = [(0, "")]

        def stage_final() -> None:
            """The final record, written while the init sets up: once it is ready,
            a rename is left (_save_final), unless the record changed meanwhile. What the
            runtime needs only from then on (pyrunc.lifecycle: the pid file, poststart, the
            deletion) is loaded meanwhile too, not before clone."""
            staged[0] = _stage_final(c, ops.pid)
            from pyrunc import lifecycle  # noqa: F401

        ops.while_init_sets_up = stage_final
        if any(op.startswith("net_") for op in p.plan.ops()):
            from pyrunc import netops

            ops.net = netops.NetOps(ctx.root, cid, c.record, c.save, lambda: ops.pid)
            undo.append(ops.net.perform("net_release"))
        if ctx.log:  # done before there was a plan (plan.plan_before)
            for step in p.plan.phases["before"]:
                ctx.log(step.log_line())
        preload(p.plan)
        prepare_runs([p.plan.phases[phase] for phase in init.INIT_PHASES])
        executor.run(p.plan.phases["runtime"], ops, ctx.log)
        if p.plan.has("release_init") and not p.plan.has("await_release"):  # it waits in the shim until then
            ops.child_sync = child.fileno()
        executor.run(p.plan.phases["clone"], ops, ctx.log)
        if ops.pid == 0:
            _become_init(c, parent, child, p.cfg, p.plan, state_for_hooks, ops.start_listener, ctx.log)
        child.close()
        if ops.start_listener is not None:
            ops.start_listener.close()
        undo.append(lambda: _kill_and_reap(ops.pid))
        _drive_create(p.plan, ops, ctx.log)
        if ops.net is not None:
            ops.net.close()
        ops.alone()
        if terminal:
            master = parent.fds.pop(0)
            undo.append(lambda: posix.close(master))
            if detached:
                from pyrunc import console

                console.send_to_socket(opts.console_socket, master)
        c.record["pid"] = ops.pid
        from pyrunc.lifecycle import write_pid_file  # loaded while the init set up (stage_final)

        if run_mode:
            if pid_file:
                write_pid_file(pid_file, ops.pid)
            if detached:  # a `state` from elsewhere may look for the record as soon as the program runs
                _save_final(c, ops.pid, staged[0])
                parent.send("start")
            else:
                # The init went on to execve once ready (opts.start_at_once); the record is saved
                # meanwhile, before the init's reply is read. Until create unlocks, the commands that
                # act on the container wait for the lock (state.load) and `state` reads it as creating.
                _save_final(c, ops.pid, staged[0])
            err = parent.recv()
            while err[0] == "seccomp":  # no_new_privs: the filter was loaded right before execve
                hand_over_listener(parent, p.cfg, state_for_hooks("created", ops.pid), ops.pid)
                err = parent.recv()
            if err[0] == "error":
                raise PyruncError(err[1])
        else:
            _save_final(c, ops.pid, staged[0])
            if crashpoint.AT:
                crashpoint.reached("at:created_saved")
            if pid_file:
                write_pid_file(pid_file, ops.pid)
            parent.send("created")
        parent.close()
    except BaseException as e:
        for step in reversed(undo):
            try:
                step()
            except OSError:
                pass
        if isinstance(e, PyruncError) and e.message.startswith("hooks."):
            from pyrunc.lifecycle import hook_state, run_poststop

            run_poststop(p.cfg.get("hooks") or {}, hook_state(cid, p.bundle, {}, "stopped", 0))
        raise
    c.unlock()
    if detached and master >= 0:
        posix.close(master)
        master = -1
    return c, ops.pid, master


def _kill_and_reap(pid: int) -> None:
    """The undo of clone: lifecycle.kill_and_reap (lifecycle is loaded once the init exists)."""
    from pyrunc.lifecycle import kill_and_reap

    kill_and_reap(pid)


def _stage_final(c: Container, pid: int) -> tuple[int, str]:
    """Container.stage of the record as create will end it, with the init's pid and start time
    (which its set-up and execve do not change); the record in memory keeps no pid until then
    (a save meanwhile, the network's, must leave `state` saying creating)."""
    c.record["start_time"] = (proc_start_time(pid) or (0, ""))[0]
    c.record["pid"] = pid
    try:
        return pid, c.stage()
    finally:
        del c.record["pid"]


def _save_final(c: Container, pid: int, staged: tuple[int, str]) -> None:
    """The record with the init's pid and start time: the staged file renamed if it holds it."""
    if staged[0] != pid:  # none staged, or the init forked after its joins: another process
        c.record["start_time"] = (proc_start_time(pid) or (0, ""))[0]
    c.save(staged=staged[1] if staged[0] == pid else "")


def _become_init(c: Container, parent: sync.Channel, child: sync.Channel, cfg: dict, plan, hook_state_fn,
                 start_listener, log) -> None:
    """In the cloned child: drop the runtime's handles, then run the init phases. It never
    returns into the runtime's code (whose undo stack is not the child's to run)."""
    try:
        parent.close()
        c.unlock()
        own = (child.fileno(), start_listener.fileno() if start_listener is not None else -1,
               getattr(getattr(log, "__self__", None), "fd", -1),  # --log: the init logs its steps
               procfs.handle())
        if "pyrunc.idmap" in sys.modules:  # idmapped mounts the runtime prepared for the init
            own += sys.modules["pyrunc.idmap"].kept_fds()
        init.main(plan, InitKernel(child, start_listener, own), log, cfg, hook_state_fn)
    finally:
        posix._exit(1)


def _drive_create(plan, ops: RuntimeOps, log) -> None:
    """The runtime's side of the sync protocol, until the init reports ready. When a step of
    the runtime's fails because the init has already given up, the init's reason is reported."""
    try:
        _drive(plan, ops, log)
    except PyruncError as e:
        reason = ops.channel.pending_error()
        if reason:
            raise PyruncError(reason) from None
        if e.message == INIT_GONE:
            raise PyruncError(INIT_GONE + _how_it_ended(ops.pid, ops.cgroup_plan.dirs)) from None
        raise


INIT_GONE = "container init exited before the container was created"


def _oom_killed(cgroup_dirs: dict[str, str]) -> str:
    """`: out of memory` when the container's memory cgroup counts an OOM kill (v1 memory.oom_control,
    v2 memory.events)."""
    for d in cgroup_dirs.values():
        for name in ("memory.oom_control", "memory.events"):
            try:
                with open(join(d, name)) as f:
                    counts = dict(line.split() for line in f if line.count(" ") == 1)
            except OSError:
                continue
            if counts.get("oom_kill", "0") != "0":
                return ": out of memory in its cgroup, linux.resources.memory.limit"
    return ""


def _how_it_ended(pid: int, cgroup_dirs: dict[str, str]) -> str:
    """How an init that said nothing ended (a limit's SIGKILL, say), read without reaping it; ""
    when it is not our child (it forked after joining a pid namespace) or has not ended yet."""
    import time

    for _ in range(50):
        try:
            info = posix.waitid(posix.P_PID, pid, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
        except ChildProcessError:
            return ""
        if info is not None:
            if info.si_code == posix.CLD_EXITED:
                return f" (exit status {info.si_status})"
            import signal

            name = signal.Signals(info.si_status).name
            return f" (killed by {name}{_oom_killed(cgroup_dirs) if name == 'SIGKILL' else ''})"
        time.sleep(0.01)
    return ""


# The init's requests (sync.py) -> the Step.on of the runtime's steps that answer it, and the reply.
_REQUESTS = {"M": ("maps", ""), "rlimits": ("rlimits", "rlimits-done"), "hooks": ("hooks", "hooks-done"),
             "seccomp": ("seccomp", ""), "network": ("network", "network-done")}  # hand_over_listener replies itself


def _drive(plan, ops: RuntimeOps, log) -> None:
    """The parent phase: its steps at once, then those the init's requests call for, as the
    plan says (Step.on), until the init is ready."""
    first = ops.pid
    executor.run(plan.on("parent", ""), ops, log)
    ops.while_init_sets_up()
    while True:
        tag, payload = _recv(ops.channel)
        if tag == "ready":
            return
        if tag == "pid":  # the init forked after the joins: the first child leaves
            ops.pid = int(payload)
            posix.waitpid(first, 0)
        elif tag in _REQUESTS:
            request, reply = _REQUESTS[tag]
            executor.run(plan.on("parent", request), ops, log)
            if reply:
                ops.channel.send(reply)


def _recv(channel: sync.Channel) -> tuple[str, str]:
    tag, payload = channel.recv()
    if tag == "error":
        raise PyruncError(payload)
    if tag == "":
        raise PyruncError(INIT_GONE)
    return tag, payload


def run(ctx: Context, cid: str, bundle: str, opts: Options, pid_file: str | None, detach: bool,
        keep: bool = False) -> int:
    """create + start (+ wait, forwarding signals, then delete unless `keep`: runc's --keep leaves
    the stopped container, its cgroups and its poststop hooks to `delete`); its exit status."""
    import _signal

    c, pid, master = create(ctx, cid, bundle, opts, pid_file, run_mode=True, detached=detach)
    from pyrunc.lifecycle import destroy, run_poststart  # loaded while the init set up (create's stage_final)

    try:
        run_poststart(c, ctx.log)
    except PyruncError:
        c.lock()
        destroy(c, ctx.log)
        raise
    if detach:
        return 0

    if master >= 0:
        from pyrunc import console

    def forward(signum: int, _frame: object) -> None:
        if signum == 28 and master >= 0:  # SIGWINCH: the terminal follows the caller's
            console.resize_from(0, master)
            return
        try:
            posix.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (1, 2, 3, 10, 12, 15, 28):  # HUP INT QUIT USR1 USR2 TERM WINCH
        _signal.signal(signum, forward)
    if master >= 0:
        console.relay(master,
                      lambda: posix.waitid(posix.P_PID, pid, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT) is None)
        posix.close(master)
    _, status = posix.waitpid(pid, 0)
    if not keep:
        c.lock()
        destroy(c, ctx.log)
    code = posix.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def hand_over_listener(channel: sync.Channel, cfg: dict, state_json: bytes, pid: int) -> None:
    """The init sent `seccomp` + the listener fd of its SCMP_ACT_NOTIFY filter: on to the agent
    at linux.seccomp.listenerPath with the container process state, then let the init go on."""
    from pyrunc import jsonio, seccomp

    fd = channel.fds.pop(0) if channel.fds else -1
    if fd < 0:
        raise PyruncError("linux.seccomp: the init sent no seccomp listener fd")
    seccomp.handover((cfg.get("linux") or {}).get("seccomp") or {}, fd, pid, jsonio.loads(state_json.decode()))
    channel.send("seccomp-done")
