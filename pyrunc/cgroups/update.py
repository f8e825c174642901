"""`update`: new linux.resources for a running container, planned (pure) like create's.

runc's rules: a zero, empty or absent value leaves the setting as it is (docker sends zeros for
what it does not change); a CPU quota without a period keeps the period that is set, and the
other way round; the pids limit 0 means unchanged too (runc 1.1's flag default). The writes
come from the same resources planner create uses, for the fields that change, with the recorded
value of a field's partner where the kernel needs both (quota and period, swap and limit).
"""


from pyrunc.cgroups import devices, resources
from pyrunc.cgroups.layout import V2, Layout
from pyrunc.cgroups.planner import _Placer
from pyrunc.cgroups.resources import Write, refuse
from pyrunc.errors import PyruncError

# The fields runc's update copies, where zero or empty means "leave as it is".
_KEEP_IF_ZERO = {
    "memory": ("limit", "reservation", "swap"),
    "cpu": ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "burst", "cpus", "mems"),
    "blockIO": ("weight",),
    "pids": ("limit",),
}
IGNORED_MEMORY = ("kernel", "kernelTCP")  # runc 1.1 warns that these are ignored


def _set(value: object) -> bool:
    return value not in (None, 0, "")


def changes(new: dict) -> dict:
    """The part of an update's LinuxResources that changes something, in the same shape: runc's
    fields when not zero or empty, any other field when present (applied, or refused by the
    planner, rather than dropped as runc 1.1 drops what its update does not copy)."""
    if not isinstance(new, dict):
        raise PyruncError("resources: must be an object")
    out: dict = {}
    for group, given in new.items():
        if group not in _KEEP_IF_ZERO:
            if given not in (None, [], {}):
                out[group] = given
            continue
        if given is None:
            continue
        if not isinstance(given, dict):
            raise PyruncError(f"linux.resources.{group}: must be an object")
        keep_if_zero = _KEEP_IF_ZERO[group]
        picked = {k: v for k, v in given.items() if v is not None and (k not in keep_if_zero or _set(v))}
        if picked.keys() - {"checkBeforeUpdate"}:
            out[group] = picked
    return out


def merge(old: dict, delta: dict) -> dict:
    """The resources to record: the old ones with the delta's values over them."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (old or {}).items()}
    for key, value in delta.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "checkBeforeUpdate"}
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _with_partners(delta: dict, merged: dict) -> dict:
    """The delta plus the recorded half of a pair the kernel takes together."""
    res = {k: (dict(v) if isinstance(v, dict) else v) for k, v in delta.items()}
    cpu, old_cpu = res.get("cpu"), merged.get("cpu") or {}
    if cpu and ("quota" in cpu or "period" in cpu):
        for key in ("quota", "period"):
            if key not in cpu and _set(old_cpu.get(key)):
                cpu[key] = old_cpu[key]
    mem, old_mem = res.get("memory"), merged.get("memory") or {}
    if mem and "swap" in mem and "limit" not in mem and _set(old_mem.get("limit")):
        mem["limit"] = old_mem["limit"]
    return res


class UpdatePlan:
    """The writes of an update, in order: device transition first, then the resources."""

    __slots__ = ("writes", "memory_check")

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.memory_check: tuple[str, int] | None = None


def _swap_first(writes: list[Write], limit_now: int | None) -> list[Write]:
    """v1 checks memory <= memory+swap on every write: when the new memory+swap limit is above the
    current memory limit, write it first (runc's setMemoryAndSwap)."""
    files = [w[1] for w in writes]
    if "memory.limit_in_bytes" not in files or "memory.memsw.limit_in_bytes" not in files:
        return writes
    swap = next(w for w in writes if w[1] == "memory.memsw.limit_in_bytes")
    if limit_now is not None and int(swap[2]) != -1 and limit_now >= int(swap[2]):
        return writes
    rest = [w for w in writes if w is not swap]
    at = files.index("memory.limit_in_bytes")
    return rest[:at] + [swap] + rest[at:]


def plan(delta: dict, merged: dict, layout: Layout, paths: dict[str, str], *,
         devices_list: str | None = None, memory_limit_now: int | None = None) -> UpdatePlan:
    """The writes applying `delta` (changes()) to the cgroups at `paths` (the state's record).

    devices_list: the v1 devices cgroup's devices.list, read beforehand, when delta changes devices;
    memory_limit_now: the v1 memory.limit_in_bytes, read beforehand, for the order of memory writes."""
    place = _Placer(layout, paths)
    out = UpdatePlan()
    if "devices" in delta:
        default_allow, exceptions = devices.reduce(devices.config_rules({"resources": {"devices": delta["devices"]}}))
        dev_h = None if layout.version == V2 else layout.v1_for("devices")
        if dev_h is None:
            raise refuse("linux.resources.devices", "update changes device rules only on a v1 devices cgroup")
        d = paths[dev_h.key]
        out.writes += [(d, f, v, "linux.resources.devices")
                       for f, v in devices.transition(devices_list or "a *:* rwm", default_allow, exceptions)]
    res = _with_partners({k: v for k, v in delta.items() if k != "devices"}, merged)
    collected = resources.plan_resources(res, place)
    out.writes += _swap_first(collected.writes, memory_limit_now)
    out.memory_check = collected.memory_check
    return out
