"""pyrunc.cgroups without root: layout detection, planning (pure), the device program, and the do
layer against a directory tree standing in for cgroupfs."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys

import pytest

from pyrunc import cgroups
from pyrunc.cgroups import bpf, devices, fs, resources, systemd
from pyrunc.cgroups.layout import Hierarchy, Layout, detect, parse_mountinfo, parse_self_cgroup
from pyrunc.errors import PyruncError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# This host's mountinfo (Debian 12, hybrid), plus a combined cpu,cpuacct hierarchy as systemd mounts it.
HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/other\\040dir rw - cgroup cgroup rw,memory
"""
V2_MOUNTINFO = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"


def hybrid_layout(v2_controllers: tuple[str, ...] = ("hugetlb",)) -> Layout:
    hierarchies = parse_mountinfo(HYBRID_MOUNTINFO, "/sys/fs/cgroup")
    return Layout("hybrid", "/sys/fs/cgroup", hierarchies, v2_controllers)


def v1_layout() -> Layout:
    return Layout("v1", "/sys/fs/cgroup", [h for h in hybrid_layout().hierarchies if not h.v2])


def v2_layout(root: str = "/sys/fs/cgroup") -> Layout:
    return Layout("v2", root, [Hierarchy("", root, "/", (), True)])


def writes_of(plan: cgroups.CgroupPlan, name: str | None = None) -> list[tuple[str, str]]:
    """(file, value) of the non-device writes, or of those to one file."""
    return [(f, v) for d, f, v, p in plan.writes
            if not f.startswith("devices.") and (name is None or f == name)]


# -- layout ------------------------------------------------------------------------------------


def test_mountinfo_hybrid_keys_and_controllers():
    hs = parse_mountinfo(HYBRID_MOUNTINFO, "/sys/fs/cgroup")
    assert [h.key for h in hs] == ["cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                                   "systemd", "unified"]
    assert hs[0].controllers == ("cpu", "cpuacct")
    assert hs[7].controllers == ("name=systemd",)
    assert hs[8].v2 and hs[8].controllers == ()


def test_mountinfo_v2_and_escapes():
    (h,) = parse_mountinfo(V2_MOUNTINFO, "/sys/fs/cgroup")
    assert (h.key, h.mountpoint, h.v2) == ("", "/sys/fs/cgroup", True)
    (other,) = parse_mountinfo(HYBRID_MOUNTINFO, "/mnt/other dir")
    assert other.mountpoint == "/mnt/other dir" and other.key == ""


def test_detect_versions(tmp_path):
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb rdma\n")
    text = HYBRID_MOUNTINFO.replace("/sys/fs/cgroup", str(tmp_path))
    layout = detect(str(tmp_path), mountinfo=text)
    assert layout.version == "hybrid" and layout.v2_controllers == ("hugetlb", "rdma")
    assert detect("/sys/fs/cgroup", mountinfo=V2_MOUNTINFO).version == "v2"
    only_v1 = "\n".join(line for line in HYBRID_MOUNTINFO.splitlines() if "cgroup2" not in line)
    assert detect("/sys/fs/cgroup", mountinfo=only_v1).version == "v1"


def test_detect_stand_in_tree(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    layout = detect(str(tmp_path), mountinfo="")
    assert layout.version == "v2" and layout.hierarchies[0].mountpoint == str(tmp_path)
    with pytest.raises(PyruncError, match="no cgroup filesystem"):
        detect(str(tmp_path / "nothing"), mountinfo="")


def test_detect_this_host_runs():
    layout = detect()
    assert layout.version in ("v1", "hybrid", "v2") and layout.hierarchies


def test_parse_self_cgroup():
    own = parse_self_cgroup("9:name=systemd:/\n4:memory:/a/b\n1:cpu,cpuacct:/c\n0::/u\n")
    assert own == {"name=systemd": "/", "memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "": "/u"}


# -- cgroupsPath ---------------------------------------------------------------------------------


def test_default_absolute_and_relative_paths():
    layout = hybrid_layout()
    plan = cgroups.plan({}, "c1", layout)
    assert plan.dirs["memory"] == "/sys/fs/cgroup/memory/pyrunc/c1"
    assert plan.dirs["cpu,cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/pyrunc/c1"
    assert plan.dirs["unified"] == "/sys/fs/cgroup/unified/pyrunc/c1"
    assert cgroups.paths_for(plan) == plan.dirs and len(plan.dirs) == 9
    plan = cgroups.plan({"cgroupsPath": "/a//b/./c/"}, "c1", layout)
    assert plan.dirs["pids"] == "/sys/fs/cgroup/pids/a/b/c"
    own = "9:name=systemd:/\n4:memory:/run/me\n0::/u\n8:pids:/\n1:cpu,cpuacct:/\n3:cpuset:/\n5:devices:/\n" \
          "6:freezer:/\n7:blkio:/\n"
    plan = cgroups.plan({"cgroupsPath": "box"}, "c1", layout, self_cgroup=own)
    assert plan.dirs["memory"] == "/sys/fs/cgroup/memory/run/me/box"
    assert plan.dirs["pids"] == "/sys/fs/cgroup/pids/box"
    assert plan.dirs["unified"] == "/sys/fs/cgroup/unified/u/box"


def test_relative_path_under_a_mount_root():
    """Inside a container, the mount shows /ctr and /proc/self/cgroup says /ctr/sub."""
    layout = Layout("v2", "/sys/fs/cgroup", [Hierarchy("", "/sys/fs/cgroup", "/ctr", (), True)])
    plan = cgroups.plan({"cgroupsPath": "x"}, "c1", layout, self_cgroup="0::/ctr/sub\n")
    assert plan.dirs[""] == "/sys/fs/cgroup/sub/x"


@pytest.mark.parametrize("value", ["/a/../b", "..", "/", "./", "a/\0"])
def test_bad_cgroups_paths(value):
    with pytest.raises(PyruncError, match="linux.cgroupsPath"):
        cgroups.plan({"cgroupsPath": value}, "c1", v2_layout(), self_cgroup="0::/\n")


# runc 1.1's expectations: ExpandSlice's rules (libcontainer/cgroups/systemd/common.go), the paths its
# integration tests expect (tests/integration/helpers.bash set_cgroups_path: machine[-pod].slice and
# runc-cgroups-integration-test-N.scope) and the v1 path in systemd_test.go's SkipDevices comment.
@pytest.mark.parametrize("slice_name, path", [
    ("system.slice", "/system.slice"),
    ("-.slice", "/"),
    ("test-a-b.slice", "/test.slice/test-a.slice/test-a-b.slice"),
    ("machine-pod1.slice", "/machine.slice/machine-pod1.slice"),
    ("system-runc_test_pods.slice", "/system.slice/system-runc_test_pods.slice"),
])
def test_systemd_expand_slice(slice_name, path):
    assert systemd.expand_slice(slice_name) == path


@pytest.mark.parametrize("bad", ["a--b.slice", "-a.slice", "a-.slice", ".slice", "a.scope", "a/b.slice", ""])
def test_systemd_expand_slice_refuses(bad):
    with pytest.raises(PyruncError, match=f"^invalid slice name: {re.escape(bad)}$"):
        systemd.expand_slice(bad)


@pytest.mark.parametrize("value, path", [
    ("machine.slice:runc-cgroups:integration-test-7", "/machine.slice/runc-cgroups-integration-test-7.scope"),
    ("machine-pod1.slice:runc-cgroups:integration-test-7",
     "/machine.slice/machine-pod1.slice/runc-cgroups-integration-test-7.scope"),
    ("user-1000.slice:docker:abc", "/user.slice/user-1000.slice/docker-abc.scope"),
    (":cri-containerd:deadbeef", "/system.slice/cri-containerd-deadbeef.scope"),
    ("system.slice::x.slice", "/system.slice/x.slice"),  # getUnitName: a slice keeps its name
    ("-.slice:p:n", "/p-n.scope"),
    (None, "/system.slice/runc-c1.scope"),  # no cgroupsPath: runc's ScopePrefix and the id
])
def test_systemd_v2_paths(value, path):
    plan = cgroups.plan({"cgroupsPath": value} if value else {}, "c1", v2_layout(), systemd=True,
                        systemd_running=True)
    assert plan.dirs[""] == "/sys/fs/cgroup" + path


def test_systemd_v1_paths_below_pid1s_cgroup():
    """v1 and the hybrid cgroup2: below pid 1's cgroup in each hierarchy, less init.scope."""
    layout = hybrid_layout()
    pid1 = "9:devices:/init.scope\n4:memory:/\n1:name=systemd:/init.scope\n0::/nested/init.scope\n"
    dirs = systemd.dirs("system-runc_test_pods.slice:test:SkipDevices", "c1", layout, pid1, systemd_running=True)
    assert dirs["devices"] == "/sys/fs/cgroup/devices/system.slice/system-runc_test_pods.slice/test-SkipDevices.scope"
    assert dirs["memory"] == "/sys/fs/cgroup/memory/system.slice/system-runc_test_pods.slice/test-SkipDevices.scope"
    assert dirs["unified"] == "/sys/fs/cgroup/unified/nested/system.slice/system-runc_test_pods.slice/" \
                              "test-SkipDevices.scope"
    assert dirs["cpuset"] == "/sys/fs/cgroup/cpuset/system.slice/system-runc_test_pods.slice/test-SkipDevices.scope"
    assert dirs["systemd"].startswith("/sys/fs/cgroup/systemd/system.slice/")


@pytest.mark.parametrize("value, message", [
    ("/not/systemd", 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                     'got "/not/systemd" instead'),
    ("a:b", "slice:prefix:name"),
    ("bad:p:n", "invalid slice name: bad"),
    ("system.slice:p:../x", "invalid systemd unit"),
    ("system.slice:p/q:n", "invalid systemd unit"),
])
def test_systemd_bad_paths(value, message):
    with pytest.raises(PyruncError, match=re.escape(message)):
        cgroups.plan({"cgroupsPath": value}, "c1", v2_layout(), systemd=True, systemd_running=True)


def test_systemd_not_running():
    """runc's IsRunningSystemd and its error; the format is checked first, as runc's specconv does."""
    with pytest.raises(PyruncError, match="^systemd not running on this host, cannot use systemd cgroups manager$"):
        cgroups.plan({}, "c1", v2_layout(), systemd=True, systemd_running=False)
    with pytest.raises(PyruncError, match="slice:prefix:name"):
        cgroups.plan({"cgroupsPath": "x"}, "c1", v2_layout(), systemd=True, systemd_running=False)


def test_systemd_running_mark(tmp_path):
    assert not systemd.running(str(tmp_path / "none"))
    (tmp_path / "file").touch()
    assert not systemd.running(str(tmp_path / "file"))
    assert systemd.running(str(tmp_path))


# -- resources on v1 -----------------------------------------------------------------------------

FULL = {
    "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": -1,
               "kernelTCP": 1048576, "swappiness": 10, "disableOOMKiller": True, "useHierarchy": True,
               "checkBeforeUpdate": True},
    "cpu": {"shares": 512, "quota": 50000, "burst": 10000, "period": 100000, "realtimeRuntime": 950,
            "realtimePeriod": 1000, "cpus": "0-1", "mems": "0", "idle": 0},
    "pids": {"limit": 0},
    "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
}


def test_v1_resource_writes_in_order():
    plan = cgroups.plan({"resources": FULL}, "c1", hybrid_layout())
    assert writes_of(plan) == [
        ("cpuset.cpus", "0-1"), ("cpuset.mems", "0"),
        ("memory.limit_in_bytes", "536870912"), ("memory.memsw.limit_in_bytes", "1073741824"),
        ("memory.soft_limit_in_bytes", "268435456"), ("memory.kmem.tcp.limit_in_bytes", "1048576"),
        ("memory.swappiness", "10"), ("memory.oom_control", "1"), ("memory.use_hierarchy", "1"),
        ("cpu.rt_period_us", "1000"), ("cpu.rt_runtime_us", "950"), ("cpu.shares", "512"),
        ("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000"), ("cpu.cfs_burst_us", "10000"),
        ("cpu.idle", "0"), ("pids.max", "0"),
        ("blkio.bfq.weight", "500"), ("blkio.bfq.weight_device", "8:0 300"),
        ("blkio.throttle.read_bps_device", "8:0 600"), ("blkio.throttle.write_iops_device", "8:16 300"),
        # hugetlb is not a v1 hierarchy here, but the hybrid host's cgroup2 offers it
        ("hugetlb.2MB.max", "209715200"), ("hugetlb.2MB.rsvd.max", "209715200"),
    ]
    where = {f: d for d, f, v, p in plan.writes}
    assert where["cpu.shares"] == "/sys/fs/cgroup/cpu,cpuacct/pyrunc/c1"
    assert where["cpuset.cpus"] == "/sys/fs/cgroup/cpuset/pyrunc/c1"
    assert where["hugetlb.2MB.max"] == "/sys/fs/cgroup/unified/pyrunc/c1"
    assert plan.delegate_dir == "/sys/fs/cgroup/unified/pyrunc/c1"
    assert plan.cpuset_dir == "/sys/fs/cgroup/cpuset/pyrunc/c1"
    paths = {p for d, f, v, p in plan.writes}
    assert "linux.resources.memory.kernelTCP" in paths and "linux.resources.cpu.period" in paths
    assert plan.device_program is None


def test_v1_memory_unlimited_and_swap_order():
    plan = cgroups.plan({"resources": {"memory": {"limit": -1}}}, "c1", v1_layout())
    assert writes_of(plan) == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]
    plan = cgroups.plan({"resources": {"memory": {"limit": 1 << 20, "swap": -1}}}, "c1", v1_layout())
    assert writes_of(plan) == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "1048576")]
    with pytest.raises(PyruncError, match="memory.swap.*must be >="):
        cgroups.plan({"resources": {"memory": {"limit": 2 << 20, "swap": 1 << 20}}}, "c1", v1_layout())


def test_v1_pids_limits():
    for limit, value in ((-1, "max"), (0, "0"), (32771, "32771")):
        plan = cgroups.plan({"resources": {"pids": {"limit": limit}}}, "c1", v1_layout())
        assert writes_of(plan) == [("pids.max", value)]


def test_zero_means_unset_as_in_runc():
    res = {"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0},
           "blockIO": {"weight": 0}}
    assert writes_of(cgroups.plan({"resources": res}, "c1", v1_layout())) == []


def test_unknown_resource_properties_are_ignored():
    """config.md: unknown properties are ignored; intelRdt belongs to linux, not linux.resources."""
    from pyrunc import config

    config.ignored.clear()
    res = {"memory": {"limit": 1 << 20, "bogus": 1}, "intelRdt": {}}
    assert writes_of(cgroups.plan({"resources": res}, "c1", v1_layout()))
    assert sorted(config.ignored) == ["linux.resources.intelRdt", "linux.resources.memory.bogus"]
    config.ignored.clear()


@pytest.mark.parametrize("res, message", [
    ({"memory": {"kernel": 1 << 20}}, "unsupported: linux.resources.memory.kernel"),
    ({"memory": {"limit": -2}}, r"linux.resources.memory.limit: -2 is out of range"),
    ({"memory": {"limit": True}}, "is not an integer"),
    ({"memory": {"swappiness": 101}}, "swappiness: 101 is out of range"),
    ({"cpu": {"shares": 1}}, r"cpu.shares: 1 is out of range \(2 to 262144\)"),
    ({"cpu": {"quota": 1000, "burst": 2000}}, "burst: 2000 is larger than the quota"),
    ({"cpu": {"idle": 1, "shares": 1024}}, "cannot be set when linux.resources.cpu.idle is 1"),
    ({"cpu": {"idle": 2}}, "idle: 2 is out of range"),
    ({"cpu": {"cpus": "0-3;rm"}}, "cpu.cpus: '0-3;rm' is not a list"),
    ({"pids": {"limit": -5}}, "pids.limit: -5 is out of range"),
    ({"blockIO": {"leafWeight": 10}}, "unsupported: linux.resources.blockIO.leafWeight"),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 10}]}},
     r"unsupported: linux.resources.blockIO.weightDevice\[0\].leafWeight"),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}, "weight is required"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}}, "major and minor are required"),
    ({"hugepageLimits": [{"pageSize": "2mb", "limit": 1}]}, "is not a size like 2MB"),
    ({"network": {"classID": 1048577}},
     "unsupported: linux.resources.network.classID: the net_cls cgroup controller is not mounted"),
    ({"network": {"priorities": [{"name": "eth0", "priority": 5}]}},
     r"unsupported: linux.resources.network.priorities\[0\]: the net_prio cgroup controller is not mounted"),
    ({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "unsupported: linux.resources.rdma.mlx5_1: the rdma"),
    ({"unified": {"memory.max": "1"}},
     r'unsupported: linux.resources.unified\["memory.max"\]: the memory controller is not available'),
    ({"unified": {"../x": "1"}}, "not a cgroup file name"),
    ({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3}]}, r"devices\[0\].access: cannot be"),
    ({"devices": [{"allow": True, "type": "x", "access": "r"}]}, r"devices\[0\].type: 'x'"),
    ({"devices": [{"allow": True, "access": "rwq"}]}, "not a combination of r, w and m"),
])
def test_refused_and_invalid_on_hybrid(res, message):
    with pytest.raises(PyruncError, match=message):
        cgroups.plan({"resources": res}, "c1", hybrid_layout())


def test_v1_only_host_refuses_v2_things():
    with pytest.raises(PyruncError, match=r"unified\[\"cgroup.freeze\"\]: this host has no cgroup2"):
        cgroups.plan({"resources": {"unified": {"cgroup.freeze": "0"}}}, "c1", v1_layout())
    with pytest.raises(PyruncError, match="hugepageLimits.0..*hugetlb cgroup controller is not mounted"):
        cgroups.plan({"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}}, "c1", v1_layout())


def test_hybrid_unified_keys_for_cgroup2_controllers():
    plan = cgroups.plan({"resources": {"unified": {"hugetlb.1GB.max": "0", "cgroup.max.depth": "3"}}}, "c1",
                        hybrid_layout())
    assert [(d, f, v) for d, f, v, p in plan.writes if not f.startswith("devices.")] == [
        ("/sys/fs/cgroup/unified/pyrunc/c1", "hugetlb.1GB.max", "0"),
        ("/sys/fs/cgroup/unified/pyrunc/c1", "cgroup.max.depth", "3"),
    ]


# -- resources on v2 -----------------------------------------------------------------------------


def test_v2_resource_writes():
    res = {k: v for k, v in FULL.items()}
    res["memory"] = {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": -1,
                     "kernelTCP": -1, "useHierarchy": True, "checkBeforeUpdate": True}
    res["cpu"] = {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000, "cpus": "0-1",
                  "mems": "0", "idle": 0}
    res["rdma"] = {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe3": {"hcaObjects": 7}}
    res["unified"] = {"memory.high": "max", "io.max": "8:0 rbps=1\n8:16 wiops=2"}
    plan = cgroups.plan({"resources": res}, "c1", v2_layout())
    assert writes_of(plan) == [
        ("cpuset.cpus", "0-1"), ("cpuset.mems", "0"),
        ("memory.swap.max", "536870912"), ("memory.max", "536870912"), ("memory.low", "268435456"),
        ("cpu.idle", "0"), ("cpu.weight", "100"), ("cpu.max", "50000 100000"), ("cpu.max.burst", "10000"),
        ("pids.max", "0"),
        ("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 300"), ("io.max", "8:0 rbps=600"),
        ("io.max", "8:16 wiops=300"),
        ("hugetlb.2MB.max", "209715200"), ("hugetlb.2MB.rsvd.max", "209715200"),
        ("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"), ("rdma.max", "rxe3 hca_object=7"),
        ("memory.high", "max"), ("io.max", "8:0 rbps=1\n8:16 wiops=2"),
    ]
    assert {d for d, f, v, p in plan.writes} == {"/sys/fs/cgroup/pyrunc/c1"}
    assert plan.memory_check == ("/sys/fs/cgroup/pyrunc/c1", 536870912)
    assert plan.cpuset_dir is None and plan.delegate_dir == "/sys/fs/cgroup/pyrunc/c1"


@pytest.mark.parametrize("mem, expected", [
    ({"limit": -1}, [("memory.swap.max", "max"), ("memory.max", "max")]),
    ({"limit": 1000, "swap": 1000}, [("memory.swap.max", "0"), ("memory.max", "1000")]),
    ({"limit": 1000, "swap": -1}, [("memory.swap.max", "max"), ("memory.max", "1000")]),
    ({"reservation": -1}, [("memory.low", "max")]),
])
def test_v2_memory_swap_conversion(mem, expected):
    assert writes_of(cgroups.plan({"resources": {"memory": mem}}, "c1", v2_layout())) == expected


@pytest.mark.parametrize("cpu, expected", [
    ({"quota": -1}, [("cpu.max", "max")]),
    ({"period": 20000}, [("cpu.max", "max 20000")]),
    ({"quota": 5000}, [("cpu.max", "5000")]),
    ({"shares": 2}, [("cpu.weight", "1")]),
    ({"shares": 262144}, [("cpu.weight", "10000")]),
    ({"shares": 512}, [("cpu.weight", "59")]),
])
def test_v2_cpu_conversion(cpu, expected):
    assert writes_of(cgroups.plan({"resources": {"cpu": cpu}}, "c1", v2_layout())) == expected


@pytest.mark.parametrize("res, message", [
    ({"memory": {"swappiness": 0}}, "unsupported: linux.resources.memory.swappiness: cgroup v2"),
    ({"memory": {"disableOOMKiller": True}}, "unsupported: linux.resources.memory.disableOOMKiller"),
    ({"memory": {"kernelTCP": 1 << 20}}, "unsupported: linux.resources.memory.kernelTCP"),
    ({"memory": {"useHierarchy": False}}, "unsupported: linux.resources.memory.useHierarchy"),
    ({"memory": {"swap": 1 << 20}}, "swap: a swap limit needs a memory limit"),
    ({"cpu": {"realtimeRuntime": 950}}, "unsupported: linux.resources.cpu.realtimeRuntime"),
    ({"cpu": {"realtimePeriod": 1000}}, "unsupported: linux.resources.cpu.realtimePeriod"),
    ({"network": {"classID": 1}}, "unsupported: linux.resources.network.classID: cgroup v2 has no net_cls"),
])
def test_v2_refusals(res, message):
    with pytest.raises(PyruncError, match=message):
        cgroups.plan({"resources": res}, "c1", v2_layout())


def test_conversions_and_fallbacks():
    assert resources.shares_to_weight(1024) == 100
    assert resources.blkio_to_io_weight(10) == 1 and resources.blkio_to_io_weight(1000) == 10000
    assert resources.blkio_to_io_weight(500) == 4950
    assert resources.on_missing("io.bfq.weight", "500") == ("io.weight", "4950")
    assert resources.on_missing("io.bfq.weight", "8:0 1000") == ("io.weight", "8:0 10000")
    assert resources.on_missing("blkio.bfq.weight_device", "8:0 10") == ("blkio.weight_device", "8:0 10")
    assert resources.on_missing("hugetlb.2MB.rsvd.max", "1") == ()
    assert resources.on_missing("memory.swap.max", "max") == ()
    assert resources.on_missing("memory.swap.max", "100") is None
    assert resources.on_missing("pids.max", "10") is None


# -- devices -------------------------------------------------------------------------------------


def test_default_device_rules_v1():
    plan = cgroups.plan({}, "c1", v1_layout())
    dev = [(f, v) for d, f, v, p in plan.writes if f.startswith("devices.")]
    assert dev[0] == ("devices.deny", "a")
    assert dev[1:] == [("devices.allow", r) for r in (
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
        "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm")]
    assert {d for d, f, v, p in plan.writes} == {"/sys/fs/cgroup/devices/pyrunc/c1"}


def test_config_rules_come_first_and_defaults_yield_to_linux_devices():
    linux = {"devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}],
             "resources": {"devices": [
                 {"allow": False, "access": "rwm"},
                 {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}}
    rules = devices.config_rules(linux)
    assert rules[0] == (False, "a", -1, -1, "rwm")
    assert rules[1] == (True, "c", 10, 229, "rw")
    assert (True, "c", 1, 3, "rwm") not in rules and (True, "c", 1, 5, "rwm") in rules


def test_emulator_semantics():
    allow_all, exc = devices.reduce([(True, "a", -1, -1, "rwm")])
    assert allow_all and exc == []
    # an allow then a deny of the same device cancels out; access bits merge
    default, exc = devices.reduce([(True, "c", 1, 3, "r"), (True, "c", 1, 3, "w"), (True, "c", 1, 5, "rwm"),
                                   (False, "c", 1, 5, "rwm")])
    assert default is False and exc == [(("c", 1, 3), "rw")]
    # "a" resets whatever came before
    default, exc = devices.reduce([(True, "c", 1, 3, "r"), (True, "a", -1, -1, "rwm"),
                                   (False, "b", 8, 0, "w")])
    assert default is True and exc == [(("b", 8, 0), "w")]
    with pytest.raises(PyruncError, match="cannot punch a hole"):
        devices.reduce([(True, "c", 1, -1, "rwm"), (False, "c", 1, 3, "r")])


def test_v2_device_program_planned():
    plan = cgroups.plan({}, "c1", v2_layout())
    assert plan.device_program is not None and plan.device_dir == "/sys/fs/cgroup/pyrunc/c1"
    assert not [w for w in plan.writes if w[1].startswith("devices.")]
    assert any("attach device program" in line for line in plan.describe())
    privileged = {"resources": {"devices": [{"allow": True, "access": "rwm"}]}}
    assert cgroups.plan(privileged, "c1", v2_layout()).device_program is None


# -- the eBPF device program, decoded and run by a small interpreter ---------------------------------


def run_program(code: bytes, kind: int, access: int, major: int, minor: int) -> int:
    ctx = struct.pack("<III", (access << 16) | kind, major, minor)
    regs = [0] * 11
    insns = bpf.decode(code)
    pc, steps = 0, 0
    while True:
        op, dst, src, off, imm = insns[pc]
        pc += 1
        steps += 1
        assert steps < 10000
        if op == bpf.LDX_MEM_W:
            assert src == 1
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == bpf.ALU32_AND_K:
            regs[dst] = regs[dst] & imm & 0xFFFFFFFF
        elif op == bpf.ALU32_RSH_K:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == bpf.ALU32_MOV_K:
            regs[dst] = imm & 0xFFFFFFFF
        elif op == bpf.ALU32_MOV_X:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == bpf.JNE_K:
            if regs[dst] != imm % (1 << 64):  # 64-bit compare, imm sign-extended
                pc += off
        elif op == bpf.JMP32_JNE_K:
            if regs[dst] & 0xFFFFFFFF != imm & 0xFFFFFFFF:
                pc += off
        elif op == bpf.JNE_X:
            if regs[dst] != regs[src]:
                pc += off
        elif op == bpf.EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
        assert 0 <= pc < len(insns)


C, B = bpf.DEV_CHAR, bpf.DEV_BLOCK
R, W, M = bpf.ACC_READ, bpf.ACC_WRITE, bpf.ACC_MKNOD


def test_program_prologue_encoding():
    code = bpf.program(False, [])
    assert len(code) % 8 == 0
    insns = bpf.decode(code)
    assert insns[:6] == [(0x61, 2, 1, 0, 0), (0x54, 2, 0, 0, 0xFFFF), (0x61, 3, 1, 0, 0), (0x74, 3, 0, 0, 16),
                         (0x61, 4, 1, 4, 0), (0x61, 5, 1, 8, 0)]
    assert insns[6:] == [(0xB4, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]
    assert code[:8] == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])


def test_program_for_default_rules():
    default, exc = devices.reduce(devices.config_rules({}))
    code = bpf.program(default, exc)
    cases = [
        ((C, R | W, 1, 3), 1),  # /dev/null
        ((C, R, 1, 9), 1),  # /dev/urandom
        ((C, R | W, 136, 7), 1),  # a pty
        ((C, M, 8, 8), 1),  # mknod anything
        ((B, M, 8, 0), 1),
        ((B, R, 8, 0), 0),  # reading a disk
        ((C, R, 1, 11), 0),  # /dev/kmsg
        ((C, R | M, 4, 1), 0),  # mknod allowed but not read
        ((C, W, 5, 1), 0),  # the host console
        ((C, R | W, 10, 200), 1),  # /dev/net/tun
    ]
    for (kind, access, major, minor), verdict in cases:
        assert run_program(code, kind, access, major, minor) == verdict, (kind, access, major, minor)


def test_program_matches_the_emulated_rules():
    rules = [(False, "a", -1, -1, "rwm"), (True, "c", 10, 229, "rw"), (True, "b", 8, -1, "r"),
             (True, "c", -1, 7, "w"), (True, "c", 0x80000001, 2, "rwm")]
    default, exc = devices.reduce(rules)
    code = bpf.program(default, exc)

    def expected(kind: int, access: int, major: int, minor: int) -> int:
        for (k, ma, mi), acc in exc:
            bits = sum({"r": R, "w": W, "m": M}[c] for c in acc)
            if ({"c": C, "b": B}[k] == kind and access & bits == access and ma in (-1, major)
                    and mi in (-1, minor)):
                return 0 if default else 1
        return 1 if default else 0

    for kind in (C, B):
        for access in (R, W, M, R | W, R | W | M):
            for major, minor in ((10, 229), (8, 0), (8, 3), (1, 7), (9, 7), (0x80000001, 2), (1, 2),
                                 (10, 230)):
                assert run_program(code, kind, access, major, minor) == expected(kind, access, major, minor)
    ops = [i[0] for i in bpf.decode(code)]
    assert bpf.JMP32_JNE_K in ops  # a major above 2**31 is compared as 32 bits


def test_deny_list_program():
    default, exc = devices.reduce([(True, "a", -1, -1, "rwm"), (False, "c", 1, 11, "rw")])
    code = bpf.program(default, exc)
    assert run_program(code, C, R, 1, 11) == 0
    assert run_program(code, C, M, 1, 11) == 1
    assert run_program(code, B, R, 8, 0) == 1


# -- the do layer against a stand-in tree ------------------------------------------------------

V2_FILES = {
    "": ["cgroup.procs", "cgroup.freeze", "cgroup.kill", "cgroup.subtree_control", "cgroup.max.depth"],
    "memory": ["memory.max", "memory.low", "memory.high", "memory.swap.max"],
    "cpu": ["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "io": ["io.max", "io.weight"],
    "pids": ["pids.max"],
    "hugetlb": ["hugetlb.2MB.max"],
}


class FakeV2:
    """cgroupfs semantics a test needs: mkdir makes the files of the controllers the parent delegates."""

    def __init__(self, root) -> None:
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self._fill(self.root, ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"], root_cgroup=True)

    def _fill(self, d: str, controllers: list[str], root_cgroup: bool = False) -> None:
        if os.path.exists(f"{d}/cgroup.controllers"):  # controllers enabled later: add their files
            names = [n for c in controllers for n in V2_FILES.get(c, [])]
            for name in names:
                if not os.path.exists(f"{d}/{name}"):
                    open(f"{d}/{name}", "w").close()
            with open(f"{d}/cgroup.controllers", "w") as f:
                f.write(" ".join(controllers) + "\n")
            return
        with open(f"{d}/cgroup.controllers", "w") as f:
            f.write(" ".join(controllers) + "\n")
        with open(f"{d}/cgroup.events", "w") as f:
            f.write("populated 0\nfrozen 0\n")
        names = V2_FILES[""] + ([] if root_cgroup else [n for c in controllers for n in V2_FILES.get(c, [])])
        if "memory" in controllers and not root_cgroup:
            names.append("memory.current")
        for name in names:
            with open(f"{d}/{name}", "w") as f:
                f.write("0\n" if name in ("memory.current", "cgroup.freeze") else "")

    def mkdir(self, path: str) -> None:
        os.mkdir(path)
        self._fill(path, self._delegated(os.path.dirname(path)))

    @staticmethod
    def _delegated(d: str) -> list[str]:
        with open(f"{d}/cgroup.subtree_control") as f:
            return [t.lstrip("+") for t in f.read().split()]

    def write(self, path: str, value: str) -> None:
        """Enabling controllers in a parent makes their files appear in its children."""
        self.real_write(path, value)
        if path.endswith("/cgroup.subtree_control"):
            parent = os.path.dirname(path)
            for e in os.scandir(parent):
                if e.is_dir():
                    self._fill(e.path, self._delegated(parent))

    @staticmethod
    def rmdir(path: str) -> None:
        entries = list(os.scandir(path))
        if any(e.is_dir() for e in entries):
            raise OSError(16, "Device or resource busy", path)
        for e in entries:
            os.unlink(e.path)
        os.rmdir(path)

    def read(self, rel: str) -> str:
        with open(os.path.join(self.root, rel)) as f:
            return f.read()


@pytest.fixture
def fake_v2(tmp_path, monkeypatch):
    tree = FakeV2(tmp_path / "cg")
    tree.real_write = fs.write
    monkeypatch.setattr(fs, "write", tree.write)
    monkeypatch.setattr(fs, "mkdir", tree.mkdir)
    monkeypatch.setattr(fs, "rmdir", tree.rmdir)
    monkeypatch.setattr(bpf, "load_and_attach", lambda d, code: tree.attached.append((d, code)))
    tree.attached = []
    return tree


def test_v2_create_enter_freeze_destroy(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    res = {"memory": {"limit": 1 << 30, "swap": 2 << 30}, "pids": {"limit": 64}, "cpu": {"shares": 1024},
           "blockIO": {"weight": 500}, "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}
    plan = cgroups.plan({"resources": res}, "c1", layout)
    created = cgroups.create(plan)
    leaf = f"{fake_v2.root}/pyrunc/c1"
    assert created == [leaf]  # and the runtime's parent, which stays (runtime_parents)
    assert os.path.isdir(f"{fake_v2.root}/pyrunc")
    # controllers delegated at each level above the leaf
    assert fake_v2.read("cgroup.subtree_control") == "+cpuset +cpu +io +memory +hugetlb +pids"
    assert fake_v2.read("pyrunc/cgroup.subtree_control") == "+cpuset +cpu +io +memory +hugetlb +pids"
    assert fake_v2.read("pyrunc/c1/memory.max") == str(1 << 30)
    assert fake_v2.read("pyrunc/c1/memory.swap.max") == str(1 << 30)
    assert fake_v2.read("pyrunc/c1/pids.max") == "64"
    assert fake_v2.read("pyrunc/c1/cpu.weight") == "100"
    assert fake_v2.read("pyrunc/c1/io.weight") == "4950"  # no BFQ: io.bfq.weight falls back, converted
    assert fake_v2.read("pyrunc/c1/hugetlb.2MB.max") == "0"  # no rsvd file: skipped
    assert fake_v2.attached == [(leaf, plan.device_program)]

    paths = cgroups.paths_for(plan)
    assert paths == {"": leaf}
    cgroups.enter(plan, 4242)
    assert fake_v2.read("pyrunc/c1/cgroup.procs") == "4242"
    os.mkdir(f"{leaf}/inner")
    with open(f"{leaf}/inner/cgroup.procs", "w") as f:
        f.write("7\n8\n")
    with open(f"{leaf}/cgroup.procs", "w") as f:
        f.write("4242\n")
    assert cgroups.pids(paths) == [7, 8, 4242]
    for name in ("cgroup.procs", "inner/cgroup.procs"):
        open(f"{leaf}/{name}", "w").close()

    with open(f"{leaf}/cgroup.events", "w") as f:
        f.write("populated 1\nfrozen 1\n")
    cgroups.freeze(paths, True)
    assert fake_v2.read("pyrunc/c1/cgroup.freeze") == "1" and cgroups.frozen(paths)
    with open(f"{leaf}/cgroup.events", "w") as f:
        f.write("populated 1\nfrozen 0\n")
    cgroups.freeze(paths, False)
    assert not cgroups.frozen(paths)

    cgroups.destroy(paths, created)
    assert not os.path.exists(leaf) and os.path.isdir(f"{fake_v2.root}/pyrunc")


def test_destroy_keeps_what_it_did_not_create(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc")  # made by someone else
    first = cgroups.create(cgroups.plan({}, "c1", layout))
    assert first == [f"{fake_v2.root}/pyrunc/c1"]
    cgroups.destroy({"": f"{fake_v2.root}/pyrunc/c1"}, first)
    assert os.path.isdir(f"{fake_v2.root}/pyrunc") and not os.path.exists(f"{fake_v2.root}/pyrunc/c1")
    # a cgroup joined, not created, is not removed
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc/shared")
    cgroups.destroy({"": f"{fake_v2.root}/pyrunc/shared"}, [])
    assert os.path.isdir(f"{fake_v2.root}/pyrunc/shared")


def test_existing_cgroup_warns_when_not_empty_and_must_be_thawed(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    plan = cgroups.plan({}, "c1", layout)
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc")
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc/c1")
    with open(f"{fake_v2.root}/pyrunc/c1/cgroup.procs", "w") as f:
        f.write("77\n")
    warnings = []
    assert cgroups.create(plan, warnings.append) == []  # runc 1.1 only warns
    assert warnings == ["container's cgroup is not empty: 1 process(es) found"]
    open(f"{fake_v2.root}/pyrunc/c1/cgroup.procs", "w").close()
    with open(f"{fake_v2.root}/pyrunc/c1/cgroup.freeze", "w") as f:
        f.write("1\n")
    with open(f"{fake_v2.root}/pyrunc/c1/cgroup.events", "w") as f:
        f.write("populated 0\nfrozen 1\n")
    with pytest.raises(PyruncError, match="^container's cgroup unexpectedly frozen$"):
        cgroups.create(plan)
    assert os.path.isdir(f"{fake_v2.root}/pyrunc/c1")  # not ours to remove


def test_the_runtimes_parent_is_made_once_and_stays(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    plan_a = cgroups.plan({}, "a", layout)
    assert cgroups.missing(plan_a) == [f"{fake_v2.root}/pyrunc/a"]  # the record names the container's own only
    a = cgroups.create(plan_a)
    b = cgroups.create(cgroups.plan({}, "b", layout))
    assert a == [f"{fake_v2.root}/pyrunc/a"] and b == [f"{fake_v2.root}/pyrunc/b"]
    cgroups.destroy({"": f"{fake_v2.root}/pyrunc/a"}, a)
    assert os.path.isdir(f"{fake_v2.root}/pyrunc/b")
    cgroups.destroy({"": f"{fake_v2.root}/pyrunc/b"}, b)
    assert os.path.isdir(f"{fake_v2.root}/pyrunc") and not os.path.exists(f"{fake_v2.root}/pyrunc/b")


def test_a_parent_of_a_cgroups_path_made_for_it_is_removed(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    plan = cgroups.plan({"cgroupsPath": "/outer/c1"}, "c1", layout)
    created = cgroups.create(plan)
    assert created == [f"{fake_v2.root}/outer", f"{fake_v2.root}/outer/c1"]
    cgroups.destroy(cgroups.paths_for(plan), created)
    assert not os.path.exists(f"{fake_v2.root}/outer")


def test_create_failure_removes_what_it_made(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    plan = cgroups.plan({"resources": {"unified": {"memory.oom.group": "1"}}}, "c1", layout)
    with pytest.raises(PyruncError, match=r'unsupported: linux.resources.unified\["memory.oom.group"\]: .*'
                                          r"memory.oom.group does not exist"):
        cgroups.create(plan)
    assert not os.path.exists(f"{fake_v2.root}/pyrunc")


def test_write_error_names_file_and_value(fake_v2, monkeypatch):
    layout = detect(fake_v2.root, mountinfo="")
    plan = cgroups.plan({"resources": {"pids": {"limit": 5}}}, "c1", layout)
    real = fs.write  # the tree's write

    def failing(path: str, value: str) -> None:
        if path.endswith("pids.max"):
            raise OSError(22, "Invalid argument", path)
        real(path, value)

    monkeypatch.setattr(fs, "write", failing)
    with pytest.raises(PyruncError) as info:
        cgroups.create(plan)
    assert str(info.value) == (f"linux.resources.pids.limit: write '5' to {fake_v2.root}/pyrunc/c1/pids.max: "
                               "invalid argument")
    assert not os.path.exists(f"{fake_v2.root}/pyrunc")


def test_memory_check_before_update(fake_v2):
    layout = detect(fake_v2.root, mountinfo="")
    with open(f"{fake_v2.root}/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc")
    with open(f"{fake_v2.root}/pyrunc/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    fake_v2.mkdir(f"{fake_v2.root}/pyrunc/c1")
    with open(f"{fake_v2.root}/pyrunc/c1/memory.current", "w") as f:
        f.write("5000\n")
    plan = cgroups.plan({"resources": {"memory": {"limit": 4096, "checkBeforeUpdate": True}}}, "c1", layout)
    with pytest.raises(PyruncError, match="4096 is below the current usage"):
        cgroups.create(plan)


def test_v1_cpuset_inherited_by_new_directories(tmp_path, monkeypatch):
    root = tmp_path / "cg"
    for name in ("cpuset", "memory", "freezer", "devices"):
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")
    (root / "cpuset" / "cpuset.cpus").write_text("0-3\n")
    (root / "cpuset" / "cpuset.mems").write_text("0\n")

    def mkdir(path: str) -> None:
        os.mkdir(path)
        for name in ("cgroup.procs", "cpuset.cpus", "cpuset.mems", "memory.limit_in_bytes", "freezer.state",
                     "devices.allow", "devices.deny"):
            with open(f"{path}/{name}", "w") as f:
                f.write("THAWED\n" if name == "freezer.state" else "")

    monkeypatch.setattr(fs, "mkdir", mkdir)
    layout = detect(str(root), mountinfo="")
    assert layout.version == "v1" and [h.key for h in layout.hierarchies] == ["cpuset", "devices", "freezer",
                                                                              "memory"]
    plan = cgroups.plan({"resources": {"cpu": {"cpus": "1"}}}, "c1", layout)
    created = cgroups.create(plan)
    assert len(created) == 4  # the leaves; the runtime's parents stay (runtime_parents)
    assert (root / "cpuset/pyrunc/cpuset.cpus").read_text() == "0-3"
    assert (root / "cpuset/pyrunc/cpuset.mems").read_text() == "0"
    assert (root / "cpuset/pyrunc/c1/cpuset.cpus").read_text() == "1"
    assert (root / "cpuset/pyrunc/c1/cpuset.mems").read_text() == "0"
    # The allow rules in a row: one open, a write(2) each (appended here, where cgroupfs takes each as a rule)
    rules = [v for d, f, v, _ in plan.writes if f == "devices.allow"]
    assert len(rules) > 1 and (root / "devices/pyrunc/c1/devices.allow").read_text() == "".join(rules)

    paths = cgroups.paths_for(plan)
    (root / "freezer/pyrunc/c1/freezer.state").write_text("FROZEN\n")
    assert cgroups.frozen(paths)
    cgroups.freeze(paths, False)
    assert (root / "freezer/pyrunc/c1/freezer.state").read_text() == "THAWED"
    assert not cgroups.frozen(paths)


def test_plan_is_pure_and_imports_are_light():
    """Planning touches no file, and importing the package loads none of the slow modules."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {ROOT!r})\n"
        "import builtins, os, posix\n"
        "from pyrunc import cgroups\n"
        "from pyrunc.cgroups.layout import Layout, Hierarchy\n"
        "opened = []\n"
        "real_open = builtins.open\n"
        "builtins.open = lambda *a, **k: opened.append(a[0]) or real_open(*a, **k)\n"
        "os.open = posix.open = lambda *a, **k: opened.append(a[0])\n"
        "L = Layout('v2', '/x', [Hierarchy('', '/x', '/', (), True)])\n"
        "p = cgroups.plan({'resources': {'memory': {'limit': 1}}}, 'c', L)\n"
        "assert p.device_program and not opened, opened\n"
        "print(sorted(m for m in ('json', 're', 'dataclasses', 'typing', 'subprocess', 'enum', 'signal')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_systemd_unit_properties_as_runc():
    """The unit runc's Apply starts and the properties its Set sends (v1 and v2)."""
    from pyrunc.cgroups import systemd as sd

    u = sd.unit("machine.slice:libpod:abc", "id", {"pids": {"limit": 0}, "cpu": {"quota": 1234}}, v2=False)
    assert u.name == "libpod-abc.scope"
    assert [(n, v) for n, _, v, _ in u.properties] == [
        ("Description", "libcontainer container abc"), ("Slice", "machine.slice"), ("Delegate", True),
        ("MemoryAccounting", True), ("CPUAccounting", True), ("BlockIOAccounting", True), ("TasksAccounting", True),
        ("DefaultDependencies", False)]
    res = {n: v for n, _, v, _ in u.resources}
    assert res["TasksMax"] == 1  # systemd refuses 0
    assert res["CPUQuotaPerSecUSec"] == 20000  # 12340 us/s rounded up to whole percents, as runc
    assert res["DevicePolicy"] == "auto" and res["DeviceAllow"] == []
    s = sd.unit("a-b.slice:p:x.slice", "id", {"memory": {"limit": 100, "swap": 300}}, v2=True)
    assert s.name == "x.slice" and ("Wants", "as", ["a-b.slice"], 0) in s.properties
    assert ("IOAccounting", "b", True, 0) in s.properties
    assert {n: v for n, _, v, _ in s.resources}["MemorySwapMax"] == 200
    assert sd.range_to_bits("0-2,4") == b"\x17" and sd.range_to_bits("9") == b"\x00\x02"
    assert sd.unit("", "id", {"cpu": {"cpus": "1"}}, v2=False).resources[-1] == ("AllowedCPUs", "ay", b"\x02", 244)


def session(layout: Layout) -> str:
    """/proc/self/cgroup of a login session: v1 at the root, cgroup2 in a leaf of a user's slice."""
    v1 = [f"{i + 1}:{','.join(h.controllers)}:/" for i, h in enumerate(layout.hierarchies) if not h.v2]
    return "\n".join([*v1, "0::/user.slice/user-1000.slice/session"]) + "\n"


def test_rootless_cgroup_beside_the_session_and_restricted():
    """Unprivileged, no cgroupsPath: runc's fs2 rule (the parent of the runtime's own cgroup) in each
    hierarchy; restrict keeps the ones the caller may write, drops the device rules (runc ignores
    them rootless) and refuses a limit, or a cgroupsPath, in one it cannot."""
    layout = hybrid_layout()
    cg = cgroups.plan({"resources": {"devices": [{"allow": False, "access": "rwm"}]}}, "c", layout,
                      self_cgroup=session(layout), rootless=True)
    assert cg.dirs["unified"] == "/sys/fs/cgroup/unified/user.slice/user-1000.slice/c"
    assert cg.dirs["pids"] == "/sys/fs/cgroup/pids/c"
    assert cg.writes == [] and cg.device_program is None and cg.devices_skipped
    kept = cgroups.restrict(cg, {"unified"}, explicit=False)
    assert kept.dirs == {"unified": "/sys/fs/cgroup/unified/user.slice/user-1000.slice/c"}
    assert cgroups.restrict(cg, set(), explicit=False).dirs == {}
    with pytest.raises(PyruncError, match="no cgrouppath .* linux.cgroupsPath: /sys/fs/cgroup/"):
        cgroups.restrict(cgroups.plan({"cgroupsPath": "/x"}, "c", layout, rootless=True), {"unified"}, explicit=True)
    limited = cgroups.plan({"resources": {"pids": {"limit": 5}}}, "c", layout, self_cgroup=session(layout),
                           rootless=True)
    with pytest.raises(PyruncError, match=r"rootless needs no limits .*linux.resources.pids.limit: "
                                          r"/sys/fs/cgroup/pids/c: permission denied"):
        cgroups.restrict(limited, {"unified"}, explicit=False)
    assert cgroups.restrict(limited, {"unified", "pids"}, explicit=False).writes == limited.writes


USER_MANAGER = "/user.slice/user-1000.slice/user@1000.service"


def test_rootless_systemd_user_bus(monkeypatch, tmp_path):
    """runc's DetectUserDbusSessionBusAddress; without a bus, one line naming what was tried."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/somewhere")
    assert systemd.user_bus() == "unix:path=/somewhere"
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert systemd.user_bus() is None
    assert systemd.no_user_bus().endswith(f"$DBUS_SESSION_BUS_ADDRESS unset, no {tmp_path}/bus")
    (tmp_path / "bus").touch()
    assert systemd.user_bus() == f"unix:path={tmp_path}/bus"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert systemd.user_bus() is None and systemd.no_user_bus().endswith("$XDG_RUNTIME_DIR unset")


@pytest.mark.parametrize("value, path", [
    (None, f"{USER_MANAGER}/user.slice/runc-c.scope"),  # runc's rootless initPath
    ("app.slice:podman:x", f"{USER_MANAGER}/app.slice/podman-x.scope"),
    ("a-b.slice:p:n", f"{USER_MANAGER}/a.slice/a-b.slice/p-n.scope"),
])
def test_rootless_systemd_paths_below_the_user_instance(value, path):
    plan = cgroups.plan({"cgroupsPath": value} if value else {}, "c", v2_layout(), systemd=True,
                        systemd_running=True, rootless=True, manager_cgroup=USER_MANAGER)
    assert plan.dirs[""] == "/sys/fs/cgroup" + path
    assert ("Slice", "s", "user.slice", 0) in systemd.unit(None, "c", {}, True, user=True).properties
    assert ("Slice", "s", "system.slice", 0) in systemd.unit(None, "c", {}, True).properties


def test_rootless_systemd_hybrid_uses_the_cgroup2_hierarchy():
    """pyrunc takes a hybrid host's cgroup2 hierarchy (runc 1.1 refuses rootless systemd there); the v1
    ones are not the user instance's, and restrict() leaves them out."""
    dirs = systemd.dirs(None, "c", hybrid_layout(), systemd_running=True, manager_cgroup=USER_MANAGER)
    assert dirs["unified"] == f"/sys/fs/cgroup/unified{USER_MANAGER}/user.slice/runc-c.scope"


def test_rootless_systemd_refusals():
    """runc's order: the format, a systemd running, a cgroup2 hierarchy; without the instance's
    cgroup (asked over the bus before planning), planning refuses."""
    with pytest.raises(PyruncError, match="slice:prefix:name"):
        systemd.preflight("x", "c", v2_layout(), systemd_running=False, user=True)
    with pytest.raises(PyruncError, match="^systemd not running"):
        systemd.preflight(None, "c", v2_layout(), systemd_running=False, user=True)
    v1 = detect("/sys/fs/cgroup", mountinfo="40 31 0:37 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    with pytest.raises(PyruncError, match="^cannot use rootless systemd cgroups manager on cgroup v1$"):
        systemd.preflight(None, "c", v1, systemd_running=True, user=True)
    with pytest.raises(PyruncError, match="instance's cgroup is unknown"):
        cgroups.plan({}, "c", v2_layout(), systemd=True, systemd_running=True, rootless=True)


def test_writes_to_one_file_in_a_row_share_an_open(tmp_path, monkeypatch):
    """ops._apply: a run of writes to one file is one open and a write(2) each; a failing write
    names its own value and json path; a file that does not open sends each write its own way."""
    from pyrunc.cgroups import ops

    opened = []
    real_open = fs.open_write
    monkeypatch.setattr(fs, "open_write", lambda path: opened.append(path) or real_open(path))
    (tmp_path / "devices.allow").write_text("")
    writes = [(str(tmp_path), "devices.deny", "a", "j.a"), (str(tmp_path), "devices.allow", "c 1:3 rwm", "j.b"),
              (str(tmp_path), "devices.allow", "c 1:5 rwm", "j.c")]
    (tmp_path / "devices.deny").write_text("")
    ops._apply(writes)
    assert opened == [f"{tmp_path}/devices.deny", f"{tmp_path}/devices.allow"]
    assert (tmp_path / "devices.allow").read_text() == "c 1:3 rwmc 1:5 rwm"

    def broken_pipe(path: str) -> int:
        r, w = os.pipe()
        os.close(r)
        return w

    monkeypatch.setattr(fs, "open_write", broken_pipe)
    with pytest.raises(PyruncError, match=rf"^j.b: write 'c 1:3 rwm' to {tmp_path}/devices.allow: broken pipe"):
        ops._apply(writes[1:])
    monkeypatch.setattr(fs, "open_write", real_open)
    with pytest.raises(PyruncError, match=r"unsupported: j.b: .*/nothing/devices.allow does not exist"):
        ops._apply([(str(tmp_path / "nothing"), *w[1:]) for w in writes[1:]])
