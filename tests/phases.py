"""Where the milliseconds of each command go, for pyrunc, runc and a C floor (`make profile`).

    .venv/bin/python tests/phases.py --pyrunc .venv/bin/pyrunc --floor build/floor [--rounds N] [--commands run,exec]

Every command (run, create, start, delete, exec) is run under `strace -f -ttt -T --seccomp-bpf`
tracing only the syscalls that mark a phase (execve, clone, openat, pivot_root, wait4, write,
mkdir, rmdir...), so the others run at full speed; runtimes interleaved round by round, medians.
The same markers cut every runtime's timeline:

  execve of the runtime -> [pyrunc: the launcher's exec of the interpreter -> the first pyrunc
  module opened] -> config.json (or state.json) opened -> the clone that leads to the container
  process -> [runc: `runc init` exec'd] -> pivot_root -> execve of /bin/true -> its exit ->
  the runtime's wait4 returns it (the pid namespace torn down) -> the runtime's exit.

A phase is named by the marker that ends it; a marker a command lacks merges its phase into the
next. Beside them: the time spent in writes to cgroup.procs (the kernel's migration waits) and in
mkdir/rmdir of cgroups, files opened, the traced and untraced totals, and for pyrunc the import
time reported by `python -X importtime` (a separate untraced call). strace's stops inflate every
traced phase (most where a phase makes many traced calls): compare runtimes row by row, and the
untraced totals for the absolute figures. The floor (tests/floor.c) does only the syscalls: clone
into five namespaces, the mounts, pivot_root, execve, wait; with cgroups too; setns for exec.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from bench import (
    DEVNULL,
    Runtime,
    make_bundle,
    make_runtimes,
    pid_gone,
    remove_leaked_cgroups,
    rotated,
    start_sleeper,
    wait_stopped,
)

from pyrunc.testing.runtime import launcher_command

TRACED = ("execve,execveat,clone,clone3,vfork,fork,openat,openat2,pivot_root,exit_group,wait4,waitid,write,"
          "mkdir,mkdirat,rmdir,unlinkat")
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+) (.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"= (-?\d+)(?: [A-Z]+ \(.*\))? <(\d+\.\d+)>$")
PROGRAM = "/bin/true"
PHASES = [  # marker -> the phase it ends
    ("interp", "launcher (C): exe seal, grace task (create, run)"),
    ("package", "interpreter start"),
    ("config", "imports + command line (runc: Go start-up)"),
    ("clone", "planning, until the init is cloned"),
    ("init_exec", "runc init: exec of the runtime again"),
    ("pivot", "init: namespaces, cgroups, mounts"),
    ("execve", "init: until execve (after pivot_root if any)"),
    ("exit", "the program (/bin/true)"),
    ("reaped", "pid namespace teardown, reap"),
    ("end", "the rest (run: delete), exit"),
]


@dataclass
class Call:
    pid: int
    start: float
    name: str
    args: str
    ret: int | None = None
    dur: float = 0.0


@dataclass
class Timeline:
    markers: dict[str, float] = field(default_factory=dict)
    cgroup_writes: float = 0.0
    cgroup_dirs: float = 0.0
    opened: int = 0
    failed_opens: int = 0
    ok: bool = False  # the runtime's own process exited with status 0

    def phases(self) -> dict[str, float]:
        """ms per phase, each from the previous present marker to its own."""
        out: dict[str, float] = {}
        last = self.markers["start"]
        for key, label in PHASES:
            if key in self.markers and self.markers[key] >= last:
                out[label] = (self.markers[key] - last) * 1000
                last = self.markers[key]
        return out


def parse_calls(path: str) -> tuple[list[Call], dict[int, float], dict[int, str]]:
    """Every traced call with its result (unfinished/resumed pairs joined), each pid's exit time and
    how it ended."""
    calls: list[Call] = []
    pending: dict[int, Call] = {}
    exits: dict[int, float] = {}
    statuses: dict[int, str] = {}
    with open(path) as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, t, rest = int(m.group(1)), float(m.group(2)), m.group(3)
            if rest.startswith("+++ exited") or rest.startswith("+++ killed"):
                exits[pid] = t
                statuses[pid] = rest
                continue
            resumed = RESUMED.match(rest)
            if resumed:
                call = pending.pop(pid, None)
                if call is None:
                    continue
                call.args += resumed.group(2)
                tail = resumed.group(2)
            else:
                cm = CALL.match(rest)
                if not cm:
                    continue
                call = Call(pid, t, cm.group(1), cm.group(2))
                calls.append(call)
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = call
                    continue
                tail = rest
            r = RESULT.search(tail)
            if r:
                call.ret, call.dur = int(r.group(1)), float(r.group(2))
    return calls, exits, statuses


def timeline(path: str, cgroup_root: str = "/sys/fs/cgroup/") -> Timeline:
    calls, exits, statuses = parse_calls(path)
    tl = Timeline()
    main = calls[0].pid
    tl.markers["start"] = calls[0].start
    group = {main: main}  # thread -> its process (thread group leader)
    creator: dict[int, int] = {}  # process -> the process whose clone made it
    fds: dict[tuple[int, int], str] = {}
    clone_time: dict[int, float] = {}
    program = 0
    for c in calls:
        proc = group.setdefault(c.pid, c.pid)
        if c.name in ("clone", "clone3", "vfork", "fork") and c.ret and c.ret > 0:
            if "CLONE_THREAD" in c.args:
                group[c.ret] = proc
            else:
                group[c.ret] = c.ret
                creator[c.ret] = proc
                clone_time[c.ret] = c.start
        elif c.name in ("execve", "execveat"):
            if proc == main and c.start > tl.markers["start"] and "interp" not in tl.markers:
                tl.markers["interp"] = c.start
            elif c.args.startswith(f'"{PROGRAM}"') and proc != main and not program:
                program = proc
                tl.markers["execve"] = c.start
            elif '"init"]' in c.args and "init_exec" not in tl.markers:
                tl.markers["init_exec"] = c.start
        elif c.name in ("openat", "openat2"):
            if proc == main:
                if c.ret is not None and c.ret >= 0:
                    tl.opened += 1
                else:
                    tl.failed_opens += 1
                if "/pyrunc/" in c.args and "package" not in tl.markers:
                    tl.markers["package"] = c.start
                if ("config.json" in c.args or "state.json" in c.args) and "config" not in tl.markers:
                    tl.markers["config"] = c.start
            if c.ret is not None and c.ret >= 0 and "cgroup.procs" in c.args and "O_RDONLY" not in c.args:
                fds[(proc, c.ret)] = c.args
        elif c.name == "write":
            fd = int(c.args.split(",", 1)[0]) if c.args[:1].isdigit() else -1
            if (proc, fd) in fds:
                tl.cgroup_writes += c.dur * 1000
        elif c.name in ("mkdir", "mkdirat", "rmdir", "unlinkat") and cgroup_root in c.args:
            tl.cgroup_dirs += c.dur * 1000
        elif c.name == "pivot_root" and "pivot" not in tl.markers:
            tl.markers["pivot"] = c.start
        elif c.name in ("wait4", "waitid") and program and c.ret == program:
            tl.markers["reaped"] = c.start + c.dur
    if program:
        chain = program
        while creator.get(chain, main) != main:
            chain = creator[chain]
        if chain in clone_time:
            tl.markers["clone"] = clone_time[chain]
        if program in exits:
            tl.markers["exit"] = exits[program]
    else:  # create, start, delete: the first process the runtime itself makes
        after = tl.markers.get("config", 0)
        first = [clone_time[p] for p, by in creator.items() if by == main and clone_time[p] > after]
        if first and "config" in tl.markers:
            tl.markers["clone"] = min(first)
    tl.markers["end"] = exits.get(main, max(exits.values(), default=calls[-1].start))
    tl.ok = statuses.get(main, "") == "+++ exited with 0 +++"
    if "init_exec" in tl.markers and tl.markers["init_exec"] < tl.markers.get("clone", 0):
        del tl.markers["init_exec"]
    return tl


# --- running the commands ----------------------------------------------------------------------------

@dataclass
class Command:
    """One runtime (or the floor) doing one command: set-up and clean-up are untimed."""
    rt: Runtime | None
    name: str
    bundle: str
    floor: str
    sleeper: str = ""  # the running container exec enters (the floor enters pyrunc's)
    owner: Runtime | None = None  # the runtime that made the sleeper
    cid: str = ""

    def prepare(self) -> list[str] | None:
        rt = self.rt
        if rt is None:
            if self.name == "run":
                return [self.floor, "run", os.path.join(self.bundle, "rootfs"), f"floor-{os.getpid()}"]
            if self.name == "exec":
                return [self.floor, "exec", str(self.sleeper_pid())]
            return [self.floor, "noop"]
        self.cid = rt.new_id()
        if self.name in ("start", "delete"):
            if not rt.timed("create", "-b", self.bundle, self.cid)[0]:
                return None
            if self.name == "delete" and not (rt.timed("start", self.cid)[0] and wait_stopped(rt, self.cid)):
                return None
        return {
            "run": rt.cmd("run", "-b", self.bundle, self.cid),
            "create": rt.cmd("create", "-b", self.bundle, self.cid),
            "start": rt.cmd("start", self.cid),
            "delete": rt.cmd("delete", self.cid),
            "exec": rt.cmd("exec", self.sleeper, PROGRAM),
        }[self.name]

    def sleeper_pid(self) -> int:
        return int(json.loads(self.owner.output("state", self.sleeper).stdout)["pid"])

    def finish(self) -> None:
        if self.rt is not None and self.name != "exec":
            self.rt.force_delete(self.cid)


def traced(cmd: list[str], out: str) -> Timeline | None:
    """The command under strace. strace -f waits for every tracee, and `create` leaves its init
    waiting: once the runtime's own process has exited, strace is killed (SIGTERM does not make it
    detach from an init blocked in its wait; the kernel detaches the tracees of a dead tracer, and
    the trace file is complete up to there)."""
    strace = subprocess.Popen(["strace", "-f", "-ttt", "-T", "--seccomp-bpf", "-e", f"trace={TRACED}", "-o", out,
                               *cmd], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    deadline = time.monotonic() + 20
    runtime = 0
    while strace.poll() is None and time.monotonic() < deadline:
        if not runtime:
            try:
                with open(f"/proc/{strace.pid}/task/{strace.pid}/children") as f:
                    runtime = int((f.read().split() or ["0"])[0])
            except OSError:
                pass
        elif pid_gone(runtime):
            try:
                strace.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                strace.kill()
            break
        time.sleep(0.0005)
    if strace.poll() is None:
        strace.kill()
    strace.wait()
    try:
        tl = timeline(out)
    except (IndexError, KeyError, OSError):
        return None
    return tl if tl.ok else None


def untraced(cmd: list[str]) -> float | None:
    t = time.perf_counter()
    rc = subprocess.call(cmd, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    return (time.perf_counter() - t) * 1000 if rc == 0 else None


def import_ms(rt: Runtime, bundle: str) -> tuple[float, int]:
    """pyrunc's `run` with -X importtime (the interpreter called directly, as the launcher does):
    total self time of every import, and the number of modules."""
    cid = rt.new_id()
    err = subprocess.run([*launcher_command(rt.path, "-X", "importtime"), "--root", rt.root, "run", "-b", bundle, cid],
                         stdin=DEVNULL, stdout=DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    rt.force_delete(cid)
    selfs = [int(line.split("|")[0].split(":")[1]) for line in err.splitlines()
             if line.startswith("import time:") and line.split("|")[0].split(":")[1].strip().isdigit()]
    return sum(selfs) / 1000, len(selfs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pyrunc", default=".venv/bin/pyrunc")
    parser.add_argument("--runc", default="/usr/sbin/runc")
    parser.add_argument("--floor", required=True, help="the floor program built from tests/floor.c")
    parser.add_argument("--rounds", type=int, default=7, help="traced and untraced rounds per command")
    parser.add_argument("--commands", default="run,create,start,delete,exec")
    args = parser.parse_args()
    args.runtimes = []
    if not shutil.which("strace"):
        print("profile: strace not found (make deps)", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="pyrunc-profile-")
    runtimes: list[Runtime] = []
    try:
        runtimes = make_runtimes(args, os.path.join(workdir, "roots"))
        bundle = os.path.join(workdir, "bundle")
        make_bundle(bundle, runtimes[1].path)
        profile(args, runtimes, bundle, workdir)
    finally:
        for rt in runtimes:
            rt.cleanup()
        remove_leaked_cgroups()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def profile(args: argparse.Namespace, runtimes: list[Runtime], bundle: str, workdir: str) -> None:
    sleepers = {rt.name: start_sleeper(rt, bundle) or "" for rt in runtimes}
    out = os.path.join(workdir, "trace")
    print("strace -f -ttt -T --seccomp-bpf; medians of", args.rounds, "interleaved rounds; ms")
    imports = import_ms(runtimes[0], bundle)
    for name in args.commands.split(","):
        columns = [*runtimes, None]
        tls: dict[str, list[Timeline]] = {c.name if c else "floor": [] for c in columns}
        plain: dict[str, list[float]] = {k: [] for k in tls}
        for i in range(args.rounds):
            for rt in rotated(columns, i):
                key = rt.name if rt else "floor"
                for mode in ("traced", "untraced"):
                    cmd = Command(rt, name, bundle, args.floor, sleepers.get(key, sleepers["pyrunc"]), runtimes[0])
                    argv = cmd.prepare()
                    if argv is not None:
                        if mode == "traced":
                            tl = traced(argv, out)
                            if tl:
                                tls[key].append(tl)
                        else:
                            ms = untraced(argv)
                            if ms is not None:
                                plain[key].append(ms)
                    cmd.finish()
        report(name, tls, plain, imports if name == "run" else None)
    for rt in runtimes:
        if sleepers[rt.name]:
            rt.force_delete(sleepers[rt.name])


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def report(name: str, tls: dict[str, list[Timeline]], plain: dict[str, list[float]],
           imports: tuple[float, int] | None) -> None:
    keys = list(tls)
    print(f"\n## {name}\n")
    print("| phase | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for _, label in PHASES:
        cells = [[tl.phases()[label] for tl in tls[k] if label in tl.phases()] for k in keys]
        if any(cells):
            print(f"| {label} | " + " | ".join(med(c) for c in cells) + " |")
    rows = [("in cgroup.procs writes (migration waits)", lambda t: t.cgroup_writes),
            ("in cgroup mkdir/rmdir", lambda t: t.cgroup_dirs),
            ("files opened by the runtime process", lambda t: t.opened),
            ("failed opens (ENOENT...)", lambda t: t.failed_opens),
            ("**traced total**", lambda t: (t.markers["end"] - t.markers["start"]) * 1000)]
    for label, get in rows:
        print(f"| {label} | " + " | ".join(med([get(t) for t in tls[k]]) for k in keys) + " |")
    print("| **untraced total** | " + " | ".join(med(plain[k]) for k in keys) + " |")
    if imports:
        print(f"\npyrunc imports (-X importtime, untraced run): {imports[0]:.1f} ms in {imports[1]} modules")


if __name__ == "__main__":
    sys.exit(main())
