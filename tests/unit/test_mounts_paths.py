"""paths.open_in_root without root: links in an image never lead out of it, missing parts are
made with the right type, and tmpcopyup's copy keeps what it copies."""

import os
import stat

import pytest

from pyrunc import copyup, paths


def resolved(fd: int) -> str:
    try:
        return os.readlink(paths.fd_path(fd))
    finally:
        os.close(fd)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "rootfs"
    outside = tmp_path / "host"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    return root, outside


def test_existing_path(tree):
    root, _ = tree
    assert resolved(paths.open_in_root(str(root), "/etc")) == str(root / "etc")


def test_absolute_link_to_the_host_stays_inside(tree):
    root, outside = tree
    (root / "data").symlink_to(outside)
    got = resolved(paths.open_in_root(str(root), "/data/x/y", create="dir"))
    assert got == str(root) + str(outside) + "/x/y"
    assert os.listdir(outside) == []


@pytest.mark.parametrize("create", ["dir", "file"])
def test_dangling_link_is_followed_inside(tree, create):
    root, outside = tree
    (root / "etc/link").symlink_to(outside / "made")
    got = resolved(paths.open_in_root(str(root), "/etc/link", create=create))
    inside = root / str(outside / "made").lstrip("/")
    assert got == str(inside)
    assert inside.is_dir() if create == "dir" else inside.is_file()
    assert not (outside / "made").exists()


def test_relative_link_climbing_out_is_clamped(tree):
    root, outside = tree
    (root / "etc/up").symlink_to("../" * 30 + str(outside / "f").lstrip("/"))
    got = resolved(paths.open_in_root(str(root), "/etc/up", create="file"))
    assert got == str(root) + str(outside / "f")
    assert not (outside / "f").exists()


def test_link_loop_is_an_error(tree):
    root, _ = tree
    (root / "etc/a").symlink_to("b")
    (root / "etc/b").symlink_to("a")
    with pytest.raises(OSError):
        paths.open_in_root(str(root), "/etc/a/x", create="dir")


def test_missing_without_create(tree):
    root, _ = tree
    with pytest.raises(FileNotFoundError):
        paths.open_in_root(str(root), "/nope")


def test_parent_of_a_name(tree):
    root, outside = tree
    (root / "dev").symlink_to(outside)
    fd, name = paths.open_parent_in_root(str(root), "/dev/sub/null")
    assert name == "null" and resolved(fd) == str(root) + str(outside) + "/sub"
    with pytest.raises(OSError):
        paths.open_parent_in_root(str(root), "/")


def test_copy_tree(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    dst.mkdir()
    (src / "sub/file").write_text("content")
    (src / "sub/file").chmod(0o640)
    (src / "link").symlink_to("/outside")
    os.mkfifo(src / "fifo", 0o600)
    a = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    b = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    try:
        copyup.copy_tree(a, b)
    finally:
        os.close(a)
        os.close(b)
    assert (dst / "sub/file").read_text() == "content"
    assert stat.S_IMODE((dst / "sub/file").stat().st_mode) == 0o640
    assert os.readlink(dst / "link") == "/outside"
    assert stat.S_ISFIFO((dst / "fifo").lstat().st_mode)
