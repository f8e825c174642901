"""What only cgroup v1 needs: cpuset directories filled in before use, and the freezer controller."""

import time

from pyrunc.cgroups import fs
from pyrunc.cgroups.paused import freezer_state
from pyrunc.errors import PyruncError, os_error

CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")


def inherit_cpuset(new_dirs: list[str], planned: set[tuple[str, str]]) -> None:
    """A new v1 cpuset cgroup starts with no cpus and no mems, and no process can join it (ENOSPC):
    copy the parent's into each new directory, outermost first (runc's cpuset ensureParent).
    A (dir, file) in `planned` gets the config's value later instead."""
    for d in new_dirs:
        parent = d.rsplit("/", 1)[0]
        for name in CPUSET_FILES:
            if (d, name) in planned:
                continue
            try:
                value = fs.read(f"{parent}/{name}").strip()
                if value:
                    fs.write(f"{d}/{name}", value)
            except OSError as e:
                raise os_error(f"copy {parent}/{name} to {d}", e) from e


def freeze(d: str, frozen: bool, timeout: float = 2.0) -> None:
    """FROZEN or THAWED, waiting out FREEZING; a freeze that does not settle is undone and reported."""
    want = "FROZEN" if frozen else "THAWED"
    deadline = time.monotonic() + timeout
    try:
        fs.write(f"{d}/freezer.state", want)
        while True:
            if freezer_state(d) == want:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.001)
            if frozen:
                fs.write(f"{d}/freezer.state", want)  # a task forking while freezing needs another nudge
    except OSError as e:
        raise os_error(f"write {want} to {d}/freezer.state", e) from e
    if frozen:
        try:
            fs.write(f"{d}/freezer.state", "THAWED")
        except OSError:
            pass
    raise PyruncError(f"cgroup {d} did not reach {want} within {timeout:g}s")
