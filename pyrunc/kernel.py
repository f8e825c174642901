"""The thin layer that performs plan steps: one method per step `op`.

LinuxKernel does them through the native shim and os; tests can substitute a recorder.
Paths inside the container go through paths.open_in_root while the host is still visible.
"""

import os

import _prctl

from pyrunc import console, hooks, native, paths
from pyrunc.errors import PyruncError
from pyrunc.mounts import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_SLAVE,
)

MS_MOVE = 0x2000
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
# statvfs f_flag bits -> mount flags: what a bind remount must keep (the kernel refuses to
# drop locked flags inside a user namespace).
_ST_TO_MS = [(1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, 0x400), (2048, 0x800),
             (4096, MS_RELATIME)]


def mounted_flags(path: str) -> int:
    f = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS if f & st)


class LinuxKernel:
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

    def await_parent(self, tag: str) -> None:
        self.channel.expect(tag)

    def link_up(self, name: str) -> None:
        native.link_up(name)

    def sethostname(self, name: str) -> None:
        native.sethostname(name)

    def setdomainname(self, name: str) -> None:
        native.setdomainname(name)

    # -- mounts ----------------------------------------------------------------------------
    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        native.mount(source, target, fstype, flags, data)

    def mount_at(self, source: str | None, rootfs: str, dest: str, fstype: str | None, flags: int,
                 data: str | None) -> None:
        """mount(2) onto `dest` resolved inside the rootfs (created as a directory if missing)."""
        fd = paths.open_in_root(rootfs, dest, create="dir")
        try:
            if flags & MS_REMOUNT and flags & MS_BIND:
                flags |= mounted_flags(paths.fd_path(fd)) & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
            native.mount(source, paths.fd_path(fd), fstype, flags, data)
        finally:
            os.close(fd)

    def bind_mount(self, source: str, rootfs: str, dest: str, flags: int) -> None:
        if not os.path.exists(source):
            raise PyruncError(f"bind mount source {source}: no such file or directory")
        fd = paths.open_in_root(rootfs, dest, create="dir" if paths.is_dir_host(source) else "file")
        try:
            native.mount(source, paths.fd_path(fd), None, flags, None)
        finally:
            os.close(fd)

    def mknod(self, rootfs: str, path: str, major: int, minor: int, mode: int) -> None:
        dirfd, name = paths.open_parent_in_root(rootfs, path)
        try:
            os.mknod(name, 0o020000 | mode, os.makedev(major, minor), dir_fd=dirfd)
            os.chmod(name, mode, dir_fd=dirfd)
        except FileExistsError:
            pass
        finally:
            os.close(dirfd)

    def bind_device(self, rootfs: str, path: str) -> None:
        self.bind_mount(path, rootfs, path, MS_BIND)

    def symlink(self, rootfs: str, target: str, path: str) -> None:
        dirfd, name = paths.open_parent_in_root(rootfs, path)
        try:
            os.symlink(target, name, dir_fd=dirfd)
        except FileExistsError:
            pass
        finally:
            os.close(dirfd)

    def pivot_root(self, rootfs: str) -> None:
        os.chdir(rootfs)
        native.pivot_root(".", ".")
        native.mount(None, ".", None, MS_SLAVE | MS_REC, None)
        native.umount2(".", MNT_DETACH)
        os.chdir("/")

    def move_root(self, rootfs: str) -> None:
        os.chdir(rootfs)
        native.mount(rootfs, "/", None, MS_MOVE, None)
        os.chroot(".")
        os.chdir("/")

    def setup_terminal(self, size: tuple[int, int] | None) -> None:
        master, slave, path = console.open_terminal(size)
        console.mount_console(path)
        self.channel.send_fds("pty", [master])
        os.close(master)
        console.become_terminal_session(slave)

    def mask_path(self, path: str) -> None:
        try:
            fd = paths.open_in_root("/", path)
        except FileNotFoundError:
            return
        try:
            target = paths.fd_path(fd)
            if os.path.isdir(target):
                native.mount("tmpfs", target, "tmpfs", MS_RDONLY, None)
            else:
                native.mount("/dev/null", target, None, MS_BIND, None)
        finally:
            os.close(fd)

    def readonly_path(self, path: str) -> None:
        if path == "/":
            native.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | mounted_flags("/"), None)
            return
        try:
            fd = paths.open_in_root("/", path)
        except FileNotFoundError:
            return
        try:
            target = paths.fd_path(fd)
            native.mount(target, target, None, MS_BIND | MS_REC, None)
        finally:
            os.close(fd)
        fd = paths.open_in_root("/", path)
        try:
            target = paths.fd_path(fd)
            native.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | mounted_flags(target), None)
        finally:
            os.close(fd)

    def write_file(self, path: str, value: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    # -- the process -----------------------------------------------------------------------
    def set_dumpable(self, value: int) -> None:
        _prctl.prctl(_prctl.PR_SET_DUMPABLE, value)

    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        native.setrlimit(res, soft, hard)

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

    def execve(self, args: list[str], env: list[str], first_cloexec: int) -> None:
        native.execve(self.exec_path, args, env, first_cloexec)
