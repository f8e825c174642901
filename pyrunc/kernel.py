"""The thin layer that performs plan steps: one method per step `op`.

LinuxKernel does the steps of a container's process, the init's and exec's, through the native
shim and posix; the init adds the filesystem's (create.InitKernel, with mountops.MountOps), which
exec never loads. Tests can substitute a recorder.
Paths inside the container go through paths.open_in_root while the host is still visible.
The modules only some steps use are imported by preload(), in the runtime, before clone: the
init never imports (after it joins a mount namespace or changes user, an import could read the
container's files or fail).
"""

import errno
import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)
import sys

from pyrunc import drop_bundle_fd, native, paths, process, procfs, uapi
from pyrunc.errors import PyruncError
from pyrunc.posixfs import isdir, isfile, join

# step op -> the modules it needs that the init's modules do not import themselves (the hooks'
# state comes from pyrunc.lifecycle, which create otherwise loads only after clone)
STEP_MODULES = {
    "setup_terminal": ("pyrunc.console",),
    "exec_terminal": ("pyrunc.console",),
    "run_hooks": ("pyrunc.hooks", "pyrunc.lifecycle"),
    "drop_bounding": ("prctl",),
    "set_user": ("prctl",),
    "no_new_privs": ("prctl",),
    "clear_pdeathsig": ("prctl",),
}


def preload(plan) -> None:
    """Import what the plan's steps need (STEP_MODULES), so that the init finds it loaded."""
    for op in plan.ops():
        for name in STEP_MODULES.get(op, ()):
            if name not in sys.modules:
                __import__(name)


def _loaded(name: str):
    """A module preload() imported; a KeyError, never an import, if it did not."""
    return sys.modules[name]


class LinuxKernel:
    """Performs the process's steps; `channel` is the socket to the runtime (sync.Channel)."""

    def __init__(self, channel, start_listener, keep_fds: tuple[int, ...] = ()) -> None:
        self.channel = channel
        self.start_listener = start_listener
        self.keep_fds = keep_fds  # the init's own fds (close_inherited_fds)
        self.ns_fds: dict[str, int] = {}
        self.exec_path = ""
        self.home: str | None = None  # HOME from the container's /etc/passwd (home_from_passwd)
        self.cwd_done = False  # chdir_before_user reached the cwd: chdir has nothing left to do

    # -- namespaces ------------------------------------------------------------------------
    def open_namespace(self, kind: str, path: str) -> None:
        self.ns_fds[kind] = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)

    def setns(self, kind: str, flag: int) -> None:
        fd = self.ns_fds.pop(kind)
        try:
            native.setns(fd, flag)
        finally:
            posix.close(fd)

    def unshare(self, flags: int) -> None:
        native.unshare(flags)

    def unshare_user(self, flags: int) -> None:
        native.unshare_user(flags, self.channel.fileno())

    def fork_init(self) -> None:
        """Stage two: the child becomes the init; this process reports its pid and leaves."""
        pid = native.clone(0, -1, 0)
        if pid:
            self.channel.send("pid", str(pid))
            posix._exit(0)

    def link_up(self, name: str) -> None:
        native.link_up(name)

    def sethostname(self, name: str) -> None:
        native.sethostname(name)

    def setdomainname(self, name: str) -> None:
        native.setdomainname(name)

    # -- the terminal and /proc (mounts, /dev, the new root, masks: MountOps, mountops.py) ---
    def setup_terminal(self, size: tuple[int, int] | None) -> None:
        console = _loaded("pyrunc.console")
        master, slave = console.open_terminal(size)
        console.mount_console(slave)
        self.channel.send_fds("pty", [master])
        posix.close(master)
        console.become_terminal_session(slave)

    def write_proc(self, rel: str, value: str) -> None:
        """/proc/`rel` through the runtime's procfs handle, never the container's /proc."""
        procfs.write(rel, value)

    # -- the process -----------------------------------------------------------------------
    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        native.prlimit(0, res, soft, hard)

    def request_network(self) -> None:
        """The runtime sets up the namespace just unshared (network.plan), by /proc/<pid>/ns/net."""
        self.channel.send("network")
        self.channel.expect("network-done")

    def request_rlimits(self) -> None:
        self.channel.send("rlimits")
        self.channel.expect("rlimits-done")

    def drop_bounding(self, drop: int, top: int) -> None:
        prctl = _loaded("prctl")
        for bit in range(top + 1):
            if drop >> bit & 1:
                prctl.capbset_drop(bit)

    def set_user(self, uid: int, gid: int, groups: tuple | None, keep_caps: bool) -> None:
        """`groups` None: leave the supplementary groups (setgroups is denied)."""
        prctl = _loaded("prctl")
        if keep_caps:
            prctl.set_keepcaps(True)
        if groups is not None:
            posix.setgroups(list(groups))
        posix.setresgid(gid, gid, gid)
        posix.setresuid(uid, uid, uid)
        if keep_caps:
            prctl.set_keepcaps(False)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        native.capset(effective, permitted, inheritable)

    def raise_ambient(self, ambient: int, top: int) -> None:
        for bit in range(top + 1):
            if ambient >> bit & 1:
                native.prctl(uapi.PR_CAP_AMBIENT, uapi.PR_CAP_AMBIENT_RAISE, bit)  # python-prctl has no ambient set

    def umask(self, value: int) -> None:
        posix.umask(value)

    def chown_terminal(self, uid: int) -> None:
        """The pty (our stdio by now) to the user, as runc does, so that the user can use its
        console; EPERM (an owner unmapped in the user namespace) and EROFS leave it, as in runc."""
        try:
            if posix.fstat(0).st_uid != uid:
                posix.fchown(0, uid, -1)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EROFS):
                raise

    def chdir_before_user(self, path: str) -> None:
        """runc's first try: the runtime's credentials may enter a directory the user cannot (a
        0700 directory of root's). A permission error leaves it to chdir, as the user."""
        try:
            self.chdir(path)
        except PermissionError:
            return
        except OSError as e:
            raise PyruncError(f'chdir to cwd ("{path}") set in config.json failed: '
                              f"{posix.strerror(e.errno).lower()}") from None
        self.cwd_done = True

    def chdir(self, path: str) -> None:
        """chdir, then getcwd: a cwd outside the root (a magic link such as /proc/self/fd/N to a
        host directory) has no path from it, and glibc's getcwd fails with ENOENT (runc's check,
        CVE-2024-21626)."""
        if self.cwd_done:
            return
        posix.chdir(path)
        try:
            inside = posix.getcwd().startswith("/")
        except FileNotFoundError:
            inside = False
        except OSError:  # a seccomp filter (loaded before, without noNewPrivileges) denies getcwd
            inside = _cwd_under_root()
        if not inside:
            raise PyruncError(f"process.cwd {path}: the working directory is outside the container's root "
                              "-- possible container breakout detected")

    def make_cwd(self, path: str) -> None:
        """Make a missing cwd inside the root, 0755 whatever the caller's umask. A path that does
        not resolve inside the root (a magic link on the way) is left to chdir and its check."""
        try:
            posix.close(paths.open_in_root("/", path))
            return
        except FileNotFoundError:
            pass
        except OSError:
            return
        old = posix.umask(0o022)
        try:
            posix.close(paths.open_in_root("/", path, create="dir"))
        finally:
            posix.umask(old)

    def home_from_passwd(self, uid: int) -> None:
        """HOME for execve, from the container's /etc/passwd (read inside the root); a file that
        cannot be read there gives "/", as runc ignores a passwd file it cannot open."""
        self.home = process.passwd_home(paths.read_in_root("/", "/etc/passwd"), uid)

    def join_session_keyring(self, name: str, search: int) -> None:
        """Leave the caller's session keyring; `search` (permission bits) is added to a new one.
        A kernel without keyrings (ENOSYS) is no error, as in runc."""
        try:
            serial = native.join_session_keyring(name)
        except OSError as e:
            if e.errno == errno.ENOSYS:
                return
            raise
        if search:
            native.key_setperm(serial, native.key_perm(serial) | search)

    def cloexec_from(self, first: int) -> None:
        native.cloexec_from(first)

    def no_new_privs(self) -> None:
        _loaded("prctl").set_no_new_privs(1)

    def lookup(self, name: str, search: str) -> None:
        """Find the program now, so a missing one fails `create` with runc's wording."""
        if "/" in name:
            try:
                st = posix.stat(name)
            except OSError as e:
                raise PyruncError(f'exec: "{name}": stat {name}: {(e.strerror or "").lower()}', 127) from None
            if not (st.st_mode & 0o111) or isdir(name):
                raise PyruncError(f'exec: "{name}": permission denied', 126)
            self.exec_path = name
            return
        for d in search.split(":"):
            candidate = join(d or ".", name)
            if isfile(candidate) and posix.access(candidate, posix.X_OK):
                self.exec_path = candidate
                return
        raise PyruncError(f'exec: "{name}": executable file not found in $PATH', 127)

    # -- synchronisation -------------------------------------------------------------------
    def close_inherited_fds(self, first: int) -> None:
        """The init's (or exec'd process's) first act: close every fd from `first` on but its
        own (`keep_fds`). Whatever the caller left open (containerd's shim socket, a directory)
        would otherwise sit in a process of the container until execve, reachable through
        /proc/<pid>/fd by a container process with CAP_SYS_PTRACE (CVE-2024-21626 class). One
        close_range per gap between the kept fds: no listing of /proc/self/fd. The bundle's
        descriptor goes too, below `first` as well (it is O_CLOEXEC, but execve is later)."""
        drop_bundle_fd()
        low = first
        for fd in sorted(k for k in self.keep_fds if k >= first):
            if fd > low:
                native.close_range(low, fd - 1)
            low = max(low, fd + 1)
        native.close_range(low)

    def await_release(self) -> None:
        """The runtime's go byte (release_init): the init is in its cgroups. The runtime gone, it leaves."""
        if self.channel.sock.recv(64) != b"\x01":
            posix._exit(1)

    def signal_ready(self, wait: bool = True, watch: bool = False) -> None:
        """`ready`, then the wait for start; a foreground run (not `wait`) has nothing between the
        two that the program must wait for: the runtime saves its record meanwhile. `watch`: a
        thread for `start` to watch, while the init waits for it (sync.watch_exec)."""
        self.channel.send("ready")
        if wait:
            self.channel.expect_start(self.start_listener, native.unshare if watch else None)

    def execve(self, args: list[str], env: list[str], first_cloexec: int, listen_fds: int = 0,
               seccomp: tuple | None = None, marked: bool = False) -> None:
        """Close-on-exec from `first_cloexec` (unless already `marked`, before a filter) and exec;
        with `seccomp` (bpf, flags, notify) the filter is loaded in the same C call (no_new_privs),
        after the marking, its listener fd handed to whoever waits for the exec (`start`, `run`
        or `exec`)."""
        if listen_fds:
            env = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
            env += [f"LISTEN_FDS={listen_fds}", f"LISTEN_PID={posix.getpid()}"]
        if self.home is not None:
            env = [e for e in env if not e.startswith("HOME=")] + [f"HOME={self.home}"]
        if seccomp is None:
            native.execve(self.exec_path, args, env, -1 if marked else first_cloexec)
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
                posix.close(fd)
            self.channel.expect("seccomp-done")

    # -- security labels (pyrunc/lsm.py, loaded by the planner when a config has one) -------
    def check_lsm(self, lsm: str, fields: str) -> None:
        from pyrunc import lsm as lsm_module

        lsm_module.check(lsm, fields)

    def set_exec_label(self, lsm: str, label: str) -> None:
        from pyrunc import lsm as lsm_module

        lsm_module.set_exec_label(lsm, label)

    def clear_pdeathsig(self) -> None:
        _loaded("prctl").set_pdeathsig(0)


def _cwd_under_root() -> bool:
    """getcwd's answer without getcwd: climb `..` from the cwd until it no longer moves. The
    kernel stops `..` at the process's root, so the climb ends there only if the cwd is under
    it; from a directory outside the root it ends at the top of some other tree instead."""
    root = posix.stat("/")
    here, seen = ".", posix.stat(".")
    for _ in range(1024):
        up = posix.stat(here + "/..")
        if (up.st_dev, up.st_ino) == (seen.st_dev, seen.st_ino):
            return (seen.st_dev, seen.st_ino) == (root.st_dev, root.st_ino)
        here, seen = here + "/..", up
    return False
