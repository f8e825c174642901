"""procfs without root: runc's checkProcMount in the planner, when the plan opens the trusted
procfs handle, how that handle resolves and refuses, and --no-pivot's choice of mounts to detach."""

import errno
import os

import pytest

from pyrunc import procfs
from pyrunc.errors import PyruncError
from pyrunc.mountops import _proc_sys_mounts
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config


def plan_of(cfg: dict, **opts):
    plan, _ = build(cfg, "/bundle/rootfs", Options(**opts), {})
    return plan


def with_mount(destination: str, type_: str, options=(), source="/src") -> dict:
    cfg = default_config()
    cfg["mounts"].append({"destination": destination, "type": type_, "source": source, "options": list(options)})
    return cfg


@pytest.mark.parametrize("dest, type_, options, message", [
    ("/proc", "tmpfs", (), '"/proc" cannot be mounted because it is not of type proc'),
    ("//proc/./", "sysfs", (), '"/proc" cannot be mounted because it is not of type proc'),
    ("/proc/sys", "bind", ("rbind",), '"/proc/sys" cannot be mounted because it is inside /proc'),
    ("/proc/self/../sys/kernel", "tmpfs", (), '"/proc/sys/kernel" cannot be mounted because it is inside /proc'),
    ("/proc/kcore", "none", ("bind",), '"/proc/kcore" cannot be mounted because it is inside /proc'),
    ("/proc/x", "cgroup", (), '"/proc/x" cannot be mounted because it is inside /proc'),
])
def test_refused_over_or_inside_proc(dest, type_, options, message):
    with pytest.raises(PyruncError, match=f"^mounts\\[7\\]: {message}$"):
        plan_of(with_mount(dest, type_, options))


@pytest.mark.parametrize("dest, type_, options", [
    ("/proc", "proc", ()),  # a second, fresh procfs
    ("/proc", "bind", ("rbind",)),  # the kernel layer proves the source is procfs
    ("/proc/cpuinfo", "bind", ("bind",)),  # lxcfs
    ("/proc/sys/kernel/ns_last_pid", "none", ("bind",)),
    ("/procfoo", "tmpfs", ()),
    ("/mnt/proc", "proc", ()),
])
def test_allowed_at_proc(dest, type_, options):
    plan_of(with_mount(dest, type_, options))


def test_the_handle_is_opened_first_only_when_a_step_writes_into_procfs():
    assert "open_procfs" not in [s.op for _, s in plan_of(default_config()).steps()]
    cfg = default_config()
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    plan = plan_of(cfg)
    assert plan.phases["runtime"][0].op == "open_procfs"
    assert [s.args for s in plan.phases["pivot"] if s.op == "write_proc"] == [("sys/net/ipv4/ip_forward", "1")]
    assert plan_of(default_config(), no_pivot=True).phases["runtime"][0].op == "open_procfs"  # mountinfo


@pytest.fixture
def handle_at(tmp_path):
    """procfs's handle pointed at a directory of the test's (restored afterwards)."""
    saved = procfs._handle

    def point(path):
        procfs._handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        return procfs._handle

    yield point
    if procfs._handle != saved:
        os.close(procfs._handle)
    procfs._handle = saved


def test_self_is_read_from_the_handle(tmp_path, handle_at):
    (tmp_path / "self").symlink_to("123")
    (tmp_path / "thread-self").symlink_to("123/task/124")
    handle_at(tmp_path)
    assert procfs.resolve("self/oom_score_adj") == "123/oom_score_adj"
    assert procfs.resolve("thread-self/attr/exec") == "123/task/124/attr/exec"
    assert procfs.resolve("sys/net/ipv4/ip_forward") == "sys/net/ipv4/ip_forward"


def test_no_symlink_and_no_other_filesystem_below_the_handle(tmp_path, handle_at):
    (tmp_path / "sys").symlink_to("/tmp")
    (tmp_path / "plain").write_text("0\n")
    handle_at(tmp_path)
    with pytest.raises(OSError) as e:
        procfs.write("sys/x", "1")
    assert e.value.errno == errno.ELOOP
    with pytest.raises(OSError, match="not on procfs") as e:
        procfs.write("plain", "1")
    assert (tmp_path / "plain").read_text() == "0\n"  # refused before the write


def test_the_handle_must_be_a_procfs_root(tmp_path, handle_at):
    saved = procfs._handle
    procfs._handle = -1
    try:
        with pytest.raises(OSError, match="not on procfs"):
            procfs.open_handle(str(tmp_path))
        with pytest.raises(OSError, match="not the root of a procfs"):
            procfs.open_handle(f"/proc/{os.getpid()}")
        with pytest.raises(OSError, match="no procfs handle"):
            procfs.write("self/oom_score_adj", "1")
        fd = procfs.open_handle("/proc")
        assert procfs.handle() == fd
        assert "Name:" in procfs.read("self/status")
        with pytest.raises(OSError) as e:
            procfs.open_file("../etc/hostname", os.O_RDONLY)  # nothing above the handle
        assert e.value.errno == errno.EXDEV
    finally:
        if procfs._handle not in (-1, saved):
            os.close(procfs._handle)
        procfs._handle = saved


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 23 0:40 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - binfmt_misc binfmt_misc rw
26 22 0:21 /1 /run/x rw - proc proc rw
27 22 0:50 / /my\\040dir/proc rw - proc proc rw
28 22 0:51 / /bundle/rootfs/proc rw - proc proc rw
29 22 0:52 / /bundle/rootfs-other/sys rw - sysfs sysfs rw
"""


def test_no_pivot_detaches_whole_procfs_and_sysfs_outside_the_rootfs():
    assert _proc_sys_mounts(MOUNTINFO, "/bundle/rootfs") == ["/proc", "/sys", "/my dir/proc",
                                                                 "/bundle/rootfs-other/sys"]


def test_kernel_guard_follows_the_destination_into_proc(tmp_path):
    """mountops checks where a destination really leads (no root needed: nothing is mounted)."""
    from pyrunc import mountops, paths

    (tmp_path / "proc/sys").mkdir(parents=True)
    (tmp_path / "evil").symlink_to("/proc")
    (tmp_path / "data").mkdir()
    rootfs = str(tmp_path)

    def guard(dest, is_proc=False):
        fd = paths.open_in_root(rootfs, dest)
        try:
            mountops._proc_guard(rootfs, dest, fd, is_proc)
        finally:
            os.close(fd)

    with pytest.raises(OSError, match="not of type proc \\(the destination resolves to /proc\\)"):
        guard("/evil")
    with pytest.raises(OSError, match="not of type proc$"):
        guard("/proc")
    guard("/evil", is_proc=True)
    guard("/evil/sys")  # a directory of the image: only a mounted procfs makes it "inside /proc"
    guard("/data")


@pytest.mark.parametrize("fstype, dest", [("proc", "/proc"), ("sysfs", "/sys"), ("tmpfs", "/proc"),
                                          ("proc", "/mnt/p")])
def test_kernel_refuses_a_symlinked_proc_or_sys(tmp_path, fstype, dest):
    from pyrunc import mountops

    (tmp_path / "data").mkdir()
    (tmp_path / "mnt").mkdir()
    (tmp_path / dest.lstrip("/")).symlink_to("/data")
    with pytest.raises(OSError, match=f"{dest} in the rootfs is a symlink"):
        mountops._plain_dir(str(tmp_path), dest, fstype)
    mountops._plain_dir(str(tmp_path), "/data", "tmpfs")  # other mounts are not concerned


def test_lsm_labels_are_written_below_the_handle_only(tmp_path, handle_at):
    """lsm.set_exec_label goes through procfs.write: a handle on something that is not procfs
    (here a directory laid out like /proc) is refused before anything is written."""
    from pyrunc import lsm

    attr = tmp_path / "7/task/7/attr"
    attr.mkdir(parents=True)
    (attr / "exec").write_text("")
    (tmp_path / "thread-self").symlink_to("7/task/7")
    handle_at(tmp_path)
    with pytest.raises(OSError, match="not on procfs"):
        lsm.set_exec_label("selinux", "system_u:system_r:container_t:s0")
    assert (attr / "exec").read_text() == ""
