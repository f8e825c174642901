"""Hostile input: every config and command line ends in success or a one-line error in our words (no
"internal error", no traceback), and the host is clean afterwards (the `container` fixture checks it).

The named cases come first; then hypothesis generates configs (schema-valid variations of the tests'
config, and the same with fields of the wrong type) and command lines with odd ids, paths and signals.
The outcome counts are printed at the end of each property test; a good share of the generated configs
must reach a running container, or the generator proves little."""

import collections
import json
import os
import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .stress import LONG

settings.register_profile("ci", derandomize=True, max_examples=150, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("long" if LONG else "ci"))

OUR_WORDS_NOT_PYTHONS = ("internal error", "Traceback", "Error:", "codec can't", "Errno")


def assert_our_error(r, *words):
    """A failure told in one line, without Python's words; `words` must appear (pyrunc only)."""
    assert r.rc != 0, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert not any(w in r.err for w in OUR_WORDS_NOT_PYTHONS), r
    for w in words:
        assert w in r.err, r


def _write_raw(c, data: bytes):
    (c.bundle / "config.json").write_bytes(data)


def _with(c, edit):
    cfg = json.loads(json.dumps(c.config))
    edit(cfg)
    return json.dumps(cfg).encode()


CONFIG_CASES = {
    "not-utf8": (lambda c: b'{"ociVersion": "1.0.2", "hostname": "\xff"}', ["config.json: not UTF-8", "0xff"]),
    "utf16-bom": (lambda c: json.dumps(c.config).encode("utf-16"), ["not UTF-8", "UTF-16"]),
    "utf16-no-bom": (lambda c: json.dumps(c.config).encode("utf-16-le"), ["not UTF-8", "NUL"]),
    "nested-10000": (lambda c: b"[" * 10000 + b"]" * 10000, ["nested deeper than", "levels"]),
    "nested-10000-in-field": (lambda c: b'{"x": ' + b"[" * 10000 + b"]" * 10000 + b", "
                              + json.dumps(c.config).encode()[1:], ["nested deeper than"]),
    "lone-surrogate-hostname": (lambda c: _with(c, lambda g: g.update(hostname="@@")).replace(b"@@", b"\\ud800x"),
                                ["hostname: a lone surrogate", "\\ud800"]),
    "lone-surrogate-env": (lambda c: _with(c, lambda g: g["process"]["env"].append("A=@@")).replace(
        b"@@", b"\\udfff"), ["process.env[2]: a lone surrogate"]),
    "cgroupsPath-dotdot": (lambda c: _with(c, lambda g: g["linux"].update(cgroupsPath="/../../escape")),
                           ["linux.cgroupsPath", ".."]),
    "uidMappings-without-userns": (lambda c: _with(c, lambda g: g["linux"].update(
        uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
        gidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}])), ["linux.uidMappings", "user namespace"]),
    "memory-limit-4096": (lambda c: _with(c, lambda g: g["linux"].update(resources={"memory": {"limit": 4096}})),
                          ["killed by SIGKILL: out of memory in its cgroup"]),
    "top-level-array": (lambda c: b"[]", ["top level must be a JSON object"]),
    "oversized-50MB-string": (lambda c: _with(c, lambda g: g.update(hostname="h" * 50_000_000)), ["hostname"]),
}


@pytest.mark.root
@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_hostile_config(container, rt, case):
    make, words = CONFIG_CASES[case]
    c = container("true")
    c.write()
    _write_raw(c, make(c))
    r = rt("create", "--bundle", c.bundle, c.id)
    if rt.name != "pyrunc":  # runc's words are its own; it accepts a lone surrogate (as U+FFFD)
        if r.rc == 0:
            assert c.delete("--force").rc == 0
        return
    assert_our_error(r, *words)
    c.assert_refused(r, one_line=True)


@pytest.mark.root
@pytest.mark.parametrize("kind", ["symlink-to-host-file", "fifo", "directory", "dev-zero"])
def test_config_json_not_a_plain_file(container, rt, kind):
    """A symlink is followed (runc does; the caller can read its target anyway) and its content is not
    echoed; a fifo or a device must not hang the runtime; a directory is named."""
    if kind == "fifo" and rt.name == "runc":
        pytest.skip("runc 1.1.5 blocks opening a fifo config.json until a writer comes")
    c = container("true")
    c.write()
    path = c.bundle / "config.json"
    path.unlink()
    if kind == "symlink-to-host-file":
        path.symlink_to("/etc/shadow")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    r = rt("create", "--bundle", c.bundle, c.id, timeout=20)
    assert r.rc != 0, r
    if rt.name == "pyrunc":
        words = {"symlink-to-host-file": "invalid JSON", "fifo": "a fifo, not a regular file",
                 "directory": "is a directory", "dev-zero": "a character device"}[kind]
        assert_our_error(r, words)
        assert "root:" not in r.err  # /etc/shadow's content stays unsaid
    c.assert_refused(r)


@pytest.mark.root
@pytest.mark.parametrize("cid,words", [("a/b", "invalid container id format"),
                                       ("..", "invalid container id format"),
                                       ("../../etc", "invalid container id format"),
                                       ("x" * 1000, "the limit is 255"),
                                       ("x" * 256, "the limit is 255"),
                                       ("é", "invalid container id format"),
                                       ("-", None)])
def test_odd_ids(container, rt, cid, words):
    """NUL cannot reach a command line (execve ends the string there); tests/unit covers it."""
    c = container("true")
    c.write()
    r = rt("create", "--bundle", c.bundle, cid)
    if words is None:  # a valid id after all
        assert r.rc == 0, r
        assert rt("delete", "--force", cid).rc == 0
        return
    assert r.rc != 0, r
    if rt.name == "pyrunc":
        assert_our_error(r, words)
    assert not any(p.name.startswith(cid[:20]) for p in rt.root.iterdir()) if rt.root.exists() else True


# --- property tests ------------------------------------------------------------------------------------

NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")
CAPS = ("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_SETUID", "CAP_BOGUS")
RLIMITS = ("RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_BOGUS")
odd_text = st.text(st.characters(codec="utf-8"), max_size=12)
path_text = st.one_of(st.sampled_from(["/", "/tmp", "/tmp/x", "relative", "/proc/self", "../..", "/dev/null",
                                       "/bin/true", "//", "/tmp/" + "y" * 300]), odd_text)
json_value = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                          | odd_text, lambda kids: st.lists(kids, max_size=3)
                          | st.dictionaries(odd_text, kids, max_size=3), max_leaves=6)


@st.composite
def configs(draw, base):
    """The tests' config, with some fields varied within the schema (most of them still run) and
    sometimes one field replaced by any JSON value (mostly refused)."""
    cfg = json.loads(json.dumps(base))
    proc, linux = cfg["process"], cfg["linux"]
    if draw(st.booleans()):
        cfg["hostname"] = draw(st.sampled_from(["h", "a-b.c", "x" * 64, "x" * 65, ""]) | odd_text)
    if draw(st.booleans()):
        proc["env"] = proc["env"] + draw(st.lists(st.sampled_from(["A=1", "B=", "=C", "D", "E=é"]) | odd_text,
                                                  max_size=3))
    if draw(st.booleans()):
        proc["cwd"] = draw(path_text if draw(st.integers(0, 4)) == 4 else st.sampled_from(["/", "/tmp", "/bin", "/x"]))
    if draw(st.booleans()):
        proc["user"] = {"uid": draw(st.sampled_from([0, 1, 65534, 2**31])), "gid": draw(st.sampled_from([0, 5]))}
    if draw(st.booleans()):
        caps = draw(st.lists(st.sampled_from(CAPS), max_size=3, unique=True))
        proc["capabilities"] = {k: caps for k in draw(st.lists(st.sampled_from(
            ["bounding", "effective", "permitted", "ambient", "inheritable"]), max_size=5, unique=True))}
    if draw(st.booleans()):
        proc["rlimits"] = [{"type": draw(st.sampled_from(RLIMITS)), "soft": s, "hard": h}
                           for s, h in draw(st.lists(st.tuples(st.sampled_from([0, 64, 1024]),
                                                               st.sampled_from([64, 1024, 2**64 - 1])), max_size=2))]
    if draw(st.booleans()):
        kinds = draw(st.lists(st.sampled_from(NAMESPACES), unique=True, max_size=6))
        if draw(st.integers(0, 9)) != 9 and "mount" not in kinds:  # mostly kept: without it, a refusal
            kinds.append("mount")
        linux["namespaces"] = [{"type": t} for t in kinds]
        if not any(n["type"] == "uts" for n in linux["namespaces"]):
            cfg.pop("hostname", None)
    if draw(st.booleans()):
        linux["cgroupsPath"] = draw(st.sampled_from(["/x/y", "/../x", "rel/ative", "/a/./b", "", "/" + "c" * 300])
                                    | odd_text.map(lambda t: "/" + t))
    if draw(st.booleans()):
        linux["maskedPaths"] = draw(st.lists(path_text, max_size=3))
    if draw(st.booleans()):
        cfg["mounts"].append({"destination": draw(path_text), "type": draw(st.sampled_from(["tmpfs", "bind", "proc",
                                                                                            "bogus"])),
                              "source": draw(st.sampled_from(["tmpfs", "/tmp", "/nonexistent"])),
                              "options": draw(st.lists(st.sampled_from(["ro", "nosuid", "size=1k", "bogus=1",
                                                                        "rbind"]), max_size=3))})
    if draw(st.booleans()):
        linux["resources"] = {"pids": {"limit": draw(st.sampled_from([-1, 0, 10, 2**63]))},
                              "memory": {"limit": draw(st.sampled_from([-1, 4096, 2**30]))}}
    if draw(st.booleans()):
        cfg["annotations"] = draw(st.dictionaries(odd_text, odd_text, max_size=3))
    if draw(st.integers(0, 4)) == 4:  # any JSON value in some known place: mostly of the wrong type
        where = draw(st.sampled_from([(cfg, "hostname"), (cfg, "root"), (proc, "args"), (proc, "env"),
                                      (proc, "user"), (proc, "rlimits"), (linux, "namespaces"),
                                      (linux, "resources"), (cfg, "mounts"), (linux, "sysctl"), (proc, "cwd")]))
        where[0][where[1]] = draw(json_value)
    return cfg


def _outcome(r, marker):
    if marker in r.out:
        return "ran"
    if r.rc == 0:
        return "succeeded without output"
    assert len(r.err.strip().splitlines()) == 1, r
    assert not any(w in r.err for w in ("internal error", "Traceback")), r
    if os.environ.get("PYRUNC_SHOW_REFUSALS"):
        print(r.err.strip()[:200])
    return "refused: " + _kind(r.err.strip().removeprefix("pyrunc: "))


def _kind(message):
    """The config field a refusal names (`[mounts[7]]` after a step, or the message's first part),
    indices dropped: `mounts[]`, `process.rlimits[].type`, `config.json` (the schema)."""
    where = message.rpartition("  [")[2].split("]: ")[0].rstrip("]") if "  [" in message else message.split(":")[0]
    if where.startswith("config.json"):
        where = message.split(":")[1].strip() if message.count(":") > 1 else where
    return re.sub(r"\[\d+\]", "[]", where)[:40]


@pytest.mark.root
def test_generated_configs(container, rt, capsys):
    rt.only_pyrunc("our words for hostile configs (runc's are its own)")
    c = container("true")
    marker = "reached-the-container"
    base = json.loads(json.dumps(c.config))
    base["process"]["args"] = ["echo", marker]
    counts = collections.Counter()

    @given(configs(base))
    def one(cfg):
        c.config = cfg
        try:
            c.write()
        except ValueError:  # a string Python's json cannot write (a lone surrogate): written escaped
            (c.bundle / "config.json").write_text(json.dumps(cfg, ensure_ascii=True))
        r = rt("run", "--bundle", c.bundle, c.id, timeout=30)
        counts[_outcome(r, marker)] += 1
        d = rt("delete", "--force", c.id)
        assert d.rc == 0, d
        assert c.state_dir_gone()

    one()
    total = sum(counts.values())
    refused = sum(n for k, n in counts.items() if k.startswith("refused"))
    with capsys.disabled():
        print(f"\ngenerated configs: {total} examples, {counts['ran']} reached a running container, "
              f"{counts['succeeded without output']} succeeded without output, {refused} refused; by kind: "
              + ", ".join(f"{k[9:]} {n}" for k, n in counts.most_common() if k.startswith("refused")))
    assert counts["ran"] >= total // 4, counts


ids = st.one_of(st.sampled_from(["a/b", "..", ".", "-", "--", "x" * 256, "é", " ", "a b", "$(id)", "-h"]),
                st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=40))
signals = st.one_of(st.sampled_from(["KILL", "SIGKILL", "9", "0", "-1", "65", "SIGBOGUS", "1e3", "", "TERM "]),
                    st.integers(-2**40, 2**40).map(str), st.text(max_size=8).filter(lambda s: "\0" not in s))


@pytest.mark.root
def test_generated_command_lines(container, rt, capsys):
    """Odd ids, bundle paths and signals on a live container's neighbours: success or one line each."""
    rt.only_pyrunc("our words for odd command lines")
    c = container("sleep", "100")
    assert c.create().rc == 0
    counts = collections.Counter()

    @given(st.sampled_from(["state", "kill", "delete", "start", "pause", "ps", "events --stats", "create"]),
           ids, signals, path_text.filter(lambda s: "\0" not in s))
    def one(command, cid, sig, bundle):
        args = command.split() + {"kill": [cid, sig], "create": ["--bundle", bundle, cid]}.get(command, [cid])
        r = rt(*args, timeout=30)
        if r.rc == 0:
            counts["ok"] += 1
            rt("delete", "--force", cid)
        else:
            assert len(r.err.strip().splitlines()) == 1, r
            assert not any(w in r.err for w in ("internal error", "Traceback")), r
            counts["refused"] += 1
        assert c.state()["status"] == "created"  # the neighbour is unharmed

    one()
    with capsys.disabled():
        print(f"\ngenerated command lines: {sum(counts.values())} examples, {counts['ok']} succeeded, "
              f"{counts['refused']} refused in one line")


def test_nul_in_an_id_is_refused():
    from pyrunc.errors import PyruncError
    from pyrunc.state import validate_id

    with pytest.raises(PyruncError, match="invalid container id format"):
        validate_id("a\0b")


def test_subprocess_cannot_pass_nul():
    with pytest.raises(ValueError):
        subprocess.run(["true", "a\0b"])
