"""Running a runtime as an ordinary user (rootless): a user made for the test, a bundle it owns, a copy of
the runtime it can reach."""

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .rootfs import make_rootfs
from .view import wait_for

# What `run` imports from site-packages; the rest (jsonschema, pyroute2) only on paths the tests avoid.
MODULES = ("pyrunc", "_cffi_backend", "prctl.py", "_prctl", "jeepney")  # jeepney: --systemd-cgroup


def reachable_runtime(rt, where: Path) -> Path:
    """A launcher for this interpreter whose package directory the user can read."""
    if rt.name != "pyrunc":
        return Path(shutil.which(rt.exe) or rt.exe)
    import pyrunc
    from pyrunc import launcher

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


def user_bundle(bundle, uid, gid):
    """A bundle directory with the busybox rootfs, owned by an ordinary user."""
    make_rootfs(bundle / "rootfs")
    for path in (bundle, *bundle.rglob("*")):
        os.lchown(path, uid, gid)
    return bundle


def as_user(uid, gid, home, **extra):
    """subprocess.run's keyword arguments to run a command as that user: its $XDG_RUNTIME_DIR and HOME
    are `home`, its output captured."""
    return {"user": uid, "group": gid, "extra_groups": [], "capture_output": True, "text": True, "timeout": 60,
            "stdin": subprocess.DEVNULL,
            "env": {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(home), "HOME": str(home)}} | extra


@contextlib.contextmanager
def made_user(prefix="pyrunc-rl"):
    """(name, uid, gid, a directory it owns, a directory for the test) for a user made for this use alone;
    both directories sit in /tmp itself, which every user can enter (pytest's tmp_path is below a
    directory only root can). The user and directories are removed on exit."""
    name = f"{prefix}{os.getpid() % 100000}"
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


def no_process_of(uid: int) -> None:
    """Nothing runs as `uid` (a made user's uid may be one a removed user had: what that user's last
    container left is given a moment to be reaped)."""
    wait_for(lambda: subprocess.run(["pgrep", "-u", str(uid)], capture_output=True).returncode == 1, 5,
             f"no process of uid {uid}")


class User:
    """The made user (the `ordinary_user` fixture) with a runtime it can run; `cgroup`, when set, is a
    cgroup2 directory every command is started in (as a delegated session's shell would be)."""

    def __init__(self, rt, ordinary_user) -> None:
        self.name, self.uid, self.gid, self.home, self.work = ordinary_user
        self.rt = rt
        self.exe = str(reachable_runtime(rt, self.work / "runtime"))
        self.cgroup: Path | None = None
        self.state = self.home / ("pyrunc" if rt.name == "pyrunc" else "runc")

    def kwargs(self, env: dict | None = None, **extra) -> dict:
        kw = as_user(self.uid, self.gid, self.home, **extra)
        if env is not None:
            kw["env"] = env
        if self.cgroup is not None:  # root moves the child first, then it becomes the user
            leaf, uid, gid = self.cgroup, self.uid, self.gid

            def enter_then_drop() -> None:
                (leaf / "cgroup.procs").write_text("0")
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

            kw.update(user=None, group=None, extra_groups=None, preexec_fn=enter_then_drop)
        return kw

    def __call__(self, *args, cwd=None, env: dict | None = None, detached: bool = False,
                 exe: str | None = None) -> subprocess.CompletedProcess:
        """`<runtime> *args` as the user. `detached` (create, run -d): the container's stdio goes to
        <home>/<id>.out, not to a pipe it would hold open."""
        cmd = [exe or self.exe, *map(str, args)]
        if not detached:
            return subprocess.run(cmd, cwd=cwd, **self.kwargs(env))
        out = self.home / f"{args[-1]}.out"
        with open(out, "a") as f:
            os.chown(out, self.uid, self.gid)
            r = subprocess.run(cmd, cwd=cwd, **self.kwargs(env, capture_output=False, stdout=f, stderr=f))
        return subprocess.CompletedProcess(r.args, r.returncode, "", out.read_text())

    def bundle(self, cid: str, args: list[str], change=None) -> Path:
        """<home>/<cid>: a busybox rootfs and the config `spec --rootless` writes, with `args`, no
        terminal, and `change(config)` applied."""
        b = user_bundle(self.home / cid, self.uid, self.gid)
        r = self(*(["spec", "--rootless"]), cwd=b)
        assert r.returncode == 0, r
        cfg = json.loads((b / "config.json").read_text())
        cfg["process"].update(terminal=False, args=list(args))
        if change is not None:
            change(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    def owned_dir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, self.uid, self.gid)
        return path

    def pid(self, cid: str) -> int:
        r = self("state", cid)
        assert r.returncode == 0, r
        return json.loads(r.stdout)["pid"]
