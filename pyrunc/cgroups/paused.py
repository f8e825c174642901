"""Whether a container's cgroups are frozen: `state`, `list` and `exec` ask it on every call
(a paused container is reported, or refused), so it is here, apart from ops.py, v1.py and
v2.py, whose imports cost exec 0.45 ms for one read of one file. ops.py imports it only where it
asks (create's reuse check, ps, pause, a delete that finds processes left), and without errno:
delete's usual path loads neither (uapi holds the numbers).

Keys of `paths` as in cgroups/__init__.py: the v1 freezer if mounted (a hybrid host freezes
there), else the cgroup2 directory.
"""

import time

from pyrunc import uapi
from pyrunc.cgroups import fs
from pyrunc.posixfs import exists


def v2_dir(paths: dict[str, str]) -> str | None:
    for key in ("", "unified"):
        if key in paths:
            return paths[key]
    for d in paths.values():
        if exists(f"{d}/cgroup.controllers"):
            return d
    return None


def freezer_dir(paths: dict[str, str]) -> str | None:
    for key, d in paths.items():
        if "freezer" in key.split(","):
            return d
    return None


def frozen(paths: dict[str, str]) -> bool:
    d = freezer_dir(paths)
    if d is not None:
        return v1_frozen(d)
    d = v2_dir(paths)
    return d is not None and v2_frozen(d)


def freezer_state(d: str) -> str:
    """The v1 freezer's state: THAWED, FREEZING or FROZEN."""
    return fs.read(f"{d}/freezer.state").strip()


def events(d: str) -> dict[str, str]:
    """cgroup.events of a cgroup2 directory, key -> value."""
    out = {}
    for line in fs.read(f"{d}/cgroup.events").splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def v1_frozen(d: str) -> bool:
    try:
        for _ in range(100):
            state = freezer_state(d)
            if state != "FREEZING":
                return state == "FROZEN"
            time.sleep(0.001)
    except OSError as e:  # removed by a concurrent delete: ENOENT, or ENODEV from an open v1 directory
        if e.errno in (uapi.ENOENT, uapi.ENODEV):
            return False
        raise
    return False


def v2_frozen(d: str) -> bool:
    try:
        if fs.read(f"{d}/cgroup.freeze").strip() != "1":
            return False
        return events(d).get("frozen", "1") == "1"
    except OSError as e:  # removed by a concurrent delete: ENOENT, or ENODEV from an open v1 directory
        if e.errno in (uapi.ENOENT, uapi.ENODEV):
            return False
        raise
