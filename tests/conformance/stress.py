"""What the stress tests share: how long they run, and checks that a container left nothing.

`make test` runs the short form; `make test-long` sets PYRUNC_TEST_LONG=1, which multiplies the
rounds of the crash, race and soak tests and selects hypothesis's `long` profile."""

import os
from pathlib import Path

LONG = os.environ.get("PYRUNC_TEST_LONG", "") not in ("", "0")


def rounds(short: int, long: int) -> int:
    return long if LONG else short


def cgroup_mounts() -> list[str]:
    """The mount point of every cgroup hierarchy (v1 and v2) on the host."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[0] in ("cgroup", "cgroup2"):
            points.append(left.split()[4])
    return points


def cgroups_left(relative: str) -> list[str]:
    """Where the cgroup `relative` (a cgroupsPath) still exists, in any hierarchy."""
    return [p for m in cgroup_mounts() if os.path.isdir(p := os.path.join(m, relative.lstrip("/")))]


def assert_gone(rt, c, cgroups_path: str) -> None:
    """`delete --force` then `list`: no state, no record in the list, no cgroup in any hierarchy
    (and the cgroup's parent, which create made, gone too). The `container` fixture checks mounts
    and processes."""
    r = rt("delete", "--force", c.id)
    assert r.rc == 0, r
    listed = rt("list", "-q")
    assert listed.rc == 0 and c.id not in listed.out.split(), listed
    assert c.state_dir_gone(), sorted(os.listdir(rt.root))
    parent = os.path.dirname(cgroups_path.rstrip("/"))
    assert not cgroups_left(cgroups_path), cgroups_left(cgroups_path)
    assert parent == "/" or not cgroups_left(parent), cgroups_left(parent)
