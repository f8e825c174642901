"""A container put in a cgroup that already exists, as runc 1.1 handles it (libcontainer/factory_linux.go):
processes already in it get a warning, `container's cgroup is not empty: N process(es) found`, and the
container is made (runc 1.2 refuses; pyrunc follows the runc 1.1 that tools are written against); a
frozen one is refused with `container's cgroup unexpectedly frozen`, leaving nothing behind. The
cgroup and its processes belong to the test and outlive the container."""

import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import alive

CG = Path("/sys/fs/cgroup")


def hierarchies():
    """Every mounted hierarchy's root: the v1 ones and cgroup2 (unified on a hybrid host)."""
    if (CG / "cgroup.controllers").exists():
        return [CG]
    return [h for h in CG.iterdir() if h.is_dir() and not h.is_symlink() and (h / "cgroup.procs").exists()]


@pytest.fixture
def own_cgroup(container):
    """A cgroup the test makes in every hierarchy, named /<the test's scratch dir>; removed at the end."""
    name = f"reuse-{Path(container.dir).name}"
    dirs = [h / name for h in hierarchies()]
    for d in dirs:
        d.mkdir()
        for f in ("cpuset.cpus", "cpuset.mems"):  # v1 cpuset: empty until set, and no task may join
            if (d / f).exists() and not (d / f).read_text().strip():
                (d / f).write_text((d.parent / f).read_text())
    yield f"/{name}", dirs
    for d in dirs:
        thaw(d)
        for sub in sorted(d.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if sub.is_dir():
                sub.rmdir()
        d.rmdir()


def thaw(d):
    if (d / "freezer.state").exists():
        (d / "freezer.state").write_text("THAWED")
    elif (d / "cgroup.freeze").exists():
        (d / "cgroup.freeze").write_text("0")


@pytest.mark.root
def test_non_empty_cgroup_warns(container, rt, own_cgroup):
    path, dirs = own_cgroup
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        for d in dirs:
            (d / "cgroup.procs").write_text(str(sleeper.pid))
        c = container("sleep", "300")
        c.config["linux"]["cgroupsPath"] = path
        r = c.create()
        assert r.rc == 0, r
        err = c.stderr.read_text() + r.err
        assert "level=warning" in err and "container's cgroup is not empty: 1 process(es) found" in err, err
        assert c.start().rc == 0
        procs = {int(p) for p in (dirs[0] / "cgroup.procs").read_text().split()}
        assert sleeper.pid in procs and c.state()["pid"] in procs
        c.delete("--force")
        assert alive(sleeper.pid), "the process that was in the cgroup before must not be killed"
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.root
def test_frozen_cgroup_is_refused(container, rt, own_cgroup):
    path, dirs = own_cgroup
    frozen = [d for d in dirs if (d / "freezer.state").exists()] or [d for d in dirs if (d / "cgroup.freeze").exists()]
    for d in frozen:
        (d / ("freezer.state" if (d / "freezer.state").exists() else "cgroup.freeze")).write_text(
            "FROZEN" if (d / "freezer.state").exists() else "1")
    c = container("true")
    c.config["linux"]["cgroupsPath"] = path
    r = c.create()
    assert "container's cgroup unexpectedly frozen" in r.err, r
    c.assert_refused(r)
    assert all(d.is_dir() for d in dirs), "a cgroup the runtime did not make must be left"
    assert not any(p.is_dir() for d in dirs for p in d.iterdir()), "nothing made below the frozen cgroup"
