"""Rootless: an ordinary user runs a container with `spec --rootless` and `run`, as runc does.

A dedicated user is made for the test and removed afterwards. What it needs is made reachable in a
directory of the test's own (the checkout may sit below a directory only root can enter): a launcher
for the host's interpreter with a copy of the installed package and the modules it loads. The
container's view (its uid and its id map) is read from inside, the init's credentials, id map and
the state's place from outside."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import as_user, reachable_runtime, user_bundle, wait_for

pytestmark = pytest.mark.root



def test_rootless_run(rt, ordinary_user):
    _name, uid, gid, home, work = ordinary_user
    exe = reachable_runtime(rt, work / "runtime")
    bundle = user_bundle(home / "bundle", uid, gid)
    user = as_user(uid, gid, home, cwd=bundle)
    r = subprocess.run([exe, "spec", "--rootless"], **user)
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
        r = subprocess.run([exe, "run", "-d", "rl"], **(user | {"capture_output": False, "stdout": f,
                                                                    "stderr": subprocess.STDOUT}))
    try:
        assert r.returncode == 0, out.read_text()
        state_dir = home / ("pyrunc" if rt.name == "pyrunc" else "runc") / "rl"
        assert state_dir.is_dir(), "the state lives under $XDG_RUNTIME_DIR, as runc's rule has it"
        state = subprocess.run([exe, "state", "rl"], **user)
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
        subprocess.run([exe, "delete", "--force", "rl"], **user)
    assert not (home / "pyrunc" / "rl").exists()


def subordinate(user: str, kind: str) -> tuple[int, int]:
    """(first, count) of the user's subordinate ids in /etc/sub{uid,gid} (useradd allocates them)."""
    for line in Path(f"/etc/sub{kind}").read_text().splitlines():
        name, first, count = line.split(":")
        if name == user:
            return int(first), int(count)
    pytest.skip(f"useradd gave {user} no subordinate {kind}s")


def test_rootless_wide_maps(rt, ordinary_user):
    """Maps beyond the caller's own id go through newuidmap/newgidmap, which check /etc/subuid and
    /etc/subgid: a file chowned inside to uid 100 belongs on the host to the user's subordinate id 99
    past the range's start. The same user without subordinate ids gets one line, and nothing is left."""
    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        pytest.skip("uidmap (newuidmap, newgidmap) is not installed: make deps installs it")
    user, uid, gid, home, work = ordinary_user
    (ufirst, _), (gfirst, _) = subordinate(user, "uid"), subordinate(user, "gid")
    exe = reachable_runtime(rt, work / "runtime")
    out = home / "out"
    out.mkdir()
    os.chown(out, uid, gid)
    run_as = as_user(uid, gid, home)

    def bundle(cid: str) -> Path:
        b = user_bundle(home / cid, uid, gid)
        assert subprocess.run([exe, "spec", "--rootless"], cwd=b, **run_as).returncode == 0
        cfg = json.loads((b / "config.json").read_text())
        cfg["process"].update(terminal=False, args=["sh", "-c", "cat /proc/self/uid_map; touch /out/f; "
                                                                 "chown 100:100 /out/f; ls -n /out/f"])
        for kind, host in (("uid", uid), ("gid", gid)):
            first = ufirst if kind == "uid" else gfirst
            cfg["linux"][f"{kind}Mappings"] = [{"containerID": 0, "hostID": host, "size": 1},
                                               {"containerID": 1, "hostID": first, "size": 1000}]
        for kind in ("bounding", "effective", "permitted"):  # root of its user namespace may chown there
            cfg["process"]["capabilities"][kind].append("CAP_CHOWN")
        (b / "rootfs/out").mkdir()
        cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    r = subprocess.run([exe, "run", "wide"], cwd=bundle("wide"), **run_as)
    assert r.returncode == 0, r
    assert r.stdout.split()[:6] == ["0", str(uid), "1", "1", str(ufirst), "1000"], r.stdout
    st = (out / "f").stat()
    assert (st.st_uid, st.st_gid) == (ufirst + 99, gfirst + 99), "chown inside lands on the subordinate ids"

    subprocess.run(["usermod", "--del-subuids", f"{ufirst}-{ufirst + 65535}", "--del-subgids",
                    f"{gfirst}-{gfirst + 65535}", user], check=True, capture_output=True)
    r = subprocess.run([exe, "run", "wide2"], cwd=bundle("wide2"), **run_as)
    assert r.returncode != 0, r
    assert rt.name != "pyrunc" or len(r.stderr.strip().splitlines()) == 1, r  # runc adds its nsexec lines
    assert "new" in r.stderr and "map" in r.stderr, r.stderr  # newuidmap/newgidmap refused it
    assert not (home / ("pyrunc" if rt.name == "pyrunc" else "runc") / "wide2").exists()
