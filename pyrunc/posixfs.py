"""os.path's tests and path arithmetic, os.makedirs, os.environ.get and a whole file's bytes,
over the posix module, for the commands that do not load os: create and run and what they load
(config, cgroups, plan, mountops...), the commands that act on an existing container (start,
state, kill, pause, delete) and exec and the modules of its process (kernel, process, paths,
procfs, init, native).

Its import (posixpath, _collections_abc) costs about 1.1-1.8 ms, a tenth of a whole `start` and a
twentieth of a `run`. The functions of os used there are posix's own (os re-exports them); these
answer as os.path's do (tests/unit/test_posixfs.py).
"""

import posix

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000
_S_IFLNK = 0o120000


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


def join(path: str, *names: str) -> str:
    """os.path.join: an absolute name discards what comes before it."""
    for name in names:
        if name.startswith("/"):
            path = name
        elif not path or path.endswith("/"):
            path += name
        else:
            path += "/" + name
    return path


def basename(path: str) -> str:
    """os.path.basename: what follows the last slash ("" after a trailing one)."""
    return path[path.rfind("/") + 1:]


def dirname(path: str) -> str:
    """os.path.dirname: up to the last slash, trailing slashes stripped unless it is all slashes."""
    head = path[:path.rfind("/") + 1]
    return head.rstrip("/") if head and head != "/" * len(head) else head


def normpath(path: str) -> str:
    """os.path.normpath, whose own C implementation this is (posixpath imports it from posix)."""
    return posix._path_normpath(path) or "."


def abspath(path: str) -> str:
    """os.path.abspath: normalised, relative to the working directory unless absolute."""
    return normpath(path if path.startswith("/") else join(posix.getcwd(), path))


def realpath(path: str) -> str:
    """os.path.realpath (not strict): symlinks resolved with lstat and readlink; a missing
    component is kept as it is, and a symlink loop leaves the rest of the path unresolved."""
    return abspath(_joinrealpath("", path, {})[0])


def _joinrealpath(path: str, rest: str, seen: dict) -> tuple[str, bool]:
    """posixpath._joinrealpath of Python 3.11 for str, not strict."""
    if rest.startswith("/"):
        rest = rest[1:]
        path = "/"
    while rest:
        name, _, rest = rest.partition("/")
        if not name or name == ".":
            continue
        if name == "..":
            if path:
                path, name = dirname(path), basename(path)
                if name == "..":
                    path = join(path, "..", "..")
            else:
                path = ".."
            continue
        newpath = join(path, name)
        try:
            is_link = posix.lstat(newpath).st_mode & _S_IFMT == _S_IFLNK
        except OSError:
            is_link = False
        if not is_link:
            path = newpath
            continue
        if newpath in seen:
            path = seen[newpath]
            if path is not None:
                continue
            return join(newpath, rest), False
        seen[newpath] = None
        path, ok = _joinrealpath(path, posix.readlink(newpath), seen)
        if not ok:
            return join(path, rest), False
        seen[newpath] = path
    return path, True


def makedirs(path: str, mode: int = 0o777, exist_ok: bool = False, parents: int = 0o777) -> None:
    """os.makedirs: the missing parents made with mode `parents` (os's: the default), `path` itself
    with `mode`. The state root passes 0o700 for both, as runc's MkdirAll does."""
    head, tail = dirname(path), basename(path)
    if not tail:
        head, tail = dirname(head), basename(head)
    if head and tail and not exists(head):
        try:
            makedirs(head, parents, exist_ok, parents)
        except FileExistsError:
            pass
        if tail == ".":
            return
    try:
        posix.mkdir(path, mode)
    except OSError:
        if not exist_ok or not isdir(path):
            raise


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
