"""Benchmark pyrunc against runc (and optionally crun) on a busybox `/bin/true` container.

    .venv/bin/python tests/bench.py --pyrunc .venv/bin/pyrunc [--rounds N] [--runtimes crun]

A. `run`: one fresh process per timed call, runtimes interleaved round by round, warm-up discarded.
B. `create` + `start` + `delete` as three commands, each timed; the wait for the container to stop is not.
C. `--sequential` back-to-back `run`s per runtime, interleaved in blocks: total wall time and mean.
D. Peak RSS of a `run` (the runtime and the processes it waits for), from `/usr/bin/time -f %M` or wait4.
E. `exec` of /bin/true into a running container (one per runtime, made untimed), interleaved round by round.
F. `--parallel` `run`s started at once, wall time until the last has exited, interleaved round by round.

Every runtime gets its own state root in a temporary directory; everything is removed at the end.
Exits 1 when pyrunc fails every attempt of A or B, 2 when a runtime is missing.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RSS_LIMIT_MIB = 30.0
CALL_TIMEOUT_S = 20.0
GNU_TIME = "/usr/bin/time"
DEVNULL = subprocess.DEVNULL

# For crun's private mount namespace (see crun_preexec).
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
UNIFIED = b"/sys/fs/cgroup/unified"


# --- crun on a hybrid cgroup host -------------------------------------------------------------------

def crun_needs_wrapper() -> bool:
    """crun 1.8 refuses a v1/v2 hybrid whose cgroup2 part has controllers (hugetlb on this host)."""
    try:
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            return bool(f.read().split())
    except OSError:
        return False


def crun_preexec() -> Callable[[], None]:
    """A preexec_fn giving the child a private mount namespace without /sys/fs/cgroup/unified.

    crun then sees plain cgroup v1 (its v2 mode fails here too: it raises RLIMIT_MEMLOCK for the device
    filter, which needs CAP_SYS_RESOURCE). Done in the forked child: `unshare sh -c 'umount ...'` would
    add two execs to every timed call.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.umount.argtypes = [ctypes.c_char_p]

    def enter() -> None:
        if (
            libc.unshare(CLONE_NEWNS) != 0
            or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0
            or libc.umount(UNIFIED) != 0
        ):
            raise OSError(ctypes.get_errno(), "crun wrapper: unshare/umount failed")

    return enter


# --- runtimes -----------------------------------------------------------------------------------------

@dataclass
class Runtime:
    name: str
    path: str
    root: str
    preexec: Callable[[], None] | None = None
    count: int = 0
    env: dict[str, str] | None = None  # None: this script's environment

    def cmd(self, *args: str) -> list[str]:
        return [self.path, "--root", self.root, *args]

    def new_id(self) -> str:
        self.count += 1
        return f"bench-{self.name}-{os.getpid()}-{self.count}"

    def timed(self, *args: str) -> tuple[bool, float]:
        """Run one command as a fresh process with stdio on /dev/null: (succeeded, milliseconds).

        The wait blocks in waitpid: Popen.wait(timeout=...) polls with sleeps that double up to
        50 ms, which rounds every measurement up to 31.5 or 63.5 ms. A timer kills a hung call."""
        start = time.perf_counter()
        proc = subprocess.Popen(self.cmd(*args), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL,
                                preexec_fn=self.preexec, env=self.env)
        watchdog = threading.Timer(CALL_TIMEOUT_S, proc.kill)
        watchdog.start()
        rc = proc.wait()
        elapsed = (time.perf_counter() - start) * 1000
        watchdog.cancel()
        return rc == 0, elapsed

    def output(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one untimed command, capturing its output."""
        return subprocess.run(
            self.cmd(*args), stdin=DEVNULL, capture_output=True, text=True,
            preexec_fn=self.preexec, timeout=CALL_TIMEOUT_S, check=False, env=self.env,
        )

    def force_delete(self, cid: str) -> None:
        try:
            self.output("delete", "--force", cid)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self) -> None:
        """`delete --force` whatever is left in this runtime's state root (one directory per container)."""
        if os.path.isdir(self.root):
            for entry in os.scandir(self.root):
                if entry.is_dir():
                    self.force_delete(entry.name)


def make_runtimes(args: argparse.Namespace, roots: str) -> list[Runtime]:
    wanted = [("pyrunc", args.pyrunc), ("runc", args.runc)]
    wanted += [(os.path.basename(r), r) for r in args.runtimes]
    wrap = crun_needs_wrapper()
    runtimes = []
    for name, given in wanted:
        path = shutil.which(given)
        if path is None:
            print(f"bench: {name}: {given} not found or not executable (pyrunc: `make install`)",
                  file=sys.stderr)
            sys.exit(2)
        path = os.path.abspath(path)
        preexec = crun_preexec() if wrap and os.path.basename(path) == "crun" else None
        runtimes.append(Runtime(name, path, os.path.join(roots, name), preexec))
    if getattr(args, "grace_ab", False):  # the same pyrunc without the grace-period helper
        runtimes.append(Runtime("pyrunc-nograce", runtimes[0].path, os.path.join(roots, "pyrunc-nograce"),
                                env={**os.environ, "PYRUNC_NO_GRACE": "1"}))
    return runtimes


# --- bundle -------------------------------------------------------------------------------------------

def make_bundle(bundle: str, runc: str) -> None:
    """busybox-static rootfs with `true`; `runc spec`'s config running /bin/true without a terminal."""
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in ("true", "sleep"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    subprocess.run([runc, "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
    # A second bundle on the same rootfs whose process stays up: the container `exec` enters.
    sleeper = os.path.join(bundle, "sleeper")
    os.makedirs(sleeper)
    spec["root"]["path"] = os.path.abspath(rootfs)
    spec["process"]["args"] = ["/bin/sleep", "3600"]
    with open(os.path.join(sleeper, "config.json"), "w") as f:
        json.dump(spec, f, indent=2)


# --- measurements -------------------------------------------------------------------------------------

@dataclass
class Samples:
    """Successful samples, each a list of phase times in ms (one phase for `run`), and the failure count."""
    phases: list[list[float]] = field(default_factory=list)
    failures: int = 0

    @property
    def totals(self) -> list[float]:
        return sorted(sum(p) for p in self.phases)

    def median(self, phase: int | None = None) -> float:
        values = self.totals if phase is None else [p[phase] for p in self.phases]
        return statistics.median(values) if values else math.nan

    def min(self) -> float:
        return self.totals[0] if self.phases else math.nan

    def p90(self) -> float:
        """Nearest-rank 90th percentile."""
        totals = self.totals
        return totals[math.ceil(0.9 * len(totals)) - 1] if totals else math.nan

    @property
    def attempts(self) -> int:
        return len(self.phases) + self.failures


def rotated(runtimes: list[Runtime], i: int) -> list[Runtime]:
    """Round i's order: rotated by one each round, so every runtime takes every position (2: alternate)."""
    k = i % len(runtimes)
    return runtimes[k:] + runtimes[:k]


def interleaved(
    runtimes: list[Runtime], rounds: int, warmup: int, once: Callable[[Runtime], list[float] | None]
) -> dict[str, Samples]:
    results = {rt.name: Samples() for rt in runtimes}
    for i in range(warmup + rounds):
        for rt in rotated(runtimes, i):
            phases = once(rt)
            if i < warmup:
                continue
            if phases is None:
                results[rt.name].failures += 1
            else:
                results[rt.name].phases.append(phases)
    return results


def run_once(rt: Runtime, bundle: str, idle: float = 0.0) -> list[float] | None:
    """One timed `run`; with `idle`, after that many seconds of doing nothing (a cold start: the
    kernel's cgroup fast path has lapsed, see pyrunc/cgroups/grace.py)."""
    cid = rt.new_id()
    if idle:
        time.sleep(idle)
    ok, ms = rt.timed("run", "-b", bundle, cid)
    if not ok:
        rt.force_delete(cid)
        return None
    return [ms]


def pid_gone(pid: int) -> bool:
    """True once the process no longer runs (gone, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def wait_stopped(rt: Runtime, cid: str, timeout: float = 10.0) -> bool:
    """Untimed: ask `state` once, then poll /proc for the init pid until it has exited."""
    proc = rt.output("state", cid)
    if proc.returncode != 0:
        return False
    state = json.loads(proc.stdout)
    if state.get("status") == "stopped":
        return True
    pid = int(state.get("pid") or 0)
    deadline = time.monotonic() + timeout
    while pid > 0 and time.monotonic() < deadline:
        if pid_gone(pid):
            return True
        time.sleep(0.0005)
    return False


def cycle_once(rt: Runtime, bundle: str) -> list[float] | None:
    """create, start, (wait, untimed), delete: the three command times, or None on any failure."""
    cid = rt.new_id()
    ok, create = rt.timed("create", "-b", bundle, cid)
    start = delete = 0.0
    if ok:
        ok, start = rt.timed("start", cid)
    if ok:
        ok = wait_stopped(rt, cid)
    if ok:
        ok, delete = rt.timed("delete", cid)
    if not ok:
        rt.force_delete(cid)
        return None
    return [create, start, delete]


@dataclass
class Sequential:
    wall_ms: float = 0.0
    ok: int = 0
    failures: int = 0

    @property
    def mean(self) -> float:
        return self.wall_ms / (self.ok + self.failures) if self.ok + self.failures else math.nan


def sequential(runtimes: list[Runtime], bundle: str, total: int, block: int) -> dict[str, Sequential]:
    """`total` runs per runtime, timed as blocks of `block` back-to-back runs, blocks interleaved."""
    results = {rt.name: Sequential() for rt in runtimes}
    for b in range(math.ceil(total / block)):
        n = min(block, total - b * block)
        for rt in rotated(runtimes, b):
            failed: list[str] = []
            start = time.perf_counter()
            for _ in range(n):
                cid = rt.new_id()
                if not rt.timed("run", "-b", bundle, cid)[0]:
                    failed.append(cid)
            res = results[rt.name]
            res.wall_ms += (time.perf_counter() - start) * 1000
            res.failures += len(failed)
            res.ok += n - len(failed)
            for cid in failed:
                rt.force_delete(cid)
    return results


def peak_rss_mib(rt: Runtime, bundle: str, workdir: str, runs: int = 5) -> float:
    """Largest max RSS over a few `run`s, in MiB (NaN when every run failed)."""
    use_time = os.access(GNU_TIME, os.X_OK)
    out = os.path.join(workdir, "time.out")
    peak_kib = 0
    for _ in range(runs):
        cid = rt.new_id()
        cmd = rt.cmd("run", "-b", bundle, cid)
        if use_time:
            rc = subprocess.call(
                [GNU_TIME, "-f", "%M", "-o", out, *cmd],
                stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, preexec_fn=rt.preexec, timeout=CALL_TIMEOUT_S,
                env=rt.env,
            )
            with open(out) as f:
                kib = int(f.read().split()[-1]) if rc == 0 else 0  # the last line is %M
        else:
            proc = subprocess.Popen(cmd, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, preexec_fn=rt.preexec,
                                    env=rt.env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = rc = os.waitstatus_to_exitcode(status)
            kib = usage.ru_maxrss  # KiB on Linux
        if rc != 0:
            rt.force_delete(cid)
            continue
        peak_kib = max(peak_kib, kib)
    return peak_kib / 1024 if peak_kib else math.nan


def start_sleeper(rt: Runtime, bundle: str) -> str | None:
    """Untimed: create and start the long-running container E execs into; its id, or None. Its
    stdio is /dev/null (timed's): a pipe would stay open as long as the container runs."""
    cid = rt.new_id()
    sleeper = os.path.join(bundle, "sleeper")
    if rt.timed("create", "-b", sleeper, cid)[0] and rt.timed("start", cid)[0]:
        return cid
    rt.force_delete(cid)
    return None


def exec_once(rt: Runtime, cid: str | None) -> list[float] | None:
    if cid is None:
        return None
    ok, ms = rt.timed("exec", cid, "/bin/true")
    return [ms] if ok else None


def parallel_once(rt: Runtime, bundle: str, n: int) -> list[float] | None:
    """n `run`s started together (each a fresh process): wall time until the last has exited."""
    ids = [rt.new_id() for _ in range(n)]
    start = time.perf_counter()
    procs = [subprocess.Popen(rt.cmd("run", "-b", bundle, cid), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL,
                              preexec_fn=rt.preexec, env=rt.env) for cid in ids]
    watchdogs = [threading.Timer(CALL_TIMEOUT_S, p.kill) for p in procs]
    for w in watchdogs:
        w.start()
    codes = [p.wait() for p in procs]
    elapsed = (time.perf_counter() - start) * 1000
    for w in watchdogs:
        w.cancel()
    for cid, rc in zip(ids, codes, strict=True):
        if rc != 0:
            rt.force_delete(cid)
    return [elapsed] if not any(codes) else None


# --- reporting ----------------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def fmt(x: float, spec: str = ".1f") -> str:
    return "n/a" if math.isnan(x) else format(x, spec)


def fails(done: int, attempts: int) -> str:
    return f"{attempts - done}/{attempts}" if attempts - done else "0"


def print_ratios(results: dict[str, Samples]) -> None:
    base = results["runc"].median()
    for name, s in results.items():
        if name != "runc":
            print(f"  {name}/runc median ratio: {fmt(ratio(s.median(), base), '.2f')}")


def preflight(runtimes: list[Runtime], bundle: str) -> None:
    """One untimed `run` each, showing the error of a runtime that cannot run the bundle at all."""
    for rt in runtimes:
        cid = rt.new_id()
        proc = rt.output("run", "-b", bundle, cid)
        if proc.returncode != 0:
            rt.force_delete(cid)
            err = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            print(f"  warning: {rt.name} run failed (exit {proc.returncode}): {err}")


def remove_leaked_cgroups() -> None:
    """rmdir the (empty) cgroups named after this run's containers that a failed run left behind."""
    pattern = f"bench-*-{os.getpid()}-*"
    leaked = [p for depth in ("", "*/", "*/*/") for p in glob.glob(f"/sys/fs/cgroup/{depth}{pattern}")]
    for path in sorted(leaked, key=len, reverse=True):
        try:
            os.rmdir(path)
        except OSError as e:
            print(f"bench: cannot remove leaked cgroup {path}: {e.strerror}", file=sys.stderr)
    if leaked:
        print(f"bench: removed {len(leaked)} cgroups left by failed runs", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--pyrunc", default=".venv/bin/pyrunc", help="the pyrunc command (default: %(default)s)")
    add("--runc", default="/usr/sbin/runc", help="the reference runtime (default: %(default)s)")
    add("--runtimes", nargs="*", default=[], metavar="RUNTIME", help="extra runtimes, e.g. crun")
    add("--rounds", type=int, default=40, help="timed rounds for A and B (default: %(default)s)")
    add("--warmup", type=int, default=3, help="discarded rounds first (default: %(default)s)")
    add("--idle", type=float, default=0.0, metavar="S",
        help="A only: idle S seconds before each timed run (cold starts; default: back to back)")
    add("--grace-ab", action="store_true",
        help="add pyrunc-nograce: pyrunc with PYRUNC_NO_GRACE=1 (no cgroup grace-period helper)")
    add("--only-run", action="store_true", help="A only, then exit (with --idle: the cold figures)")
    add("--sequential", type=int, default=100, help="runs per runtime in C (default: %(default)s)")
    add("--block", type=int, default=10, help="runs per interleaved block in C (default: %(default)s)")
    add("--parallel", type=int, default=8, help="runs started at once in F (default: %(default)s)")
    add("--parallel-rounds", type=int, default=10, help="timed rounds of F (default: %(default)s)")
    args = parser.parse_args()
    if min(args.rounds, args.sequential, args.block, args.parallel, args.parallel_rounds) < 1 or args.warmup < 0:
        parser.error("--rounds, --sequential, --block and --parallel[-rounds] must be positive, --warmup not negative")

    workdir = tempfile.mkdtemp(prefix="pyrunc-bench-")
    runtimes: list[Runtime] = []
    try:
        runtimes = make_runtimes(args, os.path.join(workdir, "roots"))
        bundle = os.path.join(workdir, "bundle")
        make_bundle(bundle, runtimes[1].path)
        return benchmark(args, runtimes, bundle, workdir)
    finally:
        for rt in runtimes:
            rt.cleanup()
        remove_leaked_cgroups()
        shutil.rmtree(workdir, ignore_errors=True)


def benchmark(args: argparse.Namespace, runtimes: list[Runtime], bundle: str, workdir: str) -> int:
    for rt in runtimes:
        note = "  (in a mount namespace without the cgroup2 part of this hybrid host)" if rt.preexec else ""
        print(f"{rt.name:>8}: {rt.path}{note}")
    print(f"bundle: busybox /bin/true, `runc spec` defaults; {args.rounds} rounds, {args.warmup} warm-up")
    preflight(runtimes, bundle)

    print(f"\nA. run (ms){f', each after {args.idle} s idle' if args.idle else ''}")
    a = interleaved(runtimes, args.rounds, args.warmup, lambda rt: run_once(rt, bundle, args.idle))
    for name, s in a.items():
        print(f"  {name:>8}: median {fmt(s.median())}  min {fmt(s.min())}  p90 {fmt(s.p90())}"
              f"  failed {fails(len(s.phases), s.attempts)}")
    print_ratios(a)
    if args.only_run:
        return 0 if a["pyrunc"].phases else 1

    print("\nB. create + start + delete (ms, wait for exit not timed)")
    b = interleaved(runtimes, args.rounds, args.warmup, lambda rt: cycle_once(rt, bundle))
    for name, s in b.items():
        print(f"  {name:>8}: median {fmt(s.median())}  (create {fmt(s.median(0))}, start {fmt(s.median(1))},"
              f" delete {fmt(s.median(2))})  min {fmt(s.min())}  p90 {fmt(s.p90())}"
              f"  failed {fails(len(s.phases), s.attempts)}")
    print_ratios(b)

    print(f"\nC. {args.sequential} sequential runs, blocks of {args.block}")
    c = sequential(runtimes, bundle, args.sequential, args.block)
    for name, seq in c.items():
        print(f"  {name:>8}: total {seq.wall_ms / 1000:.2f} s  mean {fmt(seq.mean)} ms/run"
              f"  failed {fails(seq.ok, seq.ok + seq.failures)}")

    source = f"{GNU_TIME} -f %M" if os.access(GNU_TIME, os.X_OK) else "wait4 ru_maxrss"
    print(f"\nD. peak RSS of run ({source}, max of 5)")
    if source.startswith("wait4"):
        # The kernel keeps the pre-exec high-water mark across exec, and the child began as this script.
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  (upper bounds: they include this script's own {own:.1f} MiB)")
    rss = {rt.name: peak_rss_mib(rt, bundle, workdir) for rt in runtimes}
    for name, mib in rss.items():
        flag = f"  !! above {RSS_LIMIT_MIB:.0f} MiB" if name == "pyrunc" and mib > RSS_LIMIT_MIB else ""
        print(f"  {name:>8}: {fmt(mib)} MiB{flag}")

    print("\nE. exec of /bin/true into a running container (ms)")
    sleepers = {rt.name: start_sleeper(rt, bundle) for rt in runtimes}
    try:
        e = interleaved(runtimes, args.rounds, args.warmup, lambda rt: exec_once(rt, sleepers[rt.name]))
    finally:
        for rt in runtimes:
            if sleepers[rt.name]:
                rt.force_delete(sleepers[rt.name])
    for name, s in e.items():
        print(f"  {name:>8}: median {fmt(s.median())}  min {fmt(s.min())}  p90 {fmt(s.p90())}"
              f"  failed {fails(len(s.phases), s.attempts)}")
    print_ratios(e)

    print(f"\nF. {args.parallel} runs started at once, wall time until all have exited (ms)")
    f = interleaved(runtimes, args.parallel_rounds, 1, lambda rt: parallel_once(rt, bundle, args.parallel))
    for name, s in f.items():
        print(f"  {name:>8}: median {fmt(s.median())}  min {fmt(s.min())}  p90 {fmt(s.p90())}"
              f"  failed {fails(len(s.phases), s.attempts)}")
    print_ratios(f)

    def r(res: dict, n: str, seq: bool = False) -> str:
        value = (lambda x: x.mean) if seq else (lambda x: x.median())
        return fmt(ratio(value(res[n]), value(res["runc"])), ".2f")

    print(f"\n{'runtime':>8} | {'run med':>7} {'min':>6} {'p90':>6} {'ratio':>5} | {'c+s+d':>6} {'ratio':>5}"
          f" | {'seq/run':>7} {'ratio':>5} | {'exec':>5} {'ratio':>5} | {'par':>6} {'ratio':>5}"
          f" | {'RSS MiB':>7} | failed A/B/C/E/F")
    for rt in runtimes:
        n = rt.name
        print(f"{n:>8} | {fmt(a[n].median()):>7} {fmt(a[n].min()):>6} {fmt(a[n].p90()):>6} {r(a, n):>5}"
              f" | {fmt(b[n].median()):>6} {r(b, n):>5} | {fmt(c[n].mean):>7} {r(c, n, True):>5}"
              f" | {fmt(e[n].median()):>5} {r(e, n):>5} | {fmt(f[n].median()):>6} {r(f, n):>5}"
              f" | {fmt(rss[n]):>7} | {a[n].failures}/{b[n].failures}/{c[n].failures}/{e[n].failures}/{f[n].failures}")
    print(f"\nratios to runc: run {r(a, 'pyrunc')}, create+start+delete {r(b, 'pyrunc')},"
          f" sequential {r(c, 'pyrunc', True)}, exec {r(e, 'pyrunc')}, {args.parallel} parallel {r(f, 'pyrunc')};"
          f" peak RSS {fmt(rss['pyrunc'])} vs {fmt(rss['runc'])} MiB")

    if not a["pyrunc"].phases or not b["pyrunc"].phases:
        print("bench: pyrunc failed every attempt of a benchmark", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
