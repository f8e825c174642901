"""--systemd-cgroup: linux.cgroupsPath read as runc reads it ("slice:prefix:name"), and the cgroup
systemd would make for it, computed as runc 1.1's libcontainer/cgroups/systemd does it:

    ExpandSlice("a-b.slice")      -> "/a.slice/a-b.slice"  ("-.slice" is the root, "/")
    getUnitName(prefix, name)     -> "<prefix>-<name>.scope", or `name` itself when it is a slice
    v1 (and the hybrid cgroup2)   -> <mountpoint>/<pid 1's cgroup there, less "init.scope">/<slice>/<unit>
    v2                            -> <mountpoint>/<slice>/<unit>

The cgroup belongs to systemd: without a systemd running (/run/systemd/system, runc's
IsRunningSystemd) there is nobody to make the unit, and create stops with runc's error before
doing anything. pyrunc has no D-Bus client: with systemd running, it makes the cgroup at the path
above itself, as a cgroupfs manager would.
"""

import os
import posixpath
import stat

from pyrunc.errors import PyruncError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyrunc.cgroups.layout import Layout

RUNNING_MARK = "/run/systemd/system"
DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "runc"  # runc's ScopePrefix when cgroupsPath is empty
NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"


def running(mark: str = RUNNING_MARK) -> bool:
    """runc's IsRunningSystemd: systemd makes this directory when it boots as pid 1."""
    try:
        return stat.S_ISDIR(os.lstat(mark).st_mode)
    except OSError:
        return False


def parse(value: str | None, container_id: str) -> tuple[str, str, str]:
    """(parent slice, scope prefix, name), as runc's specconv.CreateCgroupConfig splits them."""
    if not value:
        return "", DEFAULT_PREFIX, container_id
    parts = value.split(":")
    if len(parts) != 3:
        raise PyruncError('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                          f'got "{value}" instead')
    parent, prefix, name = parts
    if "\0" in value or "/" in prefix or "/" in name or name in ("", ".", ".."):
        raise PyruncError(f"linux.cgroupsPath: invalid systemd unit in {value!r}")  # pyrunc's guard
    return parent, prefix, name


def expand_slice(slice_name: str) -> str:
    """runc's ExpandSlice: a slice's path from the root slice down, every "-" one level deeper."""
    suffix = ".slice"
    if not slice_name.endswith(suffix) or "/" in slice_name:
        raise PyruncError(f"invalid slice name: {slice_name}")
    stem = slice_name[: -len(suffix)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for component in stem.split("-"):
        if not component:  # "a--b.slice", "-a.slice", ".slice"
            raise PyruncError(f"invalid slice name: {slice_name}")
        path += f"/{prefix}{component}{suffix}"
        prefix += f"{component}-"
    return path


def unit_name(prefix: str, name: str) -> str:
    """runc's getUnitName: a scope, unless the name asks for a slice."""
    return name if name.endswith(".slice") else f"{prefix}-{name}.scope"


def _join(*parts: str) -> str:
    """Go's filepath.Join: joined with "/" and cleaned."""
    return posixpath.normpath("/".join(p for p in parts if p))


def v2_path(mountpoint: str, parent: str, prefix: str, name: str) -> str:
    """unifiedManager.initPath: the slice and unit under the cgroup2 mount."""
    return _join(mountpoint, expand_slice(parent) if parent else DEFAULT_SLICE, unit_name(prefix, name))


def v1_path(mountpoint: str, init_cgroup: str, parent: str, prefix: str, name: str) -> str:
    """getSubsystemPath: below pid 1's own cgroup in the hierarchy (systemd >= 226 sits in init.scope)."""
    init = posixpath.normpath(init_cgroup or "/")
    init = init[: -len("init.scope")] if init.endswith("init.scope") else init
    return _join(mountpoint, init, expand_slice(parent) if parent else DEFAULT_SLICE, unit_name(prefix, name))


def user_bus() -> str | None:
    """Where an unprivileged caller's systemd instance listens (runc's rootless systemd driver dials
    the session bus): $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when that socket exists."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    bus = os.path.join(xdg, "bus") if xdg else ""
    return f"unix:path={bus}" if bus and os.path.exists(bus) else None


def dirs(value: str | None, container_id: str, layout: "Layout", pid1_cgroup: str | None = None,
         systemd_running: bool | None = None, rootless: bool = False) -> dict[str, str]:
    """hierarchy key -> the container's cgroup there. `pid1_cgroup`: /proc/1/cgroup's text, read here
    on a v1 or hybrid host when not passed; `systemd_running`: checked on the host when not passed.
    `rootless`: the unit would be the caller's systemd instance's, reached on its session bus."""
    from pyrunc.cgroups.layout import V2, parse_self_cgroup

    parent, prefix, name = parse(value, container_id)
    if not (running() if systemd_running is None else systemd_running):
        raise PyruncError(NOT_RUNNING)
    if rootless:
        if user_bus() is None:
            raise PyruncError("rootless --systemd-cgroup asks the user's systemd instance, and none is reachable: "
                              "no session bus ($DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus)")
        raise PyruncError("unsupported: rootless --systemd-cgroup (a unit of the user's systemd instance, "
                          "made over its session bus): pyrunc has no D-Bus client for it")
    if layout.version == V2:
        return {h.key: v2_path(h.mountpoint, parent, prefix, name) for h in layout.hierarchies}
    if pid1_cgroup is None:
        with open("/proc/1/cgroup") as f:
            pid1_cgroup = f.read()
    init = parse_self_cgroup(pid1_cgroup)
    return {h.key: v1_path(h.mountpoint, init.get("" if h.v2 else h.controllers[0], "/"), parent, prefix, name)
            for h in layout.hierarchies}
