"""Rootless: an ordinary user runs a container with `spec --rootless` and `run`, as runc does.

A dedicated user is made for the test and removed afterwards. What it needs is made reachable in a
directory of the test's own (the checkout may sit below a directory only root can enter): a launcher
for the host's interpreter with a copy of the installed package and the modules it loads. The
container's view (its uid and its id map) is read from inside, the init's credentials, id map and
the state's place from outside."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from .bundle import make_rootfs, reachable_runtime, wait_for

pytestmark = pytest.mark.root



def test_rootless_run(rt, ordinary_user):
    _name, uid, gid, home, work = ordinary_user
    exe = reachable_runtime(rt, work / "runtime")
    bundle = home / "bundle"
    make_rootfs(bundle / "rootfs")
    for path in (bundle, *bundle.rglob("*")):
        os.lchown(path, uid, gid)
    as_user = {"user": uid, "group": gid, "extra_groups": [], "cwd": bundle, "capture_output": True, "text": True,
               "timeout": 60, "stdin": subprocess.DEVNULL,
               "env": {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(home), "HOME": str(home)}}
    r = subprocess.run([exe, "spec", "--rootless"], **as_user)
    assert r.returncode == 0, r
    cfg = json.loads((bundle / "config.json").read_text())
    assert [n["type"] for n in cfg["linux"]["namespaces"]][-1] == "user"
    assert "network" not in [n["type"] for n in cfg["linux"]["namespaces"]]
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": uid, "size": 1}]
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; sleep 1000"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    os.chown(bundle / "config.json", uid, gid)

    out = home / "out"
    with open(out, "w") as f:
        os.chown(out, uid, gid)
        r = subprocess.run([exe, "run", "-d", "rl"], **(as_user | {"capture_output": False, "stdout": f,
                                                                    "stderr": subprocess.STDOUT}))
    try:
        assert r.returncode == 0, out.read_text()
        state_dir = home / ("pyrunc" if rt.name == "pyrunc" else "runc") / "rl"
        assert state_dir.is_dir(), "the state lives under $XDG_RUNTIME_DIR, as runc's rule has it"
        state = subprocess.run([exe, "state", "rl"], **as_user)
        pid = json.loads(state.stdout)["pid"]
        wait_for(lambda: "0\n" in out.read_text(), 10, "the container's output")
        inside = out.read_text().split()
        assert inside[:4] == ["0", "0", str(uid), "1"], inside  # root inside, mapped to the user
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":\t" in line)
        assert status["Uid"].split()[0] == str(uid), status["Uid"]  # from outside: the user, nothing more
        assert Path(f"/proc/{pid}/uid_map").read_text().split() == ["0", str(uid), "1"]
        assert Path(f"/proc/{pid}/setgroups").read_text().strip() == "deny"
    finally:
        subprocess.run([exe, "delete", "--force", "rl"], **as_user)
    assert not (home / "pyrunc" / "rl").exists()
