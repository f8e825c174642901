"""What a crash and hostile input meet before any container exists: the cgroups create records
before making them, the crash point counter, and config.json read and refused in our words."""

import os
import subprocess
import sys

import pytest

from pyrunc import config
from pyrunc.cgroups import ops
from pyrunc.cgroups.planner import CgroupPlan
from pyrunc.errors import PyruncError
from pyrunc.state import validate_id


def test_missing_lists_what_create_will_make_outermost_first(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "x").mkdir(parents=True)
    (b / "x" / "c").mkdir(parents=True)
    plan = CgroupPlan("v1", {"a": f"{a}/x/y/c", "b": f"{b}/x/c"}, {"a": str(a), "b": str(b)})
    assert ops.missing(plan) == [f"{a}/x/y", f"{a}/x/y/c"]  # b's already exists: never claimed
    created: list[str] = []
    for key, d in plan.dirs.items():
        ops.fs.makedirs(d, plan.mounts[key], created)
    assert created == [f"{a}/x/y", f"{a}/x/y/c"]


@pytest.mark.parametrize("at,reached,dies", [("at:x", ["at:x"], True), ("at:x#3", ["at:x", "at:x"], False),
                                             ("at:x#3", ["at:x"] * 3, True), ("at:y", ["at:x"], False)])
def test_crash_point_counts(at, reached, dies):
    code = f"from pyrunc import crashpoint\nfor p in {reached!r}: crashpoint.reached(p)\n"
    r = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYRUNC_CRASH_AT": at})
    assert r.returncode == (-9 if dies else 0)


def _load(tmp_path, data: bytes):
    (tmp_path / "config.json").write_bytes(data)
    with pytest.raises(PyruncError) as e:
        config.load(str(tmp_path))
    return e.value.message


def test_not_utf8_names_the_file_and_the_byte(tmp_path):
    m = _load(tmp_path, b'{"hostname": "\xff"}')
    assert m == f"{tmp_path}/config.json: not UTF-8 (byte 0xff at offset 14 is not valid UTF-8); JSON must be UTF-8"


def test_utf16_is_named(tmp_path):
    assert "UTF-16 byte order mark" in _load(tmp_path, '{"a": 1}'.encode("utf-16"))
    assert "NUL bytes" in _load(tmp_path, '{"a": 1}'.encode("utf-16-le"))


def test_nesting_names_the_limit(tmp_path):
    assert "nested deeper than the parser's limit (about" in _load(tmp_path, b"[" * 10000 + b"]" * 10000)


def test_lone_surrogate_names_the_json_path(tmp_path):
    m = _load(tmp_path, b'{"ociVersion": "1.0.2", "process": {"env": ["A=1", "B=\\udc00"]}}')
    assert m.startswith("process.env[1]: a lone surrogate \\udc00")
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "config.json").write_bytes(b'{"ociVersion": "1.0.2", "hostname": "\\ud83d\\ude00"}')  # a pair
    assert config.load(str(ok))["hostname"] == "\U0001f600"


def test_fifo_and_directory_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(PyruncError, match="a fifo, not a regular file"):
        config.load(str(tmp_path))
    os.unlink(tmp_path / "config.json")
    os.mkdir(tmp_path / "config.json")
    with pytest.raises(PyruncError, match="is a directory"):
        config.load(str(tmp_path))


@pytest.mark.parametrize("cid,words", [("a" * 256, "the limit is 255"), ("a/b", "format"), ("a\0b", "format"),
                                       ("..", "format"), ("a\nb", "format: a\nb")])
def test_ids(cid, words):
    with pytest.raises(PyruncError, match=words):
        validate_id(cid)
    validate_id("a" * 255)
