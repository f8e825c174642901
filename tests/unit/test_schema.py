"""Schema validation: the generated fast check, the jsonschema report behind it, and that the two agree.

The official fixtures are read from ../shared/oci-runtime-spec next to the repository (those tests skip
when it is absent). No root needed.
"""

import copy
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from pyrunc import _config_check, schemagen, validate
from pyrunc.errors import PyruncError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "oci-runtime-spec" / "schema" / "test"
KINDS = ("config", "state", "features")
CHECKS = {"config": validate.check_config, "state": validate.check_state, "features": validate.check_features}

# What `runc spec` (runc 1.1.5) writes, kept here so the test does not need runc.
RUNC_SPEC = json.loads("""{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": {
      "uid": 0,
      "gid": 0
    },
    "args": [
      "sh"
    ],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm"
    ],
    "cwd": "/",
    "capabilities": {
      "bounding": [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE"
      ],
      "effective": [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE"
      ],
      "permitted": [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE"
      ],
      "ambient": [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE"
      ]
    },
    "rlimits": [
      {
        "type": "RLIMIT_NOFILE",
        "hard": 1024,
        "soft": 1024
      }
    ],
    "noNewPrivileges": true
  },
  "root": {
    "path": "rootfs",
    "readonly": true
  },
  "hostname": "runc",
  "mounts": [
    {
      "destination": "/proc",
      "type": "proc",
      "source": "proc"
    },
    {
      "destination": "/dev",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [
        "nosuid",
        "strictatime",
        "mode=755",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/pts",
      "type": "devpts",
      "source": "devpts",
      "options": [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5"
      ]
    },
    {
      "destination": "/dev/shm",
      "type": "tmpfs",
      "source": "shm",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "mode=1777",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/mqueue",
      "type": "mqueue",
      "source": "mqueue",
      "options": [
        "nosuid",
        "noexec",
        "nodev"
      ]
    },
    {
      "destination": "/sys",
      "type": "sysfs",
      "source": "sysfs",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "ro"
      ]
    },
    {
      "destination": "/sys/fs/cgroup",
      "type": "cgroup",
      "source": "cgroup",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "relatime",
        "ro"
      ]
    }
  ],
  "linux": {
    "resources": {
      "devices": [
        {
          "allow": false,
          "access": "rwm"
        }
      ]
    },
    "namespaces": [
      {
        "type": "pid"
      },
      {
        "type": "network"
      },
      {
        "type": "ipc"
      },
      {
        "type": "uts"
      },
      {
        "type": "mount"
      }
    ],
    "maskedPaths": [
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus",
      "/proc/fs",
      "/proc/irq",
      "/proc/sys",
      "/proc/sysrq-trigger"
    ]
  }
}""")

# The official bad fixtures and the message each must give.
BAD_MESSAGES = {
    "config/linux-hugepage.json": "config.json: linux.resources.hugepageLimits[0].pageSize: "
    "'64kB' does not match '^[1-9][0-9]*[KMG]B$'",
    "config/linux-netdevice.json": "config.json: linux.netDevices.eth0.name: 23 is not of type 'string'",
    "config/linux-rdma.json":
        "config.json: linux.resources.rdma.mlx5_1.hcaHandles: 'not a uint32' is not of type 'integer'",
    "features/missing-ociVersionMax.json": "features.json: (root): 'ociVersionMax' is a required property",
}


def fixtures(verdict: str) -> list:
    return [
        pytest.param(kind, path, id=f"{kind}/{path.name}")
        for kind in KINDS
        for path in sorted((FIXTURES / kind / verdict).glob("*.json"))
    ]


def fast(kind: str, doc: object) -> bool:
    return getattr(_config_check, kind)(doc)


def slow_ok(kind: str, doc: object) -> bool:
    return validate.schema_error(kind, doc) is None


def error_of(check, doc: object) -> str:
    with pytest.raises(PyruncError) as info:
        check(doc)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- official fixtures


def test_fixtures_present():
    if not FIXTURES.is_dir():
        pytest.skip(f"no official fixtures at {FIXTURES}")
    assert len(fixtures("good")) >= 8 and len(fixtures("bad")) >= 4


@pytest.mark.parametrize("kind,path", fixtures("good"))
def test_good_fixture_accepted(kind, path):
    doc = json.loads(path.read_text())
    assert fast(kind, doc) is True
    assert slow_ok(kind, doc)
    CHECKS[kind](doc)


@pytest.mark.parametrize("kind,path", fixtures("bad"))
def test_bad_fixture_rejected(kind, path):
    text = path.read_text()
    if path.name == "invalid-json.json":  # `{]`: rejected by the JSON parser before any schema applies
        with pytest.raises(ValueError):
            json.loads(text)
        return
    doc = json.loads(text)
    assert fast(kind, doc) is False
    assert not slow_ok(kind, doc)
    message = error_of(CHECKS[kind], doc)
    assert message.startswith(f"{kind}.json: ")
    expected = BAD_MESSAGES.get(f"{kind}/{path.name}")
    if expected is not None:
        assert message == expected


# -- runc's default config


def test_runc_spec_default_passes():
    assert _config_check.config(RUNC_SPEC) is True
    assert slow_ok("config", RUNC_SPEC)
    validate.check_config(RUNC_SPEC)


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc not installed")
def test_live_runc_spec_passes(tmp_path):
    subprocess.run(["runc", "spec"], cwd=tmp_path, check=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert _config_check.config(cfg) is True
    validate.check_config(cfg)


def test_check_config_is_fast():
    validate.check_config(RUNC_SPEC)
    best = min(_time_calls(RUNC_SPEC, 200) for _ in range(5))
    assert best < 1e-3, f"check_config took {best * 1e3:.3f} ms"


def _time_calls(cfg: dict, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        validate.check_config(cfg)
    return (time.perf_counter() - start) / n


def test_fast_path_imports_nothing_costly():
    """What `pyrunc run` pays: in a bare interpreter, checking a valid config loads only pyrunc's modules."""
    code = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
import pyrunc
before = set(sys.modules)
from pyrunc.validate import check_config
check_config({RUNC_SPEC!r})
print(" ".join(sorted(set(sys.modules) - before)))
print(" ".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    new, everything = (set(line.split()) for line in out.stdout.splitlines())
    assert new <= {"pyrunc.validate", "pyrunc._config_check", "pyrunc.errors"}, new
    for heavy in ("jsonschema", "json", "re", "typing", "dataclasses"):
        assert heavy not in everything


# -- messages


def _runc_spec() -> dict:
    return copy.deepcopy(RUNC_SPEC)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["linux"]["namespaces"][1].update(type="bogus"),
            "config.json: linux.namespaces[1].type: 'bogus' is not one of "
            "['mount', 'pid', 'network', 'uts', 'ipc', 'user', 'cgroup', 'time']",
        ),
        (
            lambda c: c["mounts"][4].pop("destination"),
            "config.json: mounts[4]: 'destination' is a required property",
        ),
        (
            lambda c: c["mounts"][4].update(destination=7),
            "config.json: mounts[4].destination: 7 is not of type 'string'",
        ),
        (lambda c: c["process"].update(args="sh"), "config.json: process.args: 'sh' is not of type 'array'"),
        (lambda c: c.pop("ociVersion"), "config.json: (root): 'ociVersion' is a required property"),
        (
            lambda c: c["process"]["rlimits"][0].update(type="RLIMIT_nofile"),
            "config.json: process.rlimits[0].type: 'RLIMIT_nofile' does not match '^RLIMIT_[A-Z]+$'",
        ),
        (
            lambda c: c["process"]["user"].update(uid=-1),
            "config.json: process.user.uid: -1 is less than the minimum of 0",
        ),
        (
            lambda c: c["process"].update(noNewPrivileges=1),
            "config.json: process.noNewPrivileges: 1 is not of type 'boolean'",
        ),
        (
            lambda c: c.update(annotations={"org.example.key": 1}),
            "config.json: annotations[\"org.example.key\"]: 1 is not of type 'string'",
        ),
        (
            lambda c: c["linux"]["resources"].update(blockIO={"weightDevice": [{"major": 8}]}),
            "config.json: linux.resources.blockIO.weightDevice[0]: 'minor' is a required property",
        ),
    ],
)
def test_message_names_the_json_path(mutate, message):
    cfg = _runc_spec()
    mutate(cfg)
    assert _config_check.config(cfg) is False
    assert error_of(validate.check_config, cfg) == message


def test_message_for_a_non_object():
    assert error_of(validate.check_config, []) == "config.json: (root): [] is not of type 'object'"
    assert error_of(validate.check_state, {"id": "x"}).startswith("state.json: (root): ")


def test_json_path_rendering():
    assert validate.json_path([]) == "(root)"
    assert validate.json_path(["linux", "namespaces", 2, "type"]) == "linux.namespaces[2].type"
    assert validate.json_path(["annotations", "a.b"]) == 'annotations["a.b"]'
    assert validate.json_path([0, "x"]) == "[0].x"


def test_jsonschema_has_the_last_word(monkeypatch):
    """Should the fast check ever reject a valid document, the document is still accepted."""
    monkeypatch.setattr(_config_check, "config", lambda cfg: False)
    validate.check_config(_runc_spec())


def test_without_jsonschema_the_fast_verdict_stands(monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema.exceptions", None)
    message = error_of(validate.check_config, {"ociVersion": 1})
    assert message.startswith("config.json: does not match schema/config-schema.json (no jsonschema")


# -- the fast check agrees with jsonschema


_CANDIDATES = [
    None, True, False, 0, 1, -1, 7, 2**31, -(2**31) - 1, 2**32, 2**32 - 1, 2**63, -(2**63) - 1, 2**64,
    2**64 - 1, 1.0, 1.5, "", "x", "pid", "bogus", "RLIMIT_CORE", "RLIMIT_CORE\n", "RLIMIT_", "c", "cc",
    "64KB", "064KB", "2MB\n", "MB:0=1", "MB:\nx", "0-3, 5", "0-3\n", "CAP_KILL", "SCMP_ACT_ALLOW",
    "SCMP_ARCH_X86_64", "SCHED_FIFO", "shared", "creating", [], [1], ["a"], [{}], {}, {"a": 1}, {"a": "b"},
    {"": 1}, {"\n": 1}, {"type": "pid"}, {"path": "/x"},
]


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, rng: random.Random):
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2))):
        path = rng.choice(list(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        move = rng.random()
        if move < 0.2:
            del parent[last]
        elif move < 0.35 and isinstance(parent[last], dict):
            parent[last][rng.choice(("type", "extra", "path", "name", "x.y"))] = copy.deepcopy(
                rng.choice(_CANDIDATES))
        elif move < 0.45 and isinstance(parent[last], list):
            parent[last].append(copy.deepcopy(rng.choice([*parent[last], *_CANDIDATES])))
        else:
            parent[last] = copy.deepcopy(rng.choice(_CANDIDATES))
    return doc


def _seeds(kind: str) -> list:
    docs = [json.loads(p.read_text()) for p in sorted((FIXTURES / kind / "good").glob("*.json"))]
    if kind == "config":
        docs.append(RUNC_SPEC)
        docs.append(_everything_config())
    return docs


def _everything_config() -> dict:
    """A valid config using the schema's less common parts, so mutations reach them."""
    cfg = _runc_spec()
    cfg["process"].update(
        consoleSize={"height": 24, "width": 80},
        ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 4},
        scheduler={"policy": "SCHED_OTHER", "nice": 1, "flags": ["SCHED_FLAG_RECLAIM"]},
        execCPUAffinity={"initial": "0-3, 7", "final": "1"},
    )
    cfg["annotations"] = {"org.example": "x"}
    cfg["linux"].update(
        devices=[{"type": "c", "path": "/dev/x", "major": 1, "minor": 3, "fileMode": 438}],
        uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
        netDevices={"eth0": {"name": "ceth0"}},
        sysctl={"net.ipv4.ip_forward": "1"},
        intelRdt={"closID": "x", "memBwSchema": "MB:0=20"},
        memoryPolicy={"mode": "MPOL_BIND", "flags": ["MPOL_F_STATIC_NODES"]},
        personality={"domain": "LINUX"},
        timeOffsets={"boottime": {"secs": 1, "nanosecs": 2}},
        seccomp={
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}],
        },
    )
    cfg["linux"]["resources"].update(
        hugepageLimits=[{"pageSize": "2MB", "limit": 1}],
        blockIO={"weight": 10, "weightDevice": [{"major": 8, "minor": 0, "weight": 5}],
                 "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}]},
        pids={"limit": 10},
        rdma={"mlx5_1": {"hcaHandles": 3}},
        network={"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]},
        unified={"io.weight": "10"},
    )
    cfg["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]}
    return cfg


@pytest.mark.parametrize("kind", KINDS)
def test_fast_check_agrees_with_jsonschema(kind):
    seeds = _seeds(kind)
    if not seeds:
        pytest.skip("no seed documents")
    rng = random.Random(f"pyrunc-{kind}")
    verdicts = {True: 0, False: 0}
    for _ in range(800):
        doc = _mutate(rng.choice(seeds), rng)
        expected = slow_ok(kind, doc)
        assert fast(kind, doc) is expected, (expected, doc)
        verdicts[expected] += 1
    assert min(verdicts.values()) > 50, verdicts  # the mutations exercise both outcomes


# -- the generator


def _all_patterns(node):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        yield from node.get("patternProperties", {})
        for v in node.values():
            yield from _all_patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _all_patterns(v)


_EXTRA_PATTERNS = [
    "^a{2,3}$", "a+b", "^[^a-c]?x*$", "^.{1,}$", "x$", "", "^$", "$", "[-a]", "[]a]", "^\\.\\*$", "^ab?c*$",
    "^a{,2}b", "[a-]b{2}", "^[\\n-]$", "^[^\\n]*$",
]


@pytest.mark.parametrize(
    "pattern",
    sorted(set(_all_patterns(schemagen.load_documents(str(REPO / "schema"))))) + _EXTRA_PATTERNS,
)
def test_pattern_translation_matches_re(pattern):
    """All strings of up to 3 of the pattern's own characters and literals, then random longer ones."""
    translated = schemagen.translate_pattern(pattern)
    assert translated is not None
    namespace: dict = {}
    exec(schemagen._HELPERS["_pattern"], namespace)
    matches = namespace["_pattern"]
    tokens = {c for c in pattern if c.isalnum() or c in " ,-_:"} | {"a", "Z", "0", "9", "\n", "_", "é"}
    tokens |= {atom for atom in translated[2] if isinstance(atom, str)}
    tokens = sorted(tokens)
    words = [""]
    for _ in range(3):
        words += [w + t for w in words[-len(tokens) ** _:] for t in tokens]
    rng = random.Random(pattern)
    words += ["".join(rng.choices(tokens, k=rng.randrange(12))) for _ in range(3000)]
    for word in words:
        assert matches(word, translated) is (re.search(pattern, word) is not None), repr(word)


@pytest.mark.parametrize(
    "pattern", ["(a|b)", "\\d+", "a*?", "a++", "[[:alpha:]]", "a$b", "\\bx", "[a-\\d]", "a{2", "[a"]
)
def test_untranslatable_patterns_are_left_to_re(pattern):
    assert schemagen.translate_pattern(pattern) is None


def _compile(schema: dict):
    source = schemagen.render({"t.json": schema}, {"check": "t.json"})
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    return source, namespace["check"]


@pytest.mark.parametrize(
    "schema,instances",
    [
        (
            {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]},
            [1, 2, 2.5, 3, "x", True, None, 1.0],
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False,
             "patternProperties": {"^x-": {"type": "integer"}}},
            [{}, {"a": "s"}, {"a": 1}, {"b": 1}, {"x-1": 1}, {"x-1": "s"}, [], 1],
        ),
        (
            {"type": "array", "items": [{"type": "string"}, {"enum": [1, True, None, [1], {"a": 1}]}],
             "additionalItems": False, "uniqueItems": True, "maxItems": 3},
            [[], ["a"], ["a", 1], ["a", 1.0], ["a", True], ["a", 2], ["a", [1]], ["a", {"a": 1}], ["a", 1, 2],
             [1]],
        ),
        (
            {"not": {"type": "string", "pattern": "(a|b)c"}, "minLength": 2, "maximum": 5,
             "exclusiveMaximum": True},
            ["ac", "xx", "x", 4, 5, 5.5, None, "zbc"],
        ),
        (
            {"anyOf": [{"type": ["string", "null"], "maxLength": 1}, {"type": "array", "minItems": 2}],
             "allOf": [{"not": {"enum": ["z"]}}]},
            ["", "a", "ab", "z", None, [], [1, 2], {}],
        ),
        (
            {"oneOf": [{"type": "null"}, {"type": "integer", "maximum": 3}, {"type": ["string", "null"]}]},
            [None, "a", 1, 4, 1.5, True],
        ),
        (
            {"type": "array", "uniqueItems": True},
            [[], [1, 2], [1, 1.0], [1, True], [[1], [1]], [{"a": 1}, {"a": 1.0}], ["a", "a"], [0, False]],
        ),
    ],
)
def test_generator_keywords_match_jsonschema(schema, instances):
    source, check = _compile(schema)
    validator = jsonschema.Draft4Validator(schema)
    for instance in instances:
        assert check(instance) is validator.is_valid(instance), (instance, source)


def test_untranslatable_pattern_imports_re_lazily():
    source, check = _compile({"type": "string", "pattern": "^(ab)+$"})
    assert "import re" not in source.split("def _search")[0]
    assert check("abab") and not check("aba")


@pytest.mark.parametrize(
    "schema",
    [{"const": 1}, {"dependencies": {"a": ["b"]}}, {"multipleOf": 2}, {"$ref": "#nowhere"}, {"type": "any"}],
)
def test_generator_refuses_what_it_cannot_translate(schema):
    with pytest.raises(schemagen.GenerationError):
        schemagen.render({"t.json": {"properties": {"a": schema}}}, {"check": "t.json"})


def test_generated_module_is_fresh(tmp_path):
    """pyrunc/_config_check.py is what `python -m pyrunc.schemagen` makes of schema/ now."""
    output = tmp_path / "_config_check.py"
    assert schemagen.main([str(output), str(REPO / "schema")]) == 0
    committed = REPO / "pyrunc" / "_config_check.py"
    assert output.read_text() == committed.read_text(), "schema/ changed: run `python -m pyrunc.schemagen`"
