"""`events` data: a container's cgroup statistics in runc's JSON shape (runc/types/events.go),
read from v1 or v2 files, each controller from the hierarchy the layout places it in.

Go's encoding decides which keys appear: `omitempty` numbers are left out when zero, struct
fields never are; this module builds the dicts the same way so that a caller parsing runc's
output reads pyrunc's.
"""

import os

from pyrunc.cgroups import fs
from pyrunc.cgroups.layout import V2, Layout

_NS_PER_USEC = 1000
_USER_HZ = 100  # sysconf(_SC_CLK_TCK) on Linux
_UINT64_MAX = (1 << 64) - 1


def _text(path: str) -> str | None:
    try:
        return fs.read(path)
    except OSError:
        return None


def _int(path: str, default: int = 0) -> int:
    text = _text(path)
    if text is None:
        return default
    text = text.strip()
    if text == "max":
        return _UINT64_MAX
    try:
        return int(text.split()[0]) if text else default
    except ValueError:
        return default


def _keyed(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat, memory.events)."""
    out = {}
    for line in (_text(path) or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            pass
    return out


def _nonzero(**fields: int) -> dict:
    """An `omitempty` struct: zero fields left out."""
    return {k: v for k, v in fields.items() if v}


def parse_list(text: str) -> list[int]:
    """A cpuset list ("0-3,7") as numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


class Where:
    """The directory of each controller of a container (its `paths` record and the host layout)."""

    def __init__(self, layout: Layout, paths: dict[str, str]) -> None:
        self.layout, self.paths = layout, paths
        unified = layout.unified
        self.v2_dir = paths.get(unified.key) if unified else None

    def __call__(self, controller: str) -> tuple[str | None, bool]:
        if self.layout.version == V2:
            return self.v2_dir, True
        h = self.layout.v1_for(controller)
        if h is not None and h.key in self.paths:
            return self.paths[h.key], False
        if self.v2_dir and controller in self.layout.v2_controllers:
            return self.v2_dir, True
        return None, False


def _cpu(where: Where) -> dict:
    d, v2 = where("cpu")
    usage: dict = {}
    throttling: dict = {}
    if v2 and d:
        st = _keyed(f"{d}/cpu.stat")
        usage = _nonzero(total=st.get("usage_usec", 0) * _NS_PER_USEC)
        usage |= {"kernel": st.get("system_usec", 0) * _NS_PER_USEC, "user": st.get("user_usec", 0) * _NS_PER_USEC}
        throttling = _nonzero(periods=st.get("nr_periods", 0), throttledPeriods=st.get("nr_throttled", 0),
                              throttledTime=st.get("throttled_usec", 0) * _NS_PER_USEC)
        return {"usage": usage, "throttling": throttling}
    acct, _ = where("cpuacct")
    if acct:
        percpu = [int(v) for v in (_text(f"{acct}/cpuacct.usage_percpu") or "").split()]
        rows = [line.split() for line in (_text(f"{acct}/cpuacct.usage_all") or "").splitlines()[1:]]
        st = _keyed(f"{acct}/cpuacct.stat")
        tick = 1_000_000_000 // _USER_HZ
        usage = _nonzero(total=_int(f"{acct}/cpuacct.usage"))
        usage |= {k: v for k, v in (("percpu", percpu), ("percpu_kernel", [int(r[2]) for r in rows if len(r) == 3]),
                                    ("percpu_user", [int(r[1]) for r in rows if len(r) == 3])) if v}
        usage |= {"kernel": st.get("system", 0) * tick, "user": st.get("user", 0) * tick}
    if d:
        st = _keyed(f"{d}/cpu.stat")
        throttling = _nonzero(periods=st.get("nr_periods", 0), throttledPeriods=st.get("nr_throttled", 0),
                              throttledTime=st.get("throttled_time", 0))
    return {"usage": usage or {"kernel": 0, "user": 0}, "throttling": throttling}


_CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                 "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level")


def _cpuset(where: Where) -> dict:
    d, v2 = where("cpuset")
    if d is None:
        return {name: 0 for name in _CPUSET_FLAGS}
    cpus = parse_list(_text(f"{d}/cpuset.cpus{'.effective' if v2 else ''}") or "")
    mems = parse_list(_text(f"{d}/cpuset.mems{'.effective' if v2 else ''}") or "")
    out: dict = {}
    if cpus:
        out["cpus"] = cpus
    out["cpu_exclusive"] = _int(f"{d}/cpuset.cpu_exclusive")
    if mems:
        out["mems"] = mems
    for name in _CPUSET_FLAGS[1:]:
        out[name] = _int(f"{d}/cpuset.{name}")
    return out


def _entry(limit: int, usage: int, max_: int, failcnt: int) -> dict:
    return {"limit": limit} | _nonzero(usage=usage, max=max_) | {"failcnt": failcnt}


def _memory(where: Where) -> dict:
    d, v2 = where("memory")
    if d is None:
        return {"usage": _entry(0, 0, 0, 0), "swap": _entry(0, 0, 0, 0), "kernel": _entry(0, 0, 0, 0),
                "kernelTCP": _entry(0, 0, 0, 0)}
    raw = _keyed(f"{d}/memory.stat")
    if v2:
        events = _keyed(f"{d}/memory.events")
        usage = _entry(_int(f"{d}/memory.max", _UINT64_MAX), _int(f"{d}/memory.current"), _int(f"{d}/memory.peak"),
                       events.get("max", 0))
        swap = _entry(_int(f"{d}/memory.swap.max", _UINT64_MAX), _int(f"{d}/memory.swap.current"), 0, 0)
        out = _nonzero(cache=raw.get("file", 0))
        out |= {"usage": usage, "swap": swap, "kernel": _entry(0, 0, 0, 0), "kernelTCP": _entry(0, 0, 0, 0)}
    else:
        def entry(prefix: str) -> dict:
            return _entry(_int(f"{d}/{prefix}.limit_in_bytes"), _int(f"{d}/{prefix}.usage_in_bytes"),
                          _int(f"{d}/{prefix}.max_usage_in_bytes"), _int(f"{d}/{prefix}.failcnt"))

        out = _nonzero(cache=raw.get("cache", 0))
        out |= {"usage": entry("memory"), "swap": entry("memory.memsw"), "kernel": entry("memory.kmem"),
                "kernelTCP": entry("memory.kmem.tcp")}
    if raw:
        out["raw"] = raw
    return out


def _pids(where: Where) -> dict:
    d, _ = where("pids")
    if d is None:
        return {}
    limit = _int(f"{d}/pids.max")
    return _nonzero(current=_int(f"{d}/pids.current"), limit=0 if limit == _UINT64_MAX else limit)


def _blkio_entries(text: str | None) -> list[dict]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # the "Total N" line
        major, _, minor = parts[0].partition(":")
        out.append(_nonzero(major=int(major), minor=int(minor)) | {"op": parts[1]} | _nonzero(value=int(parts[2])))
    return out


_BLKIO_V1 = (("ioServiceBytesRecursive", "io_service_bytes_recursive"),
             ("ioServicedRecursive", "io_serviced_recursive"),
             ("ioQueueRecursive", "io_queued_recursive"), ("ioServiceTimeRecursive", "io_service_time_recursive"),
             ("ioWaitTimeRecursive", "io_wait_time_recursive"), ("ioMergedRecursive", "io_merged_recursive"),
             ("ioTimeRecursive", "time_recursive"), ("sectorsRecursive", "sectors_recursive"))


def _blkio(where: Where) -> dict:
    d, v2 = where("io" if where.layout.version == V2 else "blkio")
    if d is None and where.layout.version != V2:
        d, v2 = where("io")
    if d is None:
        return {}
    out: dict = {}
    if not v2:
        cfq = os.path.exists(f"{d}/blkio.io_service_bytes_recursive")
        for key, name in _BLKIO_V1:
            if not cfq and key not in ("ioServiceBytesRecursive", "ioServicedRecursive"):
                continue
            entries = _blkio_entries(_text(f"{d}/blkio.{name}" if cfq else f"{d}/blkio.throttle.{name}"))
            if entries:
                out[key] = entries
        return out
    byte_rows, io_rows = [], []
    for line in (_text(f"{d}/io.stat") or "").splitlines():
        dev, *pairs = line.split()
        major, _, minor = dev.partition(":")
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        num = _nonzero(major=int(major), minor=int(minor))
        for op, b, n in (("Read", "rbytes", "rios"), ("Write", "wbytes", "wios")):
            byte_rows.append(num | {"op": op} | _nonzero(value=int(values.get(b, 0))))
            io_rows.append(num | {"op": op} | _nonzero(value=int(values.get(n, 0))))
    if byte_rows:
        out["ioServiceBytesRecursive"], out["ioServicedRecursive"] = byte_rows, io_rows
    return out


def _hugetlb(where: Where) -> dict:
    d, v2 = where("hugetlb")
    if d is None:
        return {}
    sizes = sorted({n.split(".")[1] for n in os.listdir(d) if n.startswith("hugetlb.") and n.count(".") >= 2})
    out = {}
    for size in sizes:
        if v2:
            events = _keyed(f"{d}/hugetlb.{size}.events")
            out[size] = _nonzero(usage=_int(f"{d}/hugetlb.{size}.current")) | {"failcnt": events.get("max", 0)}
        else:
            out[size] = _nonzero(usage=_int(f"{d}/hugetlb.{size}.usage_in_bytes"),
                                 max=_int(f"{d}/hugetlb.{size}.max_usage_in_bytes")) | {
                "failcnt": _int(f"{d}/hugetlb.{size}.failcnt")}
    return out


def _intel_rdt(group: str | None) -> dict:
    if not group:
        return {}
    root = os.path.dirname(group)
    out = {}
    for directory, suffix in ((group, ""), (root, "_root")):
        for line in (_text(f"{directory}/schemata") or "").splitlines():
            line = line.strip()
            if line.startswith("L3:"):
                out["l3_cache_schema" + suffix] = line
            elif line.startswith("MB:"):
                out["mem_bw_schema" + suffix] = line
    return out


def sample(layout: Layout, paths: dict[str, str], intel_rdt: str | None = None) -> dict:
    """One `stats` event's data: runc's types.Stats for the container's cgroups."""
    where = Where(layout, paths)
    return {"cpu": _cpu(where), "cpuset": _cpuset(where), "memory": _memory(where), "pids": _pids(where),
            "blkio": _blkio(where), "hugetlb": _hugetlb(where), "intel_rdt": _intel_rdt(intel_rdt),
            "network_interfaces": None}


def oom_count(layout: Layout, paths: dict[str, str]) -> int | None:
    """cgroup2's count of OOM kills in the container (memory.events), None where memory is v1."""
    d, v2 = Where(layout, paths)("memory")
    if d is None or not v2:
        return None
    events = _keyed(f"{d}/memory.events")
    return events.get("oom_kill", events.get("oom", 0))
