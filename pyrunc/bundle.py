"""The package's modules from one file: every command imports 40 to 50 of them, and Python's
path finder costs about 70 us per module here (a directory stat, the source's stat, an open,
the pyc's checks, all in interpreted importlib code), 3 ms of a `run`.

write() (run by make install) compiles pyrunc's modules into
pyrunc/__pycache__/bundle.<tag>.bin: an index (name -> where its code is, and the source's
mtime and size) and the marshalled code objects. pyrunc/__init__.py installs Finder first on
sys.meta_path when that file exists; a module is read (one pread) only when it is imported,
and only while its source is unchanged, else the ordinary import reads the source. Nothing is
cached between commands: the file is made at install time, like the .pyc files beside it.
"""

import marshal
import os
import sys

_MAGIC = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
_ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec
FD_FLOOR = 900  # the bundle's fd stays open, at or above this number (RLIMIT_NOFILE's soft default is 1024)
SKIP = ("pyrunc.testing", "pyrunc._shim", "pyrunc.schema")  # not on any command's path; pyrunc.testing may be a copy


def path(package_dir: str) -> str:
    return f"{package_dir}/__pycache__/bundle.{sys.implementation.cache_tag}.bin"


class Finder:
    """Finds and loads the bundled modules (importlib's finder and loader protocols)."""

    def __init__(self, fd: int, index: dict, start: int, package_dir: str) -> None:
        self.fd = fd
        self.index = index  # name -> (relative path, is a package, source mtime_ns, source size, offset, length)
        self.start = start  # where the code objects begin; offsets count from there
        self.base = package_dir.rpartition("/")[0]

    def find_spec(self, name: str, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        origin = f"{self.base}/{entry[0]}"
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_size) != (entry[2], entry[3]):  # edited since: the source decides
            return None
        spec = _ModuleSpec(name, self, origin=origin, is_package=entry[1])
        spec.has_location = True
        if entry[1]:
            spec.submodule_search_locations = [origin.rpartition("/")[0]]
        return spec

    def create_module(self, spec) -> None:
        return None

    def exec_module(self, module) -> None:
        entry = self.index[module.__spec__.name]
        exec(marshal.loads(os.pread(self.fd, entry[5], self.start + entry[4])), module.__dict__)


def install(package_dir: str) -> None:
    """Put a Finder for this package's bundle first on sys.meta_path, if the bundle exists and
    was made by this Python."""
    import fcntl  # built into the interpreter

    try:
        low = os.open(path(package_dir), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:  # out of the way of the caller's fds (--preserve-fds, LISTEN_FDS: 3 and up must be theirs)
        fd = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, FD_FLOOR)
    except OSError:
        return
    finally:
        os.close(low)
    try:
        head = os.pread(fd, 8, 0)
        size = int.from_bytes(head[4:], "little")
        index = marshal.loads(os.pread(fd, size, 8)) if head[:4] == _MAGIC else None
    except (OSError, ValueError, EOFError, TypeError):
        index = None
    if not isinstance(index, dict):
        os.close(fd)
        return
    sys.meta_path.insert(0, Finder(fd, index, 8 + size, package_dir))


def write(package_dir: str) -> str:
    """Compile every module of the package (but SKIP) into its bundle; returns the bundle's path."""
    base = os.path.dirname(package_dir)
    index, blobs, offset = {}, [], 0
    for d, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(d, f), base)
            name = rel[:-3].replace("/", ".")
            is_package = name.endswith(".__init__")
            name = name.removesuffix(".__init__")
            if name.startswith(SKIP):
                continue
            source = os.path.join(base, rel)
            with open(source, "rb") as src:
                code = compile(src.read(), source, "exec", dont_inherit=True)
            st = os.stat(source)
            blob = marshal.dumps(code)
            index[name] = (rel, is_package, st.st_mtime_ns, st.st_size, offset, len(blob))
            blobs.append(blob)
            offset += len(blob)
    head = marshal.dumps(index)
    target = path(package_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}"
    with open(tmp, "wb") as out:
        out.write(_MAGIC + len(head).to_bytes(4, "little") + head + b"".join(blobs))
    os.replace(tmp, target)
    return target
