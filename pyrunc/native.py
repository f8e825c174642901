"""The Python face of the native shim: each call raises OSError instead of returning -1.

The shim itself (pyrunc/_shim/shim.h) documents why each function has to be C.
"""

import os

from pyrunc._native import ffi, lib

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

_NULL = ffi.NULL


def _check(rc: int, what: str = "", path: str | None = None) -> int:
    if rc < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err), path) if path else OSError(err, f"{what}: {os.strerror(err)}")
    return rc


def _c(s: str | None):
    return _NULL if s is None else s.encode()


def clone(flags: int, sync_fd: int, pdeathsig: int) -> int:
    """Fork-like clone into new namespaces; 0 in the child (see shim.h)."""
    return _check(lib.pyr_clone(flags, sync_fd, pdeathsig), "clone")


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
    """Close-on-exec every fd from `first_cloexec`, then exec; raises only on failure."""
    cargv = [ffi.new("char[]", a.encode()) for a in argv]
    cenv = [ffi.new("char[]", e.encode()) for e in env]
    argv_p = ffi.new("char *[]", cargv + [_NULL])
    env_p = ffi.new("char *[]", cenv + [_NULL])
    _check(lib.pyr_exec(path.encode(), argv_p, env_p, first_cloexec), path=path)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    _check(lib.pyr_capset(effective, permitted, inheritable), "capset")


def prctl(option: int, arg2: int, arg3: int = 0) -> int:
    return _check(lib.pyr_prctl(option, arg2, arg3), "prctl")


def setrlimit(resource: int, soft: int, hard: int) -> None:
    _check(lib.pyr_setrlimit(resource, soft, hard), "setrlimit")


def pty_unlock(fd: int) -> int:
    return _check(lib.pyr_pty_unlock(fd), "unlock pty")


def set_winsize(fd: int, rows: int, cols: int) -> None:
    _check(lib.pyr_set_winsize(fd, rows, cols), "set terminal size")


def get_winsize(fd: int) -> tuple[int, int]:
    packed = _check(lib.pyr_get_winsize(fd), "get terminal size")
    return packed >> 16, packed & 0xFFFF


def set_ctty(fd: int) -> None:
    _check(lib.pyr_set_ctty(fd), "set controlling terminal")
