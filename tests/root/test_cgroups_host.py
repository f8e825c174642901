"""pyrunc.cgroups on the real hierarchy (root): create, limit, enter a forked process, read back,
freeze, destroy, and leave nothing behind.

The v1 tests need a v1 or hybrid host. The cgroup2 tests use the hybrid host's controller-less
/sys/fs/cgroup/unified as a v2 root (mkdir, cgroup.procs, cgroup.freeze, cgroup.kill, device
eBPF programs all work there) or the real v2 root.
"""

from __future__ import annotations

import errno
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from pyrunc import cgroups
from pyrunc.cgroups import fs
from pyrunc.cgroups.layout import Hierarchy, Layout
from pyrunc.errors import PyruncError

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CGROUP = "/sys/fs/cgroup"


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class Child:
    """A forked process that sleeps in read(2) and, on request, opens a path and reports the errno."""

    def __init__(self) -> None:
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(self.cmd_w)
                os.close(self.res_r)
                while True:
                    path = os.read(cmd_r, 4096).decode()
                    if not path:
                        break
                    try:
                        os.close(os.open(path, os.O_RDONLY))
                        answer = "ok"
                    except OSError as e:
                        answer = errno.errorcode[e.errno]
                    os.write(res_w, answer.encode())
            finally:
                os._exit(0)
        os.close(cmd_r)
        os.close(res_w)
        self.pid = pid
        self.status: int | None = None

    def try_open(self, path: str) -> str:
        os.write(self.cmd_w, path.encode())
        return os.read(self.res_r, 64).decode()

    def reap(self) -> int:
        if self.status is None:
            os.close(self.cmd_w)
            os.close(self.res_r)
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
            self.reap()


def _remove_tree(d: str) -> None:
    for sub in fs.subdirs_bottom_up(d):
        os.rmdir(sub)
    os.rmdir(d)


@pytest.fixture
def parent():
    """A cgroup parent name of this test's own; afterwards no hierarchy may have it."""
    name = f"pyrunc-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    leftovers = glob.glob(f"{CGROUP}/*/{name}") + glob.glob(f"{CGROUP}/{name}")
    for d in leftovers:
        try:
            _remove_tree(d)
        except OSError:
            pass
    assert not leftovers, f"left behind: {leftovers}"


@pytest.fixture
def layout() -> Layout:
    layout = cgroups.detect()
    if layout.version == cgroups.V2:
        pytest.skip("the host runs cgroup v2 only; these tests exercise v1")
    return layout


@pytest.fixture
def unified_root():
    """A cgroup2 root to test v2 behaviour on. The runtime leaves the controllers it enabled in an
    ancestor's subtree_control enabled, as runc and systemd do (other cgroups below may rely on
    them); the test restores the root's as it found it, so the host is as before the session."""
    layout = cgroups.detect()
    h = layout.unified
    if h is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    before = set(read(f"{h.mountpoint}/cgroup.subtree_control").split())
    yield h.mountpoint
    for c in set(read(f"{h.mountpoint}/cgroup.subtree_control").split()) - before:
        fs.write(f"{h.mountpoint}/cgroup.subtree_control", f"-{c}")


def v2_layout(mountpoint: str) -> Layout:
    return Layout(cgroups.V2, mountpoint, [Hierarchy("", mountpoint, "/", (), True)])


@pytest.fixture(scope="session")
def native_with_bpf(tmp_path_factory):
    """pyrunc._native with pyr_bpf: the installed one, else the shim built in a scratch directory."""
    try:
        from pyrunc import _native

        if hasattr(_native.lib, "pyr_bpf"):
            return _native
    except ImportError:
        pass
    if importlib.util.find_spec("cffi") is None or shutil.which("cc") is None:
        pytest.skip("no native shim with pyr_bpf and no way to build one")
    work = tmp_path_factory.mktemp("shim")
    src = work / "src"
    shutil.copytree(os.path.join(ROOT, "pyrunc", "_shim"), src)
    subprocess.run([sys.executable, str(src / "build.py")], cwd=work, check=True, capture_output=True)
    (so,) = glob.glob(str(work / "pyrunc" / "_native*.so"))
    spec = importlib.util.spec_from_file_location("pyrunc._native", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bpf_shim(native_with_bpf, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrunc._native", native_with_bpf)


def first_disk() -> tuple[int, int] | None:
    for line in read("/proc/partitions").splitlines()[2:]:
        major, minor, _blocks, name = line.split()
        if os.path.isdir(f"/sys/block/{name}"):  # a whole disk, not a partition
            return int(major), int(minor)
    return None


# -- v1 -------------------------------------------------------------------------------------------


def test_v1_limits_enter_freeze_destroy(layout, parent):
    memory = layout.v1_for("memory").mountpoint
    resources = {
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10, "disableOOMKiller": True},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0", "mems": "0"},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
    }
    if os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"):
        resources["memory"]["swap"] = 128 << 20
    disk = first_disk()
    if disk:
        throttle = [{"major": disk[0], "minor": disk[1], "rate": 1 << 20}]
        resources["blockIO"] = {"throttleReadBpsDevice": throttle}
    plan = cgroups.plan({"cgroupsPath": f"/{parent}/c1", "resources": resources}, "c1", layout)
    paths = cgroups.paths_for(plan)
    created = cgroups.create(plan)
    child = Child()
    try:
        assert sorted(created) == sorted([os.path.dirname(d) for d in paths.values()] + list(paths.values()))
        d = {k: v for k, v in paths.items()}
        assert read(f"{d['memory']}/memory.limit_in_bytes") == str(64 << 20)
        assert read(f"{d['memory']}/memory.soft_limit_in_bytes") == str(32 << 20)
        assert read(f"{d['memory']}/memory.swappiness") == "10"
        assert read(f"{d['memory']}/memory.oom_control").startswith("oom_kill_disable 1")
        if "swap" in resources["memory"]:
            assert read(f"{d['memory']}/memory.memsw.limit_in_bytes") == str(128 << 20)
        assert read(f"{d['pids']}/pids.max") == "20"
        cpu = paths[layout.v1_for("cpu").key]
        assert read(f"{cpu}/cpu.shares") == "512"
        assert read(f"{cpu}/cpu.cfs_quota_us") == "50000"
        assert read(f"{cpu}/cpu.cfs_period_us") == "100000"
        assert read(f"{cpu}/cpu.cfs_burst_us") == "1000"
        cpuset = paths[layout.v1_for("cpuset").key]
        assert (read(f"{cpuset}/cpuset.cpus"), read(f"{cpuset}/cpuset.mems")) == ("0", "0")
        assert read(f"{os.path.dirname(cpuset)}/cpuset.cpus") == read(f"{layout.v1_for('cpuset').mountpoint}"
                                                                      "/cpuset.cpus")
        if disk:
            blkio = paths[layout.v1_for("blkio").key]
            assert read(f"{blkio}/blkio.throttle.read_bps_device") == f"{disk[0]}:{disk[1]} {1 << 20}"
        dev_rules = read(f"{paths[layout.v1_for('devices').key]}/devices.list").splitlines()
        assert "c 10:229 rw" in dev_rules and "c 1:3 rwm" in dev_rules and "a *:* rwm" not in dev_rules

        cgroups.enter(plan, child.pid)
        own = read(f"/proc/{child.pid}/cgroup").splitlines()
        for line in own:
            if line.split(":")[1] in ("memory", "pids", "devices", "freezer", "cpuset"):
                assert line.endswith(f":/{parent}/c1"), line
        for key, path in paths.items():
            assert read(f"{path}/cgroup.procs") == str(child.pid), key
        assert cgroups.pids(paths) == [child.pid]

        assert child.try_open("/dev/null") == "ok"
        assert child.try_open("/dev/kmsg") == "EPERM"

        cgroups.freeze(paths, True)
        assert cgroups.frozen(paths)
        cgroups.freeze(paths, False)
        assert not cgroups.frozen(paths)
        assert child.try_open("/dev/zero") == "ok"

        cgroups.destroy(paths, created)  # the child is still running: destroy kills it
        status = child.reap()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        assert not any(os.path.exists(p) for p in created)
    finally:
        child.kill()
        cgroups.destroy(paths, created)


def test_v1_create_failure_leaves_nothing(layout, parent):
    linux = {"cgroupsPath": f"/{parent}/c1", "resources": {"cpu": {"cpus": "4095"}}}
    plan = cgroups.plan(linux, "c1", layout)
    with pytest.raises(PyruncError) as info:
        cgroups.create(plan)
    assert str(info.value).startswith("linux.resources.cpu.cpus: write '4095' to ")
    assert "cpuset.cpus" in str(info.value)
    assert not glob.glob(f"{CGROUP}/*/{parent}")


def test_v1_destroy_keeps_an_existing_parent(layout, parent):
    pids_root = layout.v1_for("pids").mountpoint
    os.mkdir(f"{pids_root}/{parent}")
    try:
        plan = cgroups.plan({"cgroupsPath": f"/{parent}/c1"}, "c1", layout)
        created = cgroups.create(plan)
        assert f"{pids_root}/{parent}" not in created and f"{pids_root}/{parent}/c1" in created
        cgroups.destroy(cgroups.paths_for(plan), created)
        assert os.path.isdir(f"{pids_root}/{parent}") and not os.path.exists(f"{pids_root}/{parent}/c1")
        assert [p for p in glob.glob(f"{CGROUP}/*/{parent}")] == [f"{pids_root}/{parent}"]
    finally:
        os.rmdir(f"{pids_root}/{parent}")


def test_hybrid_hugetlb_on_the_unified_hierarchy(layout, parent, unified_root):
    pages = "/sys/kernel/mm/hugepages/hugepages-2048kB"
    if "hugetlb" not in layout.v2_controllers or not os.path.isdir(pages):
        pytest.skip("no hugetlb controller with 2MB pages on this host's cgroup2 hierarchy")
    limits = [{"pageSize": "2MB", "limit": 0}]
    linux = {"cgroupsPath": f"/{parent}/c1", "resources": {"hugepageLimits": limits}}
    plan = cgroups.plan(linux, "c1", layout)
    created = cgroups.create(plan)
    try:
        leaf = plan.dirs[layout.unified.key]
        assert read(f"{leaf}/hugetlb.2MB.max") == "0"
        for ancestor in (unified_root, os.path.dirname(leaf)):  # delegated down to the leaf, and left so
            assert "hugetlb" in read(f"{ancestor}/cgroup.subtree_control").split()
    finally:
        cgroups.destroy(cgroups.paths_for(plan), created)


# -- cgroup2 ----------------------------------------------------------------------------------------


def test_v2_device_program_freeze_kill(parent, unified_root, bpf_shim):
    layout = v2_layout(unified_root)
    linux = {"cgroupsPath": f"/{parent}/c1",
             "resources": {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}]}}
    plan = cgroups.plan(linux, "c1", layout)
    assert plan.device_program is not None
    created = cgroups.create(plan)
    paths = cgroups.paths_for(plan)
    child = Child()
    try:
        cgroups.enter(plan, child.pid)
        assert read(f"/proc/{child.pid}/cgroup").splitlines()[-1] == f"0::/{parent}/c1"
        assert cgroups.pids(paths) == [child.pid]
        assert child.try_open("/dev/null") == "ok"
        assert child.try_open("/dev/kmsg") == "EPERM"  # kmsg is allowed for writing only
        assert child.try_open("/dev/full") == "ok"

        cgroups.freeze(paths, True)
        assert cgroups.frozen(paths)
        assert read(f"{paths['']}/cgroup.events").count("frozen 1") == 1
        cgroups.freeze(paths, False)
        assert not cgroups.frozen(paths)

        cgroups.destroy(paths, created)  # cgroup.kill
        status = child.reap()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        assert not os.path.exists(f"{unified_root}/{parent}")
    finally:
        child.kill()
        cgroups.destroy(paths, created)


def test_v2_deny_all_program(parent, unified_root, bpf_shim):
    """The config's deny-all alone: the defaults runc appends still let /dev/null through."""
    layout = v2_layout(unified_root)
    plan = cgroups.plan({"cgroupsPath": f"/{parent}/c1",
                         "resources": {"devices": [{"allow": False, "access": "rwm"}]}}, "c1", layout)
    created = cgroups.create(plan)
    child = Child()
    try:
        cgroups.enter(plan, child.pid)
        assert child.try_open("/dev/null") == "ok"
        assert child.try_open("/dev/kmsg") == "EPERM"
        disk = first_disk()
        if disk:
            node = f"/dev/block/{disk[0]}:{disk[1]}"
            if os.path.exists(node):
                assert child.try_open(node) == "EPERM"
    finally:
        child.kill()
        cgroups.destroy(cgroups.paths_for(plan), created)


def test_v2_missing_controller_is_refused_and_undone(parent, unified_root):
    if "pids" in read(f"{unified_root}/cgroup.controllers").split():
        pytest.skip("the cgroup2 hierarchy has a pids controller here")
    layout = v2_layout(unified_root)
    allow_all = [{"allow": True, "access": "rwm"}]
    linux = {"cgroupsPath": f"/{parent}/c1", "resources": {"pids": {"limit": 5}, "devices": allow_all}}
    plan = cgroups.plan(linux, "c1", layout)
    refused = r"^unsupported: linux.resources.pids.limit: .*pids.max does not exist"
    with pytest.raises(PyruncError, match=refused):
        cgroups.create(plan)
    assert not os.path.exists(f"{unified_root}/{parent}")
