"""Symlinks in the image that point out of it: every path the runtime mounts on, creates or masks
is resolved inside the rootfs, so the host's directories they name are never touched."""

import os

import pytest

from .test_rootfs_mounts import host_mounts, mount_table, run_ok

pytestmark = pytest.mark.root


@pytest.fixture
def host_dir(container):
    """A host directory the image's links point at; it must stay empty."""
    d = container.dir / "host-side"
    d.mkdir()
    yield d
    assert os.listdir(d) == [], "the runtime wrote into a host directory through a link of the image"


def test_links_to_a_host_directory(container, host_dir):
    """/data -> <host dir>: mounts, a file bind mount, a device and masks under /data land in the rootfs."""
    c = container("sh", "-c", "ls /data; cat /data/f; cat /proc/self/mountinfo")
    (c.rootfs / "data").symlink_to(host_dir)
    src = c.dir / "file"
    src.write_text("bound\n")
    m = c.config["mounts"]
    m.append({"destination": "/data/x", "type": "tmpfs", "source": "tmpfs"})
    m.append({"destination": "/data/f", "type": "bind", "source": str(src), "options": ["bind"]})
    c.config["linux"]["devices"] = [{"path": "/data/null", "type": "c", "major": 1, "minor": 3}]
    c.config["linux"]["maskedPaths"] += ["/data/x"]
    c.config["linux"]["readonlyPaths"] += ["/data"]
    before = host_mounts(c.dir)
    out = run_ok(c)
    assert out.splitlines()[:4] == ["f", "null", "x", "bound"], out
    assert f"{host_dir}/x" in mount_table(out)  # the link, followed inside the root
    assert (c.rootfs / str(host_dir).lstrip("/") / "null").is_char_device()
    assert host_mounts(c.dir) == before


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_dangling_links(container, host_dir, kind):
    """Links to paths that do not exist yet: what is made is made inside the rootfs."""
    c = container("sh", "-c", "cat /mnt/file-link; cat /proc/self/mountinfo")
    target = host_dir / "made"
    if kind == "absolute":
        dir_target, file_target = target, host_dir / "made-file"
    else:  # enough .. to climb out of any rootfs, then down to the host directory
        dir_target = "../" * 40 + str(target).lstrip("/")
        file_target = "../" * 40 + str(host_dir / "made-file").lstrip("/")
    (c.rootfs / "mnt").mkdir()
    (c.rootfs / "mnt/dir-link").symlink_to(dir_target)
    (c.rootfs / "mnt/file-link").symlink_to(file_target)
    src = c.dir / "file"
    src.write_text("bound\n")
    m = c.config["mounts"]
    m.append({"destination": "/mnt/dir-link/sub", "type": "tmpfs", "source": "tmpfs"})
    m.append({"destination": "/mnt/file-link", "type": "bind", "source": str(src), "options": ["bind"]})
    out = run_ok(c)
    assert out.splitlines()[0] == "bound", out
    assert f"{target}/sub" in mount_table(out)
    assert (c.rootfs / str(target).lstrip("/") / "sub").is_dir()
    assert (c.rootfs / str(host_dir).lstrip("/") / "made-file").is_file()


def test_link_as_mount_destination_to_host_file(container, host_dir):
    """The last component a link to a host file: the bind lands on the rootfs' own path, the host file is intact."""
    host_file = c_file = host_dir.parent / "host-file"
    c_file.write_text("host\n")
    c = container("cat", "/etc/hostfile")
    (c.rootfs / "etc/hostfile").symlink_to(host_file)
    src = c.dir / "file"
    src.write_text("bound\n")
    c.config["mounts"].append({"destination": "/etc/hostfile", "type": "bind", "source": str(src),
                               "options": ["bind"]})
    assert run_ok(c) == "bound\n"
    assert host_file.read_text() == "host\n"


def test_mounts_after_one_over_a_linked_directory(container):
    """/y -> x: a tmpfs over /y covers /x, so /x/two, mounted after it, is made in the new tmpfs
    (the runtime keeps a directory open between steps only while nothing mounts over it)."""
    c = container("sh", "-c", "ls /x; cat /proc/self/mountinfo")
    (c.rootfs / "x").mkdir()
    (c.rootfs / "y").symlink_to("x")
    for dest in ("/x/one", "/y", "/x/two"):
        c.config["mounts"].append({"destination": dest, "type": "tmpfs", "source": "tmpfs"})
    out = run_ok(c)
    assert out.splitlines()[0] == "two", out
    assert "/x/two" in mount_table(out)


def test_mounts_after_a_bind_over_the_root(rt, container):
    """/z -> /: a bind mount over the rootfs's own root, then a tmpfs at /mark: the tmpfs goes on
    the new root, the one the container gets (the root is opened again after a mount over it)."""
    import shutil

    rt.lacks("a mount destination that links to the root (runc 1.1.5: open rootfs/z: no such file or directory)")
    c = container("sh", "-c", "test -d /mark && cat /which")  # the new root has no /proc mounted
    new_root = c.dir / "new-root"
    shutil.copytree(c.rootfs, new_root, symlinks=True)
    (new_root / "which").write_text("new\n")
    (c.rootfs / "z").symlink_to("/")
    m = c.config["mounts"]
    m.append({"destination": "/z", "type": "bind", "source": str(new_root), "options": ["rbind"]})
    m.append({"destination": "/mark", "type": "tmpfs", "source": "tmpfs"})
    out = run_ok(c)
    assert out == "new\n", out
    assert (new_root / "mark").is_dir() and not (c.rootfs / "mark").exists()
