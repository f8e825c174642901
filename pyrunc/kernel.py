"""The thin layer that performs plan steps: one method per step `op`.

LinuxKernel does them through the native shim and os; tests can substitute a recorder.
Paths inside the container go through paths.open_in_root while the host is still visible.
"""

import os

import _prctl

from pyrunc import console, hooks, native
from pyrunc.errors import PyruncError
from pyrunc.mountops import MountOps

PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2


class LinuxKernel(MountOps):
    """Performs steps for the init; `channel` is the socket to the runtime (sync.Channel)."""

    def __init__(self, channel, cfg: dict, hook_state, start_listener) -> None:
        self.channel = channel
        self.cfg = cfg
        self.hook_state = hook_state
        self.start_listener = start_listener
        self.ns_fds: dict[str, int] = {}
        self.exec_path = ""

    # -- namespaces ------------------------------------------------------------------------
    def open_namespace(self, kind: str, path: str) -> None:
        self.ns_fds[kind] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def setns(self, kind: str, flag: int) -> None:
        fd = self.ns_fds.pop(kind)
        try:
            native.setns(fd, flag)
        finally:
            os.close(fd)

    def unshare(self, flags: int) -> None:
        native.unshare(flags)

    def unshare_user(self, flags: int) -> None:
        native.unshare_user(flags, self.channel.fileno())

    def fork_init(self) -> None:
        """Stage two: the child becomes the init; this process reports its pid and leaves."""
        pid = native.clone(0, -1, 0)
        if pid:
            self.channel.send("pid", str(pid))
            os._exit(0)

    def link_up(self, name: str) -> None:
        native.link_up(name)

    def sethostname(self, name: str) -> None:
        native.sethostname(name)

    def setdomainname(self, name: str) -> None:
        native.setdomainname(name)

    # -- the terminal and files (mounts, /dev, the new root, masks: MountOps, mountops.py) ---
    def setup_terminal(self, size: tuple[int, int] | None) -> None:
        master, slave, path = console.open_terminal(size)
        console.mount_console(path)
        self.channel.send_fds("pty", [master])
        os.close(master)
        console.become_terminal_session(slave)

    def write_file(self, path: str, value: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    # -- the process -----------------------------------------------------------------------
    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        native.prlimit(0, res, soft, hard)

    def request_rlimits(self) -> None:
        self.channel.send("rlimits")
        self.channel.expect("rlimits-done")

    def drop_bounding(self, drop: int, top: int) -> None:
        for bit in range(top + 1):
            if drop >> bit & 1:
                _prctl.prctl(_prctl.PR_CAPBSET_DROP, bit)

    def set_user(self, uid: int, gid: int, groups: tuple, keep_caps: bool) -> None:
        if keep_caps:
            _prctl.prctl(_prctl.PR_SET_KEEPCAPS, 1)
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if keep_caps:
            _prctl.prctl(_prctl.PR_SET_KEEPCAPS, 0)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        native.capset(effective, permitted, inheritable)

    def raise_ambient(self, ambient: int, top: int) -> None:
        for bit in range(top + 1):
            if ambient >> bit & 1:
                native.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit)

    def umask(self, value: int) -> None:
        os.umask(value)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def no_new_privs(self) -> None:
        _prctl.prctl(_prctl.PR_SET_NO_NEW_PRIVS, 1)

    def lookup(self, name: str, search: str) -> None:
        """Find the program now, so a missing one fails `create` with runc's wording."""
        if "/" in name:
            try:
                st = os.stat(name)
            except OSError as e:
                raise PyruncError(f'exec: "{name}": stat {name}: {(e.strerror or "").lower()}', 127) from None
            if not (st.st_mode & 0o111) or os.path.isdir(name):
                raise PyruncError(f'exec: "{name}": permission denied', 126)
            self.exec_path = name
            return
        for d in search.split(":"):
            candidate = os.path.join(d or ".", name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                self.exec_path = candidate
                return
        raise PyruncError(f'exec: "{name}": executable file not found in $PATH', 127)

    # -- synchronisation and hooks ---------------------------------------------------------
    def request_hooks(self) -> None:
        """The runtime runs prestart and createRuntime hooks now, in its own namespaces."""
        self.channel.send("hooks")
        self.channel.expect("hooks-done")

    def run_hooks(self, kind: str) -> None:
        state = self.hook_state("created" if kind == "startContainer" else "creating", os.getpid())
        hooks.run(kind, (self.cfg.get("hooks") or {}).get(kind) or [], state)

    def signal_ready(self) -> None:
        _prctl.prctl(_prctl.PR_SET_PDEATHSIG, 0)
        self.channel.send("ready")
        self.channel.expect_start(self.start_listener)

    def execve(self, args: list[str], env: list[str], first_cloexec: int, listen_fds: int = 0,
               seccomp: tuple | None = None) -> None:
        """Close-on-exec from `first_cloexec` and exec; with `seccomp` (bpf, flags, notify) the
        filter is loaded in the same C call (no_new_privs), its listener fd handed to whoever
        waits for the exec (`start`, `run` or `exec`)."""
        if listen_fds:
            env = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
            env += [f"LISTEN_FDS={listen_fds}", f"LISTEN_PID={os.getpid()}"]
        if seccomp is None:
            native.execve(self.exec_path, args, env, first_cloexec)
            return
        bpf, flags, notify = seccomp
        notify_sock = self.channel.reply.fileno() if notify else -1
        native.execve_seccomp(self.exec_path, args, env, first_cloexec, bpf, flags, notify_sock)

    # -- confinement (process.py) ------------------------------------------------------------
    def sched_setattr(self, policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int,
                      period: int) -> None:
        native.sched_setattr(policy, flags, nice, priority, runtime, deadline, period)

    def ioprio_set(self, ioprio: int) -> None:
        native.ioprio_set(ioprio)

    def personality(self, persona: int) -> None:
        native.personality(persona)

    def seccomp_load(self, bpf: bytes, flags: int, notify: bool) -> None:
        """Without no_new_privs: load while CAP_SYS_ADMIN is held; a listener goes to the runtime."""
        fd = native.seccomp_load(bpf, flags)
        if notify:
            try:
                self.channel.send_fds("seccomp", [fd])
            finally:
                os.close(fd)
            self.channel.expect("seccomp-done")

    def clear_pdeathsig(self) -> None:
        _prctl.prctl(_prctl.PR_SET_PDEATHSIG, 0)
