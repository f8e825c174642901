"""os.path's few tests and join, os.environ.get, and a whole file's bytes, over the posix module,
for the commands that act on an existing container (start, state, kill, pause, delete) and what
they load (state, lifecycle, sync, cgroups), and for exec and the modules of its process (kernel,
process, paths, procfs, init, native).

Those commands do not import os: with posixpath and _collections_abc, its import costs about 1.1 ms,
a tenth of a whole `start`. The functions of os used there are posix's own (os re-exports them).
"""

import posix

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000


def isdir(path: str) -> bool:
    """os.path.isdir: False for whatever cannot be stat'ed."""
    try:
        return posix.stat(path).st_mode & _S_IFMT == _S_IFDIR
    except (OSError, ValueError):
        return False


def isfile(path: str) -> bool:
    """os.path.isfile: False for whatever cannot be stat'ed."""
    try:
        return posix.stat(path).st_mode & _S_IFMT == _S_IFREG
    except (OSError, ValueError):
        return False


def exists(path: str) -> bool:
    """os.path.exists: False for whatever cannot be stat'ed (a dangling link included)."""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def join(directory: str, name: str) -> str:
    """os.path.join of a directory and a relative name."""
    return directory + name if not directory or directory.endswith("/") else f"{directory}/{name}"


def getenv(name: str) -> str | None:
    """os.environ.get from posix's copy of the environment made at start-up (what the caller
    passed; blind to later changes in this process, which the variables read this way do not have)."""
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode(errors="surrogateescape")


def read(path: str) -> bytes:
    """The file's content, read without a file object (open() adds a TextIOWrapper and four calls)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = []
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        posix.close(fd)
