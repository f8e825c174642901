"""Run every OCI validation file against each runtime and write a file-by-file markdown table.

Usage (as root; `make validate` builds the suite and calls this):
    python tests/validation/run.py --suite DIR --runtime pyrunc=.venv/bin/pyrunc --runtime runc=/usr/sbin/runc

DIR is a built runtime-tools tree (`runtimetest`, `rootfs-amd64.tar.gz`, `validation/*/*.t`). The suite
calls `$RUNTIME create|start|state|kill|delete ...` with no global flags, so each runtime is reached
through a two-line wrapper that adds its own `--root`. Each file runs with its own TMPDIR (where the suite
unpacks its bundles) and a timeout; after it the runner deletes what the file left (containers, mounts,
processes, the suite's test cgroups, bundles) and reports each such leftover, so a run leaves nothing behind.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validation.tap import Verdict, cell, judge  # noqa: E402

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The suite's cgroupsPath values (runtime-tools cgroups.AbsCgroupPath and RelCgroupPath).
SUITE_CGROUP_NAMES = {"cgrouptest", "testdir"}
README_BEGIN = "<!-- validate:begin -->"
README_END = "<!-- validate:end -->"


@dataclass
class Runtime:
    """One runtime under test: its command, a private state root and the wrapper the suite calls."""

    name: str
    command: Path
    home: Path
    leftovers: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.home / "state"

    @property
    def wrapper(self) -> Path:
        return self.home / "bin" / self.name

    def setup(self) -> None:
        self.home.mkdir(mode=0o711)
        self.root.mkdir()
        self.wrapper.parent.mkdir(parents=True)
        self.wrapper.write_text(f'#!/bin/sh\nexec {self.command} --root {self.root} "$@"\n')
        self.wrapper.chmod(0o755)

    def call(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.wrapper), *args], capture_output=True, text=True, timeout=60)


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    seconds: float


def mountpoints() -> list[str]:
    """Mount points in this namespace, octal escapes decoded."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split(" ")[4]
        points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw))
    return points


def under(path: str, top: Path) -> bool:
    return path == str(top) or path.startswith(str(top) + "/")


def suite_cgroups() -> set[Path]:
    """Every cgroup directory at or below one the suite names (cgrouptest, testdir), on every hierarchy."""
    found: set[Path] = set()
    for dirpath, _, _ in os.walk(CGROUP_ROOT):
        rel = Path(dirpath).relative_to(CGROUP_ROOT).parts
        if SUITE_CGROUP_NAMES & set(rel):
            found.add(Path(dirpath))
    return found


def sweep(rt: Runtime, tmp: Path, cgroups_before: set[Path]) -> list[str]:
    """Remove whatever one file left behind, returning a line per leftover."""
    left = []
    listed = rt.call("list", "-q")
    for cid in listed.stdout.split():
        rt.call("delete", "--force", cid)
        left.append(f"container {cid} (deleted with delete --force)")
    for state in sorted(rt.root.iterdir()) if rt.root.exists() else []:
        left.append(f"state {state.name} not listed by `list` (removed)")
        subprocess.run(["rm", "-rf", "--one-file-system", str(state)], check=False)
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if under(root, tmp):
            left.append(f"process {pid} rooted in {root} (killed)")
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    for point in sorted((p for p in mountpoints() if under(p, tmp)), key=len, reverse=True):
        left.append(f"mount {point} (detached)")
        subprocess.run(["umount", "-l", point], check=False)
    removed: dict[str, set[str]] = {}
    for cg in sorted(suite_cgroups() - cgroups_before, key=lambda p: len(p.parts), reverse=True):
        for _ in range(20):
            try:
                cg.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
        if cg.exists():
            left.append(f"cgroup {cg} (busy, NOT removed)")
        else:
            hierarchy = cg.relative_to(CGROUP_ROOT).parts[0]
            removed.setdefault(str(cg.relative_to(CGROUP_ROOT / hierarchy)), set()).add(hierarchy)
    for path, hierarchies in sorted(removed.items()):
        left.append(f"cgroup {path} on {', '.join(sorted(hierarchies))} (removed)")
    remains = sorted(p.name for p in tmp.iterdir())
    if remains:
        left.append(f"TMPDIR entries {', '.join(remains)} (removed)")
    subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)], check=False)
    return left


def run_file(rt: Runtime, test: Path, suite: Path, logs: Path, timeout: float) -> Result:
    """Run one validation file against one runtime; its stdout, stderr and exit status are kept under `logs`."""
    tmp = rt.home / "tmp"
    tmp.mkdir(mode=0o711)
    before = suite_cgroups()
    env = dict(os.environ, RUNTIME=str(rt.wrapper), TMPDIR=str(tmp))
    out, err = logs / f"{test.stem}.stdout", logs / f"{test.stem}.stderr"
    start = time.monotonic()
    # Files, not pipes: a container the suite leaves running would hold a pipe open.
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen([str(test)], cwd=suite, env=env, stdout=fo, stderr=fe, start_new_session=True)
        try:
            returncode: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            returncode = None
    seconds = time.monotonic() - start
    (logs / f"{test.stem}.rc").write_text(f"{'timeout' if returncode is None else returncode}\n")
    verdict = judge(returncode, out.read_text(errors="replace"), err.read_text(errors="replace"), timeout)
    if left := sweep(rt, tmp, before):
        rt.leftovers.append(f"{test.stem}: {'; '.join(left)}")
    return Result(verdict, seconds)


def version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def table(results: dict[str, dict[str, Result]], runtimes: list[Runtime], header: list[str]) -> str:
    names = [rt.name for rt in runtimes]
    total = len(results)
    lines = [*header, ""]
    totals = ", ".join(f"{n} {sum(r[n].verdict.passed for r in results.values())}/{total}" for n in names)
    lines += [f"Files fully passing: {totals}.", ""]
    lines.append("| file | " + " | ".join(names) + " | " + " | ".join(f"{n}: first failing line" for n in names) + " |")
    lines.append("|---" * (1 + 2 * len(names)) + "|")
    for test, by in results.items():
        verdicts = [by[n].verdict for n in names]
        lines.append(
            f"| {test} | "
            + " | ".join(v.label for v in verdicts)
            + " | "
            + " | ".join(cell(v.first_failure) for v in verdicts)
            + " |"
        )
    left = [(rt.name, line) for rt in runtimes for line in rt.leftovers]
    lines.append("")
    if left:
        lines.append("Left behind by a file, and removed by the runner:")
        lines += [f"- {name}: {line}" for name, line in left]
    else:
        lines.append("No file left a container, mount, process, cgroup or bundle behind.")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, text: str) -> None:
    """Replace the table between the validate markers in the README."""
    body = readme.read_text()
    start, end = body.index(README_BEGIN) + len(README_BEGIN), body.index(README_END)
    readme.write_text(body[:start] + "\n" + text + body[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, type=Path, help="a built runtime-tools tree")
    ap.add_argument("--runtime", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per file (default 120)")
    ap.add_argument("--only", default="", metavar="NAME,...", help="run only these files (default: all)")
    ap.add_argument("--out", type=Path, required=True, help="the markdown table")
    ap.add_argument("--logs", type=Path, required=True, help="each file's stdout and stderr, per runtime")
    ap.add_argument("--commit", default="", help="the runtime-tools commit, for the table's header")
    ap.add_argument("--readme", type=Path, help="also replace the table between the README's validate markers")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("run.py: the validation suite needs root", file=sys.stderr)
        return 2
    suite = args.suite.resolve()
    tests = sorted(suite.glob("validation/*/*.t"))
    if args.only:
        wanted = set(args.only.split(","))
        if unknown := wanted - {t.stem for t in tests}:
            print(f"run.py: no such validation file: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        tests = [t for t in tests if t.stem in wanted]
    if not tests or not (suite / "runtimetest").exists():
        print(f"run.py: no built suite in {suite} (validation/*/*.t and runtimetest)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="pyrunc-validate-"))
    # Traversable like /tmp, the suite's usual TMPDIR: a container's mapped root (linux_uid_mappings) must not
    # meet a barrier the runner added.
    scratch.chmod(0o711)
    runtimes = []
    for spec in args.runtime:
        name, _, path = spec.partition("=")
        command = Path(path).resolve()
        runtimes.append(Runtime(name, command, scratch / name))
    results: dict[str, dict[str, Result]] = {}
    try:
        for rt in runtimes:
            rt.setup()
            (args.logs / rt.name).mkdir(parents=True, exist_ok=True)
        for test in tests:
            results[test.stem] = {}
            for rt in runtimes:
                res = run_file(rt, test, suite, args.logs / rt.name, args.timeout)
                results[test.stem][rt.name] = res
                print(f"{test.stem:40} {rt.name:8} {res.verdict.label:18} {res.seconds:5.1f}s "
                      f"{res.verdict.first_failure[:100]}", flush=True)
    finally:
        for rt in runtimes:
            for cid in rt.call("list", "-q").stdout.split() if rt.root.exists() else []:
                rt.call("delete", "--force", cid)
                rt.leftovers.append(f"container {cid} at the end (deleted)")
        stuck = [p for p in mountpoints() if under(p, scratch)]
        if stuck:
            print(f"run.py: mounts remain under {scratch}, not removed: {stuck}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    header = [
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on Linux {os.uname().release}: "
        f"runtime-tools {args.commit[:12] or '?'}, pyrunc {head}{' (modified)' if dirty else ''}, "
        + ", ".join(f"{rt.name} = `{version([str(rt.command), '--version'])}`" for rt in runtimes)
        + f"; {len(tests)} files, {args.timeout:g}s timeout each."
    ]
    text = table(results, runtimes, header)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.readme:
        update_readme(args.readme, text)
    print(f"\n{text}\nwritten to {args.out}; logs in {args.logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
