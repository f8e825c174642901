"""Paths inside the container's root, resolved so that nothing leads out of it.

openat2(RESOLVE_IN_ROOT) treats the rootfs as `/` for every symlink and `..`, so an image
whose /etc is a link to the host's /etc cannot make the runtime mount over the host's.
"""

import os
import stat

from pyrunc import native

O_PATH = 0o10000000
_RESOLVE = native.RESOLVE_IN_ROOT | native.RESOLVE_NO_MAGICLINKS


def open_in_root(rootfs: str, path: str, create: str = "") -> int:
    """An O_PATH fd for `path` inside `rootfs`; missing parts are made when `create` is
    "dir" or "file" (the last component only gets that type, parents are directories)."""
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            return native.openat2(root_fd, path, O_PATH | os.O_CLOEXEC, 0, _RESOLVE)
        except FileNotFoundError:
            if not create:
                raise
        parts = [p for p in path.split("/") if p and p != "."]
        for i, name in enumerate(parts):
            prefix = "/".join(parts[: i + 1])
            try:
                fd = native.openat2(root_fd, prefix, O_PATH | os.O_CLOEXEC, 0, _RESOLVE)
            except FileNotFoundError:
                parent = native.openat2(root_fd, "/".join(parts[:i]) or ".",
                                        os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, 0, _RESOLVE)
                try:
                    if create == "file" and i == len(parts) - 1:
                        os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=parent))
                    else:
                        os.mkdir(name, 0o755, dir_fd=parent)
                finally:
                    os.close(parent)
                fd = native.openat2(root_fd, prefix, O_PATH | os.O_CLOEXEC, 0, _RESOLVE)
            if i == len(parts) - 1:
                return fd
            os.close(fd)
        return native.openat2(root_fd, ".", O_PATH | os.O_CLOEXEC, 0, _RESOLVE)
    finally:
        os.close(root_fd)


def fd_path(fd: int) -> str:
    """The magic link through which mount(2) reaches what `fd` resolved to."""
    return f"/proc/self/fd/{fd}"


def open_parent_in_root(rootfs: str, path: str) -> tuple[int, str]:
    """A directory fd (created if missing) for the parent of `path`, and the last name."""
    parent, _, name = path.rstrip("/").rpartition("/")
    fd = open_in_root(rootfs, parent or "/", create="dir")
    try:
        return os.open(fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), name
    finally:
        os.close(fd)


def is_dir_host(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return True
