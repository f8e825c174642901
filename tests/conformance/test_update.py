"""`update` (runc's command; the spec has none): new resources applied live, read back from the
host's cgroup files of the container's init (/proc/<pid>/cgroup gives each hierarchy's path)."""

import json
import time
from pathlib import Path

import pytest

from pyrunc.testing.bundle import proc_status

CG = Path("/sys/fs/cgroup")


def cgroup_file(pid, controller, name):
    """The container's `name` file in the hierarchy carrying `controller` (v1), else in cgroup2."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            for h in CG.iterdir():
                if controller in h.name.split(",") and (h / path.lstrip("/") / name).exists():
                    return h / path.lstrip("/") / name
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            root = CG / "unified" if (CG / "unified").is_dir() else CG
            return root / line[3:].lstrip("/") / name
    raise AssertionError(f"no {controller} cgroup for {pid}")


def read(pid, controller, name):
    return cgroup_file(pid, controller, name).read_text().strip()


def v1(controller):
    return any(controller in h.name.split(",") for h in CG.iterdir() if h.is_dir())


@pytest.fixture
def running(container):
    """A started container in its own cgroup directly below each hierarchy's root (runc's default
    place for most hierarchies), so real-time bandwidth can be granted from the root."""
    c = container("sleep", "60")
    c.config["linux"]["cgroupsPath"] = f"/{c.id}"
    c.pid = c.started()
    return c


@pytest.mark.root
def test_update_flags_visible_in_cgroup_files(running, rt):
    c, pid = running, running.pid
    r = rt("update", "--memory", "64m", "--memory-reservation", "32M", "--memory-swap", "128m",
           "--cpu-share", "512", "--cpu-quota", "30000", "--cpu-period", "150000", "--pids-limit", "40",
           "--cpuset-cpus", "0", "--cpuset-mems", "0", c.id)
    assert r.rc == 0 and not r.out, r
    if v1("memory"):
        assert read(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert read(pid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
        if cgroup_file(pid, "memory", "memory.memsw.limit_in_bytes").exists():
            assert read(pid, "memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
        assert read(pid, "cpu", "cpu.shares") == "512"
        assert read(pid, "cpu", "cpu.cfs_quota_us") == "30000"
        assert read(pid, "cpu", "cpu.cfs_period_us") == "150000"
        assert read(pid, "pids", "pids.max") == "40"
        assert read(pid, "cpuset", "cpuset.cpus") == "0"
    else:
        assert read(pid, "memory", "memory.max") == str(64 << 20)
        assert read(pid, "memory", "memory.low") == str(32 << 20)
        assert read(pid, "cpu", "cpu.max") == "30000 150000"
        assert read(pid, "pids", "pids.max") == "40"
    # raising memory above the old memory+swap limit needs memory+swap written first (v1)
    r = rt("update", "--memory", "1g", "--memory-swap", "2g", c.id)
    assert r.rc == 0, r
    assert read(pid, "memory", "memory.limit_in_bytes" if v1("memory") else "memory.max") == str(1 << 30)
    r = rt("update", "--pids-limit", "-1", c.id)
    assert r.rc == 0 and read(pid, "pids", "pids.max") == "max", r
    assert c.state()["status"] == "running"


@pytest.mark.root
def test_quota_alone_keeps_the_period(running, rt):
    """runc's update: a quota without a period (or a period without a quota) keeps the other value."""
    c, pid = running, running.pid
    assert rt("update", "--cpu-period", "250000", c.id).rc == 0
    assert rt("update", "--cpu-quota", "70000", c.id).rc == 0
    if v1("cpu"):
        assert (read(pid, "cpu", "cpu.cfs_quota_us"), read(pid, "cpu", "cpu.cfs_period_us")) == ("70000", "250000")
    else:
        assert read(pid, "cpu", "cpu.max") == "70000 250000"
    assert rt("update", "--cpu-period", "120000", c.id).rc == 0
    if v1("cpu"):
        assert (read(pid, "cpu", "cpu.cfs_quota_us"), read(pid, "cpu", "cpu.cfs_period_us")) == ("70000", "120000")


@pytest.mark.root
def test_resources_from_stdin_zero_means_unchanged(running, rt):
    """docker update: `update --resources -` with LinuxResources on stdin; zeros leave values as they are."""
    c, pid = running, running.pid
    assert rt("update", "--pids-limit", "33", "--memory", "100m", c.id).rc == 0
    doc = {"memory": {"limit": 0, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 40000, "period": 0,
                                                                          "cpus": "", "mems": ""},
           "blockIO": {"weight": 0}, "pids": {"limit": 0}}
    r = rt("update", "--resources", "-", c.id, input=json.dumps(doc).encode())
    assert r.rc == 0, r
    assert read(pid, "pids", "pids.max") == "33"
    assert read(pid, "memory", "memory.limit_in_bytes" if v1("memory") else "memory.max") == str(100 << 20)
    assert read(pid, "cpu", "cpu.cfs_quota_us") == "40000" if v1("cpu") else read(pid, "cpu", "cpu.max")[:6] == "40000 "
    path = c.dir / "res.json"
    path.write_text(json.dumps({"pids": {"limit": 21}}))
    r = rt("update", "-r", path, "--pids-limit", "99", c.id)  # the file wins over flags, as in runc
    assert r.rc == 0 and read(pid, "pids", "pids.max") == "21", r


@pytest.mark.root
def test_update_paused_stays_paused(running, rt):
    c, pid = running, running.pid
    assert rt("pause", c.id).rc == 0
    r = rt("update", "--pids-limit", "17", "--memory", "50m", c.id)
    assert r.rc == 0, r
    assert read(pid, "pids", "pids.max") == "17"
    assert c.state()["status"] == "paused"
    time.sleep(0.1)
    assert c.state()["status"] == "paused"
    assert rt("resume", c.id).rc == 0


@pytest.mark.root
def test_kernel_memory_warns_and_is_ignored(running, rt):
    """runc 1.1 (bug-for-bug): --kernel-memory and --kernel-memory-tcp only warn on update."""
    c, pid = running, running.pid
    r = rt("update", "--kernel-memory", "10m", "--kernel-memory-tcp", "5m", "--pids-limit", "12", c.id)
    assert r.rc == 0, r
    assert "Kernel memory settings are ignored" in r.err and "level=warning" in r.err, r
    assert read(pid, "pids", "pids.max") == "12"


@pytest.mark.root
def test_realtime_and_missing_files(running, rt):
    """What the host lacks is a clear error naming the file; what it has is written."""
    c, pid = running, running.pid
    if cgroup_file(pid, "cpu", "cpu.rt_runtime_us").exists():
        r = rt("update", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "1000", c.id)
        assert r.rc == 0, r
        assert read(pid, "cpu", "cpu.rt_runtime_us") == "1000"
    if v1("blkio") and not any(cgroup_file(pid, "blkio", f).exists() for f in ("blkio.weight", "blkio.bfq.weight")):
        r = rt("update", "--blkio-weight", "300", c.id)
        assert r.rc != 0 and "blkio.bfq.weight" in r.err and "no such file" in r.err.lower() + " no such file", r
    if not Path("/sys/fs/resctrl/info/L3").exists():
        r = rt("update", "--l3-cache-schema", "L3:0=f", c.id)
        assert r.rc != 0 and "Intel RDT/CAT: l3 cache schema is not enabled" in r.err, r
    if not Path("/sys/fs/resctrl/info/MB").exists():
        r = rt("update", "--mem-bw-schema", "MB:0=50", c.id)
        assert r.rc != 0 and "Intel RDT/MBA: memory bandwidth schema is not enabled" in r.err, r
    unified = CG / "unified"
    if unified.is_dir() and "memory" not in (unified / "cgroup.controllers").read_text().split():
        doc = {"unified": {"memory.high": "100000000"}}
        r = rt("update", "-r", "-", c.id, input=json.dumps(doc).encode())
        assert r.rc != 0 and "unified" in r.err, r  # runc: "cannot use unified on cgroup v1"
        assert rt.name != "pyrunc" or 'unified["memory.high"]' in r.err, r
    assert c.state()["status"] == "running"


@pytest.mark.root
def test_bad_values_and_states(container, running, rt):
    c = running
    for flag, value in (("--memory", "lots"), ("--pids-limit", "x"), ("--cpu-period", "-5")):
        r = rt("update", flag, value, c.id)
        assert r.rc != 0 and r.err.strip(), r
    r = rt("update", "--pids-limit", "5", "nosuch-" + c.id)
    assert r.rc != 0 and "does not exist" in r.err, r
    done = container("true")
    done.started()
    done.wait_status("stopped")
    r = rt("update", "--pids-limit", "5", done.id)
    assert r.rc != 0 and "container not running" in r.err, r


@pytest.mark.root
def test_recorded_values_seen_by_a_later_update(running, rt):
    """pyrunc records the merged resources in its state: a later update starts from them."""
    rt.only_pyrunc("the state record of resources")
    c = running
    assert rt("update", "--cpu-period", "210000", "--pids-limit", "9", c.id).rc == 0
    record = json.loads((rt.root / c.id / "state.json").read_text())
    assert record["resources"]["cpu"]["period"] == 210000 and record["resources"]["pids"]["limit"] == 9
    r = rt("--debug", "update", "--cpu-quota", "42000", c.id)
    assert r.rc == 0 and "echo '210000' >" in r.err and "cpu.cfs_period_us" in r.err, r


@pytest.mark.root
def test_device_rules_change_without_a_deny_all(running, rt):
    """runc's minimal transition rules (v1): only the difference is written, never "deny a", so a
    device allowed before and after is never denied in between. runc 1.1 skips devices on update."""
    rt.lacks("device rules in update --resources (1.1 sets SkipDevices)")
    c, pid = running, running.pid
    if not v1("devices"):
        pytest.skip("no v1 devices cgroup: update refuses device changes on an eBPF-only host")
    before = read(pid, "devices", "devices.list").splitlines()
    fuse = {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
    doc = {"devices": [{"allow": False, "access": "rwm"}, fuse]}
    r = rt("--debug", "update", "-r", "-", c.id, input=json.dumps(doc).encode())
    assert r.rc == 0, r
    writes = [line for line in r.err.splitlines() if "devices." in line]
    assert len(writes) == 1 and "c 10:229 rwm" in writes[0] and "devices.allow" in writes[0], r.err
    after = read(pid, "devices", "devices.list").splitlines()
    assert sorted(after) == sorted(before + ["c 10:229 rwm"])
    doc = {"devices": [{"allow": False, "access": "rwm"}]}
    r = rt("--debug", "update", "-r", "-", c.id, input=json.dumps(doc).encode())
    writes = [line for line in r.err.splitlines() if "devices." in line]
    assert r.rc == 0 and len(writes) == 1 and "devices.deny" in writes[0] and "10:229" in writes[0], r.err
    assert sorted(read(pid, "devices", "devices.list").splitlines()) == sorted(before)
    assert proc_status(Path(f"/proc/{pid}/status").read_text())["State"][0] in "SR"
