"""`pyrunc update`: change a container's resources live, as runc's update does.

Flags (or --resources FILE|-, which overrides them, as in runc) give a partial LinuxResources;
cgroups/update.py plans the writes; each write is a step (shown by --debug) carried out here;
the merged resources are recorded so the next update sees them. A paused container is written
to while frozen and stays paused: nothing here touches the freezer.
"""

import os
import sys

from pyrunc import executor, jsonio
from pyrunc.errors import PyruncError
from pyrunc.state import Container
from pyrunc.steps import Step

# flag -> (group, field, parser); runc 1.1.5 spells shares --cpu-share, later versions --cpu-shares.
_SIZE, _UINT, _INT, _TEXT = "size", "uint", "int", "text"
FLAGS = {
    "memory": ("memory", "limit", _SIZE), "memory_swap": ("memory", "swap", _SIZE),
    "memory_reservation": ("memory", "reservation", _SIZE), "kernel_memory": ("memory", "kernel", _SIZE),
    "kernel_memory_tcp": ("memory", "kernelTCP", _SIZE),
    "cpu_shares": ("cpu", "shares", _UINT), "cpu_quota": ("cpu", "quota", _INT), "cpu_period": ("cpu", "period", _UINT),
    "cpu_rt_period": ("cpu", "realtimePeriod", _UINT), "cpu_rt_runtime": ("cpu", "realtimeRuntime", _INT),
    "cpuset_cpus": ("cpu", "cpus", _TEXT), "cpuset_mems": ("cpu", "mems", _TEXT),
    "pids_limit": ("pids", "limit", _INT), "blkio_weight": ("blockIO", "weight", _UINT),
}
CLI_FLAGS = {"--resources": ("resources", True), "-r": ("resources", True),
             "--l3-cache-schema": ("l3_cache_schema", True), "--mem-bw-schema": ("mem_bw_schema", True),
             "--cpu-share": ("cpu_shares", True),
             **{"--" + dest.replace("_", "-"): (dest, True) for dest in FLAGS}}
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """docker's units.RAMInBytes, which runc uses: "512", "512k", "1.5g", "2 MiB" (powers of 1024)."""
    import re

    m = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?", text)
    if m is None:
        raise PyruncError(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _parse(kind: str, name: str, value: str) -> int | str:
    if kind == _TEXT:
        return value
    if kind == _SIZE:
        if value == "-1":
            return -1
        try:
            return ram_in_bytes(value)
        except PyruncError as e:
            raise PyruncError(f"invalid value for {name}: {e}") from None
    try:
        number = int(value, 10)
    except ValueError:
        raise PyruncError(f"invalid value for {name}: {value!r} is not a number") from None
    if kind == _UINT and number < 0:
        raise PyruncError(f"invalid value for {name}: {value!r} is negative")
    return number


def requested(args) -> dict:
    """The LinuxResources an update asks for: the --resources document, or the flags."""
    if args.resources:
        try:
            if args.resources == "-":
                text = sys.stdin.read()
            else:
                from pyrunc import config

                text = config.read_text(args.resources)
            doc = jsonio.loads(text)
        except ValueError as e:
            raise PyruncError(f"--resources: invalid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise PyruncError("--resources: must be a JSON object (LinuxResources)")
        return doc
    res: dict = {}
    for dest, (group, field, kind) in FLAGS.items():
        value = getattr(args, dest)
        if value is not None:
            res.setdefault(group, {})[field] = _parse(kind, dest.replace("_", "-"), value)
    return res


class UpdateOps:
    """One method per step op of an update."""

    def set_unit_properties(self, name: str, properties: list, user: bool = False) -> None:
        """--systemd-cgroup: systemd is told first, as runc's Set does, so that it keeps the values
        (`user`: the caller's own systemd instance, on its session bus)."""
        from pyrunc.cgroups import systemd_dbus

        manager = systemd_dbus.Manager(user)
        try:
            manager.set_unit_properties(name, properties)
        finally:
            manager.close()

    def write_cgroup(self, d: str, name: str, value: str, json_path: str) -> None:
        from pyrunc.cgroups.ops import _apply

        _apply([(d, name, value, json_path)])

    def check_memory(self, d: str, limit: int) -> None:
        from pyrunc.cgroups import v2

        v2.check_memory(d, limit)

    def rdt_join(self, path: str, pid: int) -> None:
        os.makedirs(path, exist_ok=True)
        self.write_file(path, "tasks", str(pid))

    def write_file(self, d: str, name: str, value: str) -> None:
        from pyrunc.cgroups import fs

        try:
            fs.write(os.path.join(d, name), value)
        except FileNotFoundError:
            raise PyruncError(f"{d}/{name} does not exist") from None


def _read_or_none(path: str) -> str | None:
    from pyrunc.cgroups import fs

    try:
        return fs.read(path)
    except OSError:
        return None


def steps_for(c: Container, delta: dict, merged: dict, layout) -> list[Step]:
    """The cgroup writes of an update as steps, from the state's cgroup paths."""
    from pyrunc.cgroups import update as planning

    paths = c.record.get("cgroups") or {}
    if not paths:
        raise PyruncError(f"container {c.id} has no cgroups to update")
    dev_h = None if layout.version == "v2" else layout.v1_for("devices")
    mem_h = None if layout.version == "v2" else layout.v1_for("memory")
    devices_list = _read_or_none(f"{paths[dev_h.key]}/devices.list") if dev_h and "devices" in delta else None
    limit_text = _read_or_none(f"{paths[mem_h.key]}/memory.limit_in_bytes") if mem_h and "memory" in delta else None
    plan = planning.plan(delta, merged, layout, paths, devices_list=devices_list,
                         memory_limit_now=int(limit_text) if limit_text and limit_text.strip().isdigit() else None)
    steps = []
    unit = c.record.get("systemd_unit")
    if unit:
        from pyrunc.cgroups import systemd

        props = systemd.resource_properties(merged, layout.version == "v2")
        if props:
            user = bool(c.record.get("systemd_user"))
            over = " over the user's session bus" if user else ""
            listed = ", ".join(f"{n}={v!r}" for n, _, v, _ in props)
            steps.append(Step("update", "set_unit_properties", (unit, props, user),
                              f"SetUnitProperties {unit} (runtime){over}: {listed}", "linux.resources"))
    if plan.memory_check:
        d, limit = plan.memory_check
        steps.append(Step("update", "check_memory", (d, limit), f"check {d}/memory.current <= {limit}",
                          "linux.resources.memory.checkBeforeUpdate"))
    steps += [Step("update", "write_cgroup", w, f"echo {w[2]!r} > {w[0]}/{w[1]}", w[3]) for w in plan.writes]
    return steps


def run(root: str, cid: str, args, logger) -> int:
    from pyrunc.cgroups import layout as cglayout
    from pyrunc.cgroups import update as planning

    res = requested(args)
    mem = res.get("memory") if isinstance(res.get("memory"), dict) else {}
    if any(mem.get(k) not in (None, 0) for k in planning.IGNORED_MEMORY):
        logger.write("warning", "Kernel memory settings are ignored and will be removed")
        res["memory"] = {k: v for k, v in mem.items() if k not in planning.IGNORED_MEMORY}
    c = Container(root, cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    c.load()
    if c.status() not in ("created", "running", "paused"):
        raise PyruncError("container not running")
    delta = planning.changes(res)
    merged = planning.merge(c.record.get("resources") or {}, delta)
    steps = steps_for(c, delta, merged, cglayout.detect())
    rdt = None
    if args.l3_cache_schema or args.mem_bw_schema:
        from pyrunc import resctrl

        rdt, more = resctrl.plan(resctrl.ROOT, cid, c.record["pid"], args.l3_cache_schema, args.mem_bw_schema,
                                 c.record.get("intel_rdt"))
        steps += more
    executor.run(steps, UpdateOps(), logger.step if logger.debug else None)
    c.record["resources"] = merged
    if rdt:
        c.record["intel_rdt"] = rdt
    c.save()
    return 0
