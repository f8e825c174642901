"""Rootless, as an ordinary user would meet it: where its state lives and who else can reach it, every
command on its containers, what it is inside them, and its mistakes.

Each test makes a user (the `ordinary_user` fixture) and runs the runtime as that user; the host
objects the tests check (state directories, files, processes) are read as root from outside."""

import json
import os
import pwd
import resource
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pyrunc.capabilities import NAMES
from pyrunc.testing.bundle import alive, mountinfo, proc_status, wait_for
from pyrunc.testing.users import User, no_process_of

pytestmark = pytest.mark.root


def one_line(r: subprocess.CompletedProcess) -> bool:
    return r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1


def test_rootless_state_root_without_xdg_runtime_dir(rt, ordinary_user):
    """runc's rule: $XDG_RUNTIME_DIR/<runtime> when set; unset, the runtime's /run directory, which is
    root's, so the user gets one line naming it and the variable (runc: its permission error), and
    nothing is made there; with a --root of its own the variable is not needed."""
    u = User(rt, ordinary_user)
    b = u.bundle("nox", ["true"])
    bare = {"PATH": os.environ["PATH"], "HOME": str(u.home)}
    system_root = Path("/run/pyrunc" if rt.name == "pyrunc" else "/run/runc")
    r = u("run", "nox", cwd=b, env=bare)
    if rt.name == "pyrunc":
        assert one_line(r), r
        assert str(system_root) in r.stderr and "XDG_RUNTIME_DIR" in r.stderr, r.stderr
    else:
        assert r.returncode != 0 and str(system_root) in r.stderr and "permission denied" in r.stderr, r
    assert not (system_root / "nox").exists()

    own = u.home / "own-state"
    r = u("--root", own, "run", "nox", cwd=b, env=bare)
    assert r.returncode == 0, r
    assert own.is_dir() and not (own / "nox").exists()

    r = u("run", "-d", "nox", cwd=b, detached=True)  # with the variable: below it, private
    try:
        assert r.returncode == 0, r
        assert u.state.stat().st_uid == u.uid and u.state.stat().st_mode & 0o777 == 0o700, oct(u.state.stat().st_mode)
        assert (u.state / "nox").is_dir()
    finally:
        u("delete", "--force", "nox")


def test_rootless_state_is_private(rt, ordinary_user):
    """A second user can neither read nor change the first one's container: the state root is 0700
    (pyrunc's container directories too), and pyrunc refuses a --root the caller does not own in one
    line; the container is still running afterwards."""
    u = User(rt, ordinary_user)
    b = u.bundle("mine", ["sleep", "1000"])
    other = f"{u.name}x"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", other], check=True, capture_output=True)
    try:
        pw = pwd.getpwnam(other)
        home2 = u.work / "home2"
        home2.mkdir()
        os.chown(home2, pw.pw_uid, pw.pw_gid)
        them = User(rt, (other, pw.pw_uid, pw.pw_gid, home2, u.work / "other"))
        assert u("run", "-d", "mine", cwd=b, detached=True).returncode == 0
        pid = u.pid("mine")
        try:
            assert u.state.stat().st_mode & 0o777 == 0o700
            if rt.name == "pyrunc":
                assert (u.state / "mine").stat().st_mode & 0o777 == 0o700
            for args in (["state", "mine"], ["kill", "mine", "KILL"], ["pause", "mine"], ["delete", "--force", "mine"],
                         ["exec", "mine", "true"]):
                r = them("--root", u.state, *args)
                assert r.returncode != 0, (args, r)
                if rt.name == "pyrunc":
                    assert one_line(r) and f"owned by uid {u.uid}" in r.stderr, (args, r.stderr)
            r = subprocess.run(["cat", str(u.state / "mine" / "state.json")], **them.kwargs())
            assert r.returncode != 0 and "Permission denied" in r.stderr, r
            assert alive(pid), "the other user's commands reached the container"
            assert u("state", "mine").returncode == 0
        finally:
            u("delete", "--force", "mine")
    finally:
        subprocess.run(["userdel", other], capture_output=True)


def test_rootless_commands(rt, ordinary_user):
    """create, start, state, exec, ps, list, kill and delete as the user, on a container without a
    cgroup of its own (none is writable): ps and kill --all find its processes by its pid namespace
    (runc fails there), pause says why it cannot."""
    u = User(rt, ordinary_user)
    b = u.bundle("cmds", ["sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000"])
    r = u("create", "cmds", cwd=b, detached=True)
    assert r.returncode == 0, r
    try:
        pid = u.pid("cmds")
        assert json.loads(u("state", "cmds").stdout)["status"] == "created"
        assert u("start", "cmds").returncode == 0
        assert json.loads(u("state", "cmds").stdout)["status"] == "running"
        r = u("exec", "cmds", "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/1/exe")
        assert r.returncode == 0, r
        assert r.stdout.split()[:4] == ["0", "0", str(u.uid), "1"], r.stdout
        assert r.stdout.split()[4].endswith("busybox"), r.stdout
        r = u("list", "--format", "json")
        assert [(s["id"], s["status"]) for s in json.loads(r.stdout)] == [("cmds", "running")], r.stdout
        if rt.name == "pyrunc":  # runc: ps and kill --all need a cgroup
            pids = wait_for(lambda: (p := json.loads(u("ps", "--format", "json", "cmds").stdout)) and len(p) == 3
                            and p, 10, "the init and its two sleeps")
            assert pid in pids, pids
            assert u("kill", "--all", "cmds", "TERM").returncode == 0  # the sleeps die; pid 1 has no handler
            wait_for(lambda: json.loads(u("ps", "--format", "json", "cmds").stdout) == [pid], 10, "only the init")
        r = u("pause", "cmds")
        assert r.returncode != 0, r
        if rt.name == "pyrunc":
            assert one_line(r) and "cgroup" in r.stderr, r.stderr
        assert u("kill", "cmds", "KILL").returncode == 0
        wait_for(lambda: not alive(pid), 10, "the init to die")
        assert json.loads(u("state", "cmds").stdout)["status"] == "stopped"
        assert u("delete", "cmds").returncode == 0
        assert not (u.state / "cmds").exists()
    finally:
        u("delete", "--force", "cmds")


def full_caps() -> list[str]:
    """Every capability the host's bounding set has (CAP_SYS_RESOURCE is missing here)."""
    bnd = int(proc_status(Path("/proc/self/status").read_text())["CapBnd"], 16)
    return [n for i, n in enumerate(NAMES) if bnd >> i & 1]


PROBE = ("cat /secret >/dev/null 2>&1 && echo read-own || echo no-read-own; "
         "cat /host/secret >/dev/null 2>&1 && echo read-host || echo no-read-host; "
         "chown 0 /host/secret 2>/dev/null && echo chown-host || echo no-chown-host; "
         "mount -t tmpfs none /mnt 2>/dev/null && echo mount-own || echo no-mount-own; "
         "touch /out/made; ulimit -n; ulimit -Hn")


def test_rootless_root_inside_nobody_outside(rt, ordinary_user):
    """Root with every capability in its own user namespace: reading a mode-000 file of its rootfs
    (CAP_DAC_OVERRIDE) and mounting a tmpfs (CAP_SYS_ADMIN) succeed; reading and chowning a host
    file owned by root, bind-mounted in, fail. The control drops the capabilities: the rootfs file
    is then unreadable too. rlimits below the user's hard limits apply; a file made inside belongs
    to the user on the host."""
    u = User(rt, ordinary_user)
    host = u.work / "hostdir"
    host.mkdir()
    (host / "secret").write_text("root's\n")
    (host / "secret").chmod(0o600)
    out = u.owned_dir(u.home / "out")

    def change(cfg: dict, caps: list[str]) -> None:
        cfg["process"]["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
        cfg["mounts"] += [{"destination": "/host", "type": "bind", "source": str(host), "options": ["rbind"]},
                          {"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]}]
        cfg["root"]["readonly"] = False

    results = {}
    for name, caps in (("full", full_caps()), ("none", [])):
        b = u.bundle(name, ["sh", "-c", PROBE], lambda cfg, caps=caps: change(cfg, caps))
        for d in ("host", "out", "mnt"):
            (b / "rootfs" / d).mkdir(exist_ok=True)
        (b / "rootfs/secret").write_text("the container's\n")
        (b / "rootfs/secret").chmod(0)
        for p in (b / "rootfs/secret", *(b / "rootfs" / d for d in ("host", "out", "mnt"))):
            os.lchown(p, u.uid, u.gid)
        r = u("run", name, cwd=b)
        assert r.returncode == 0, r
        results[name] = r.stdout.split()
    assert results["full"] == ["read-own", "no-read-host", "no-chown-host", "mount-own", "100", "200"], results
    assert results["none"][:4] == ["no-read-own", "no-read-host", "no-chown-host", "no-mount-own"], results
    assert (host / "secret").stat().st_uid == 0 and (host / "secret").read_text() == "root's\n"
    st = (out / "made").stat()
    assert (st.st_uid, st.st_gid) == (u.uid, u.gid), "a file made inside is the caller's on the host"


def test_rootless_devices_and_privileged_mounts(rt, ordinary_user):
    """Devices are the host's, bind-mounted (an unprivileged mknod is refused); a mount needing real
    privileges (the host's root filesystem, from its block device) fails in one line naming it; devpts'
    gid=5, unmapped, is refused before anything is made, as runc does (spec --rootless drops it)."""
    u = User(rt, ordinary_user)
    fuse = Path("/dev/fuse")
    if not fuse.exists():
        pytest.skip("the host has no /dev/fuse to hand to the container")

    def device(cfg: dict) -> None:
        st = fuse.stat()
        cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": os.major(st.st_rdev),
                                    "minor": os.minor(st.st_rdev), "fileMode": 0o666}]

    b = u.bundle("devs", ["sh", "-c", "stat -c '%t:%T' /dev/null /dev/fuse; grep -c ' /dev/null ' "
                                      "/proc/self/mountinfo; grep -c ' /dev/fuse ' /proc/self/mountinfo"], device)
    r = u("run", "devs", cwd=b)
    assert r.returncode == 0, r
    st = fuse.stat()
    assert r.stdout.split() == ["1:3", f"{os.major(st.st_rdev):x}:{os.minor(st.st_rdev):x}", "1", "1"], r.stdout

    root_fs = mountinfo(Path("/proc/self/mountinfo").read_text())["/"]
    source = next(line.split(" - ")[1].split()[1] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                  if line.split()[4] == "/")

    def disk(cfg: dict) -> None:  # the host's root filesystem, which no user namespace may mount
        cfg["mounts"].append({"destination": "/mnt", "type": root_fs[0], "source": source})

    b = u.bundle("sysfs", ["true"], disk)
    (b / "rootfs/mnt").mkdir()
    r = u("run", "sysfs", cwd=b)
    assert r.returncode != 0, r
    assert "/mnt" in r.stderr, r.stderr
    if rt.name == "pyrunc":
        assert one_line(r) and "mounts[7]" in r.stderr and source in r.stderr and "not permitted" in r.stderr, r.stderr

    def gid5(cfg: dict) -> None:
        next(m for m in cfg["mounts"] if m["destination"] == "/dev/pts")["options"].append("gid=5")

    b = u.bundle("gid5", ["true"], gid5)
    r = u("run", "gid5", cwd=b)
    assert r.returncode != 0 and "gid= mount options for unmapped gid" in r.stderr, r
    if rt.name == "pyrunc":
        assert one_line(r) and "mounts[2]" in r.stderr, r.stderr
    for cid in ("devs", "sysfs", "gid5"):
        assert not (u.state / cid).exists()


def test_rootless_bad_input(rt, ordinary_user):
    """A rootfs the user cannot read, an rlimit above the user's own hard limit and a --root another
    user owns: one line naming it, nothing left (no state, no process of the user)."""
    u = User(rt, ordinary_user)
    b = u.bundle("unreadable", ["true"])
    (b / "rootfs").chmod(0o700)
    os.chown(b / "rootfs", 0, 0)
    r = u("run", "unreadable", cwd=b)
    assert r.returncode != 0, r
    if rt.name == "pyrunc":
        assert one_line(r) and "root.path" in r.stderr and str(b / "rootfs") in r.stderr, r.stderr
    assert not (u.state / "unreadable").exists()

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # the user's, inherited from this test
    b = u.bundle("toohigh", ["true"], lambda cfg: cfg["process"].update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": hard + 1}]))
    r = u("run", "toohigh", cwd=b)
    assert r.returncode != 0, r
    if rt.name == "pyrunc":
        assert one_line(r) and "process.rlimits[0]" in r.stderr and "not permitted" in r.stderr, r.stderr
    assert not (u.state / "toohigh").exists()

    theirs = u.work / "theirs"
    theirs.mkdir(mode=0o755)
    b = u.bundle("foreign", ["true"])
    r = u("--root", theirs, "run", "foreign", cwd=b)
    assert r.returncode != 0, r
    if rt.name == "pyrunc":
        assert one_line(r) and str(theirs) in r.stderr and "owned by uid 0" in r.stderr, r.stderr
    assert list(theirs.iterdir()) == []
    no_process_of(u.uid)
    shutil.rmtree(theirs)


def readme_walk() -> str:
    """The first shell block of the README's Rootless section."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return text[text.index("## Rootless\n"):].split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_rootless_walk(rt, ordinary_user):
    """The README's walk, literally, as a made user: its commands in bash -e with `pyrunc` on PATH
    (runc under that name for --runtime runc), on a terminal; in the shell it ends with, the user is
    root mapped to its own uid; `exit` ends the container and removes it."""
    u = User(rt, ordinary_user)
    bindir = u.work / "bin"
    bindir.mkdir()
    (bindir / "pyrunc").symlink_to(u.exe)
    kw = u.kwargs()
    for k in ("capture_output", "text", "timeout", "stdin"):
        kw.pop(k)
    kw["env"] = kw["env"] | {"PATH": f"{bindir}:{os.environ['PATH']}", "TERM": "dumb"}
    master, slave = os.openpty()
    p = subprocess.Popen(["bash", "-e", "-c", readme_walk()], stdin=slave, stdout=slave, stderr=slave,
                         cwd=u.home, start_new_session=True, **kw)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes | None, timeout: float) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker is None or marker not in seen:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {marker!r} from the walk: {seen.decode(errors='replace')}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every holder of the terminal is gone
                chunk = b""
            if not chunk:
                return seen
            seen += chunk
        return seen

    try:
        read_until(b"# ", 60)
        time.sleep(0.3)  # busybox's line editor asks the terminal for the cursor position first
        os.write(master, b"echo uid=$(id -u) map=$(cat /proc/self/uid_map | tr -s ' ' :)\rexit\r")
        read_until(None, 30)
        assert p.wait(30) == 0, seen
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    out = seen.decode(errors="replace")
    assert f"uid=0 map=:0:{u.uid}:1" in out, out
    assert (u.home / "box/config.json").exists() and not (u.state / "box").exists()
