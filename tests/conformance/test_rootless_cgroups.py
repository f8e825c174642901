"""Rootless cgroups: none where the user cannot write (and runc's error when limits need one), a
delegated cgroup2 subtree used when there is one, and --systemd-cgroup asking the user's systemd.

No login manager delegates a subtree here: the `delegated` fixture does what systemd does for a
user's session (a directory chowned to the user with its cgroup.procs, cgroup.subtree_control and
cgroup.threads, the session's processes in a leaf below it) on the host's cgroup2 hierarchy."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import alive, wait_for
from pyrunc.testing.users import User, no_process_of

pytestmark = pytest.mark.root

UNIFIED = Path("/sys/fs/cgroup/unified")
DELEGATED_FILES = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")


def one_line(r: subprocess.CompletedProcess) -> bool:
    return r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1


@pytest.fixture
def delegated(ordinary_user):
    """(the delegated directory, the session's leaf in it) on the hybrid host's cgroup2."""
    if not (UNIFIED / "cgroup.procs").exists():
        pytest.skip(f"no cgroup2 hierarchy at {UNIFIED}")
    _name, uid, gid, _home, _work = ordinary_user
    top = UNIFIED / f"pyrunc-delegated-{os.getpid()}"
    top.mkdir()
    leaf = top / "session"
    try:
        for f in (top, *(top / n for n in DELEGATED_FILES)):
            os.chown(f, uid, gid)
        leaf.mkdir()
        for f in (leaf, *leaf.iterdir()):
            os.chown(f, uid, gid)
        yield top, leaf
    finally:
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            pids = (d / "cgroup.procs").read_text().split()
            if pids:  # a test that failed half-way: the leak is reported, then cleared
                (d / "cgroup.kill").write_text("1")
                wait_for(lambda d=d: not (d / "cgroup.procs").read_text().split(), 10, f"{d} to empty")
            d.rmdir()
        top.rmdir()


def test_rootless_limits_without_a_writable_cgroup(rt, ordinary_user):
    """A pids limit, and no cgroup the user may write: runc's rootless error, in one line naming the
    limit and the directory; nothing is left (no state, no cgroup, no process)."""
    u = User(rt, ordinary_user)
    b = u.bundle("limited", ["true"], lambda cfg: cfg["linux"].update(resources={"pids": {"limit": 10}}))
    r = u("run", "limited", cwd=b)
    assert r.returncode != 0, r
    if rt.name == "pyrunc":
        assert one_line(r), r.stderr
        assert "rootless needs no limits + no cgrouppath when no permission is granted for cgroups" in r.stderr
        assert "linux.resources.pids.limit" in r.stderr and "/sys/fs/cgroup/pids/" in r.stderr, r.stderr
    else:
        assert "cannot set pids limit: container could not join or create cgroup" in r.stderr, r.stderr
    assert not (u.state / "limited").exists()
    assert not list(Path("/sys/fs/cgroup/pids").rglob("limited")), "a cgroup was left"
    no_process_of(u.uid)


def test_rootless_delegated_cgroup2(rt, ordinary_user, delegated):
    """The container's cgroup is made beside the session's, in the delegated subtree (runc's fs2
    rule: the parent of the runtime's own cgroup); pause and resume freeze it through
    cgroup.freeze; exec and ps find it there; a hugetlb limit applies where the hierarchy offers
    hugetlb (the test passes without it too); a pids limit, which only the root-owned v1 hierarchy
    has here, is still refused; delete removes the cgroup."""
    rt.lacks("a cgroup2 hierarchy on a hybrid host: its cgroupfs manager uses only the v1 hierarchies there")
    top, leaf = delegated
    u = User(rt, ordinary_user)
    u.cgroup = leaf
    hugetlb = "hugetlb" in (UNIFIED / "cgroup.controllers").read_text().split()
    limits = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]} if hugetlb else {}
    b = u.bundle("deleg", ["sleep", "1000"], lambda cfg: cfg["linux"].update(resources=limits) if limits else None)
    plan = u("explain", b).stdout  # what the run below does: the delegated cgroup made, the v1 ones skipped
    assert f"mkdir -p {top}/deleg" in plan and "skip /sys/fs/cgroup/pids/" in plan, plan
    assert f"write /proc/<pid>/uid_map '0 {u.uid} 1' (this unprivileged runtime" in plan, plan
    assert f"skip {UNIFIED}" not in plan, plan
    r = u("run", "-d", "deleg", cwd=b, detached=True)
    assert r.returncode == 0, r
    mine = top / "deleg"
    try:
        pid = u.pid("deleg")
        assert Path(f"/proc/{pid}/cgroup").read_text().splitlines()[-1] == f"0::/{top.name}/deleg"
        assert mine.stat().st_uid == u.uid
        if hugetlb:
            assert (mine / "hugetlb.2MB.max").read_text().strip() == str(4 << 20)
        assert u("pause", "deleg").returncode == 0
        assert (mine / "cgroup.freeze").read_text().strip() == "1"
        assert json.loads(u("state", "deleg").stdout)["status"] == "paused"
        assert u("resume", "deleg").returncode == 0
        assert (mine / "cgroup.freeze").read_text().strip() == "0"
        assert json.loads(u("state", "deleg").stdout)["status"] == "running"
        r = u("exec", "deleg", "cat", "/proc/self/cgroup")
        assert r.returncode == 0 and r.stdout.splitlines()[-1] == f"0::/{top.name}/deleg", r
        r = u("ps", "--format", "json", "deleg")
        assert r.returncode == 0 and json.loads(r.stdout) == [pid], r
        assert u("kill", "deleg", "KILL").returncode == 0
        wait_for(lambda: not alive(pid), 10, "the init to die")
        assert u("delete", "deleg").returncode == 0
        assert not mine.exists(), "delete removes the container's cgroup"
    finally:
        u("delete", "--force", "deleg")

    b = u.bundle("deleg2", ["true"], lambda cfg: cfg["linux"].update(resources={"pids": {"limit": 10}}))
    r = u("run", "deleg2", cwd=b)
    assert one_line(r) and "linux.resources.pids.limit" in r.stderr, r
    assert not (top / "deleg2").exists() and not (u.state / "deleg2").exists()


def test_rootless_systemd_cgroup(rt, ordinary_user):
    """--systemd-cgroup as the user asks its systemd instance; none runs here (nor a system one): one
    line, nothing left."""
    u = User(rt, ordinary_user)
    b = u.bundle("sd", ["true"])
    r = u("--systemd-cgroup", "run", "sd", cwd=b)
    assert r.returncode != 0, r
    assert "systemd" in r.stderr, r.stderr
    if rt.name == "pyrunc":
        assert one_line(r), r.stderr
    assert not (u.state / "sd").exists()
