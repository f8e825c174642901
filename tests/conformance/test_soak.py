"""Soak: a bounded loop of create, start, exec and delete leaves nothing growing: the init's and an
exec'd process's open descriptors, the host's mounts, the container cgroups in every hierarchy and
the state root's entries are the same after the last round as after the first."""

import contextlib
import os
from pathlib import Path

import pytest

from pyrunc.testing.bundle import wait_for

from .stress import cgroup_mounts, rounds


def _cgroup_count(parent: str) -> int:
    """Cgroups below `parent` in every hierarchy."""
    return sum(sum(e.is_dir() for e in os.scandir(p)) for m in cgroup_mounts()
               if os.path.isdir(p := os.path.join(m, parent)))


def _our_mounts(rt) -> int:
    """The host's mounts of the tests' directories (other work on the host mounts meanwhile)."""
    return sum(str(rt.base) in line for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _measure(rt, c, parent):
    pid = c.state()["pid"]
    init_fds = len(os.listdir(f"/proc/{pid}/fd"))
    r = rt("exec", c.id, "ls", "/proc/self/fd")
    assert r.rc == 0, r
    return {"init fds": init_fds, "exec fds": len(r.out.split()),
            "mounts": _our_mounts(rt),
            "cgroups": _cgroup_count(parent), "state entries": len(os.listdir(rt.root))}


@pytest.mark.root
def test_soak_create_start_exec_delete(container, rt):
    parent = f"soak-{os.getpid()}"
    first = last = None
    c = container("sleep", "100")  # one bundle and id, reused round after round
    c.config["linux"]["cgroupsPath"] = f"/{parent}/{c.id}"
    try:
        for _ in range(rounds(10, 200)):
            assert c.create().rc == 0 and c.start().rc == 0
            wait_for(lambda: c.state()["status"] == "running")
            now = _measure(rt, c, parent)
            first = first or now
            last = now
            assert c.delete("--force").rc == 0
            assert c.state_dir_gone()
        assert last == first, (first, last)
        assert _our_mounts(rt) == 0
        assert _cgroup_count(parent) == 0
        made = [d for m in cgroup_mounts() if os.path.isdir(d := os.path.join(m, parent))]
        if rt.name == "pyrunc":  # the parent it made for the cgroupsPath goes with the container
            assert made == []
    finally:  # runc 1.1.5 leaves the parent in every hierarchy: the test removes it
        for m in cgroup_mounts():
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(m, parent))
