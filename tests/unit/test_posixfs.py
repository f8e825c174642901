"""pyrunc.posixfs stands in for os.path and os.makedirs in the commands that do not load os: each
helper answers as os's own does, edge cases included."""

import os

import pytest

from pyrunc import posixfs

PATHS = ["", "/", "//", "///", "a", "a/", "a//", "/a", "/a/", "//a", "///a/b", "a/b", "a/b/", "a//b", "/a/b/c",
         ".", "..", "./", "../", "/..", "/../a", "a/..", "a/../..", "../../a", "a/./b", "/a/b/../../..", "..a",
         ".a/.b/", "a/b/.", "/./", "a b/c\u00e9"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["basename", "dirname", "normpath"])
def test_pure_helpers_answer_as_os_path(name, path):
    assert getattr(posixfs, name)(path) == getattr(os.path, name)(path)


@pytest.mark.parametrize("path", PATHS)
def test_abspath_answers_as_os_path(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert posixfs.abspath(path) == os.path.abspath(path)


@pytest.mark.parametrize("parts", [("",), ("", ""), ("a", ""), ("", "b"), ("a", "b"), ("a/", "b"), ("a", "/b"),
                                   ("/", "b"), ("a", "b", "/c", "d"), ("a//", "b/"), ("/a", "b", "c")])
def test_join_answers_as_os_path(parts):
    assert posixfs.join(*parts) == os.path.join(*parts)


def test_realpath_answers_as_os_path(tmp_path, monkeypatch):
    """Links absolute and relative, chains, `..` through a link, missing components and loops."""
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "f").write_text("")
    links = {"abs": tmp_path / "d", "rel": "d/e", "chain": "rel", "up": "d/e/../..", "dangling": "nowhere/x",
             "loop1": "loop2", "loop2": "loop1", "self": "self/a", "d/e/back": "../../f"}
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    monkeypatch.chdir(tmp_path / "d")
    paths = ["", ".", "..", "/", str(tmp_path), "e", "../abs/e", "../chain/", "../chain/..", "../up/d",
             "../dangling", "../dangling/..", "../loop1", "../loop1/x", "../self", "../self/..", "e/back", "e/back/x",
             "//e", "missing/..", *(f"{tmp_path}/{name}" for name in links)]
    for path in paths:
        assert posixfs.realpath(path) == os.path.realpath(path), path


def test_makedirs_makes_as_os_makedirs(tmp_path):
    """Missing parents with the default mode (less the umask), the last one with `mode`; an existing
    directory is an error unless exist_ok, an existing file always is."""
    old = os.umask(0o022)
    try:
        for made, maker in ((tmp_path / "ours", posixfs.makedirs), (tmp_path / "os", os.makedirs)):
            maker(f"{made}/a/b/c/", mode=0o700)
            maker(f"{made}/a/b/c", mode=0o700, exist_ok=True)
            maker(f"{made}/x/./y", mode=0o711)
            with pytest.raises(FileExistsError):
                maker(f"{made}/a/b", exist_ok=False)
            (made / "file").write_text("")
            with pytest.raises(FileExistsError):
                maker(f"{made}/file", exist_ok=True)
            with pytest.raises(NotADirectoryError):
                maker(f"{made}/file/z", exist_ok=True)
    finally:
        os.umask(old)

    def tree(top):
        return sorted((str(p.relative_to(top)), p.stat().st_mode) for p in top.rglob("*"))

    assert tree(tmp_path / "ours") == tree(tmp_path / "os")


@pytest.mark.parametrize("name", ["exists", "isdir", "isfile"])
def test_tests_answer_as_os_path(name, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    (tmp_path / "link").symlink_to("f")
    (tmp_path / "dangling").symlink_to("nowhere")
    for path in ("", "/", str(tmp_path), f"{tmp_path}/d", f"{tmp_path}/f", f"{tmp_path}/link", f"{tmp_path}/dangling",
                 f"{tmp_path}/f/x", f"{tmp_path}/missing", "bad\0name"):
        assert getattr(posixfs, name)(path) == getattr(os.path, name)(path), path
