"""The few file operations every cgroup action is made of, in one place so tests can stand in.

A cgroup file takes one value per write(2), so each write is one open/write/close. `mkdir` and
`rmdir` are module functions because a test's directory tree stands in for cgroupfs, whose
mkdir fills a directory with files and whose rmdir removes a directory that still has them.
"""


import posix  # not os: delete loads this module (pyrunc/posixfs.py)
import time

from pyrunc import crashpoint, posixfs, uapi
from pyrunc.errors import PyruncError, os_error


def mkdir(path: str) -> None:
    posix.mkdir(path, 0o755)


def rmdir(path: str) -> None:
    posix.rmdir(path)


def open_write(path: str) -> int:
    return posix.open(path, posix.O_WRONLY | posix.O_TRUNC | posix.O_CLOEXEC)


def write(path: str, value: str) -> None:
    """One write(2) of `value`; raises OSError."""
    fd = open_write(path)
    try:
        posix.write(fd, value.encode())
    finally:
        posix.close(fd)


def read(path: str) -> str:
    """A cgroup file's text, without a file object (pyrunc/posixfs.py)."""
    return posixfs.read(path).decode()


def makedirs(path: str, stop: str, created: list[str]) -> None:
    """mkdir -p `path` below the mount point `stop`, appending what it made (outermost first)."""
    try:
        mkdir(path)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = path.rpartition("/")[0] or "/"
        if parent == path or len(parent) <= len(stop.rstrip("/")):
            raise PyruncError(f"cgroup hierarchy {stop} is not mounted") from None
        makedirs(parent, stop, created)
        try:
            mkdir(path)
        except OSError as e:
            raise os_error(f"mkdir {path}", e) from e
    except OSError as e:
        raise os_error(f"mkdir {path}", e) from e
    created.append(path)
    if crashpoint.AT:
        crashpoint.reached("at:cgroup_made")


def procs(path: str) -> list[int]:
    """Every pid in the cgroup at `path` and the cgroups below it; [] when it is gone."""
    out: list[int] = []
    for d in (path, *subdirs_bottom_up(path)):
        try:
            out += [int(p) for p in read(f"{d}/cgroup.procs").split()]
        except FileNotFoundError:
            pass
    return out


def subdirs_bottom_up(path: str) -> list[str]:
    """The cgroups below `path`, deepest first (a container may have made its own)."""
    out: list[str] = []
    try:
        with posix.scandir(path) as it:
            subs = [e.path for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return out
    for sub in subs:
        out += subdirs_bottom_up(sub)
        out.append(sub)
    return out


def rmdir_retry(path: str, timeout: float = 2.0) -> None:
    """rmdir, retrying while the kernel still counts exiting tasks in it (EBUSY)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != uapi.EBUSY or time.monotonic() > deadline:
                raise os_error(f"remove cgroup {path}", e) from e
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
