"""Any OCI runtime driven by its command line (runc's): every call returns what the runtime wrote.

    rt = Runtime("/usr/bin/runc", root=Path("/run/my-tests"), base=Path("/tmp/bundles"))
    rt.create("c1", bundle).ok; rt.state("c1").state.status == "created"; rt.delete("c1", force=True)

`rt("state", id)` is the raw call; the named methods add the flags and parse the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .host import Tracked


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def __str__(self):
        return f"exit {self.rc}, stdout {self.out!r}, stderr {self.err!r}"

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def json(self):
        return json.loads(self.out)


@dataclass
class State:
    """The state document (runtime.md#state), parsed; `raw` is the whole object."""

    id: str
    status: str
    pid: int
    bundle: str
    oci_version: str
    annotations: dict
    raw: dict

    @classmethod
    def parse(cls, doc: dict) -> State:
        return cls(doc.get("id", ""), doc.get("status", ""), doc.get("pid", 0), doc.get("bundle", ""),
                   doc.get("ociVersion", ""), doc.get("annotations") or {}, doc)


@dataclass
class StateResult(Result):
    state: State | None = None


@dataclass
class PsResult(Result):
    pids: list[int] = field(default_factory=list)


@dataclass
class EventsResult(Result):
    events: list[dict] = field(default_factory=list)


def _flags(**options) -> list[str]:
    """--name value for each option set; True is a bare flag, a list repeats the flag."""
    out: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, list | tuple):
            for v in value:
                out += [flag, str(v)]
        elif value not in (None, False):
            out += [flag, str(value)]
    return out


def launcher_command(exe: str, *options: str) -> list[str]:
    """The interpreter's command line the pyrunc launcher `exe` (pyrunc.launcher) runs, with the
    interpreter's `options` added (-X importtime): its installation's python -IS -c launcher.BOOT,
    that installation's own program, asked of that python."""
    python = os.path.join(os.path.dirname(os.path.realpath(exe)), "python")
    boot = subprocess.run([python, "-I", "-c", "import os, pyrunc; from pyrunc import launcher; "
                           "print(launcher.BOOT.format(libdir=os.path.dirname(os.path.dirname(pyrunc.__file__))))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return [python, "-IS", *options, "-c", boot]


class Runtime:
    """A runtime binary with a private state root (`--root`) and a base directory for bundles."""

    def __init__(self, exe, root, base):
        self.exe, self.root, self.base = exe, Path(root), Path(base)
        self.name = Path(exe).name
        self.tracked = Tracked(set(), set())  # every container the session made
        self._features: dict | None | bool = False

    def __call__(self, *args, stdout=None, stderr=None, input=None, cwd=None, env=None, timeout=60):
        """Run `<runtime> --root <state root> *args` and return what the runtime wrote before it exited.

        stdout/stderr: files to append to (a container started by the call may keep writing there), or
        None for private temporary files. Files rather than pipes, so that a container holding its end
        open cannot hang the call. stdin is /dev/null unless `input` (bytes) is given."""
        cmd = [self.exe, "--root", str(self.root), *map(str, args)]
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(open(p, "ab+") if p else tempfile.TemporaryFile())
                     for p in (stdout, stderr)]
            offsets = [f.seek(0, os.SEEK_END) for f in files]
            rc = subprocess.run(cmd, stdout=files[0], stderr=files[1], cwd=cwd, env=env, timeout=timeout,
                                **stdin).returncode
            written = []
            for f, offset in zip(files, offsets, strict=True):
                f.seek(offset)
                written.append(f.read().decode(errors="replace"))
        return Result(rc, *written)

    # --- the operations, as typed calls
    def create(self, cid, bundle, pid_file=None, console_socket=None, preserve_fds=None, **kw) -> Result:
        return self("create", "--bundle", bundle, *_flags(pid_file=pid_file, console_socket=console_socket,
                                                          preserve_fds=preserve_fds), cid, **kw)

    def start(self, cid, **kw) -> Result:
        return self("start", cid, **kw)

    def run(self, cid, bundle, detach=False, pid_file=None, console_socket=None, **kw) -> Result:
        return self("run", "--bundle", bundle, *_flags(detach=detach, pid_file=pid_file,
                                                       console_socket=console_socket), cid, **kw)

    def state(self, cid, **kw) -> StateResult:
        r = self("state", cid, **kw)
        state = None
        if r.ok:
            with contextlib.suppress(ValueError):
                state = State.parse(json.loads(r.out))
        return StateResult(r.rc, r.out, r.err, state)

    def kill(self, cid, signal="TERM", all=False, **kw) -> Result:  # noqa: A002 - runc's flag
        return self("kill", *_flags(all=all), cid, signal, **kw)

    def delete(self, cid, force=False, **kw) -> Result:
        return self("delete", *_flags(force=force), cid, **kw)

    def pause(self, cid, **kw) -> Result:
        return self("pause", cid, **kw)

    def resume(self, cid, **kw) -> Result:
        return self("resume", cid, **kw)

    def exec(self, cid, *argv, process=None, detach=False, tty=False, env=(), cwd=None, user=None, pid_file=None,
             **kw) -> Result:
        """`exec [flags] ID ARGV...`, or `exec --process FILE ID` when process (a path) is given."""
        flags = _flags(process=process, detach=detach, tty=tty, env=list(env), cwd=cwd, user=user,
                       pid_file=pid_file)
        return self("exec", *flags, cid, *argv, **kw)

    def update(self, cid, resources: dict | None = None, **flags) -> Result:
        """`update --resources - ID` with resources as JSON on stdin, or runc's single flags (memory=...)."""
        if resources is not None:
            return self("update", "--resources", "-", cid, input=json.dumps(resources).encode())
        return self("update", *_flags(**flags), cid)

    def events(self, cid, stats=True, timeout=30) -> EventsResult:
        """`events --stats ID`: one JSON object per line (the streaming form is a process of the caller's)."""
        r = self("events", *_flags(stats=stats), cid, timeout=timeout)
        parsed = []
        for line in r.out.splitlines():
            with contextlib.suppress(ValueError):
                parsed.append(json.loads(line))
        return EventsResult(r.rc, r.out, r.err, parsed)

    def ps(self, cid, **kw) -> PsResult:
        r = self("ps", "--format", "json", cid, **kw)
        pids = []
        if r.ok:
            with contextlib.suppress(ValueError):
                pids = json.loads(r.out) or []
        return PsResult(r.rc, r.out, r.err, pids)

    def features(self) -> dict | None:
        """The runtime's `features` document (features.md), or None when it has no such command."""
        if self._features is False:
            r = self("features")
            try:
                self._features = json.loads(r.out) if r.ok else None
            except ValueError:
                self._features = None
        return self._features

    # --- skips, for pytest
    def lacks(self, feature):
        """Skip where runc 1.1.5 (Debian 12) is missing something the spec has."""
        if self.name == "runc":
            import pytest

            pytest.skip(f"runc 1.1.5 lacks {feature}")

    def only_pyrunc(self, feature):
        if self.name != "pyrunc":
            import pytest

            pytest.skip(f"{feature} is pyrunc's own, {self.name} does not have it")
