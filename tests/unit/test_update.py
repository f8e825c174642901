"""`update` without root: the pure planning (zero means unchanged, quota/period and swap/limit
partners, runc's device transition) and the writes against directory trees standing in for a v1
host with CFQ and RT files, a v2 host with every controller, and resctrl."""

import os

import pytest

from pyrunc import executor, resctrl
from pyrunc.cgroups import devices
from pyrunc.cgroups import update as planning
from pyrunc.cgroups.layout import Hierarchy, Layout, detect
from pyrunc.errors import PyruncError
from pyrunc.update import UpdateOps, ram_in_bytes, steps_for

V2 = Layout("v2", "/cg", [Hierarchy("", "/cg", "/", (), True)])
V2_PATHS = {"": "/cg/pyrunc/c1"}


def writes(plan):
    return [(f, v) for _, f, v, _ in plan.writes]


def test_zero_and_empty_mean_unchanged():
    delta = planning.changes({"memory": {"limit": 0, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 5,
                              "period": 0, "cpus": "", "mems": ""}, "blockIO": {"weight": 0}, "pids": {"limit": 0}})
    assert delta == {"cpu": {"quota": 5}}
    merged = planning.merge({"cpu": {"period": 200000, "shares": 512}, "pids": {"limit": 3}}, delta)
    assert merged == {"cpu": {"period": 200000, "shares": 512, "quota": 5}, "pids": {"limit": 3}}


def test_quota_alone_keeps_the_recorded_period():
    delta = planning.changes({"cpu": {"quota": 70000}})
    merged = planning.merge({"cpu": {"period": 250000}}, delta)
    assert writes(planning.plan(delta, merged, V2, V2_PATHS)) == [("cpu.max", "70000 250000")]
    delta = planning.changes({"cpu": {"period": 120000}})
    merged = planning.merge(merged, delta)
    assert writes(planning.plan(delta, merged, V2, V2_PATHS)) == [("cpu.max", "70000 120000")]
    delta = planning.changes({"cpu": {"quota": -1}})
    assert writes(planning.plan(delta, planning.merge({}, delta), V2, V2_PATHS)) == [("cpu.max", "max")]


def test_v2_swap_alone_uses_the_recorded_limit_and_rt_is_refused():
    delta = planning.changes({"memory": {"swap": 300}})
    merged = planning.merge({"memory": {"limit": 100}}, delta)
    assert writes(planning.plan(delta, merged, V2, V2_PATHS)) == [("memory.swap.max", "200"), ("memory.max", "100")]
    with pytest.raises(PyruncError, match="cgroup v2 has no real-time group scheduling"):
        planning.plan({"cpu": {"realtimeRuntime": 1000}}, {}, V2, V2_PATHS)


def test_v1_memory_and_swap_order_follows_the_current_limit():
    from test_cgroups import v1_layout  # noqa: PLC0415 - the fixtures of the create planner's tests

    layout = v1_layout()
    paths = {h.key: f"{h.mountpoint}/c1" for h in layout.hierarchies}
    delta = planning.changes({"memory": {"limit": 1 << 30, "swap": 2 << 30}})
    raising = planning.plan(delta, delta, layout, paths, memory_limit_now=64 << 20)
    assert writes(raising) == [("memory.memsw.limit_in_bytes", str(2 << 30)), ("memory.limit_in_bytes", str(1 << 30))]
    lowering = planning.plan(delta, delta, layout, paths, memory_limit_now=4 << 30)
    assert writes(lowering) == [("memory.limit_in_bytes", str(1 << 30)), ("memory.memsw.limit_in_bytes", str(2 << 30))]


def test_device_transition_is_minimal():
    current = "c 1:3 rwm\nc 1:5 rwm\nc 136:* rw\n"
    target = [(("c", 1, 3), "rwm"), (("c", 136, -1), "rwm"), (("c", 10, 229), "rwm")]
    assert devices.transition(current, False, target) == [
        ("devices.deny", "c 1:5 rwm"), ("devices.allow", "c 10:229 rwm"), ("devices.allow", "c 136:* m")]
    assert devices.transition(current, False, [(("c", 1, 3), "rwm"), (("c", 1, 5), "rwm"),
                                               (("c", 136, -1), "rw")]) == []
    # an allow-all source (its denies unknown) or a new default starts with the one disruptive rule
    assert devices.transition("a *:* rwm\n", False, [(("c", 1, 3), "rw")]) == [
        ("devices.deny", "a *:* rwm"), ("devices.allow", "c 1:3 rw")]
    assert devices.transition(current, True, [(("c", 1, 9), "w")]) == [
        ("devices.allow", "a *:* rwm"), ("devices.deny", "c 1:9 w")]


def test_devices_refused_without_a_v1_devices_cgroup():
    with pytest.raises(PyruncError, match="update changes device rules only on a v1 devices cgroup"):
        planning.plan({"devices": [{"allow": False, "access": "rwm"}]}, {}, V2, V2_PATHS)


class Record:
    def __init__(self, cid, cgroups, resources=None):
        self.id, self.record = cid, {"cgroups": cgroups, "resources": resources or {}}


def run_update(layout, rec, res):
    delta = planning.changes(res)
    merged = planning.merge(rec.record["resources"], delta)
    executor.run(steps_for(rec, delta, merged, layout), UpdateOps())
    return merged


def fill(d, files):
    os.makedirs(d, exist_ok=True)
    for name, value in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(value)


def test_v1_tree_with_cfq_and_rt(tmp_path):
    """A v1 host that has what this one lacks: the CFQ blkio.weight file and RT group scheduling."""
    root = tmp_path / "cg"
    fill(root / "cpu/c1", {"cpu.rt_period_us": "", "cpu.rt_runtime_us": "", "cpu.cfs_quota_us": "-1",
                           "cpu.cfs_period_us": "100000", "cpu.shares": "1024"})
    fill(root / "blkio/c1", {"blkio.weight": "500"})
    fill(root / "memory/c1", {"memory.limit_in_bytes": "9223372036854771712"})
    fill(root / "devices/c1", {"devices.list": "a *:* rwm\n"})
    layout = detect(str(root), mountinfo="")
    rec = Record("c1", {h.key: f"{h.mountpoint}/c1" for h in layout.hierarchies})
    run_update(layout, rec, {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 950, "quota": 20000},
                             "blockIO": {"weight": 300}})
    assert (root / "cpu/c1/cpu.rt_period_us").read_text() == "1000000"
    assert (root / "cpu/c1/cpu.rt_runtime_us").read_text() == "950"
    assert (root / "cpu/c1/cpu.cfs_quota_us").read_text() == "20000"
    assert (root / "blkio/c1/blkio.weight").read_text() == "300"  # no BFQ file: the CFQ one
    os.unlink(root / "blkio/c1/blkio.weight")
    with pytest.raises(PyruncError, match=r"blkio.bfq.weight nor .*blkio/c1/blkio.weight exists"):
        run_update(layout, rec, {"blockIO": {"weight": 300}})
    with pytest.raises(PyruncError, match="pids cgroup controller is not mounted"):
        run_update(layout, rec, {"pids": {"limit": 5}})


def test_v2_tree_with_every_controller(tmp_path):
    """A cgroup2 host whose leaf has the controller files this hybrid host's cgroup2 lacks."""
    root = tmp_path / "cg"
    fill(root, {"cgroup.controllers": "cpuset cpu io memory pids hugetlb"})
    fill(root / "pyrunc/c1", {"cpu.max": "max 100000", "memory.max": "max", "memory.swap.max": "max",
                              "memory.low": "0", "pids.max": "max", "cpu.weight": "100", "io.weight": "default 100",
                              "cpuset.cpus": "", "hugetlb.2MB.max": "max", "memory.current": "4096"})
    layout = detect(str(root), mountinfo="")
    rec = Record("c1", {"": str(root / "pyrunc/c1")}, {"cpu": {"period": 50000}})
    merged = run_update(layout, rec, {"cpu": {"quota": 25000, "shares": 2048, "cpus": "1"},
                                      "memory": {"limit": 1 << 20, "swap": 3 << 20, "reservation": 4096},
                                      "pids": {"limit": 8}, "blockIO": {"weight": 500},
                                      "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    leaf = root / "pyrunc/c1"
    got = {n: (leaf / n).read_text() for n in ("cpu.max", "cpu.weight", "cpuset.cpus", "memory.max",
                                               "memory.swap.max", "memory.low", "pids.max", "io.weight",
                                               "hugetlb.2MB.max")}
    assert got == {"cpu.max": "25000 50000", "cpu.weight": "174", "cpuset.cpus": "1", "memory.max": str(1 << 20),
                   "memory.swap.max": str(2 << 20), "memory.low": "4096", "pids.max": "8", "io.weight": "4950",
                   "hugetlb.2MB.max": "0"}
    assert merged["cpu"] == {"period": 50000, "quota": 25000, "shares": 2048, "cpus": "1"}
    rec.record["resources"] = merged
    with pytest.raises(PyruncError, match="1024 is below the current usage"):
        run_update(layout, rec, {"memory": {"limit": 1024, "checkBeforeUpdate": True}})


def test_resctrl_tree(tmp_path):
    """Intel RDT on a stand-in /sys/fs/resctrl: the group is made, the init joins, schemata written."""
    root = tmp_path / "resctrl"
    with pytest.raises(PyruncError, match=r"Intel RDT/CAT: l3 cache schema is not enabled \(.*info/L3"):
        resctrl.plan(str(root), "c1", 42, "L3:0=f", None, None)
    (root / "info/L3").mkdir(parents=True)
    (root / "info/MB").mkdir(parents=True)
    path, steps = resctrl.plan(str(root), "c1", 42, "L3:0=f", "MB:0=50", None)
    ops = UpdateOps()
    real_mkdir = os.makedirs

    def mkdir_with_files(p, exist_ok=False):  # resctrl's mkdir fills the group with its files
        real_mkdir(p, exist_ok=exist_ok)
        for name in ("tasks", "schemata"):
            open(os.path.join(p, name), "a").close()

    os.makedirs = mkdir_with_files
    try:
        executor.run(steps, ops)
    finally:
        os.makedirs = real_mkdir
    assert path == str(root / "c1")
    assert (root / "c1/tasks").read_text() == "42"
    assert (root / "c1/schemata").read_text() == "L3:0=f\nMB:0=50"
    _, again = resctrl.plan(str(root), "c1", 42, None, "MB:0=20", path)
    assert [s.op for s in again] == ["write_file"]
    resctrl.remove(path + "-gone")


@pytest.mark.parametrize(("text", "value"), [("512", 512), ("64m", 64 << 20), ("1g", 1 << 30), ("1.5k", 1536),
                                             ("2 MiB", 2 << 20), ("3GB", 3 << 30)])
def test_ram_in_bytes(text, value):
    assert ram_in_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "1x", "-5", "1.2.3g"])
def test_ram_in_bytes_refuses(text):
    with pytest.raises(PyruncError, match="invalid size"):
        ram_in_bytes(text)


def test_fields_beyond_runcs_update_are_applied_not_dropped():
    from test_cgroups import v1_layout  # noqa: PLC0415

    layout = v1_layout()
    paths = {h.key: f"{h.mountpoint}/c1" for h in layout.hierarchies}
    delta = planning.changes({"memory": {"limit": 0, "swappiness": 10, "disableOOMKiller": None},
                              "blockIO": {"weight": 0, "throttleReadBpsDevice": [{"major": 8, "minor": 0,
                                                                                   "rate": 1024}]},
                              "network": {}, "rdma": None})
    assert delta == {"memory": {"swappiness": 10},
                     "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}]}}
    assert writes(planning.plan(delta, delta, layout, paths)) == [
        ("memory.swappiness", "10"), ("blkio.throttle.read_bps_device", "8:0 1024")]
    with pytest.raises(PyruncError, match="cgroup v2 has no per-cgroup swappiness"):
        planning.plan(delta, delta, V2, V2_PATHS)
