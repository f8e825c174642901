"""Writes into procfs through a handle the runtime trusts, never a path the container controls.

Before clone the runtime opens the host's /proc once (it must be the root of a procfs:
fstatfs PROC_SUPER_MAGIC, inode PROC_ROOT_INO); the init and `exec`'d processes inherit the
fd, close-on-exec. Every write (sysctl, oom_score_adj, LSM attributes, id maps, time
offsets) opens its file below that handle with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) and checks the file is on procfs before writing: the
container's /proc (a bind mount of a host directory, a symlink, a tmpfs over /proc/sys) is
never involved (the CVE-2019-19921 and CVE-2025-52881 class). `self` and `thread-self` are
read from the handle's own links, so they name the caller in the handle's pid namespace.
Sysctls of the net, ipc and uts namespaces follow the writer's namespaces, not the mount's.
"""

import errno
import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)

from pyrunc import native, uapi

_RESOLVE = uapi.RESOLVE_BENEATH | uapi.RESOLVE_NO_SYMLINKS | uapi.RESOLVE_NO_MAGICLINKS | uapi.RESOLVE_NO_XDEV
_handle = -1


def open_handle(path: str = "/proc") -> int:
    """Open and check the trusted handle (once per process tree); returns its fd."""
    global _handle
    if _handle >= 0:
        return _handle
    fd = posix.open(path, uapi.O_PATH | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    try:
        check_procfs(fd, path)
        if posix.fstat(fd).st_ino != uapi.PROC_ROOT_INO:
            raise OSError(errno.EXDEV, f"{path} is not the root of a procfs")
    except BaseException:
        posix.close(fd)
        raise
    _handle = fd
    return fd


def handle() -> int:
    """The fd opened by open_procfs, or -1: kept open by the init's and exec's fd sweep."""
    return _handle


def check_procfs(fd: int, what: str) -> None:
    if native.fstatfs_type(fd) != uapi.PROC_SUPER_MAGIC:
        raise OSError(errno.EXDEV, f"{what} is not on procfs")


def resolve(rel: str) -> str:
    """`self/...` and `thread-self/...` as the caller's pid (and tid) in the handle's namespace."""
    head, sep, tail = rel.partition("/")
    if head in ("self", "thread-self"):
        return posix.readlink(head, dir_fd=_require()) + sep + tail
    return rel


def open_file(rel: str, flags: int) -> int:
    """An fd for `rel` below the handle, proven to be on procfs."""
    fd = native.openat2(_require(), resolve(rel), flags | posix.O_CLOEXEC, 0, _RESOLVE)
    try:
        check_procfs(fd, "/proc/" + rel)
    except BaseException:
        posix.close(fd)
        raise
    return fd


def write(rel: str, value: str) -> None:
    """One write(2) of `value` to /proc/`rel` (the kernel takes a map or a sysctl in one)."""
    fd = open_file(rel, posix.O_WRONLY)
    try:
        posix.write(fd, value.encode())
    finally:
        posix.close(fd)


def read(rel: str) -> str:
    fd = open_file(rel, posix.O_RDONLY)
    try:
        chunks = []
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="surrogateescape")
    finally:
        posix.close(fd)


def _require() -> int:
    if _handle < 0:
        raise OSError(errno.EBADF, "no procfs handle was opened (open_procfs)")
    return _handle
