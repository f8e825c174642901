"""pyrunc: an OCI low-level container runtime in Python, a drop-in for runc."""

__version__ = "0.1.0"
OCI_VERSION = "1.3.0"

# The package's modules compiled into one file at install time (launcher.write_bundle): importing
# from it skips the path search, the stat calls and the .pyc read of each module, about 0.1 ms
# a module on every command.
BUNDLE = "_bundle.bin"
BUNDLE_FORMAT = b"pyrunc-2"  # after the interpreter's 4-byte magic number: this file's layout
_exec = exec  # the builtin: once imported, the submodule pyrunc.exec is `exec` in this namespace


class _Bundle:
    """A meta-path finder and loader over BUNDLE: a 16-byte header (the interpreter's magic
    number, BUNDLE_FORMAT, the index's length), the marshalled index ({module: (offset, length,
    is_package, source path in the package, source mtime_ns, source size, the bundled modules its
    import loads first)}, {extension module: its file}), then each module's marshalled code
    (offsets count from the index's end). use_bundle's O_CLOEXEC descriptor stays open for the
    command, one pread a module (not open, fstat, pread and close: 0.2 ms of `run`): it holds the
    file the index was read from, so a bundle replaced meanwhile is never read at that index's
    offsets. The init's fd closing forgets it first (drop_bundle_fd); later imports open the file
    each time and check it is still the indexed one. A module whose source no longer has the
    recorded mtime and size is imported as usual (find_spec returns None); one whose code cannot
    be read or unmarshalled is compiled from that source."""

    def __init__(self, path: str, index: dict, extensions: dict, base: int, identity: tuple[int, int, int],
                 fd: int = -1) -> None:
        self.path = path
        self.fd = fd  # the indexed file, or -1 once dropped
        self.package = path.rpartition("/")[0]
        self.index = index
        self.extensions = extensions
        self.base = base  # where the code starts: the header and the index come first
        self.identity = identity  # (st_dev, st_ino, st_mtime_ns) of the file the index came from

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        import posix

        entry = self.index.get(name)
        if entry is None:
            return self._extension_spec(name) if name in self.extensions else None
        source = f"{self.package}/{entry[3]}"
        try:
            st = posix.stat(source)
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_size) != entry[4:6]:
            return None
        spec = type(__spec__)(name, self, origin=source, is_package=entry[2])
        spec.has_location = True
        spec.cached = self.path  # __cached__: the compiled code's file (deriving a .pyc name costs more)
        if entry[2]:
            spec.submodule_search_locations = [source.rpartition("/")[0]]
        return spec

    def _extension_spec(self, name: str) -> object:
        """The spec of extension module `name` at the file the index names, if it is still there:
        the file the path search found when the bundle was written, without the search."""
        import posix
        import sys

        file = self.extensions[name]
        try:
            posix.stat(file)
        except OSError:
            return None
        external = sys.modules["_frozen_importlib_external"]
        return external.spec_from_file_location(name, file, loader=external.ExtensionFileLoader(name, file))

    def create_module(self, spec: object) -> None:
        return None

    def _code(self, offset: int, length: int) -> bytes:
        """The marshalled code at `offset`, or b"" when the file is no longer the one indexed."""
        import posix

        if self.fd >= 0:
            return posix.pread(self.fd, length, offset)
        try:
            fd = posix.open(self.path, posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return b""
        try:
            st = posix.fstat(fd)
            return posix.pread(fd, length, offset) if (st.st_dev, st.st_ino, st.st_mtime_ns) == self.identity else b""
        finally:
            posix.close(fd)

    def exec_module(self, module: object) -> None:
        import marshal
        import sys

        offset, length, *_, first = self.index[module.__name__]
        for name in first:
            if name not in sys.modules:
                self._load(name)
        try:
            code = marshal.loads(self._code(self.base + offset, length))
        except (OSError, EOFError, ValueError, TypeError):  # replaced while this command ran, or damaged
            source = module.__spec__.origin
            with open(source, "rb") as f:
                code = compile(f.read(), source, "exec", dont_inherit=True)
        _exec(code, module.__dict__)

    def _load(self, name: str) -> None:
        """Import bundled module `name`, whose imports are loaded, as importlib's _load_unlocked
        would, without the import system's lookups and locks around it (25 us a module here):
        only exec_module calls it, in the single thread that imports while a command starts."""
        import sys

        spec = self.find_spec(name)
        if spec is None:  # its source changed
            __import__(name)
            return
        module = type(sys)(name)
        module.__spec__, module.__loader__, module.__package__ = spec, self, spec.parent
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        module.__file__, module.__cached__ = spec.origin, spec.cached
        sys.modules[name] = module
        spec._initializing = True
        try:
            self.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            spec._initializing = False
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def use_bundle() -> None:
    """Import this package's modules from BUNDLE from now on, where it was written for this
    interpreter (the launcher calls this before anything else); without it, import as usual."""
    import marshal
    import posix
    import sys

    if any(isinstance(finder, _Bundle) for finder in sys.meta_path):
        return
    path = f"{__path__[0]}/{BUNDLE}"
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        st = posix.fstat(fd)
        head = posix.pread(fd, 16, 0)
        if head[:12] != sys.modules["_frozen_importlib_external"].MAGIC_NUMBER + BUNDLE_FORMAT:
            raise ValueError(path)
        size = int.from_bytes(head[12:16], "little")
        index, extensions = marshal.loads(posix.pread(fd, size, 16))
        if not isinstance(index, dict) or not isinstance(extensions, dict):
            raise ValueError(path)
    except (OSError, ValueError, EOFError, TypeError):
        posix.close(fd)
        return
    if fd < 3:  # stdio was closed: code that sets up 0-2 with dup2 must not replace the bundle under it
        posix.close(fd)
        fd = -1
    sys.meta_path.insert(0, _Bundle(path, index, extensions, 16 + size, (st.st_dev, st.st_ino, st.st_mtime_ns), fd))


def drop_bundle_fd() -> None:
    """Close the bundle's descriptor, before code that closes descriptors wholesale (the init's and
    exec's close_inherited_fds): a later import must not pread from whatever file reuses its number."""
    import posix
    import sys

    for finder in sys.meta_path:
        if isinstance(finder, _Bundle) and finder.fd >= 0:
            fd, finder.fd = finder.fd, -1
            posix.close(fd)
