"""Which cgroup hierarchies the host has, and where: read once per command from mountinfo.

A hierarchy is named by its mount point relative to the cgroup root ("memory", "cpu,cpuacct",
"systemd", "unified"; "" on a pure v2 host): the same names runc uses under a container's
/sys/fs/cgroup, and the keys of every `paths` dict in this package.
"""


import posix

from pyrunc.errors import PyruncError
from pyrunc.posixfs import dirname, exists, isdir, join, read

V1 = "v1"
HYBRID = "hybrid"
V2 = "v2"

# Controllers a v1 mount can carry; anything else in its super options is a mount option.
_V1_CONTROLLERS = frozenset((
    "cpuset", "cpu", "cpuacct", "blkio", "io", "memory", "devices", "freezer", "net_cls", "perf_event",
    "net_prio", "hugetlb", "pids", "rdma", "misc", "debug",
))


class Hierarchy:
    """One mounted hierarchy: where it is, which cgroup its mount shows, what it controls."""

    __slots__ = ("key", "mountpoint", "mount_root", "controllers", "v2")

    def __init__(self, key: str, mountpoint: str, mount_root: str, controllers: tuple[str, ...],
                 v2: bool) -> None:
        self.key = key
        self.mountpoint = mountpoint
        self.mount_root = mount_root
        self.controllers = controllers
        self.v2 = v2

    def __repr__(self) -> str:
        return (f"Hierarchy({self.key!r}, {self.mountpoint!r}, {self.mount_root!r}, {self.controllers!r}, "
                f"v2={self.v2})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and repr(self) == repr(other)


class Layout:
    """The host's cgroup setup: v1, hybrid (v1 + a cgroup2 mount) or v2.

    `v2_controllers` lists what the cgroup2 hierarchy offers (its root cgroup.controllers), so a
    hybrid host can place controllers v1 lacks (hugetlb here) on the unified hierarchy.
    """

    __slots__ = ("version", "root", "hierarchies", "v2_controllers")

    def __init__(self, version: str, root: str, hierarchies: list[Hierarchy],
                 v2_controllers: tuple[str, ...] = ()) -> None:
        self.version = version
        self.root = root
        self.hierarchies = hierarchies
        self.v2_controllers = v2_controllers

    def __repr__(self) -> str:
        return f"Layout({self.version!r}, {self.root!r}, {self.hierarchies!r}, {self.v2_controllers!r})"

    @property
    def unified(self) -> Hierarchy | None:
        """The cgroup2 hierarchy, if mounted."""
        for h in self.hierarchies:
            if h.v2:
                return h
        return None

    def v1_for(self, controller: str) -> Hierarchy | None:
        """The v1 hierarchy carrying `controller` ("name=systemd" for a named one), if mounted."""
        for h in self.hierarchies:
            if not h.v2 and controller in h.controllers:
                return h
        return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str, root: str) -> list[Hierarchy]:
    """The cgroup and cgroup2 mounts at or below `root`, first mount of each hierarchy wins."""
    root = root.rstrip("/") or "/"
    found: dict[str, Hierarchy] = {}
    seen_sets: set[tuple[str, ...]] = set()
    for line in text.splitlines():
        if " - cgroup" not in line:  # most of a host's mounts: not split at all
            continue
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fstype, _source, superopts = (right.split(" ") + ["", ""])[:3]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        fields = left.split(" ")
        mount_root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if mountpoint == root:
            key = ""
        elif mountpoint.startswith(root.rstrip("/") + "/"):
            key = mountpoint[len(root.rstrip("/")) + 1:]
        else:
            continue
        if fstype == "cgroup2":
            controllers: tuple[str, ...] = ()
        else:
            opts = superopts.split(",")
            controllers = tuple(o for o in opts if o in _V1_CONTROLLERS or o.startswith("name="))
            if not controllers:
                continue
        ident = ("cgroup2",) if fstype == "cgroup2" else tuple(sorted(controllers))
        if ident in seen_sets or key in found:
            continue
        seen_sets.add(ident)
        found[key] = Hierarchy(key, mountpoint, mount_root, controllers, fstype == "cgroup2")
    return list(found.values())


def _scan_tree(root: str) -> list[Hierarchy]:
    """A stand-in tree (tests): cgroup.controllers at the root means v2; otherwise each subdirectory
    is a v1 hierarchy named after its controllers, and one holding cgroup.controllers is cgroup2."""
    if exists(join(root, "cgroup.controllers")):
        return [Hierarchy("", root, "/", (), True)]
    found = []
    for name in sorted(posix.listdir(root)):
        path = join(root, name)
        if not isdir(path):
            continue
        if exists(join(path, "cgroup.controllers")):
            found.append(Hierarchy(name, path, "/", (), True))
        else:
            ctrls = tuple(c for c in name.split(",") if c in _V1_CONTROLLERS)
            if name == "systemd":
                ctrls = ("name=systemd",)
            if ctrls:
                found.append(Hierarchy(name, path, "/", ctrls, False))
    return found


def _read(path: str) -> str:
    """A small kernel file's text, without a file object (pyrunc/posixfs.py)."""
    return read(path).decode(errors="surrogateescape")


def detect(root: str = "/sys/fs/cgroup", mountinfo: str | None = None) -> Layout:
    """The layout under `root`, from /proc/self/mountinfo (or `mountinfo` text).

    When nothing is mounted under `root` (a test's stand-in directory), the tree itself is read.
    """
    if mountinfo is None:
        mountinfo = _read("/proc/self/mountinfo")
    hierarchies = parse_mountinfo(mountinfo, root)
    if not hierarchies and isdir(root):
        hierarchies = _scan_tree(root)
    if not hierarchies:
        raise PyruncError(f"no cgroup filesystem is mounted under {root}")
    has_v1 = any(not h.v2 for h in hierarchies)
    has_v2 = any(h.v2 for h in hierarchies)
    if has_v2 and not has_v1:
        return Layout(V2, root, [h for h in hierarchies if h.v2][:1])
    v2_controllers: tuple[str, ...] = ()
    if has_v2:
        unified = next(h for h in hierarchies if h.v2)
        try:
            v2_controllers = tuple(_read(join(unified.mountpoint, "cgroup.controllers")).split())
        except OSError:
            v2_controllers = ()
    return Layout(HYBRID if has_v2 else V1, root, hierarchies, v2_controllers)


def parse_self_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controller or "name=x": path}, with "" for the cgroup2 line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            out[""] = parts[2]
        else:
            for ctrl in parts[1].split(","):
                out[ctrl] = parts[2]
    return out


def read_self_cgroup() -> str:
    """The runtime's own /proc/self/cgroup, for relative cgroupsPath values."""
    return _read("/proc/self/cgroup")


def usable_by_caller(dirs: dict[str, str]) -> set[str]:
    """A host fact for an unprivileged runtime (planner.restrict): the keys of `dirs` whose directory
    the caller can enter, or make below its nearest existing ancestor, as in a subtree delegated to
    it (systemd chowns the directory and its cgroup.procs, cgroup.subtree_control, cgroup.threads)."""
    usable = set()
    for key, d in dirs.items():
        probe = d
        while not isdir(probe) and probe != "/":
            probe = dirname(probe)
        if probe == d:
            ok = posix.access(join(d, "cgroup.procs"), posix.W_OK)
        else:
            ok = posix.access(probe, posix.W_OK | posix.X_OK) and posix.access(join(probe, "cgroup.procs"), posix.W_OK)
        if ok:
            usable.add(key)
    return usable
