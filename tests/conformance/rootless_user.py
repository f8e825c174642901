"""An ordinary user driving a runtime, for the rootless tests: its bundles and its commands."""

import json
import os
import subprocess
from pathlib import Path

from .bundle import as_user, reachable_runtime, user_bundle, wait_for


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
