"""What only cgroup2 needs: controller delegation down the tree, cgroup.freeze, cgroup.kill."""

import time

from pyrunc.cgroups import fs
from pyrunc.cgroups.paused import events
from pyrunc.errors import PyruncError, os_error


def delegate(mountpoint: str, leaf: str) -> None:
    """Enable every controller each ancestor of `leaf` offers in its cgroup.subtree_control, as runc
    does, so the leaf has its controller files (and can delegate them further). An ancestor that
    already enables them all costs two reads; one that refuses a controller (it has processes, or
    real-time tasks keep cpu out) is left as it is, and the write that needs it reports it."""
    mountpoint = mountpoint.rstrip("/")
    parts = [p for p in leaf[len(mountpoint):].split("/") if p]
    level = mountpoint
    for part in parts:
        try:
            available = fs.read(f"{level}/cgroup.controllers").split()
            if not available:
                return
            enabled = set(fs.read(f"{level}/cgroup.subtree_control").split())
        except OSError as e:
            raise os_error(f"read {level}/cgroup.controllers", e) from e
        missing = [c for c in available if c not in enabled]
        if missing:
            target = f"{level}/cgroup.subtree_control"
            try:
                fs.write(target, " ".join(f"+{c}" for c in missing))
            except OSError:
                for c in missing:
                    try:
                        fs.write(target, f"+{c}")
                    except OSError:
                        pass
        level = f"{level}/{part}"


def check_memory(d: str, limit: int) -> None:
    """memory.checkBeforeUpdate: v2 would OOM-kill instead of refusing a limit below the usage."""
    try:
        usage = int(fs.read(f"{d}/memory.current"))
    except (OSError, ValueError):
        return
    if usage > limit:
        raise PyruncError(f"linux.resources.memory.limit: {limit} is below the current usage ({usage}) "
                          "and checkBeforeUpdate is set")


def freeze(d: str, frozen: bool, timeout: float = 2.0) -> None:
    """cgroup.freeze, then wait for cgroup.events to report the state reached."""
    want = "1" if frozen else "0"
    try:
        fs.write(f"{d}/cgroup.freeze", want)
    except OSError as e:
        raise os_error(f"write {want} to {d}/cgroup.freeze", e) from e
    deadline = time.monotonic() + timeout
    while True:
        try:
            if events(d).get("frozen", want) == want:
                return
        except FileNotFoundError:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    if frozen:
        try:
            fs.write(f"{d}/cgroup.freeze", "0")
        except OSError:
            pass
    raise PyruncError(f"cgroup {d} did not {'freeze' if frozen else 'thaw'} within {timeout:g}s")


def kill(d: str) -> bool:
    """SIGKILL everything in the subtree with one write (cgroup.kill, Linux 5.14); False if absent."""
    try:
        fs.write(f"{d}/cgroup.kill", "1")
    except FileNotFoundError:
        return False
    except OSError as e:
        raise os_error(f"write 1 to {d}/cgroup.kill", e) from e
    return True
