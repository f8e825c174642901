"""Idmapped bind mounts (`idmap`, `ridmap`, mounts[].uidMappings/gidMappings).

mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN over the source's filesystem and a mount
nobody has seen yet, so the runtime makes them, with the host's privileges, before it clones
the init: a detached copy of the source (open_tree OPEN_TREE_CLONE), idmapped through a user
namespace that holds the mount's maps (a paused child in a new user namespace whose maps the
runtime writes, as runc and crun do), with the mount's flags set. The init inherits the fds
(clone copies the fd table) and attaches each with move_mount in config order; the runtime
closes its copies after clone. A file owned by `containerID` on disk is seen as `hostID`.

The same hand-over serves every bind mount of a container with a new user namespace
(prepare_bind, as runc's mount source fds): the source is reached with the host's credentials,
so a directory the container's root cannot enter (0700, owned by the host's root) still mounts.

Imported only for a config with such a mount.
"""

import posix

from pyrunc import native, procfs, uapi

PREPARED: dict[str, int] = {}  # mounts[i] -> the detached tree's fd
_USERNS: dict[tuple[str, str], int] = {}


def userns_fd(uid_lines: str, gid_lines: str) -> int:
    """An fd of a user namespace with these maps (one per distinct pair of maps)."""
    key = (uid_lines, gid_lines)
    if key in _USERNS:
        return _USERNS[key]
    pid = native.spawn_userns()
    try:
        procfs.write(f"{pid}/uid_map", uid_lines)
        procfs.write(f"{pid}/gid_map", gid_lines)
        fd = posix.open(f"/proc/{pid}/ns/user", posix.O_RDONLY | posix.O_CLOEXEC)
    finally:
        posix.kill(pid, 9)
        posix.waitpid(pid, 0)
    _USERNS[key] = fd
    return fd


def prepare(key: str, source: str, recursive: bool, idmap_recursive: bool, attrs: tuple, uid_lines: str,
            gid_lines: str) -> int:
    """The detached, idmapped copy of `source` for mounts[i] `key`; returns its fd."""
    ns = userns_fd(uid_lines, gid_lines)
    return _detach(key, source, recursive, ((idmap_recursive, 0x100000, 0, 0, ns), *attrs))  # MOUNT_ATTR_IDMAP


def prepare_bind(key: str, source: str, recursive: bool, attrs: tuple) -> int:
    """The detached copy of `source` for mounts[i] `key`, its flags set; returns its fd."""
    return _detach(key, source, recursive, attrs)


def _detach(key: str, source: str, recursive: bool, attrs: tuple) -> int:
    """open_tree(OPEN_TREE_CLONE) of `source`, then mount_setattr for each (AT_RECURSIVE?, set,
    clear[, userns fd]) in order; kept in PREPARED for the init."""
    flags = uapi.OPEN_TREE_CLONE | uapi.OPEN_TREE_CLOEXEC | (uapi.AT_RECURSIVE if recursive else 0)
    tree = native.open_tree(uapi.AT_FDCWD, source, flags)
    try:
        for attr in attrs:
            native.mount_setattr(tree, *attr)
    except BaseException:
        posix.close(tree)
        raise
    PREPARED[key] = tree
    return tree


def close_all() -> None:
    """In the runtime after clone: the init has its own copies of the fds."""
    for fd in list(PREPARED.values()) + list(_USERNS.values()):
        posix.close(fd)
    PREPARED.clear()
    _USERNS.clear()


def kept_fds() -> tuple[int, ...]:
    """What the init keeps of the fds it inherits: the prepared mounts (not the user namespaces)."""
    return tuple(PREPARED.values())


def take(key: str) -> int:
    """In the init: the fd prepared for `key`."""
    return PREPARED.pop(key)
