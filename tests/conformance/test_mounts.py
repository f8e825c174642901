"""mounts: proc, sysfs, devpts, mqueue, tmpfs with options, bind mounts of host directories."""

import pytest

from pyrunc.testing.bundle import mountinfo

pytestmark = pytest.mark.root

SCRIPT = """cat /mnt/host/hello.txt; echo back > /mnt/host/back.txt
touch /mnt/ro/refused 2>/dev/null || echo ro-refused
cat /proc/self/mountinfo"""

# mount point: (fstype, per-mount options that must be set, superblock options that must be set)
EXPECTED = {
    "/proc": ("proc", {"rw"}, set()),
    "/sys": ("sysfs", {"ro", "nosuid", "nodev", "noexec"}, set()),
    "/dev": ("tmpfs", {"nosuid"}, {"mode=755", "size=65536k"}),
    "/dev/pts": ("devpts", {"nosuid", "noexec"}, {"gid=5", "mode=620", "ptmxmode=666"}),
    "/dev/shm": ("tmpfs", {"nosuid", "nodev", "noexec"}, {"size=65536k"}),  # mode=1777: default, not shown
    "/dev/mqueue": ("mqueue", {"nosuid", "nodev", "noexec"}, set()),
    "/mnt/tmp": ("tmpfs", {"nosuid", "nodev", "noexec"}, {"mode=1770", "size=1024k"}),
    "/mnt/host": (None, {"rw"}, set()),
    "/mnt/ro": (None, {"ro"}, set()),
}


def test_mounts(container):
    c = container("sh", "-c", SCRIPT)
    shared = c.dir / "shared"
    shared.mkdir()
    (shared / "hello.txt").write_text("from the host\n")
    c.mount("/mnt/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"])
    c.bind(shared, "/mnt/host")
    c.bind(shared, "/mnt/ro", "ro")
    r = c.run()
    assert r.rc == 0, r
    assert r.out.splitlines()[:2] == ["from the host", "ro-refused"]
    assert (shared / "back.txt").read_text() == "back\n"
    assert not (shared / "refused").exists()
    mounts = mountinfo(r.out)
    for point, (fstype, options, super_options) in EXPECTED.items():
        assert point in mounts, f"nothing mounted at {point}"
        got_type, got_options, got_super = mounts[point]
        assert fstype in (None, got_type), (point, got_type)
        assert options <= got_options and super_options <= got_super, (point, mounts[point])
