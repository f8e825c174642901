"""Command-line parsing and the pieces of the runtime that need no root."""

import json
import os

import pytest

from pyrunc import cli, commands, config, jsonio
from pyrunc.errors import PyruncError
from pyrunc.specgen import default_config
from pyrunc.state import Container, validate_id


def parse(argv: list[str]) -> tuple[cli.Args, list[str]]:
    g = cli.Args()
    rest = cli.parse_flags(argv, cli.GLOBAL_FLAGS, g, stop_at_positional=True)
    return g, rest


def test_global_flags_both_forms_then_command():
    g, rest = parse(["--root", "/r", "--log-format=json", "--debug", "create", "-b", "x", "id"])
    assert (g.root, g.log_format, g.debug) == ("/r", "json", True)
    assert rest == ["create", "-b", "x", "id"]
    args = cli.Args()
    cli.parse_flags(rest[1:], cli.COMMANDS["create"][1], args, False)
    assert (args.bundle, args.positional) == ("x", ["id"])


def test_flags_after_positionals_and_unknown_flag():
    args = cli.Args()
    cli.parse_flags(["id", "--force"], cli.COMMANDS["delete"][1], args, False)
    assert args.force and args.positional == ["id"]
    with pytest.raises(PyruncError, match="not defined: --bogus"):
        cli.parse_flags(["--bogus"], cli.COMMANDS["delete"][1], cli.Args(), False)


def test_version_and_help(capsys):
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "pyrunc version" in out and "spec: 1.3.0" in out
    for command in cli.COMMANDS:
        assert cli.main([command, "--help"]) == 0
        assert f"usage: pyrunc {command}" in capsys.readouterr().out


def test_signals_by_name_and_number():
    assert commands.parse_signal("9") == 9
    assert commands.parse_signal("KILL") == commands.parse_signal("SIGKILL") == 9
    assert commands.parse_signal("term") == 15
    with pytest.raises(PyruncError):
        commands.parse_signal("SIGBOGUS")


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "x\n"])
def test_invalid_ids(bad):
    with pytest.raises(PyruncError):
        validate_id(bad)


def test_valid_ids():
    for good in ("abc", "A-1_b+c.d", "0" * 64):
        validate_id(good)


def test_reserve_makes_a_missing_state_root(tmp_path):
    """One mkdir when the root exists; a missing root (and its parents) made 0700 first."""
    root = tmp_path / "a" / "b"
    Container(str(root), "c1").reserve()
    assert (root / "c1" / "lock").is_file()
    assert os.stat(root).st_mode & 0o777 == 0o700 and os.stat(tmp_path / "a").st_mode & 0o777 == 0o700
    Container(str(root), "c2").reserve()
    with pytest.raises(PyruncError, match="container with id exists: c2"):
        Container(str(root), "c2").reserve()
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        Container(str(tmp_path / "file" / "root"), "c1").reserve()


def _locked_by_another(path) -> bool:
    """lockf(F_TEST) from a child process: POSIX locks never conflict within their own process."""
    pid = os.fork()
    if pid == 0:
        fd = os.open(path, os.O_RDWR)
        try:
            os.lockf(fd, os.F_TEST, 0)
            os._exit(0)
        except OSError:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 1


def test_first_record_is_the_lock_file_linked(tmp_path):
    """create's first save makes no file: the lock file holds the record and is linked as
    state.json; reading it with the lock held keeps the lock; a later save replaces the name."""
    c = Container(str(tmp_path), "c1")
    c.reserve()
    c.record = {"bundle": "/b", "cgroups_created": ["/x"]}
    c.save()
    lock, state = os.path.join(c.dir, "lock"), os.path.join(c.dir, "state.json")
    assert os.path.samefile(lock, state) and sorted(os.listdir(c.dir)) == ["lock", "state.json"]
    c.record = {}
    assert c.read().record == {"bundle": "/b", "cgroups_created": ["/x"]}
    assert _locked_by_another(lock)
    c.unlock()
    other = Container(str(tmp_path), "c1").load()  # another command after a crash: lock, then read
    assert other.record["bundle"] == "/b" and _locked_by_another(lock)
    other.record["pid"] = 1
    other.save()
    assert not os.path.samefile(lock, state) and os.stat(lock).st_nlink == 1
    assert Container(str(tmp_path), "c1").read().record["pid"] == 1
    other.remove()
    assert not os.path.exists(c.dir)


def test_state_store_atomic_and_derived_status(tmp_path):
    c = Container(str(tmp_path), "c1")
    c.reserve()
    with pytest.raises(PyruncError, match="exists"):
        Container(str(tmp_path), "c1").reserve()
    c.record = {"pid": os.getpid(), "start_time": 0, "bundle": "/b"}
    c.save()
    assert not any(n.endswith(".tmp") for n in os.listdir(c.dir))
    assert c.status() == "stopped"  # wrong start time: a recycled pid is not the container
    from pyrunc.state import proc_start_time

    c.record["start_time"] = proc_start_time(os.getpid())[0]
    assert c.status() == "running"
    open(os.path.join(c.dir, "start.sock"), "w").close()
    assert c.status() == "created"
    c.remove()
    assert not os.path.exists(c.dir)


def test_jsonio_round_trip_and_error_position():
    doc = default_config()
    assert jsonio.loads(jsonio.dumps(doc)) == doc
    assert json.loads(jsonio.dumps(doc, indent=2)) == doc
    with pytest.raises(ValueError, match="line 2 column"):
        jsonio.loads('{\n "a": }')


def test_config_load_reports_invalid_json_and_unsupported(tmp_path):
    (tmp_path / "config.json").write_text('{"ociVersion": "1.3.0",\n  "root": }')
    with pytest.raises(PyruncError, match="line 2 column"):
        config.load(str(tmp_path))
    cfg = default_config()
    cfg["process"]["commandLine"] = "sh"  # Windows only
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PyruncError, match=r"^unsupported: process.commandLine$"):
        config.load(str(tmp_path))


def test_config_ignores_what_the_spec_does_not_define(tmp_path):
    """config.md: unknown properties MUST be ignored; defined ones pyrunc cannot apply are refused."""
    cfg = default_config()
    cfg["org.example.extension"] = {"x": 1}
    cfg["process"]["futureField"] = True
    cfg["linux"]["namespaces"][0]["futureFlag"] = 1
    cfg["mounts"][0]["futureOption"] = "y"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    config.ignored.clear()
    assert config.load(str(tmp_path))["process"]["futureField"] is True
    assert sorted(config.ignored) == ["linux.namespaces[0].futureFlag", "mounts[0].futureOption",
                                      "org.example.extension", "process.futureField"]
    config.ignored.clear()
    for path, value in (("linux.intelRdt", {"closID": "x"}),
                        ("linux.memoryPolicy", {"mode": "MPOL_DEFAULT"})):
        cfg = default_config()
        cfg["linux"][path.split(".")[1]] = value
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(PyruncError, match=rf"^unsupported: {path}"):
            config.load(str(tmp_path))


def test_spec_writes_a_valid_default_and_refuses_to_overwrite(tmp_path):
    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 0
    cfg = config.load(str(tmp_path))
    assert cfg["process"]["args"] == ["sh"]
    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 1


def test_features_lists_only_what_is_implemented(capsys):
    assert cli.main(["features"]) == 0
    feats = json.loads(capsys.readouterr().out)
    assert feats["ociVersionMax"] == "1.3.0"
    seccomp = feats["linux"]["seccomp"]
    assert seccomp["enabled"] is True and "SCMP_ACT_NOTIFY" in seccomp["actions"]
    assert "SCMP_CMP_MASKED_EQ" in seccomp["operators"] and "SCMP_ARCH_X86_64" in seccomp["archs"]
    assert "time" in feats["linux"]["namespaces"]


def test_help_command_and_unknown_command(capfd):
    assert cli.main(["help", "run"]) == 0
    assert "--keep" in capfd.readouterr().out
    assert cli.main(["help"]) == 0 and "commands:" in capfd.readouterr().out
    assert cli.main(["foo", "-h"]) == 1
    assert capfd.readouterr().err == "pyrunc: no such command: foo\n"


def test_text_log_lines_quote_as_logrus():
    line = cli.Logger(None, "text", True).line("debug", 'say "hi"\\now\n').decode()
    assert line.endswith(' level=debug msg="say \\"hi\\"\\\\now\\n"\n'), line


@pytest.mark.parametrize("rootless", [False, True])
def test_spec_writes_what_runc_writes(tmp_path, rootless):
    """`spec [--rootless]` against Debian's runc: the same document but for the version and hostname
    (runc's ToRootless: no network namespace, a user namespace with the caller's ids, /sys an rbind,
    no uid=/gid= options, no resources)."""
    import shutil
    import subprocess

    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    flags = ["--rootless"] if rootless else []
    (tmp_path / "runc").mkdir()
    (tmp_path / "pyrunc").mkdir()
    subprocess.run(["runc", "spec", *flags], cwd=tmp_path / "runc", check=True)
    assert cli.main(["spec", *flags, "--bundle", str(tmp_path / "pyrunc")]) == 0
    theirs = json.loads((tmp_path / "runc/config.json").read_text())
    ours = json.loads((tmp_path / "pyrunc/config.json").read_text())
    for doc in (theirs, ours):
        doc.pop("ociVersion")
        doc.pop("hostname")
    assert ours == theirs
