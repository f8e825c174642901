"""Rootless cgroups: none where the user cannot write (and runc's error when limits need one), a
delegated cgroup2 subtree used when there is one, and --systemd-cgroup asking the user's systemd.

No login manager delegates a subtree here: the `delegated` fixture does what systemd does for a
user's session (a directory chowned to the user with its cgroup.procs, cgroup.subtree_control and
cgroup.threads, the session's processes in a leaf below it) on the host's cgroup2 hierarchy."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jeepney
import pytest

from pyrunc.testing.bundle import alive, wait_for
from pyrunc.testing.users import User, no_process_of

from .test_systemd_cgroup import BUS_CONFIG, STANDIN

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


def test_rootless_systemd_cgroup_without_systemd(rt, ordinary_user):
    """--systemd-cgroup as the user, on a host where no systemd runs at all: runc's one line, nothing left."""
    u = User(rt, ordinary_user)
    b = u.bundle("sd", ["true"])
    r = u("--systemd-cgroup", "run", "sd", cwd=b)
    assert r.returncode != 0, r
    assert "systemd" in r.stderr, r.stderr
    if rt.name == "pyrunc":
        assert one_line(r), r.stderr
    assert not (u.state / "sd").exists()


# --- the user's own systemd instance: a stand-in manager, run as the user on a session bus of its own ---

RUNC_HYBRID = ("rootless --systemd-cgroup on a hybrid host: its v1 systemd manager refuses it "
               "(runc run failed: cannot use rootless systemd cgroups manager on cgroup v1)")
SYSTEMD_MARK = 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec setpriv --reuid={uid} ' \
               '--regid={gid} --clear-groups "$@"'


def with_systemd(u: User, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    """`<runtime> --systemd-cgroup *args` as the user, from its session's cgroup, where systemd is
    said to run (/run/systemd/system, in a mount namespace of the command's own)."""
    leaf = u.cgroup
    script = SYSTEMD_MARK.format(uid=u.uid, gid=u.gid)
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", u.exe, "--systemd-cgroup",
           *map(str, args)]
    environ = {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(u.home), "HOME": str(u.home), **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # files: the init keeps its stdio
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=environ, timeout=60,
                            cwd=u.home, preexec_fn=lambda: (leaf / "cgroup.procs").write_text("0")).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, rc, out.read().decode(), err.read().decode())


class UserSystemd:
    """A dbus-daemon run as the user, listening on $XDG_RUNTIME_DIR/bus, with the stand-in systemd
    instance (systemd_standin.py) on it, run as the user too; its ControlGroup is the delegated
    directory, below which it makes the scopes it is asked for. `calls()` is what it was asked."""

    def __init__(self, u: User, top: Path) -> None:
        self.u = u
        self.socket = u.home / "bus"
        self.address = f"unix:path={self.socket}"
        self.record = u.home / "calls.jsonl"
        code = u.work / "standin"  # what the user's python reads: the stand-in and jeepney
        code.mkdir()
        shutil.copy(STANDIN, code)
        shutil.copytree(Path(jeepney.__file__).parent, code / "jeepney")
        for path in (code, *code.rglob("*")):
            path.chmod(path.stat().st_mode | 0o055)
        conf = u.home / "bus.conf"
        conf.write_text(BUS_CONFIG.replace("<type>system</type>", "<type>session</type>").format(socket=self.socket))
        kw = {"user": u.uid, "group": u.gid, "extra_groups": [], "stdin": subprocess.DEVNULL,
              "stdout": subprocess.PIPE, "text": True, "cwd": u.home}
        self.procs = [subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1", f"--config-file={conf}"],
                                       env={"PATH": os.environ["PATH"]}, **kw)]
        assert self.procs[0].stdout.readline().startswith("unix:"), "dbus-daemon did not start"
        self.procs.append(subprocess.Popen(
            [os.path.realpath(sys.executable), str(code / STANDIN.name), self.address, str(self.record),
             "--control-group", f"/{top.name}", str(UNIFIED)],
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(code)}, **kw))
        assert self.procs[1].stdout.readline().strip() == "ready", "the stand-in did not start"

    def calls(self, member: str | None = None) -> list[dict]:
        found = [json.loads(line) for line in self.record.read_text().splitlines()] if self.record.exists() else []
        return [c for c in found if member is None or c["member"] == member]

    def __call__(self, *args, env: dict | None = None) -> subprocess.CompletedProcess:
        return with_systemd(self.u, *args, env=env)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.kill()
            p.wait()


def test_rootless_systemd_cgroup(rt, ordinary_user, delegated):
    """--systemd-cgroup as the user asks the user's own systemd instance, on its session bus found at
    $XDG_RUNTIME_DIR/bus (runc's DetectUserDbusSessionBusAddress): a transient scope in user.slice with
    runc's properties, holding the init, made below the instance's ControlGroup (runc's rootless
    initPath), here a delegated cgroup2 directory; delete stops the unit; nothing is left."""
    rt.lacks(RUNC_HYBRID)
    top, leaf = delegated
    u = User(rt, ordinary_user)
    u.cgroup = leaf
    b = u.bundle("sdu", ["sleep", "1000"])
    sd = UserSystemd(u, top)
    unit = "runc-sdu.scope"
    scope = top / "user.slice" / unit
    try:
        plan = sd("explain", b)
        assert plan.returncode == 0, plan
        assert f"StartTransientUnit {unit} over the user's session bus" in plan.stdout, plan.stdout
        assert f"mkdir -p {scope}" in plan.stdout and "skip /sys/fs/cgroup/pids/" in plan.stdout, plan.stdout
        assert f"StopUnit {unit} over the user's session bus" in plan.stdout, plan.stdout
        assert sd.calls() == [{"member": "Get", "args": ["org.freedesktop.systemd1.Manager", "ControlGroup"]}]
        r = sd("run", "-d", "--bundle", b, "sdu")
        assert r.returncode == 0, r
        try:
            pid = u.pid("sdu")
            (start,) = sd.calls("StartTransientUnit")
            assert start["args"][:2] == [unit, "replace"]
            got = {name: value[1] for name, value in start["args"][2]}
            assert got["Description"] == "libcontainer container sdu"
            assert got["Slice"] == "user.slice" and got["Delegate"] is True and got["PIDs"] == [pid]
            for key in ("MemoryAccounting", "CPUAccounting", "BlockIOAccounting", "TasksAccounting"):
                assert got[key] is True, key
            assert got["DefaultDependencies"] is False
            assert Path(f"/proc/{pid}/cgroup").read_text().splitlines()[-1] == f"0::/{top.name}/user.slice/{unit}"
            assert str(pid) in (scope / "cgroup.procs").read_text().split()
            assert scope.stat().st_uid == u.uid, "made by the user's systemd"
            r = sd("ps", "--format", "json", "sdu")
            assert r.returncode == 0 and json.loads(r.stdout) == [pid], r
            assert sd("kill", "sdu", "KILL").returncode == 0
            wait_for(lambda: not alive(pid), 10, "the init to die")
        finally:
            r = sd("delete", "--force", "sdu")
        assert r.returncode == 0, r
        stop = sd.calls("StopUnit")
        assert stop and stop[0]["args"] == [unit, "replace"], sd.calls()
        assert not scope.exists(), "the scope's cgroup is left"
        assert not (u.state / "sdu").exists()
    finally:
        sd.close()
    no_process_of(u.uid)


def test_rootless_systemd_cgroup_no_session_bus(rt, ordinary_user, delegated):
    """systemd said to run, but no session bus: one line naming what was tried ($DBUS_SESSION_BUS_ADDRESS,
    $XDG_RUNTIME_DIR/bus); a session address where nothing listens, or a bus another user (root) runs:
    one line naming it; nothing left."""
    rt.lacks(RUNC_HYBRID)
    top, leaf = delegated
    u = User(rt, ordinary_user)
    u.cgroup = leaf
    b = u.bundle("sdn", ["true"])
    r = with_systemd(u, "run", "--bundle", b, "sdn")
    assert one_line(r), r
    assert "$DBUS_SESSION_BUS_ADDRESS unset" in r.stderr and f"no {u.home}/bus" in r.stderr, r.stderr
    nobody = u.home / "nobody-listens"
    r = with_systemd(u, "run", "--bundle", b, "sdn", env={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={nobody}"})
    assert one_line(r) and f"unix:path={nobody}" in r.stderr and "failed to connect to dbus" in r.stderr, r.stderr
    conf = u.work / "root-bus.conf"  # root's, in a directory the user can enter
    conf.write_text(BUS_CONFIG.replace("<type>system</type>", "<type>session</type>").format(socket=u.work / "bus"))
    daemon = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1", f"--config-file={conf}"],
                              stdout=subprocess.PIPE, text=True)
    try:
        address = daemon.stdout.readline().strip()
        r = with_systemd(u, "run", "--bundle", b, "sdn", env={"DBUS_SESSION_BUS_ADDRESS": address})
    finally:
        daemon.kill()
        daemon.wait()
    assert one_line(r) and f"is run by uid 0, not by the caller (uid {u.uid})" in r.stderr, r.stderr
    assert not (u.state / "sdn").exists() and not list(top.rglob("*sdn*"))
    no_process_of(u.uid)
