"""--systemd-cgroup: without a systemd on the host, runc's one-line errors and nothing made; with one
(a stand-in manager on a private dbus-daemon), the D-Bus conversation runc's systemd driver has.
The path computation itself (runc's ExpandSlice, getUnitName, v1 and v2 paths) is tested in
tests/unit/test_cgroups.py against runc's own expectations."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pyrunc.testing.runtime import Result

CG = Path("/sys/fs/cgroup")
NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"

pytestmark = pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd runs on this host")


@pytest.mark.root
@pytest.mark.parametrize("command", ["create", "run"])
@pytest.mark.parametrize("cgroups_path", [None, "machine-pod.slice:runc-cgroups:x"])
def test_systemd_cgroup_without_systemd(container, rt, command, cgroups_path):
    c = container("true")
    if cgroups_path:
        c.config["linux"]["cgroupsPath"] = cgroups_path
    c.write()
    r = rt("--systemd-cgroup", command, "--bundle", c.bundle, c.id)
    assert NOT_RUNNING in r.err, r
    c.assert_refused(r, one_line=True)
    made = [*CG.glob("*/machine.slice"), *CG.glob("machine.slice"), *CG.glob(f"*/system.slice/runc-{c.id}.scope"),
            *CG.glob(f"system.slice/runc-{c.id}.scope")]
    assert not made, f"cgroups made: {made}"


@pytest.mark.root
def test_systemd_cgroup_path_format(container, rt):
    """The format is checked first (runc's specconv), with runc's wording."""
    c = container("true")
    c.config["linux"]["cgroupsPath"] = "/not/a/systemd/path"
    c.write()
    r = rt("--systemd-cgroup", "create", "--bundle", c.bundle, c.id)
    assert ('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
            'got "/not/a/systemd/path" instead') in r.err.replace('\\"', '"'), r  # runc's logrus escapes
    c.assert_refused(r, one_line=True)


# --- with a systemd: the D-Bus conversation, against a stand-in manager on a private bus ---

STANDIN = Path(__file__).with_name("systemd_standin.py")
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""
# Where systemd makes a scope on this kind of host: its named hierarchy, the cgroup2 one and the v1
# controllers it accounts for (Memory/CPU/BlockIO/TasksAccounting); on a v2 host, the one hierarchy.
SYSTEMD_MADE = ("systemd", "unified", "memory", "cpu", "cpuacct", "cpu,cpuacct", "blkio", "pids")


class Bus:
    """A private dbus-daemon with the stand-in manager on it; `calls()` is what it was asked."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.record = work / "calls.jsonl"
        self.record.touch()
        (work / "bus.conf").write_text(BUS_CONFIG.format(socket=work / "bus"))
        self.daemon = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1",
                                        f"--config-file={work / 'bus.conf'}"], stdout=subprocess.PIPE, text=True)
        self.address = self.daemon.stdout.readline().strip()
        if os.path.exists(CG / "cgroup.controllers"):
            self.mounts = [str(CG)]
        else:
            self.mounts = [str(CG / h) for h in SYSTEMD_MADE if (CG / h).is_dir() and not (CG / h).is_symlink()]
        self.standin = subprocess.Popen([sys.executable, str(STANDIN), self.address, str(self.record), *self.mounts],
                                        stdout=subprocess.PIPE, text=True)
        assert self.standin.stdout.readline().strip() == "ready"

    def calls(self, member: str | None = None) -> list[dict]:
        found = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [c for c in found if member is None or c["member"] == member]

    def run(self, rt, *args):
        """The runtime as systemd's host would see it: /run/systemd/system there (in a mount
        namespace of its own), the system bus at our address."""
        script = 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$@"'
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", rt.exe, "--root", str(rt.root),
               "--systemd-cgroup", *map(str, args)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # files: the init keeps its stdio
            rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, timeout=60).returncode
            out.seek(0)
            err.seek(0)
            return Result(rc, out.read().decode(), err.read().decode())

    def close(self) -> None:
        for p in (self.standin, self.daemon):
            p.kill()
            p.wait()


@pytest.fixture
def bus(tmp_path):
    if not shutil.which("dbus-daemon"):
        pytest.skip("dbus-daemon is not installed (Debian's dbus; make deps installs it)")
    b = Bus(tmp_path)
    yield b
    b.close()


def props(call: dict) -> dict:
    """StartTransientUnit's or SetUnitProperties' properties: name -> value (variants unwrapped)."""
    return {name: value[1] for name, value in call["args"][2 if call["member"] == "StartTransientUnit" else 2]}


@pytest.mark.root
def test_systemd_cgroup_transient_scope(container, rt, bus):
    """runc's Apply then Set over D-Bus: a scope in the slice holding the init, with runc's properties
    (libcontainer/cgroups/systemd v1.go/v2.go Apply, genV1ResourcesProperties); the init lands in the
    scope's cgroup in every hierarchy; delete stops the unit."""
    c = container("sleep", "100")
    c.config["linux"]["cgroupsPath"] = "pyrunctest-sd.slice:pyrunc-test:" + c.id
    c.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50},
                                      "cpu": {"shares": 512, "quota": 25000, "period": 100000}}
    c.write()
    unit = f"pyrunc-test-{c.id}.scope"
    r = bus.run(rt, "create", "--bundle", c.bundle, c.id)
    try:
        assert r.rc == 0, r
        pid = json.loads(bus.run(rt, "state", c.id).out)["pid"]
        (start,) = bus.calls("StartTransientUnit")
        assert start["args"][:2] == [unit, "replace"]
        got = props(start)
        v2 = "IOAccounting" in got
        assert got["Description"] == f"libcontainer container {c.id}"
        assert got["Slice"] == "pyrunctest-sd.slice" and got["Delegate"] is True
        if rt.name == "runc":  # runc 1.1 names its nsexec parent, whose grandchild becomes the init
            assert len(got["PIDs"]) == 1
        else:
            assert got["PIDs"] == [pid]
        for key in ("MemoryAccounting", "CPUAccounting", "IOAccounting" if v2 else "BlockIOAccounting",
                    "TasksAccounting"):
            assert got[key] is True, key
        assert got["DefaultDependencies"] is False
        (update,) = bus.calls("SetUnitProperties")
        assert update["args"][0] == unit and update["args"][1] is True
        # what runc 1.1.5 sent, recorded by this stand-in; runc names 136:* by its /proc/devices group
        devices = [["block-*", "m"], ["char-*", "m"], *(
            [f"/dev/char/{n}", "rwm"] for n in ("1:3", "1:5", "1:7", "1:8", "1:9", "5:0", "5:2", "10:200"))]
        sent = [[n, v] for n, (_, v) in update["args"][2]]
        assert sent[:2] == [["DevicePolicy", "strict"], ["DeviceAllow", []]]
        assert sent[2][0] == "DeviceAllow" and sent[2][1][:-1] == devices
        assert sent[2][1][-1] in (["char-pts", "rwm"], ["char-136", "rwm"])
        assert sent[3:] == [["MemoryLimit", 64 << 20], ["CPUShares", 512], ["CPUQuotaPeriodUSec", 100000],
                            ["CPUQuotaPerSecUSec", 250000], ["TasksMax", 50]] or v2
        got = props(update)
        assert got["TasksMax"] == 50 and got["CPUQuotaPerSecUSec"] == 250000 and got["CPUQuotaPeriodUSec"] == 100000
        if not v2:
            assert got["MemoryLimit"] == 64 << 20 and got["CPUShares"] == 512
        scope = f"/pyrunctest.slice/pyrunctest-sd.slice/{unit}"
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        for mount in bus.mounts:
            name = Path(mount).name
            key = "" if name in ("unified", "cgroup") else ("name=systemd" if name == "systemd" else name)
            (line,) = [x for x in lines if x.split(":")[1] == key]
            assert line.split(":", 2)[2] == scope, (mount, line)
            assert str(pid) in (Path(mount + scope) / "cgroup.procs").read_text().split()
        assert json.loads(bus.run(rt, "state", c.id).out)["status"] == "created"
        r = bus.run(rt, "update", "--pids-limit", "30", "--memory", "100m", c.id)  # runc's Set again, no devices
        assert r.rc == 0, r
        got = props(bus.calls("SetUnitProperties")[1])
        assert got["TasksMax"] == 30 and (v2 or got["MemoryLimit"] == 100 << 20) and "DevicePolicy" not in got
        pids_max = [m for m in bus.mounts if Path(m + scope, "pids.max").exists()]
        assert Path(pids_max[0] + scope, "pids.max").read_text().strip() == "30"
    finally:
        r = bus.run(rt, "delete", "--force", c.id)
    assert r.rc == 0, r
    stop = bus.calls("StopUnit")
    assert stop and stop[0]["args"] == [unit, "replace"], bus.calls()
    left = [m for m in bus.mounts if Path(m + "/pyrunctest.slice/pyrunctest-sd.slice/" + unit).exists()]
    assert not left, left
    # The slices stay, as systemd keeps them (and runc 1.1 leaves those it made in the hierarchies
    # systemd does not manage: cpuset, devices, freezer here); ours to tidy.
    for m in {str(CG), *(str(h) for h in CG.iterdir() if h.is_dir() and not h.is_symlink())}:
        for d in (f"{m}/pyrunctest.slice/pyrunctest-sd.slice", f"{m}/pyrunctest.slice"):
            with contextlib.suppress(OSError):
                os.rmdir(d)


@pytest.mark.root
def test_systemd_cgroup_failed_start_job(container, rt, bus):
    """A start job that ends other than "done": runc's error, the init killed, nothing left."""
    c = container("sleep", "100")
    c.config["linux"]["cgroupsPath"] = f"pyrunctest-sd.slice:x-failing:{c.id}"
    c.write()
    r = bus.run(rt, "create", "--bundle", c.bundle, c.id)
    unit = f"x-failing-{c.id}.scope"
    assert r.rc != 0 and f"error creating systemd unit `{unit}`: got `failed`" in r.err, r
    if rt.name == "pyrunc":
        c.assert_refused(r, one_line=True)
    assert [x["member"] for x in bus.calls()][:1] == ["StartTransientUnit"]
    assert "ResetFailedUnit" in [x["member"] for x in bus.calls()]  # runc's startUnit resets a failed unit
    for m in {str(CG), *(str(h) for h in CG.iterdir() if h.is_dir() and not h.is_symlink())}:
        assert not Path(f"{m}/pyrunctest.slice/pyrunctest-sd.slice/{unit}").exists(), m
        for d in (f"{m}/pyrunctest.slice/pyrunctest-sd.slice", f"{m}/pyrunctest.slice"):
            with contextlib.suppress(OSError):
                os.rmdir(d)


@pytest.mark.root
def test_systemd_cgroup_bus_unreachable(container, rt, bus):
    """systemd said to run but its bus not answering: a one-line error, nothing left."""
    c = container("true")
    c.write()
    bus.address = f"unix:path={bus.work}/nobody-listens"
    r = bus.run(rt, "create", "--bundle", c.bundle, c.id)
    assert r.rc != 0 and "failed to connect to dbus" in r.err.strip().splitlines()[-1], r
    if rt.name == "pyrunc":  # runc 1.1 also warns that it could not read the OOM count of a cgroup not made
        assert len(r.err.strip().splitlines()) == 1, r
    assert not [*CG.glob(f"*/system.slice/runc-{c.id}.scope"), *CG.glob(f"system.slice/runc-{c.id}.scope")]
