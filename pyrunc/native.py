"""The Python face of the native shim: each call raises OSError instead of returning -1.

The shim itself (pyrunc/_shim/shim.h) documents why each function has to be C.
"""

import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)

from pyrunc import uapi
from pyrunc._native import ffi, lib

_NULL = ffi.NULL


def _check(rc: int, what: str = "", path: str | None = None) -> int:
    if rc < 0:
        err = ffi.errno
        raise OSError(err, posix.strerror(err), path) if path else OSError(err, f"{what}: {posix.strerror(err)}")
    return rc


def _c(s: str | None):
    return _NULL if s is None else s.encode()


def clone(flags: int, sync_fd: int, pdeathsig: int, cgroup_fd: int = -1) -> int:
    """Fork-like clone into new namespaces, into the cgroup2 directory `cgroup_fd` when it is
    not -1; 0 in the child (see shim.h)."""
    return _check(lib.pyr_clone(flags, sync_fd, pdeathsig, cgroup_fd), "clone3(CLONE_INTO_CGROUP)"
                  if cgroup_fd >= 0 else "clone")


def unshare_user(flags: int, sync_fd: int) -> None:
    _check(lib.pyr_unshare_user(flags, sync_fd), "unshare")


def unshare(flags: int) -> None:
    _check(lib.pyr_unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(lib.pyr_setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(lib.pyr_mount(_c(source), target.encode(), _c(fstype), flags, _c(data)), path=target)


def umount2(target: str, flags: int) -> None:
    _check(lib.pyr_umount2(target.encode(), flags), path=target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(lib.pyr_pivot_root(new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(lib.pyr_sethostname(b, len(b)), "sethostname")


def setdomainname(name: str) -> None:
    b = name.encode()
    _check(lib.pyr_setdomainname(b, len(b)), "setdomainname")


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    return _check(lib.pyr_openat2(dirfd, path.encode(), flags, mode, resolve), path=path)


def link_up(name: str) -> None:
    _check(lib.pyr_link_up(name.encode()), f"set link {name} up")


def execve(path: str, argv: list[str], env: list[str], first_cloexec: int) -> None:
    """Close-on-exec every fd from `first_cloexec` (none when -1), then exec; raises only on failure."""
    cargv = [ffi.new("char[]", a.encode()) for a in argv]
    cenv = [ffi.new("char[]", e.encode()) for e in env]
    argv_p = ffi.new("char *[]", cargv + [_NULL])
    env_p = ffi.new("char *[]", cenv + [_NULL])
    _check(lib.pyr_exec(path.encode(), argv_p, env_p, first_cloexec), path=path)


def cloexec_from(first: int) -> None:
    """Mark every fd from `first` on close-on-exec (close_range)."""
    _check(lib.pyr_cloexec_from(first), "close_range")


def close_range(first: int, last: int = 0xFFFFFFFF) -> None:
    """Close every fd from `first` to `last` (default: all above `first`) in one call."""
    _check(lib.pyr_close_range(first, last), "close_range")


def join_session_keyring(name: str) -> int:
    """Leave the session keyring for the keyring `name`, made if missing (see shim.h); its serial."""
    return _check(lib.pyr_join_session_keyring(name.encode()), "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")


def key_perm(serial: int) -> int:
    """The permission mask of a key, from KEYCTL_DESCRIBE's "type;uid;gid;perm;description"."""
    buf = ffi.new("char[]", 4096)
    _check(lib.pyr_keyctl_describe(serial, buf, 4096), "keyctl(KEYCTL_DESCRIBE)")
    return int(ffi.string(buf).split(b";")[3], 16)


def key_setperm(serial: int, perm: int) -> None:
    _check(lib.pyr_keyctl_setperm(serial, perm), "keyctl(KEYCTL_SETPERM)")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    _check(lib.pyr_capset(effective, permitted, inheritable), "capset")


def prctl(option: int, arg2: int, arg3: int = 0) -> int:
    return _check(lib.pyr_prctl(option, arg2, arg3), "prctl")


def prlimit(pid: int, resource: int, soft: int, hard: int) -> None:
    """Set a resource limit of process `pid` (0: this one)."""
    _check(lib.pyr_prlimit(pid, resource, soft, hard), "prlimit")


def pty_unlock(fd: int) -> int:
    return _check(lib.pyr_pty_unlock(fd), "unlock pty")


def set_winsize(fd: int, rows: int, cols: int) -> None:
    _check(lib.pyr_set_winsize(fd, rows, cols), "set terminal size")


def get_winsize(fd: int) -> tuple[int, int]:
    packed = _check(lib.pyr_get_winsize(fd), "get terminal size")
    return packed >> 16, packed & 0xFFFF


def set_ctty(fd: int) -> None:
    _check(lib.pyr_set_ctty(fd), "set controlling terminal")


def open_tree(dirfd: int, path: str, flags: int) -> int:
    """A mount fd; a detached copy of the tree with OPEN_TREE_CLONE (see shim.h)."""
    return _check(lib.pyr_open_tree(dirfd, path.encode(), flags), path=path or None, what="open_tree")


def move_mount(from_fd: int, to_fd: int) -> None:
    """Attach the mount `from_fd` onto what `to_fd` (an O_PATH fd) points at."""
    _check(lib.pyr_move_mount(from_fd, b"", to_fd, b"", uapi.MOVE_MOUNT_F_EMPTY_PATH | uapi.MOVE_MOUNT_T_EMPTY_PATH),
           "move_mount")


def mount_setattr(fd: int, recursive: bool, attr_set: int, attr_clr: int, propagation: int = 0,
                  userns_fd: int = -1) -> None:
    """Change the MOUNT_ATTR_* bits of the mount (tree, if `recursive`) that `fd` is on."""
    flags = uapi.AT_EMPTY_PATH | (uapi.AT_RECURSIVE if recursive else 0)
    _check(lib.pyr_mount_setattr(fd, b"", flags, attr_set, attr_clr, propagation, userns_fd), "mount_setattr")


def spawn_userns() -> int:
    """pid of a child paused in a new user namespace, whose maps the caller writes (see shim.h)."""
    return _check(lib.pyr_spawn_userns(), "clone(CLONE_NEWUSER)")


def hide_exe() -> None:
    """/proc/self/exe stops naming the host's interpreter (see shim.h). A kernel without
    PR_SET_MM_MAP fails: non-dumpable alone does not stop an entrypoint of /proc/self/exe."""
    _check(lib.pyr_hide_exe(), "detach /proc/self/exe from the interpreter")


def statfs_type(path: str) -> int:
    """The magic number of the file system `path` is on (statfs f_type)."""
    return _check(lib.pyr_statfs_type(path.encode()), path=path)


def join_namespaces(fds: list[int], types: list[int]) -> None:
    """setns into every namespace, user last but for retries (see shim.h)."""
    _check(lib.pyr_join_namespaces(ffi.new("int[]", fds), ffi.new("int[]", types), len(fds)), "setns")


def seccomp_flags_supported(flags: int) -> bool:
    """Whether the kernel takes these SECCOMP_FILTER_FLAG_* flags (probed, nothing loaded)."""
    return lib.pyr_seccomp_flags_supported(flags) == 0


def seccomp_load(bpf: bytes, flags: int) -> int:
    """Load a compiled filter; the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0."""
    return _check(lib.pyr_seccomp_load(bpf, len(bpf) // 8, flags), "seccomp")


def execve_seccomp(path: str, argv: list[str], env: list[str], first_cloexec: int, bpf: bytes, flags: int,
                   notify_sock: int) -> None:
    """Load the filter, hand its listener over, close-on-exec from `first_cloexec`, exec."""
    cargv = [ffi.new("char[]", a.encode()) for a in argv]
    cenv = [ffi.new("char[]", e.encode()) for e in env]
    argv_p = ffi.new("char *[]", cargv + [_NULL])
    env_p = ffi.new("char *[]", cenv + [_NULL])
    _check(lib.pyr_exec_seccomp(path.encode(), argv_p, env_p, first_cloexec, bpf, len(bpf) // 8, flags,
                                notify_sock), path=path)


def sched_setattr(policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int,
                  period: int) -> None:
    _check(lib.pyr_sched_setattr(policy, flags, nice, priority, runtime, deadline, period), "sched_setattr")


def ioprio_set(ioprio: int) -> None:
    _check(lib.pyr_ioprio_set(ioprio), "ioprio_set")


def personality(persona: int) -> int:
    return _check(lib.pyr_personality(persona), "personality")


def write_async(path: str, data: str) -> int:
    """The pid of a task writing `data` to `path` while the caller goes on (see shim.h)."""
    return _check(lib.pyr_write_async(path.encode(), data.encode()), f"write {path}")


def write_each(paths: list[str], data: str) -> tuple[int, OSError | None]:
    """Write `data` to each file in order, in one call (see shim.h): how many were written, and
    the error of the next one."""
    keep = [ffi.new("char[]", p.encode()) for p in paths]
    done = lib.pyr_write_each(ffi.new("char *[]", keep), len(paths), data.encode())
    if done == len(paths):
        return done, None
    err = ffi.errno
    return done, OSError(err, posix.strerror(err), paths[done])


def pty_peer(master: int, flags: int) -> int:
    """The slave of the pty `master`, opened from the master itself (uapi.TIOCGPTPEER)."""
    import fcntl  # built into the interpreter

    return fcntl.ioctl(master, uapi.TIOCGPTPEER, flags)


def fstatfs_type(fd: int) -> int:
    """The magic number of the filesystem `fd` is on (statfs f_type)."""
    return _check(lib.pyr_fstatfs_type(fd), "fstatfs")


FS_MASK, FS_READONLY, FS_MKNOD, FS_SYMLINK, FS_MOUNT, FS_BIND = 1, 2, 3, 4, 5, 6  # pyr_fs_step's op (shim.h)
_FS_TEXT = frozenset(("root", "path", "dir", "name", "target", "fstype", "data"))


def fs_steps(steps: list[dict]) -> tuple[int, OSError | None, bool, str | None]:
    """Perform steps given as the fields of struct pyr_fs_step (see shim.h; `attrs` a tuple of
    triples) in one call: how many were done and, for the next one, its error (None: its
    method's to perform), whether it had changed something, and the call that failed."""
    array, keep = fs_array(steps)
    return fs_run(array, len(steps))


def fs_array(steps: list[dict]) -> tuple:
    """The struct pyr_fs_step array of `steps` for fs_run, and what it points into (keep both).
    The strings of all steps go in one buffer and the attrs in one array, the struct array is
    made from dicts in one ffi.new: this runs in the init, where every object made costs."""
    chunks: list[bytes] = []
    at = 0
    numbers: list[int] = []
    pointers = []  # (init, field, offset in the text; -1 - index in numbers for attrs)
    inits = []
    for fields in steps:
        init = {}
        for key, value in fields.items():
            if key in _FS_TEXT:
                if value is not None:
                    data = value.encode()
                    pointers.append((init, key, at))
                    chunks.append(data)
                    at += len(data) + 1
            elif key == "attrs":
                pointers.append((init, key, -1 - len(numbers)))
                init["nattrs"] = len(value)
                for triple in value:
                    numbers.extend(triple)
            else:
                init[key] = value
        inits.append(init)
    text = ffi.from_buffer(b"\0".join(chunks) + b"\0")
    ints = ffi.new("unsigned long long[]", [int(v) for v in numbers] or [0])
    for init, key, offset in pointers:
        init[key] = text + offset if offset >= 0 else ints + (-1 - offset)
    return ffi.new("struct pyr_fs_step[]", inits), (text, ints)


def fs_run(array, n: int) -> tuple[int, OSError | None, bool, str | None]:
    """pyr_fs_steps on the first `n` steps of `array` (fs_array's, or a pointer into it): as fs_steps."""
    changed = ffi.new("int *")
    failed = ffi.new("const char **")
    done = lib.pyr_fs_steps(array, n, changed, failed)
    err = ffi.errno if done < n else 0
    if not err:
        return done, None, bool(changed[0]), None
    what = ffi.string(failed[0]).decode() if failed[0] != _NULL else None
    reason = posix.strerror(err)
    return done, OSError(err, f"{what}: {reason}" if what else reason), bool(changed[0]), what
