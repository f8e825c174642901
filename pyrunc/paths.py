"""Paths inside the container's root, resolved so that nothing leads out of it.

openat2(RESOLVE_IN_ROOT) treats the rootfs as `/` for every symlink and `..`, so an image
whose /etc is a link to the host's /etc cannot make the runtime mount over the host's. What
the runtime creates is made with *at() calls on directory fds found that way, never by a
path the kernel would resolve from the host's root: a dangling symlink in the image is
followed inside the rootfs (as securejoin does for runc), and a new file is created with
O_EXCL|O_NOFOLLOW, which refuses to follow one.
"""

import errno
import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)
from _stat import S_ISREG  # stat.py's C half: exec loads nothing else of stat.py

from pyrunc import native, uapi

_RESOLVE = uapi.RESOLVE_IN_ROOT | uapi.RESOLVE_NO_MAGICLINKS
_MAX_LINKS = 40


def _open(root_fd: int, path: str) -> int:
    return native.openat2(root_fd, path or ".", uapi.O_PATH | posix.O_CLOEXEC, 0, _RESOLVE)


def open_in_root(rootfs: str, path: str, create: str = "") -> int:
    """An O_PATH fd for `path` inside `rootfs`; missing parts are made when `create` is
    "dir" or "file" (the last component only gets that type, parents are directories)."""
    root_fd = posix.open(rootfs, uapi.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        try:
            return _open(root_fd, path)
        except FileNotFoundError:
            if not create:
                raise
        return _create(root_fd, path, create)
    finally:
        posix.close(root_fd)


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _create(root_fd: int, path: str, create: str) -> int:
    """Walk `path` from the root, making what is missing; a dangling symlink met on the way is
    replaced by its target, read as a path inside the root, and the walk starts again."""
    parts = _split(path)
    links = 0
    i = 0
    while i < len(parts):
        prefix = "/".join(parts[: i + 1])
        try:
            fd = _open(root_fd, prefix)
        except FileNotFoundError:
            parent = _open(root_fd, "/".join(parts[:i]))
            name = parts[i]
            try:
                if create == "file" and i == len(parts) - 1:
                    flags = posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW | posix.O_WRONLY | posix.O_CLOEXEC
                    posix.close(posix.open(name, flags, 0o644, dir_fd=parent))
                else:
                    posix.mkdir(name, 0o755, dir_fd=parent)
            except FileExistsError:
                try:
                    target = posix.readlink(name, dir_fd=parent)
                except OSError:
                    target = None  # made meanwhile by someone else: look again
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, posix.strerror(errno.ELOOP), path) from None
                if target is not None:
                    base = [] if target.startswith("/") else parts[:i]
                    parts = base + _split(target) + parts[i + 1:]
                    i = 0
                continue
            finally:
                posix.close(parent)
            fd = _open(root_fd, prefix)
        if i == len(parts) - 1:
            return fd
        posix.close(fd)
        i += 1
    return _open(root_fd, ".")


def fd_path(fd: int) -> str:
    """The magic link through which mount(2) reaches what `fd` resolved to."""
    return f"/proc/self/fd/{fd}"


def open_parent_in_root(rootfs: str, path: str) -> tuple[int, str]:
    """An O_PATH directory fd (made if missing) for the parent of `path`, and the last name:
    for the *at() calls that create or inspect that name without following it."""
    parent, _, name = path.rstrip("/").rpartition("/")
    if name in ("", ".", ".."):
        raise OSError(errno.EINVAL, f"{path!r} does not name a file")
    return open_in_root(rootfs, parent or "/", create="dir"), name



def read_in_root(rootfs: str, path: str, limit: int = 1 << 22) -> bytes | None:
    """The content of the regular file `path` inside `rootfs` (at most `limit` bytes), or None when
    it cannot be opened there (missing, or a magic link on the way) or is not a regular file: a
    FIFO or a device the image put there must not block or feed the reader."""
    root_fd = posix.open(rootfs, uapi.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        flags = posix.O_RDONLY | posix.O_NONBLOCK | posix.O_NOCTTY | posix.O_CLOEXEC
        fd = native.openat2(root_fd, path.lstrip("/") or ".", flags, 0, _RESOLVE)
    except OSError:
        return None
    finally:
        posix.close(root_fd)
    try:
        if not S_ISREG(posix.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size < limit and (chunk := posix.read(fd, min(65536, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        posix.close(fd)
