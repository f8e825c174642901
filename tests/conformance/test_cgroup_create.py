"""Cgroups at create, as #17 asks: unified (cgroup2) keys on a host whose controllers are v1 fail with
a clear error naming the key, and on a host with cgroup2 the init is born in its directory there."""

import json
from pathlib import Path

import pytest

CG = Path("/sys/fs/cgroup")
pytestmark = pytest.mark.root


def v2_controllers() -> set[str] | None:
    """The controllers the cgroup2 hierarchy offers (None without one)."""
    for path in (CG / "cgroup.controllers", CG / "unified" / "cgroup.controllers"):
        if path.exists():
            return set(path.read_text().split())
    return None


def test_unified_key_without_its_v2_controller_names_the_key(container, rt):
    """runc 1.1 says 'cannot use unified on cgroup v1' for any key; pyrunc names the key and why."""
    offered = v2_controllers()
    if offered is not None and "memory" in offered:
        pytest.skip("memory is a cgroup2 controller here: memory.high would apply")
    c = container("true")
    c.config["linux"].setdefault("resources", {})["unified"] = {"memory.high": "100000000"}
    r = c.create()
    c.assert_refused(r, one_line=rt.name == "pyrunc")
    assert "unified" in r.err, r
    if rt.name == "pyrunc":
        assert 'unsupported: linux.resources.unified["memory.high"]' in r.err, r


def test_init_born_in_its_cgroup2_directory(container, rt):
    """clone3 with CLONE_INTO_CGROUP: the --debug step says so and the init is there from its first
    instruction (no cgroup.procs write for the cgroup2 directory); runc 1.1 migrates it (same place)."""
    if v2_controllers() is None:
        pytest.skip("no cgroup2 hierarchy on this host")
    c = container("sleep", "60")
    c.config["linux"]["cgroupsPath"] = f"/{c.id}"
    c.write()
    r = rt("--debug", "create", "--bundle", c.bundle, c.id)
    assert r.rc == 0, r
    pid = c.state()["pid"]
    (line,) = [x for x in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if x.startswith("0::")]
    assert line == f"0::/{c.id}", line
    if rt.name == "pyrunc":
        steps = [json.loads(x)["msg"] if x.startswith("{") else x for x in r.err.splitlines()]
        assert any("CLONE_INTO_CGROUP" in s and f"/{c.id}" in s for s in steps), r.err
        v2_dir = (CG / "unified" if (CG / "unified" / "cgroup.controllers").exists() else CG) / c.id
        assert f"{v2_dir}/cgroup.procs" not in r.err and f"{v2_dir}/cgroup.procs" not in "".join(steps), r.err
    assert c.kill("KILL").rc == 0


def _runtime_parents() -> list[Path]:
    return sorted(p for p in CG.glob("*/pyrunc") if p.is_dir())


def test_the_default_parent_a_container_makes_stays_and_its_own_cgroup_goes(container, rt):
    """Without linux.cgroupsPath pyrunc puts a container in /pyrunc/<id> of each hierarchy (the spec
    leaves the default to the runtime: config-linux.md). The parent is the runtime's own, as
    /run/pyrunc is: a container on a host without it makes it, and its delete leaves it (runc leaves
    a cgroupsPath's parents too); the container's own directories go."""
    rt.only_pyrunc("its default cgroup parent (runc's default is /<id>)")
    for parent in _runtime_parents():  # a host without the parents, as a fresh one is
        try:
            parent.rmdir()
        except OSError:
            pytest.skip(f"{parent} holds another container's cgroup")
    c = container("sleep", "60")
    assert c.create().rc == 0
    own = sorted(CG.glob(f"*/pyrunc/{c.id}"))
    assert own, "the container has no cgroup below /pyrunc"
    assert c.delete("--force").rc == 0
    assert not [d for d in own if d.exists()], "the container's own cgroups are left"
    assert [d.parent for d in own if not d.parent.is_dir()] == [], "delete removed the runtime's parent"
