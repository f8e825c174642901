"""Golden files of `pyrunc explain` (text and JSON), no root and no container needed.

The inputs are fixed (a cgroup v2 host, the kernel's last capability, the bundle path), so the
output depends only on the config. Regenerate after an intended change with
    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_explain.py
and review the diff: it is the change in what pyrunc does to the kernel.
"""

import copy
import json
import os
from pathlib import Path

import pytest

from pyrunc import capabilities, cgroups, explain
from pyrunc.cgroups import systemd
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
V2_MOUNTINFO = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n"


CALLER = (1000, 1000)  # the rootless variants' user
# What a login session delegates to that user (systemd's Delegate=): its cgroup2 slice, the session a leaf in it.
DELEGATED = {"rootless-delegated": "0::/user.slice/user-1000.slice/session-1.scope\n"}


# rootless --systemd-cgroup: the cgroup of that user's systemd instance (ControlGroup), as a login manager starts it.
USER_MANAGER = {"rootless-systemd": "/user.slice/user-1000.slice/user@1000.service"}


def plan_for(cfg: dict, name: str):
    """What Prepared does in create, with the host's facts fixed. The rootless variants are planned
    as uid 1000 would see them: no sealed exec, and only a delegated cgroup (rootless-delegated)
    writable, or the user's systemd instance making it (rootless-systemd)."""
    layout = cgroups.detect("/sys/fs/cgroup", mountinfo=V2_MOUNTINFO)
    rootless = name.startswith(("rootless", "bundle-rootless"))
    linux = cfg.get("linux") or {}
    manager_cgroup = USER_MANAGER.get(name)
    cg = cgroups.plan(linux, name, layout, self_cgroup=DELEGATED.get(name, "0::/\n"), rootless=rootless,
                      systemd=manager_cgroup is not None, systemd_running=True, manager_cgroup=manager_cgroup)
    every = dict(cg.dirs)
    if rootless:
        mine = name in DELEGATED or manager_cgroup is not None
        cg = cgroups.restrict(cg, {layout.unified.key} if mine else set(),
                              bool(linux.get("cgroupsPath")) and manager_cgroup is None)
    dirs = cgroups.paths_for(cg)
    unit = None
    if manager_cgroup is not None:
        unit = systemd.unit(linux.get("cgroupsPath"), name, linux.get("resources") or {}, True, cg.device_rules,
                            user=True)
    opts = Options(container_id=name, exe_sealed=not rootless, grace="runtime" if rootless else "launcher",
                   rootless=rootless, systemd_unit=unit,
                   caller=CALLER if rootless else (0, 0), clone_into="" if unit else dirs.get(layout.unified.key, ""),
                   cgroups_skipped=tuple(d for d in every.values() if d not in dirs.values()))
    plan, _ = build(cfg, f"/bundles/{name}/rootfs", opts, dirs, tuple(cg.describe()))
    return plan


def rootless_config() -> dict:
    """`spec --rootless` as uid 1000 writes it."""
    cfg = default_config(rootless=True)
    for kind in ("uid", "gid"):
        cfg["linux"][f"{kind}Mappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    cfg["process"]["terminal"] = False
    return cfg


def variants() -> dict[str, dict]:
    base = default_config()
    base["process"]["terminal"] = False
    out = {}
    for name in sorted(os.listdir(REPO / "bundles")):
        path = REPO / "bundles" / name / "config.json"
        if path.exists() and name != "rootless":  # written by make for its builder: the variant below
            out[f"bundle-{name}"] = json.loads(path.read_text())

    def variant(name: str, change) -> None:
        cfg = copy.deepcopy(base)
        change(cfg)
        out[name] = cfg

    def all_namespaces(cfg: dict) -> None:
        cfg["linux"]["namespaces"] = [{"type": t} for t in
                                      ("pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time")]
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000},
                                       {"containerID": 1000, "hostID": 300000, "size": 10}]
        cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 3600}, "boottime": {"secs": 60, "nanosecs": 7}}
        cfg["domainname"] = "example.org"

    def joined(cfg: dict) -> None:
        cfg["linux"]["namespaces"] = [{"type": "mount"}, {"type": "uts"}, {"type": "pid", "path": "/proc/1/ns/pid"},
                                      {"type": "network", "path": "/var/run/netns/blue"}]

    def mounts(cfg: dict) -> None:
        cfg["linux"]["rootfsPropagation"] = "rshared"
        cfg["mounts"] += [
            {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro", "rslave"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=10m", "mode=1777"]},
        ]
        cfg["linux"]["maskedPaths"] += ["/proc/secret"]
        cfg["linux"]["readonlyPaths"] += ["/etc"]

    def process(cfg: dict) -> None:
        proc = cfg["process"]
        proc["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 10], "umask": 0o027}
        proc["capabilities"] = {"bounding": ["CAP_NET_RAW", "CAP_CHOWN", "CAP_SYS_PTRACE"],
                                "effective": ["CAP_NET_RAW"], "permitted": ["CAP_NET_RAW", "CAP_CHOWN"],
                                "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW", "CAP_CHOWN"]}
        proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                           {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        proc["oomScoreAdj"] = 100
        proc["cwd"] = "/home/app"
        cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}

    def hooks(cfg: dict) -> None:
        hook = {"path": "/usr/bin/hook", "args": ["hook", "x"], "env": ["A=1"], "timeout": 5}
        cfg["hooks"] = {k: [hook] for k in ("prestart", "createRuntime", "createContainer", "startContainer",
                                             "poststart", "poststop")}

    def resources(cfg: dict) -> None:
        cfg["linux"]["cgroupsPath"] = "/tenants/a/example"
        cfg["linux"]["resources"] = {"memory": {"limit": 268435456}, "pids": {"limit": 64},
                                     "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                                     "devices": [{"allow": False, "access": "rwm"},
                                                 {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                  "access": "rw"}]}

    def devices(cfg: dict) -> None:
        cfg["linux"]["devices"] = [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 0, "gid": 0},
            {"path": "/dev/loop9", "type": "b", "major": 7, "minor": 9},
            {"path": "/dev/myfifo", "type": "p"},
        ]
        cfg["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 10, "minor": 229,
                                                     "access": "rwm"})

    def seccomp(cfg: dict) -> None:
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
            ],
        }

    variant("all-namespaces", all_namespaces)
    variant("devices", devices)
    variant("seccomp", seccomp)
    variant("joined-namespaces", joined)
    variant("mounts", mounts)
    variant("process", process)
    variant("hooks", hooks)
    variant("resources", resources)

    def network(cfg: dict) -> None:
        cfg["annotations"] = {"org.pyrunc.network": "bridge", "org.pyrunc.network.publish": "8080:80,5353:53/udp"}
        cfg["linux"]["netDevices"] = {"eth1": {"name": "net%d"}}

    variant("network", network)
    out["rootless"] = rootless_config()
    delegated = rootless_config()
    delegated["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}
    delegated["linux"]["uidMappings"].append({"containerID": 1, "hostID": 100000, "size": 65536})
    delegated["linux"]["gidMappings"].append({"containerID": 1, "hostID": 100000, "size": 65536})
    out["rootless-delegated"] = delegated
    out["rootless-systemd"] = rootless_config()
    return out


CASES = variants()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["txt", "json"])
def test_explain_golden(name: str, fmt: str, monkeypatch):
    monkeypatch.setattr(capabilities, "last_cap", lambda: 40)
    plan = plan_for(CASES[name], name)
    got = explain.as_text(plan) if fmt == "txt" else explain.as_json(plan)
    path = GOLDEN / f"{name}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got)
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1"
    assert got == path.read_text()


def test_json_is_the_text_in_another_form(monkeypatch):
    monkeypatch.setattr(capabilities, "last_cap", lambda: 40)
    plan = plan_for(CASES["process"], "process")
    doc = json.loads(explain.as_json(plan))
    assert doc["ociVersion"] == "1.3.0"
    assert [s["phase"] for s in doc["steps"]] == [p for p, _ in plan.steps()]
    text = explain.as_text(plan)
    for step in doc["steps"]:
        assert step["action"] in text
        assert step["process"] in ("runtime", "init")


def test_json_follows_its_documented_schema():
    """schema/explain-schema.json documents `explain --format json` for tools; every golden plan fits it."""
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "schema/explain-schema.json").read_text())
    for name, cfg in variants().items():
        jsonschema.validate(json.loads(explain.as_json(plan_for(cfg, name))), schema)
