"""mountops's filesystem steps have one mechanism, the shim's pyr_fs_steps: a step's method
decides, then hands the shim a list of one step (with the fd it resolved); a run of steps is the
same call with more. Device nodes and links in a temporary rootfs (root: mknod)."""

import inspect
import os
import stat

import pytest

from pyrunc import mountops, native
from pyrunc.mountops import MountOps
from pyrunc.steps import Step


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = native.fs_array

    def fs_array(forms):
        calls.append([f["op"] for f in forms])
        return real(forms)

    monkeypatch.setattr(native, "fs_array", fs_array)
    return calls


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "dev").mkdir()
    return str(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_method_and_a_run_perform_a_node_through_the_same_shim_call(rootfs, spy):
    ops = MountOps()
    ops.mknod(rootfs, "/dev/made/null", stat.S_IFCHR, 1, 3, 0o666, 0, 0)  # the method: its parent made first
    st = os.lstat(f"{rootfs}/dev/made/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666
    ops.mknod(rootfs, "/dev/made/null", stat.S_IFCHR, 1, 3, 0o666, 0, 0)  # the same node: nothing to do
    with pytest.raises(FileExistsError, match="a character device 1:3 is already there"):
        ops.mknod(rootfs, "/dev/made/null", stat.S_IFCHR, 1, 5, 0o666, 0, 0)
    ops.symlink(rootfs, "/proc/self/fd", "/dev/fd")
    ops.symlink(rootfs, "/proc/self/fd", "/dev/fd")  # already there: left
    assert os.readlink(f"{rootfs}/dev/fd") == "/proc/self/fd"
    run = [Step("rootfs", "mknod", (rootfs, "/dev/zero", stat.S_IFCHR, 1, 5, 0o666, 0, 0), ""),
           Step("rootfs", "symlink", (rootfs, "/proc/self/fd/0", "/dev/stdin"), "")]
    assert ops.perform_steps(run) == (2, None)
    assert os.readlink(f"{rootfs}/dev/stdin") == "/proc/self/fd/0"
    assert os.lstat(f"{rootfs}/dev/zero").st_rdev == os.makedev(1, 5)
    mknod, symlink = native.FS_MKNOD, native.FS_SYMLINK
    assert spy == [[mknod], [mknod], [mknod], [symlink], [symlink], [mknod, symlink]]


def test_the_kernel_work_is_not_written_again_in_python():
    """What the shim performs for these steps is not also called from their methods."""
    source = inspect.getsource(mountops)
    for call in ("os.mknod", "posix.mknod", "os.symlink", "posix.symlink", "native.fs_mount", "native.open_tree"):
        assert call not in source, call



@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_run_prepared_before_clone_is_performed_as_made_then(rootfs, spy):
    """prepare_runs (the runtime, before clone) builds the shim's arrays; perform_steps (the init)
    makes none and performs the same steps."""
    run = [Step("rootfs", "mknod", (rootfs, "/dev/zero", stat.S_IFCHR, 1, 5, 0o640, 0, 0), ""),
           Step("rootfs", "symlink", (rootfs, "/proc/self/fd/0", "/dev/stdin"), ""),
           Step("rootfs", "mknod", (rootfs, "/dev/new/full", stat.S_IFCHR, 1, 7, 0o666, 0, 0), "")]
    mountops.prepare_runs([run])
    assert spy == [[native.FS_MKNOD, native.FS_SYMLINK, native.FS_MKNOD]]
    assert MountOps().perform_steps(run) == (3, None)
    st = os.lstat(f"{rootfs}/dev/zero")
    assert st.st_rdev == os.makedev(1, 5) and stat.S_IMODE(st.st_mode) == 0o640
    assert os.readlink(f"{rootfs}/dev/stdin") == "/proc/self/fd/0"
    assert os.lstat(f"{rootfs}/dev/new/full").st_rdev == os.makedev(1, 7)  # given back: its parent made first
    assert spy[1:] == [[native.FS_MKNOD]], "the init built only what its method does alone"
