"""The v1 freezer controller: pause, resume, and the thaw a frozen task needs to die. (The cpuset
copy every new v1 cpuset directory needs is create's: ops.inherit_cpuset.)"""

import time

from pyrunc.cgroups import fs
from pyrunc.cgroups.paused import freezer_state
from pyrunc.errors import PyruncError, os_error


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
