"""`pyrunc events`: runc's event stream for a container, one JSON object per line on stdout.

--stats: one `stats` event, then exit. Otherwise a `stats` event every --interval (default 5s;
the first after one interval, as Go's time.Tick) and an `oom` event as each OOM happens, until
the container's init exits. OOMs come from the v1 memory controller's eventfd notification
(cgroup.event_control) or, on v2, from memory.events changing (poll's POLLPRI on kernfs files).
"""

import os
import select
import time

from pyrunc import jsonio
from pyrunc.errors import PyruncError
from pyrunc.state import Container
from pyrunc.steps import Step

CLI_FLAGS = {"--interval": ("interval", True), "--stats": ("stats", False)}
_UNITS = (("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_duration(text: str) -> float:
    """A Go duration ("5s", "250ms", "1m30s", "1.5h") in seconds."""
    rest, total = text, 0.0
    if not rest:
        raise PyruncError(f'invalid value "{text}" for flag -interval: parse error')
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        number, rest = rest[:i], rest[i:]
        unit = next((u for u, _ in sorted(_UNITS, key=lambda x: -len(x[0])) if rest.startswith(u)), None)
        if not number or number.count(".") > 1 or unit is None:
            raise PyruncError(f'invalid value "{text}" for flag -interval: parse error')
        total += float(number) * dict(_UNITS)[unit]
        rest = rest[len(unit):]
    return total


def _emit(event: dict) -> None:
    os.write(1, (jsonio.dumps(event) + "\n").encode())


class Watch:
    """The OOM notification of one container: an fd to poll and how to tell an OOM from noise."""

    def __init__(self) -> None:
        self.fd = -1
        self.kind = ""
        self.count = 0
        self.path = ""

    def v1_oom(self, d: str) -> None:
        """eventfd + memory.oom_control registered in cgroup.event_control (runc's notifyOnOOM)."""
        efd = os.eventfd(0, os.EFD_CLOEXEC)
        ofd = os.open(f"{d}/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            from pyrunc.cgroups import fs

            fs.write(f"{d}/cgroup.event_control", f"{efd} {ofd}")
        except BaseException:
            os.close(efd)
            raise
        finally:
            os.close(ofd)
        self.fd, self.kind, self.path = efd, "eventfd", d

    def v2_oom(self, d: str) -> None:
        """memory.events, whose changes poll() reports as POLLPRI."""
        from pyrunc.cgroups.stats import _keyed

        self.fd = os.open(f"{d}/memory.events", os.O_RDONLY | os.O_CLOEXEC)
        self.kind, self.path = "events", f"{d}/memory.events"
        self.count = _keyed(self.path).get("oom_kill", 0)

    def ooms(self) -> int:
        """How many OOMs the readiness of fd stands for (0: none, or the cgroup went away)."""
        if self.kind == "eventfd":
            try:
                n = os.eventfd_read(self.fd)
            except BlockingIOError:
                return 0
            return n if os.path.exists(f"{self.path}/cgroup.event_control") else 0
        from pyrunc.cgroups.stats import _keyed

        os.lseek(self.fd, 0, os.SEEK_SET)
        os.read(self.fd, 4096)  # re-arms the notification
        now = _keyed(self.path).get("oom_kill", 0)
        new, self.count = max(0, now - self.count), now
        return new


def oom_steps(layout, paths: dict[str, str]) -> list[Step]:
    """Where this host reports the container's OOMs, as the step that subscribes to them."""
    from pyrunc.cgroups.stats import Where

    d, v2 = Where(layout, paths)("memory")
    if d is None:
        return []
    if v2:
        return [Step("events", "v2_oom", (d,), f"poll {d}/memory.events for oom_kill", "linux.resources.memory")]
    return [Step("events", "v1_oom", (d,), f"echo '<eventfd> <fd of memory.oom_control>' > {d}/cgroup.event_control",
                 "linux.resources.memory")]


def run(root: str, cid: str, args, logger) -> int:
    from pyrunc import executor
    from pyrunc.cgroups import layout as cglayout
    from pyrunc.cgroups import stats

    interval = parse_duration(args.interval) if args.interval is not None else 5.0
    if interval <= 0:
        raise PyruncError("duration interval must be greater than 0")
    c = Container(root, cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    c.read()
    if c.status() not in ("created", "running", "paused"):
        raise PyruncError(f"container with id {cid} is not running")
    paths = c.record.get("cgroups") or {}
    layout = cglayout.detect()

    def sample() -> dict:
        return {"type": "stats", "id": cid, "data": stats.sample(layout, paths, c.record.get("intel_rdt"))}

    if args.stats:
        _emit(sample())
        return 0
    try:
        init = os.pidfd_open(c.record["pid"])
    except ProcessLookupError:
        return 0
    watch = Watch()
    executor.run(oom_steps(layout, paths), watch, logger.step if logger.debug else None)
    if not c.alive():  # the pid was reused before the pidfd was taken
        return 0
    poller = select.poll()
    poller.register(init, select.POLLIN)
    if watch.fd >= 0:
        poller.register(watch.fd, select.POLLIN | select.POLLPRI)
    due = time.monotonic() + interval
    while True:
        wait = max(0.0, due - time.monotonic())
        ready = {fd for fd, _ in poller.poll(wait * 1000)}
        if watch.fd in ready:
            for _ in range(watch.ooms()):
                _emit({"type": "oom", "id": cid})
        if init in ready:
            return 0
        if time.monotonic() >= due:
            _emit(sample())
            due += interval
