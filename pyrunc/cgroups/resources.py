"""linux.resources -> the file writes that apply it: pure, one function per controller.

Each controller's settings go to v1 files or v2 files depending on where the layout puts that
controller (`place`). Zero for a number means "unset", as in runc's configs (shares, quota,
period, weights, realtime, memory limits); pids.limit 0 is a real limit (runtime-spec 1.3).
A field the host cannot apply, or this module does not implement, is refused: never ignored.
Only a config with limits loads this module (planner.plan); devices are cgroups/devices.py's.
"""


from pyrunc import config
from pyrunc.errors import PyruncError, refuse

# (directory, file, value, json path)
Write = tuple[str, str, str, str]

RESOURCE_FIELDS = frozenset(
    ("devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified")
)
_MEMORY_FIELDS = frozenset(("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
                            "disableOOMKiller", "useHierarchy", "checkBeforeUpdate"))
_CPU_FIELDS = frozenset(("shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus",
                         "mems", "idle"))
_BLKIO_THROTTLES = (("throttleReadBpsDevice", "read_bps_device", "rbps"),
                    ("throttleWriteBpsDevice", "write_bps_device", "wbps"),
                    ("throttleReadIOPSDevice", "read_iops_device", "riops"),
                    ("throttleWriteIOPSDevice", "write_iops_device", "wiops"))
_BLKIO_FIELDS = frozenset(("weight", "leafWeight", "weightDevice")) | {t[0] for t in _BLKIO_THROTTLES}
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1


def _unknown(obj: dict, known: frozenset[str], path: str) -> None:
    for key in obj:
        if key not in known:
            config.unknown(f"{path}.{key}")


def _obj(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise PyruncError(f"{path}: must be an object")
    return value


def _list(value: object, path: str) -> list:
    if not isinstance(value, list):
        raise PyruncError(f"{path}: must be an array")
    return value


def _int(obj: dict, key: str, path: str, lo: int = -1, hi: int = _INT64_MAX) -> int | None:
    """obj[key] as an int in [lo, hi], or None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise PyruncError(f"{path}.{key}: {value!r} is not an integer")
    if value < lo or value > hi:
        low = "-1 (unlimited)" if lo == -1 else str(lo)
        raise PyruncError(f"{path}.{key}: {value} is out of range ({low} to {hi})")
    return value


def _bool(obj: dict, key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is not None and type(value) is not bool:
        raise PyruncError(f"{path}.{key}: {value!r} is not true or false")
    return value


def _num(value: int) -> str:
    """-1 is unlimited: "max" in v2 files."""
    return "max" if value == -1 else str(value)


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100), runc >= 1.3's curve."""
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    import math  # v2 only: kept off the import path of every run

    lg = math.log2(shares)
    return math.ceil(math.pow(10, (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0))


def blkio_to_io_weight(weight: int) -> int:
    """blkio/BFQ weight (10..1000) -> io.weight (1..10000), as runc converts."""
    return max(1, 1 + (weight - 10) * 9999 // 990)


def on_missing(file: str, value: str) -> tuple[str, str] | tuple[()] | None:
    """What to do when `file` does not exist in the cgroup: another (file, value), () to skip the write
    because the host's default already means the same, or None: the setting cannot be applied."""
    if file == "memory.swap.max" and value in ("max", "0"):
        return ()  # no swap accounting: there is no swap to limit
    if file == "memory.memsw.limit_in_bytes" and value == "-1":
        return ()
    if file.endswith(".rsvd.max") or file.endswith(".rsvd.limit_in_bytes"):
        return ()  # no reservation accounting: the usage limit written before it applies
    if file in ("blkio.bfq.weight", "blkio.bfq.weight_device"):
        return file.replace(".bfq", ""), value
    if file == "io.bfq.weight":
        dev, _, weight = value.rpartition(" ")
        converted = str(blkio_to_io_weight(int(weight)))
        return "io.weight", f"{dev} {converted}" if dev else converted
    return None


class Collector:
    """Accumulates writes, plus the one check that is not a write (memory.checkBeforeUpdate on v2)."""

    __slots__ = ("writes", "memory_check")

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.memory_check: tuple[str, int] | None = None

    def add(self, directory: str, file: str, value: object, json_path: str) -> None:
        self.writes.append((directory, file, str(value), json_path))


# `place(controller, json_path) -> (directory, is_v2)` says where a controller lives (v1 names:
# "blkio" is v2's "io") and raises when it is not mounted; `place.unified(controller, json_path)`
# gives the cgroup2 directory for a linux.resources.unified key.


def memory(mem: dict, place, out: Collector) -> None:
    p = "linux.resources.memory"
    _unknown(mem, _MEMORY_FIELDS, p)
    limit = _int(mem, "limit", p) or 0
    reservation = _int(mem, "reservation", p) or 0
    swap = _int(mem, "swap", p) or 0
    swappiness = _int(mem, "swappiness", p, 0, _UINT64_MAX)
    disable_oom = _bool(mem, "disableOOMKiller", p)
    hierarchy = _bool(mem, "useHierarchy", p)
    check = _bool(mem, "checkBeforeUpdate", p)
    kernel = _int(mem, "kernel", p)
    kernel_tcp = _int(mem, "kernelTCP", p)
    if kernel not in (None, 0, -1):
        raise refuse(f"{p}.kernel", "kernel memory limits no longer exist in Linux")
    if not (limit or reservation or swap or swappiness is not None or disable_oom or hierarchy is not None
            or kernel_tcp not in (None, 0)):
        return
    d, v2 = place("memory", p)
    if limit > 0 and swap > 0 and swap < limit:
        raise PyruncError(f"{p}.swap: memory+swap limit ({swap}) must be >= the memory limit ({limit})")
    if not v2:
        if limit == -1 and swap == 0:
            swap = -1  # runc: unlimited memory means unlimited swap unless the config says otherwise
        if swap == -1:
            out.add(d, "memory.memsw.limit_in_bytes", -1, f"{p}.swap")
        if limit:
            out.add(d, "memory.limit_in_bytes", limit, f"{p}.limit")
        if swap and swap != -1:
            out.add(d, "memory.memsw.limit_in_bytes", swap, f"{p}.swap")
        if reservation:
            out.add(d, "memory.soft_limit_in_bytes", reservation, f"{p}.reservation")
        if kernel_tcp:
            out.add(d, "memory.kmem.tcp.limit_in_bytes", kernel_tcp, f"{p}.kernelTCP")
        if swappiness is not None:
            if swappiness > 100:
                raise PyruncError(f"{p}.swappiness: {swappiness} is out of range (0 to 100)")
            out.add(d, "memory.swappiness", swappiness, f"{p}.swappiness")
        if disable_oom:
            out.add(d, "memory.oom_control", 1, f"{p}.disableOOMKiller")
        if hierarchy is not None:
            out.add(d, "memory.use_hierarchy", int(hierarchy), f"{p}.useHierarchy")
        return  # checkBeforeUpdate: the v1 kernel itself refuses a limit below the usage
    if kernel_tcp not in (None, 0, -1):
        raise refuse(f"{p}.kernelTCP", "cgroup v2 has no separate TCP memory limit")
    if swappiness is not None:
        raise refuse(f"{p}.swappiness", "cgroup v2 has no per-cgroup swappiness")
    if disable_oom:
        raise refuse(f"{p}.disableOOMKiller", "cgroup v2 cannot disable the OOM killer")
    if hierarchy is False:
        raise refuse(f"{p}.useHierarchy", "cgroup v2 accounting is always hierarchical")
    # memory.swap.max is swap alone in v2, memory+swap in the config (runc's conversion).
    if swap == -1 or (limit == -1 and swap == 0):
        out.add(d, "memory.swap.max", "max", f"{p}.swap")
    elif swap:
        if limit <= 0:
            raise PyruncError(f"{p}.swap: a swap limit needs a memory limit")
        out.add(d, "memory.swap.max", swap - limit, f"{p}.swap")
    if limit:
        if check and limit > 0:
            out.memory_check = (d, limit)
        out.add(d, "memory.max", _num(limit), f"{p}.limit")
    if reservation:
        out.add(d, "memory.low", _num(reservation), f"{p}.reservation")


def _cpu_list(cpu: dict, key: str, p: str) -> str | None:
    value = cpu.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip() or set(value.strip()) - set("0123456789,-"):
        raise PyruncError(f"{p}.{key}: {value!r} is not a list like 0-3,7")
    return value.strip()


def cpuset(cpu: dict, place, out: Collector) -> None:
    """cpu.cpus and cpu.mems belong to the cpuset controller, a hierarchy of its own on v1."""
    p = "linux.resources.cpu"
    cpus, mems = _cpu_list(cpu, "cpus", p), _cpu_list(cpu, "mems", p)
    if cpus is not None:
        d, _ = place("cpuset", f"{p}.cpus")
        out.add(d, "cpuset.cpus", cpus, f"{p}.cpus")
    if mems is not None:
        d, _ = place("cpuset", f"{p}.mems")
        out.add(d, "cpuset.mems", mems, f"{p}.mems")


def cpu(cpu: dict, place, out: Collector) -> None:
    p = "linux.resources.cpu"
    _unknown(cpu, _CPU_FIELDS, p)
    shares = _int(cpu, "shares", p, 0, _UINT64_MAX) or 0
    quota = _int(cpu, "quota", p) or 0
    period = _int(cpu, "period", p, 0, _UINT64_MAX) or 0
    burst = _int(cpu, "burst", p, 0, _UINT64_MAX)
    rt_period = _int(cpu, "realtimePeriod", p, 0, _UINT64_MAX) or 0
    rt_runtime = _int(cpu, "realtimeRuntime", p) or 0
    idle = _int(cpu, "idle", p, 0, 1)
    if burst is not None and quota > 0 and burst > quota:
        raise PyruncError(f"{p}.burst: {burst} is larger than the quota ({quota})")
    if idle == 1 and shares:
        raise PyruncError(f"{p}.shares: cannot be set when {p}.idle is 1 (idle means the minimum weight)")
    if not (shares or quota or period or burst is not None or rt_period or rt_runtime or idle is not None):
        return
    d, v2 = place("cpu", p)
    if not v2:
        if rt_period:
            out.add(d, "cpu.rt_period_us", rt_period, f"{p}.realtimePeriod")
        if rt_runtime:
            out.add(d, "cpu.rt_runtime_us", rt_runtime, f"{p}.realtimeRuntime")
        if shares:
            if not 2 <= shares <= 262144:
                raise PyruncError(f"{p}.shares: {shares} is out of range (2 to 262144)")
            out.add(d, "cpu.shares", shares, f"{p}.shares")
        if period:
            out.add(d, "cpu.cfs_period_us", period, f"{p}.period")
        if quota:
            out.add(d, "cpu.cfs_quota_us", quota, f"{p}.quota")
        if burst is not None:
            out.add(d, "cpu.cfs_burst_us", burst, f"{p}.burst")
        if idle is not None:
            out.add(d, "cpu.idle", idle, f"{p}.idle")
        return
    if rt_period or rt_runtime:
        raise refuse(f"{p}.realtimeRuntime" if rt_runtime else f"{p}.realtimePeriod",
                     "cgroup v2 has no real-time group scheduling")
    if idle is not None:
        out.add(d, "cpu.idle", idle, f"{p}.idle")
    if shares:
        out.add(d, "cpu.weight", shares_to_weight(shares), f"{p}.shares")
    if quota or period:
        value = str(quota) if quota > 0 else "max"
        if period:
            value += f" {period}"
        out.add(d, "cpu.max", value, f"{p}.quota" if quota else f"{p}.period")
    if burst is not None:
        out.add(d, "cpu.max.burst", burst, f"{p}.burst")


def pids(pids: dict, place, out: Collector) -> None:
    p = "linux.resources.pids"
    _unknown(pids, frozenset(("limit",)), p)
    limit = _int(pids, "limit", p)
    if limit is None:
        return
    d, _ = place("pids", p)
    out.add(d, "pids.max", _num(limit), f"{p}.limit")


def _device(entry: object, path: str) -> tuple[dict, str]:
    entry = _obj(entry, path)
    major = _int(entry, "major", path, 0, 0xFFFFFFFF)
    minor = _int(entry, "minor", path, 0, 0xFFFFFFFF)
    if major is None or minor is None:
        raise PyruncError(f"{path}: major and minor are required")
    return entry, f"{major}:{minor}"


def block_io(blkio: dict, place, out: Collector) -> None:
    p = "linux.resources.blockIO"
    _unknown(blkio, _BLKIO_FIELDS, p)
    if _int(blkio, "leafWeight", p, 0, 1000):
        raise refuse(f"{p}.leafWeight", "leaf weights went with the CFQ scheduler")
    weight = _int(blkio, "weight", p, 0, 1000) or 0
    devices = _list(blkio.get("weightDevice") or [], f"{p}.weightDevice")
    throttles = [(key, v1name, v2name, _list(blkio.get(key) or [], f"{p}.{key}"))
                 for key, v1name, v2name in _BLKIO_THROTTLES]
    if not (weight or devices or any(t[3] for t in throttles)):
        return
    d, v2 = place("blkio", p)
    if weight:
        out.add(d, "io.bfq.weight" if v2 else "blkio.bfq.weight", weight, f"{p}.weight")
    for i, entry in enumerate(devices):
        wp = f"{p}.weightDevice[{i}]"
        entry, dev = _device(entry, wp)
        _unknown(entry, frozenset(("major", "minor", "weight", "leafWeight")), wp)
        if _int(entry, "leafWeight", wp, 0, 1000):
            raise refuse(f"{wp}.leafWeight", "leaf weights went with the CFQ scheduler")
        w = _int(entry, "weight", wp, 1, 1000)
        if w is None:
            raise PyruncError(f"{wp}: weight is required")
        out.add(d, "io.bfq.weight" if v2 else "blkio.bfq.weight_device", f"{dev} {w}", f"{wp}.weight")
    for key, v1name, v2name, entries in throttles:
        for i, entry in enumerate(entries):
            tp = f"{p}.{key}[{i}]"
            entry, dev = _device(entry, tp)
            _unknown(entry, frozenset(("major", "minor", "rate")), tp)
            rate = _int(entry, "rate", tp, 0, _UINT64_MAX)
            if rate is None:
                raise PyruncError(f"{tp}.rate: required")
            if v2:
                out.add(d, "io.max", f"{dev} {v2name}={rate}", f"{tp}.rate")
            else:
                out.add(d, f"blkio.throttle.{v1name}", f"{dev} {rate}", f"{tp}.rate")


def hugepages(limits: list, place, out: Collector) -> None:
    p = "linux.resources.hugepageLimits"
    for i, entry in enumerate(limits):
        hp = f"{p}[{i}]"
        entry = _obj(entry, hp)
        _unknown(entry, frozenset(("pageSize", "limit")), hp)
        size = entry.get("pageSize")
        if (not isinstance(size, str) or len(size) < 3 or size[-1] != "B" or size[-2] not in "KMG"
                or not size[:-2].isdigit() or not size[:-2].isascii() or size[0] == "0"):
            raise PyruncError(f"{hp}.pageSize: {size!r} is not a size like 2MB")
        limit = _int(entry, "limit", hp, 0, _UINT64_MAX)
        if limit is None:
            raise PyruncError(f"{hp}.limit: required")
        d, v2 = place("hugetlb", hp)
        if v2:
            out.add(d, f"hugetlb.{size}.max", limit, f"{hp}.limit")
            out.add(d, f"hugetlb.{size}.rsvd.max", limit, f"{hp}.limit")
        else:
            out.add(d, f"hugetlb.{size}.limit_in_bytes", limit, f"{hp}.limit")
            out.add(d, f"hugetlb.{size}.rsvd.limit_in_bytes", limit, f"{hp}.limit")


def network(net: dict, place, out: Collector) -> None:
    p = "linux.resources.network"
    _unknown(net, frozenset(("classID", "priorities")), p)
    class_id = _int(net, "classID", p, 0, 0xFFFFFFFF)
    if class_id is not None:
        d, v2 = place("net_cls", f"{p}.classID")
        if v2:
            raise refuse(f"{p}.classID", "cgroup v2 has no net_cls controller")
        out.add(d, "net_cls.classid", class_id, f"{p}.classID")
    for i, entry in enumerate(_list(net.get("priorities") or [], f"{p}.priorities")):
        pp = f"{p}.priorities[{i}]"
        entry = _obj(entry, pp)
        _unknown(entry, frozenset(("name", "priority")), pp)
        name = entry.get("name")
        prio = _int(entry, "priority", pp, 0, 0xFFFFFFFF)
        if not isinstance(name, str) or not name or set(name) & set(" \t\n\0/") or prio is None:
            raise PyruncError(f"{pp}: needs an interface name and a priority")
        d, v2 = place("net_prio", pp)
        if v2:
            raise refuse(pp, "cgroup v2 has no net_prio controller")
        out.add(d, "net_prio.ifpriomap", f"{name} {prio}", f"{pp}.priority")


def rdma(devices: dict, place, out: Collector) -> None:
    p = "linux.resources.rdma"
    for name, entry in devices.items():
        rp = f"{p}.{name}"
        entry = _obj(entry, rp)
        _unknown(entry, frozenset(("hcaHandles", "hcaObjects")), rp)
        handles = _int(entry, "hcaHandles", rp, 0, 0xFFFFFFFF)
        objects = _int(entry, "hcaObjects", rp, 0, 0xFFFFFFFF)
        if handles is None and objects is None:
            raise PyruncError(f"{rp}: needs hcaHandles or hcaObjects")
        if not name or set(name) & set(" \t\n\0/"):
            raise PyruncError(f"{rp}: invalid device name")
        d, _ = place("rdma", rp)
        value = name
        if handles is not None:
            value += f" hca_handle={handles}"
        if objects is not None:
            value += f" hca_object={objects}"
        out.add(d, "rdma.max", value, rp)


def unified(values: dict, place, out: Collector) -> None:
    """Files of the cgroup2 hierarchy, written as given, after everything else (they override)."""
    p = "linux.resources.unified"
    for key, value in values.items():
        up = f'{p}["{key}"]'
        if not isinstance(key, str) or not key or "/" in key or "\0" in key or key.startswith("."):
            raise PyruncError(f"{up}: not a cgroup file name")
        if not isinstance(value, str):
            raise PyruncError(f"{up}: the value must be a string")
        controller = key.partition(".")[0]
        out.add(place.unified(controller, up), key, value, up)


def plan_resources(resources: dict, place) -> Collector:
    """All writes for linux.resources except devices, in runc's controller order."""
    out = Collector()
    p = "linux.resources"
    _unknown(resources, RESOURCE_FIELDS, p)
    cpu_cfg = _obj(resources.get("cpu") or {}, f"{p}.cpu")
    cpuset(cpu_cfg, place, out)
    if resources.get("memory"):
        memory(_obj(resources["memory"], f"{p}.memory"), place, out)
    cpu(cpu_cfg, place, out)
    if resources.get("pids"):
        pids(_obj(resources["pids"], f"{p}.pids"), place, out)
    if resources.get("blockIO"):
        block_io(_obj(resources["blockIO"], f"{p}.blockIO"), place, out)
    if resources.get("hugepageLimits"):
        hugepages(_list(resources["hugepageLimits"], f"{p}.hugepageLimits"), place, out)
    if resources.get("network"):
        network(_obj(resources["network"], f"{p}.network"), place, out)
    if resources.get("rdma"):
        rdma(_obj(resources["rdma"], f"{p}.rdma"), place, out)
    if resources.get("unified"):
        unified(_obj(resources["unified"], f"{p}.unified"), place, out)
    return out
