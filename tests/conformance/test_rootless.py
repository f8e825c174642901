"""Rootless: an ordinary user runs a container with `spec --rootless` and `run`, as runc does.

A dedicated user is made for the test and removed afterwards. What it needs is made reachable in a
directory of the test's own (the checkout may sit below a directory only root can enter): a launcher
for the host's interpreter with a copy of the installed package and the modules it loads. The
container's view (its uid and its id map) is read from inside, the init's credentials, id map and
the state's place from outside."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import pyrunc
from pyrunc import launcher

from .bundle import make_rootfs, wait_for

pytestmark = pytest.mark.root

# What `run` imports from site-packages; the rest (jsonschema, pyroute2) only on paths this test avoids.
MODULES = ("pyrunc", "_cffi_backend", "prctl.py", "_prctl")


@pytest.fixture
def user():
    """(name, uid, gid, a directory it owns, a directory for the test) for a user made for this test
    alone; both directories sit in /tmp itself, which every user can enter (pytest's tmp_path is
    below a directory only root can)."""
    name = f"pyrunc-rl{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name], check=True,
                   capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="pyrunc-rootless-"))
    try:
        work.chmod(0o755)
        pw = pwd.getpwnam(name)
        home = work / "home"
        home.mkdir()
        os.chown(home, pw.pw_uid, pw.pw_gid)
        yield name, pw.pw_uid, pw.pw_gid, home, work
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def reachable_runtime(rt, where: Path) -> Path:
    """A launcher for this interpreter whose package directory the user can read."""
    if rt.name != "pyrunc":
        return Path(shutil.which(rt.exe) or rt.exe)
    site = Path(pyrunc.__file__).resolve().parent.parent
    lib = where / "lib"
    lib.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name.startswith(MODULES):
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, lib / entry.name)
    exe = where / "pyrunc"
    launcher.write(str(exe), os.path.realpath(sys.executable), str(lib))
    for path in (where, *where.rglob("*")):
        path.chmod(path.stat().st_mode | 0o055)
    return exe


def test_rootless_run(rt, user):
    name, uid, gid, home, work = user
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
