"""--systemd-cgroup: linux.cgroupsPath read as runc reads it ("slice:prefix:name"), and the cgroup
systemd would make for it, computed as runc 1.1's libcontainer/cgroups/systemd does it:

    ExpandSlice("a-b.slice")      -> "/a.slice/a-b.slice"  ("-.slice" is the root, "/")
    getUnitName(prefix, name)     -> "<prefix>-<name>.scope", or `name` itself when it is a slice
    v1 (and the hybrid cgroup2)   -> <mountpoint>/<pid 1's cgroup there, less "init.scope">/<slice>/<unit>
    v2                            -> <mountpoint>/<slice>/<unit>

The cgroup belongs to systemd: without a systemd running (/run/systemd/system, runc's
IsRunningSystemd) there is nobody to make the unit, and create stops with runc's error before
doing anything. With systemd running, the unit is made as runc makes it (unit()): once the init
exists, StartTransientUnit with runc's properties (Description, Slice or Wants, Delegate, PIDs,
accounting, DefaultDependencies), waiting for the job's JobRemoved signal; then SetUnitProperties
with the resource properties runc derives from linux.resources, then the cgroupfs writes as for
any container; delete stops the unit (StopUnit, ResetFailedUnit). The D-Bus conversation itself
is systemd_dbus.py.
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
USER_SLICE = "user.slice"  # rootless: the default slice of the user's systemd instance
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


class Unit:
    """The transient unit runc would ask systemd for: its name, the properties it is started with
    (PIDs added once the init exists) and the resource properties set on it afterwards, each as
    (name, D-Bus signature, value, lowest systemd version that knows it)."""

    __slots__ = ("name", "properties", "resources", "user")

    def __init__(self, name: str, properties: list, resources: list, user: bool = False) -> None:
        self.name = name
        self.properties = properties
        self.resources = resources
        self.user = user  # the caller's systemd instance, on its session bus

    @property
    def bus(self) -> str:
        return "the user's session bus" if self.user else "D-Bus"

    def describe(self) -> tuple[str, ...]:
        return tuple(f"{n}={v!r}" + (f" (systemd >= {m})" if m else "")
                     for n, _, v, m in (*self.properties, *self.resources))


_UINT64_MAX = 2**64 - 1
_DEFAULT_PERIOD = 100000  # the kernel's cfs period, as runc's defCPUQuotaPeriod


def range_to_bits(cpus: str) -> bytes:
    """runc's RangeToBits: "0-2,4" as the little-endian bitmask systemd's AllowedCPUs takes."""
    n = 0
    for part in cpus.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        start, end = int(lo), int(hi) if sep else int(lo)
        if start > end:
            raise PyruncError(f"invalid range: {part}")
        n |= ((1 << (end - start + 1)) - 1) << start
    if not n:
        raise PyruncError(f"resources.CPU.Cpus={cpus!r} conversion error: empty value")
    return n.to_bytes((n.bit_length() + 7) // 8, "little")


def _num(obj: dict, key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def device_properties(default_allow: bool, exceptions: list) -> list:
    """runc's devices/systemd.go for systemd >= 240: strict policy with the allowed devices listed
    (an earlier DeviceAllow cleared first; "n:*" as char-n, where runc 1.1 looks up the group
    name in /proc/devices, which every systemd accepts but planning does not read); systemd has
    no deny list, so a default allow with exceptions is a temporary deny-all, as in runc, until
    pyrunc's own device rules follow."""
    clear = ("DeviceAllow", "a(ss)", [], 0)
    if default_allow:
        return [("DevicePolicy", "s", "auto" if not exceptions else "strict", 0), clear]
    allow = []
    for (kind, major, minor), access in sorted(exceptions):  # runc's emulator order: type, major, minor
        group = {"b": "block-", "c": "char-"}.get(kind)
        if group is None or (major < 0 <= minor):  # systemd cannot say "*:n"; runc skips it too
            continue
        if major < 0:
            path = f"{group}*"
        elif minor < 0:
            path = f"{group}{major}"
        else:
            path = f"/dev/{'block' if kind == 'b' else 'char'}/{major}:{minor}"
        allow.append((path, access))
    return [("DevicePolicy", "s", "strict", 0), clear, ("DeviceAllow", "a(ss)", allow, 0)]  # runc 1.1's order


def resource_properties(res: dict, v2: bool, device_rules: tuple[bool, list] | None = None) -> list:
    """runc's genV1ResourcesProperties / genV2ResourcesProperties, less the unified map; without
    `device_rules` none are sent (runc 1.1's update sets SkipDevices)."""
    from pyrunc.cgroups.resources import shares_to_weight

    props: list = device_properties(*device_rules) if device_rules is not None else []
    mem, cpu = res.get("memory") or {}, res.get("cpu") or {}
    limit, reservation, swap = _num(mem, "limit"), _num(mem, "reservation"), _num(mem, "swap")
    if v2:
        if limit:
            props.append(("MemoryMax", "t", limit & _UINT64_MAX, 0))
        if reservation:
            props.append(("MemoryLow", "t", reservation & _UINT64_MAX, 0))
        if swap and limit and swap != -1:  # ConvertMemorySwapToCgroupV2Value: swap less memory
            props.append(("MemorySwapMax", "t", max(swap - limit, 0), 0))
        if _num(cpu, "shares"):
            props.append(("CPUWeight", "t", shares_to_weight(_num(cpu, "shares")), 0))
    else:
        if limit:
            props.append(("MemoryLimit", "t", limit & _UINT64_MAX, 0))
        if _num(cpu, "shares"):
            props.append(("CPUShares", "t", _num(cpu, "shares"), 0))
    quota, period = _num(cpu, "quota"), _num(cpu, "period")
    if period:
        props.append(("CPUQuotaPeriodUSec", "t", period, 242))
    if quota or period:
        per_sec = _UINT64_MAX
        if quota > 0:
            per_sec = quota * 1000000 // (period or _DEFAULT_PERIOD)
            per_sec = -(-per_sec // 10000) * 10000  # rounded up to whole percents, as runc
        props.append(("CPUQuotaPerSecUSec", "t", per_sec, 0))
    weight = _num(res.get("blockIO") or {}, "weight")
    if weight and not v2:
        props.append(("BlockIOWeight", "t", weight, 0))
    pids = res.get("pids") or {}
    if isinstance(pids.get("limit"), int):
        n = pids["limit"]
        props.append(("TasksMax", "t", _UINT64_MAX if n < 0 else (n or 1), 0))  # systemd refuses 0
    for key, prop in (("cpus", "AllowedCPUs"), ("mems", "AllowedMemoryNodes")):
        if cpu.get(key):
            props.append((prop, "ay", range_to_bits(cpu[key]), 244))
    return props


def unit(value: str | None, container_id: str, resources: dict, v2: bool,
         device_rules: tuple[bool, list] = (True, []), user: bool = False) -> Unit:
    """runc's Apply: the unit and the properties it is started with, for this cgroupsPath; `user`:
    a unit of the caller's own systemd instance, in user.slice unless the path names a slice."""
    parent, prefix, name = parse(value, container_id)
    unit_ = unit_name(prefix, name)
    slice_ = parent or (USER_SLICE if user else DEFAULT_SLICE)
    props: list = [("Description", "s", f"libcontainer container {name}", 0)]
    if unit_.endswith(".slice"):
        props.append(("Wants", "as", [slice_], 0))
    else:
        props += [("Slice", "s", slice_, 0), ("Delegate", "b", True, 0)]
    props += [(p, "b", True, 0) for p in ("MemoryAccounting", "CPUAccounting",
                                          "IOAccounting" if v2 else "BlockIOAccounting", "TasksAccounting")]
    props.append(("DefaultDependencies", "b", False, 0))
    return Unit(unit_, props, resource_properties(resources if isinstance(resources, dict) else {}, v2, device_rules),
                user)


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
    """Where an unprivileged caller's systemd instance listens, as runc's
    DetectUserDbusSessionBusAddress finds it: $DBUS_SESSION_BUS_ADDRESS, else
    unix:path=$XDG_RUNTIME_DIR/bus when that socket exists."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    bus = os.path.join(xdg, "bus") if xdg else ""
    return f"unix:path={bus}" if bus and os.path.exists(bus) else None


def no_user_bus() -> str:
    """The one line for an unprivileged --systemd-cgroup with no session bus, naming what was tried."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    tried = f"no {os.path.join(xdg, 'bus')}" if xdg else "$XDG_RUNTIME_DIR unset"
    return ("rootless --systemd-cgroup asks the user's systemd instance on its session bus, and none was found: "
            f"$DBUS_SESSION_BUS_ADDRESS unset, {tried}")


def user_path(mountpoint: str, manager_cgroup: str, parent: str, prefix: str, name: str) -> str:
    """runc's rootless initPath: below the user manager's own cgroup (its ControlGroup property),
    the slice (user.slice by default) and the unit."""
    return _join(mountpoint, manager_cgroup, expand_slice(parent) if parent else USER_SLICE, unit_name(prefix, name))


def preflight(value: str | None, container_id: str, layout: "Layout", systemd_running: bool | None = None,
              user: bool = False) -> tuple[str, str, str]:
    """runc's checks, in runc's order, before anything is asked of systemd: the path's format, a
    systemd running; for a `user` unit, a cgroup2 hierarchy (pyrunc also takes a hybrid host's,
    where runc 1.1's v1 manager refuses). parse()'s result."""
    parsed = parse(value, container_id)
    if not (running() if systemd_running is None else systemd_running):
        raise PyruncError(NOT_RUNNING)
    if user and layout.unified is None:
        raise PyruncError("cannot use rootless systemd cgroups manager on cgroup v1")  # runc's words
    return parsed


def dirs(value: str | None, container_id: str, layout: "Layout", pid1_cgroup: str | None = None,
         systemd_running: bool | None = None, manager_cgroup: str | None = None) -> dict[str, str]:
    """hierarchy key -> the container's cgroup there. `pid1_cgroup`: /proc/1/cgroup's text, read here
    on a v1 or hybrid host when not passed; `systemd_running`: checked on the host when not passed.
    `manager_cgroup`: an unprivileged runtime's unit is its caller's systemd instance's, made below
    that instance's cgroup (asked of it over the session bus before planning)."""
    from pyrunc.cgroups.layout import V2, parse_self_cgroup

    parent, prefix, name = preflight(value, container_id, layout, systemd_running, manager_cgroup is not None)
    if manager_cgroup is not None:
        return {h.key: user_path(h.mountpoint, manager_cgroup, parent, prefix, name) for h in layout.hierarchies}
    if layout.version == V2:
        return {h.key: v2_path(h.mountpoint, parent, prefix, name) for h in layout.hierarchies}
    if pid1_cgroup is None:
        with open("/proc/1/cgroup") as f:
            pid1_cgroup = f.read()
    init = parse_self_cgroup(pid1_cgroup)
    return {h.key: v1_path(h.mountpoint, init.get("" if h.v2 else h.controllers[0], "/"), parent, prefix, name)
            for h in layout.hierarchies}
