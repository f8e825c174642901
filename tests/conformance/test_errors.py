"""Refused operations: non-zero exit, a one-line message, nothing created, the JSON log."""

import json
import re

import pytest

from pyrunc.testing.bundle import alive

pytestmark = pytest.mark.root


def test_invalid_json(container, rt):
    c = container()
    c.write()
    (c.bundle / "config.json").write_text('{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n')
    r = rt("create", "--bundle", c.bundle, c.id)
    c.assert_refused(r, one_line=True)
    if rt.name == "pyrunc":
        assert re.search(r"line\W*3\b", r.err) and "column" in r.err, r


def test_schema_violation(container, rt):
    c = container()
    c.namespaces[1]["type"] = "bogus"
    r = c.create()
    c.assert_refused(r, one_line=True)
    if rt.name == "pyrunc":
        assert re.search(r"namespaces\W{1,4}1\W{1,4}type", r.err), f"no JSON path in the message: {r}"


def test_missing_program(container):
    c = container("/nonexistent")
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert "no such file or directory" in r.err.lower(), r  # podman maps this text to exit 127


def test_duplicate_id(container):
    first = container("sleep", "300")
    first.config["annotations"] = {"which": "first"}
    assert first.create().rc == 0
    before = first.state()
    second = container()
    second.id = first.id
    r = second.create()
    assert r.rc != 0 and len(r.err.strip().splitlines()) == 1, r
    assert first.state() == before and alive(before["pid"])


@pytest.mark.parametrize("verb", [["state"], ["start"], ["kill", "KILL"], ["delete"]], ids=lambda v: v[0])
def test_unknown_id(container, rt, verb):  # `container`: for its host check
    r = rt(verb[0], "t-never-created", *verb[1:])
    assert r.rc != 0 and "does not exist" in r.err and len(r.err.strip().splitlines()) == 1, r


@pytest.mark.parametrize("cid", ["a/b", "..", ".", "../escaped-id", "a b", ""])
def test_invalid_id(container, rt, cid):
    c = container("sleep", "300")
    c.write()
    r = rt("create", "--bundle", c.bundle, cid, stdout=c.stdout, stderr=c.stderr)
    assert r.rc != 0 and len(r.err.strip().splitlines()) == 1, r
    assert not (rt.root.parent / "escaped-id").exists()
    assert not rt.root.exists() or not any(rt.root.iterdir()), list(rt.root.iterdir())


@pytest.mark.parametrize("flags", [["--log-format", "json"], ["--log-format=json"]], ids=["apart", "equals"])
def test_json_log(container, rt, flags):
    log = container.dir / "log.json"
    r = rt("--log", log, *flags, "state", "t-never-created")
    assert r.rc != 0 and "does not exist" in r.err, r
    entries = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    errors = [e for e in entries if e.get("level") == "error"]
    assert errors and "does not exist" in errors[-1]["msg"] and "time" in errors[-1], entries
