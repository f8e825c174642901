"""The runtime's own command line as runc has it: help on the runtime and every command, an unknown
command named, --version's lines, and --debug's level=debug lines on stderr or in the --log file."""

import json
import re

import pytest

# runc 1.1's commands, plus pyrunc's own (explain)
RUNC_COMMANDS = ("checkpoint", "create", "delete", "events", "exec", "kill", "list", "pause", "ps", "restore",
                 "resume", "run", "spec", "start", "state", "update", "features")
QUOTED = r'"(?:[^"\\]|\\.)*"'
TEXT_LINE = re.compile(rf'^time="[^"]+" level=(debug|info|warning|error) msg={QUOTED}( \w+=({QUOTED}|\S+))*$')


def commands(rt):
    from pyrunc.cli import COMMANDS

    return COMMANDS if rt.name == "pyrunc" else [c for c in RUNC_COMMANDS if c in COMMANDS]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_on_the_runtime_and_every_command(rt, flag):
    r = rt(flag)
    assert r.rc == 0 and "usage" in r.out.lower() and not r.err, r
    for command in commands(rt):
        r = rt(command, flag)
        assert r.rc == 0 and command in r.out and "usage" in r.out.lower(), (command, r)
        assert not r.err, (command, r)


def test_help_command(rt):
    r = rt("help", "exec")
    assert r.rc == 0 and "exec" in r.out and "--cgroup" in r.out, r


def test_unknown_command_with_help_says_so(rt):
    r = rt("foo", "-h")
    assert r.rc != 0 and "foo" in r.err and not r.out, r
    if rt.name == "pyrunc":
        assert r.err == "pyrunc: no such command: foo\n", r  # runc 1.1: No help topic for 'foo'


def test_version(rt):
    r = rt("--version")
    assert r.rc == 0 and not r.err, r
    lines = r.out.splitlines()
    assert lines[0].startswith(f"{rt.name} version ")
    keys = [line.split(":")[0] for line in lines[1:]]
    assert keys[:2] == ["commit", "spec"] and "libseccomp" in keys, r
    assert re.fullmatch(r"libseccomp: \d+\.\d+\.\d+", lines[-1]), r


def test_debug_lines_on_stderr_without_log(container, rt):
    c = container("true")
    c.write()
    r = rt("--debug", "run", "--bundle", c.bundle, c.id)
    assert r.rc == 0, r
    lines = r.err.splitlines()
    debug = [line for line in lines if " level=debug " in line]
    assert debug, r
    assert all(TEXT_LINE.match(line) for line in debug), [x for x in debug if not TEXT_LINE.match(x)][:3]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_debug_lines_in_the_log_file(container, rt, fmt):
    c = container("true")
    c.write()
    log = container.dir / f"log.{fmt}"
    r = rt("--debug", "--log", log, "--log-format", fmt, "run", "--bundle", c.bundle, c.id)
    assert r.rc == 0, r
    assert " level=debug " not in r.err and '"level":"debug"' not in r.err, "debug lines belong in the log"
    lines = log.read_text().splitlines()
    assert lines
    if fmt == "json":
        docs = [json.loads(line) for line in lines]
        assert {"level", "msg", "time"} <= set(docs[0]) and any(d["level"] == "debug" for d in docs), docs[:3]
    else:
        assert all(TEXT_LINE.match(line) for line in lines), lines[:3]
        assert any(" level=debug " in line for line in lines)


def _runc_help(*command):
    import subprocess

    return subprocess.run(["runc", *command, "--help"], capture_output=True, text=True).stdout


def test_readme_lists_every_runc_command_and_flag():
    """README's table names every command and flag runc 1.1's help lists (commands and global flags from
    `runc --help`, each command's flags from `runc COMMAND --help`)."""
    import shutil
    from pathlib import Path

    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    readme = Path(__file__).resolve().parents[2] / "README.md"
    table = readme.read_text().split("## Every runc command and flag", 1)[1].split("\n## ", 1)[0]
    top = _runc_help()
    names = re.findall(r"^   ([a-z]+)(?:, h)?\s{2,}", top.split("COMMANDS:", 1)[1].split("GLOBAL OPTIONS:")[0], re.M)
    assert "create" in names and "update" in names, top
    flags = set(re.findall(r"^   (--?[a-z-]+)", top.split("GLOBAL OPTIONS:", 1)[1], re.M))
    assert {"--debug", "--systemd-cgroup", "--root"} <= flags, top
    def listed(word):  # `--flag`, `--flag VALUE`, `--flag`/`-f`
        return re.search(rf"`{re.escape(word)}[` ]", table) is not None

    missing = [f for f in flags if not listed(f)]
    for name in names:
        if name == "help":
            continue
        if not listed(name):
            missing.append(name)
        text = _runc_help(name)
        options = text.split("OPTIONS:", 1)[1] if "OPTIONS:" in text else ""
        for flag in re.findall(r"^   (--[a-z0-9-]+)", options, re.M):
            if flag != "--help" and not listed(flag):
                missing.append(f"{name} {flag}")
    assert not missing, f"README's table lacks: {missing}"
