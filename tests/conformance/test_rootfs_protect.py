"""maskedPaths, readonlyPaths and root.readonly, as the container sees them."""

import pytest

from .test_rootfs_mounts import applets, mount_table, run_ok

pytestmark = pytest.mark.root


def test_default_masked_paths(container):
    c = container("sh", "-c", "cat /proc/kcore /proc/keys /proc/timer_list | wc -c; ls -A /sys/firmware | wc -l; "
                              "echo x > /proc/keys; cat /proc/self/mountinfo")
    applets(c, "wc")
    out = run_ok(c)
    assert out.splitlines()[:2] == ["0", "0"], out
    table = mount_table(out)
    assert "ro" in table["/sys/firmware"].options and table["/sys/firmware"].fstype == "tmpfs"


def test_masked_paths_of_the_image(container):
    """A file reads empty, a directory is an empty read-only tmpfs; a missing path is no error; a link is
    followed inside the root."""
    c = container("sh", "-c", "cat /etc/secret; echo .; ls -A /srv/private; echo .; touch /srv/private/x || echo ro; "
                              "cat /etc/target; echo .; cat /etc/other")
    (c.rootfs / "etc/secret").write_text("secret\n")
    (c.rootfs / "srv/private").mkdir(parents=True)
    (c.rootfs / "srv/private/data").write_text("data\n")
    (c.rootfs / "etc/target").write_text("target\n")
    (c.rootfs / "etc/other").write_text("other\n")
    (c.rootfs / "etc/link").symlink_to("/etc/target")
    c.config["linux"]["maskedPaths"] += ["/etc/secret", "/srv/private", "/etc/missing", "/etc/link"]
    out = run_ok(c)
    assert out.splitlines() == [".", ".", "ro", ".", "other"], out
    assert (c.rootfs / "etc/secret").read_text() == "secret\n"
    assert (c.rootfs / "srv/private/data").exists()


def test_readonly_paths(container):
    c = container("sh", "-c", "touch /data/x 2>/dev/null || echo data-ro; touch /writable/x && echo writable; "
                              "cat /proc/self/mountinfo")
    c.config["root"]["readonly"] = False
    (c.rootfs / "data").mkdir()
    (c.rootfs / "writable").mkdir()
    c.config["linux"]["readonlyPaths"] += ["/data", "/missing"]
    out = run_ok(c)
    assert out.splitlines()[:2] == ["data-ro", "writable"], out
    table = mount_table(out)
    assert "ro" in table["/data"].options and "ro" in table["/proc/sys"].options
    assert "rw" in table["/"].options


def test_readonly_path_is_recursive(container, rt):
    rt.lacks("recursively read-only readonlyPaths (it remounts the top mount only)")
    c = container("sh", "-c", "touch /data/sub/x 2>/dev/null || echo sub-ro; cat /proc/self/mountinfo")
    c.mount("/data/sub", "tmpfs", "tmpfs")
    c.config["linux"]["readonlyPaths"] += ["/data"]
    out = run_ok(c)
    assert out.splitlines()[0] == "sub-ro", out
    assert "ro" in mount_table(out)["/data/sub"].options


@pytest.mark.parametrize("flags", [(), ("--no-pivot",)], ids=["pivot_root", "no-pivot"])
def test_readonly_root_comes_last(container, flags):
    """/ is read-only; mounts on it (a tmpfs, /dev) are not; masks hold with --no-pivot too."""
    c = container("sh", "-c", "touch /probe 2>/dev/null || echo root-ro; touch /tmp/x && echo tmp-rw; "
                              "echo x > /dev/shm/y && echo shm-rw; cat /proc/self/mountinfo")
    c.mount("/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev"])
    out = run_ok(c, *flags)
    assert out.splitlines()[:3] == ["root-ro", "tmp-rw", "shm-rw"], out
    table = mount_table(out)
    assert "ro" in table["/"].options and "rw" in table["/tmp"].options
    assert table["/sys/firmware"].fstype == "tmpfs" and "ro" in table["/proc/sys"].options
