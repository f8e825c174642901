"""Running a runtime as an ordinary user (rootless): a user made for the test, a bundle it owns, a copy of
the runtime it can reach."""

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .rootfs import make_rootfs

# What `run` imports from site-packages; the rest (jsonschema, pyroute2) only on paths the tests avoid.
MODULES = ("pyrunc", "_cffi_backend", "prctl.py", "_prctl")


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
