"""`events` without root: runc's stats shape from stand-in v1 and v2 trees, Go durations, and the
v2 OOM counter."""

import pytest

from pyrunc.cgroups import stats
from pyrunc.cgroups.layout import detect
from pyrunc.errors import PyruncError
from pyrunc.events import Watch, parse_duration


def fill(d, files):
    d.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (d / name).write_text(value)


def test_v2_tree(tmp_path):
    root = tmp_path / "cg"
    fill(root, {"cgroup.controllers": "cpuset cpu io memory pids hugetlb"})
    leaf = root / "pyrunc/c1"
    fill(leaf, {"cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\n"
                            "throttled_usec 7\n",
                "cpuset.cpus.effective": "0-1,3\n", "cpuset.mems.effective": "0\n",
                "memory.current": "8192\n", "memory.max": "max\n", "memory.swap.current": "0\n",
                "memory.swap.max": "4096\n", "memory.stat": "anon 4096\nfile 2048\n",
                "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
                "pids.current": "2\n", "pids.max": "max\n",
                "io.stat": "8:0 rbytes=100 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n",
                "hugetlb.2MB.current": "0\n", "hugetlb.2MB.max": "max\n", "hugetlb.2MB.events": "max 2\n"})
    layout = detect(str(root), mountinfo="")
    data = stats.sample(layout, {"": str(leaf)})
    assert data["cpu"] == {"usage": {"total": 1_500_000, "kernel": 500_000, "user": 1_000_000},
                           "throttling": {"periods": 4, "throttledPeriods": 1, "throttledTime": 7000}}
    assert data["cpuset"]["cpus"] == [0, 1, 3] and data["cpuset"]["mems"] == [0]
    assert data["memory"]["cache"] == 2048
    assert data["memory"]["usage"] == {"limit": (1 << 64) - 1, "usage": 8192, "failcnt": 3}
    assert data["memory"]["swap"] == {"limit": 4096, "failcnt": 0}
    assert data["memory"]["raw"] == {"anon": 4096, "file": 2048}
    assert data["pids"] == {"current": 2}
    assert data["blkio"]["ioServiceBytesRecursive"] == [{"major": 8, "op": "Read", "value": 100},
                                                        {"major": 8, "op": "Write"}]
    assert data["hugetlb"] == {"2MB": {"failcnt": 2}}
    assert data["intel_rdt"] == {} and data["network_interfaces"] is None
    assert stats.oom_count(layout, {"": str(leaf)}) == 1

    watch = Watch()
    watch.v2_oom(str(leaf))
    assert watch.ooms() == 0
    (leaf / "memory.events").write_text("max 9\noom 3\noom_kill 3\n")
    assert watch.ooms() == 2 and watch.ooms() == 0


def test_v1_tree_with_cfq_and_rdt(tmp_path):
    root = tmp_path / "cg"
    fill(root / "cpu/c1", {"cpu.stat": "nr_periods 2\nnr_throttled 0\nthrottled_time 0\n"})
    fill(root / "cpuacct/c1", {"cpuacct.usage": "300\n", "cpuacct.usage_percpu": "100 200 \n",
                               "cpuacct.usage_all": "cpu user system\n0 60 40\n1 0 200\n",
                               "cpuacct.stat": "user 2\nsystem 1\n"})
    fill(root / "memory/c1", {"memory.limit_in_bytes": "1024\n", "memory.usage_in_bytes": "512\n",
                              "memory.max_usage_in_bytes": "600\n", "memory.failcnt": "1\n",
                              "memory.stat": "cache 8\nrss 16\n"})
    fill(root / "pids/c1", {"pids.current": "1\n", "pids.max": "10\n"})
    fill(root / "blkio/c1", {"blkio.io_service_bytes_recursive": "8:16 Read 5\n8:16 Write 0\nTotal 5\n",
                             "blkio.io_serviced_recursive": "8:16 Read 1\nTotal 1\n",
                             "blkio.sectors_recursive": "8:16 1\n"})
    fill(tmp_path / "resctrl", {"schemata": "L3:0=ff\nMB:0=100\n"})
    fill(tmp_path / "resctrl/c1", {"schemata": "    L3:0=f\n    MB:0=50\n"})
    layout = detect(str(root), mountinfo="")
    paths = {h.key: f"{h.mountpoint}/c1" for h in layout.hierarchies}
    data = stats.sample(layout, paths, str(tmp_path / "resctrl/c1"))
    assert data["cpu"]["usage"] == {"total": 300, "percpu": [100, 200], "percpu_kernel": [40, 200],
                                    "percpu_user": [60, 0], "kernel": 10_000_000, "user": 20_000_000}
    assert data["cpu"]["throttling"] == {"periods": 2}
    assert data["memory"]["usage"] == {"limit": 1024, "usage": 512, "max": 600, "failcnt": 1}
    assert data["memory"]["cache"] == 8 and data["memory"]["kernel"] == {"limit": 0, "failcnt": 0}
    assert data["pids"] == {"current": 1, "limit": 10}
    assert data["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "minor": 16, "op": "Read", "value": 5},
                                                         {"major": 8, "minor": 16, "op": "Write"}],
                             "ioServicedRecursive": [{"major": 8, "minor": 16, "op": "Read", "value": 1}]}
    assert data["intel_rdt"] == {"l3_cache_schema": "L3:0=f", "mem_bw_schema": "MB:0=50",
                                 "l3_cache_schema_root": "L3:0=ff", "mem_bw_schema_root": "MB:0=100"}
    assert data["cpuset"]["cpu_exclusive"] == 0 and "cpus" not in data["cpuset"]  # no cpuset hierarchy
    assert stats.oom_count(layout, paths) is None


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("200ms", 0.2), ("1m30s", 90), ("1.5h", 5400),
                                                ("10us", 1e-5)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "soon", "1.2.3s", "-1s"])
def test_bad_durations(text):
    with pytest.raises(PyruncError, match="for flag -interval"):
        parse_duration(text)
