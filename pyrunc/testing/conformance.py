"""`pyrunc conformance --runtime PATH [-k PATTERN] [--report FILE] [--controls]`: the packaged suite
(pyrunc/testing/suite) against any runtime, run by pytest in this process, as a table and a report.
`pyrunc conformance --list [-k PATTERN]` prints the cases (section, level, name, cited sentence) and the
count per section without running any (no runtime, no root).

Every case cites a spec sentence; the table says passed, failed (with the assertion that failed) or
skipped (with why: the host lacks the feature, or the runtime's `features` output says unsupported).
--report FILE writes FILE's stem as .json and .html. --controls runs each selected case again against
the broken runtime its control names (pyrunc/testing/broken.py), in a child process, and reports the
cases that still pass (they check nothing).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyrunc.errors import PyruncError

SUITE = Path(__file__).resolve().parent / "suite"
VERDICTS = ("passed", "failed", "skipped")


@dataclass
class Case:
    nodeid: str
    name: str
    requirement: dict
    outcome: str = "not run"
    reason: str = ""
    seconds: float = 0.0
    control: str = ""  # with --controls: caught / NOT CAUGHT / inconclusive (why)


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, "Skipped: why")
        return longrepr[2].removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash else str(longrepr)
    return " ".join(text.split())[:400]


class Collector:
    """A pytest plugin object: the suite's cases and their outcomes, one line printed per finished case."""

    def __init__(self, echo=True):
        self.cases: dict[str, Case] = {}
        self.echo = echo

    def pytest_collection_finish(self, session):
        for item in session.items:  # after -k deselected what it does
            req = getattr(getattr(item, "function", None), "requirement", None)
            self.cases[item.nodeid] = Case(item.nodeid, item.name, req.as_dict() if req else {})

    def pytest_runtest_logreport(self, report):
        case = self.cases.get(report.nodeid)
        if case is None:
            return
        case.seconds += report.duration
        if report.failed and case.outcome != "failed":
            case.outcome = "failed"
            case.reason = ("teardown: " if report.when == "teardown" else "") + _reason(report)
        elif report.skipped and case.outcome == "not run":
            case.outcome, case.reason = "skipped", _reason(report)
        elif report.when == "call" and report.passed and case.outcome == "not run":
            case.outcome = "passed"
        if report.when == "teardown" and self.echo:
            sys.stdout.write(f"  {case.outcome:<8} {case.name}\n")
            sys.stdout.flush()


def run_suite(runtime: str, pattern: str | None = None, select: list[str] | None = None, echo=True,
              collect_only=False) -> list[Case]:
    """The suite against `runtime` in this process (collect_only: only gather the cases); pytest is needed
    (pip install 'pyrunc[conformance]')."""
    try:
        import pytest
    except ImportError as e:
        raise PyruncError("conformance needs pytest: pip install 'pyrunc[conformance]'") from e
    collector = Collector(echo)
    with tempfile.TemporaryDirectory(prefix="pyrunc-conformance-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        args = [*(select or [str(SUITE)]), "--runtime", runtime, "-c", str(ini), "--rootdir", str(SUITE),
                "-p", "no:cacheprovider", "-p", "no:terminal"]
        if pattern:
            args += ["-k", pattern]
        if collect_only:
            args.append("--collect-only")
        code = pytest.main(args, plugins=[collector])
    if code not in (0, 1) and not collector.cases:
        raise PyruncError(f"the suite did not run (pytest exit {int(code)})")
    return list(collector.cases.values())


def check_controls(runtime: str, cases: list[Case]) -> None:
    """Each passed case again against its broken runtime, in a child interpreter; it must fail there."""
    from pyrunc.testing import broken

    lib = str(Path(__file__).resolve().parent.parent.parent)
    for case in cases:
        fault = case.requirement.get("control")
        if not fault or case.outcome != "passed":
            case.control = "inconclusive (no control)" if not fault else f"inconclusive (case {case.outcome})"
            continue
        with tempfile.TemporaryDirectory(prefix="pyrunc-control-") as tmp:
            wrapper = broken.write(runtime, Path(tmp) / "bin", fault)
            out = Path(tmp) / "r.json"
            code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from pyrunc.testing.conformance import main; "
                    "sys.exit(main(sys.argv[1:]))")
            subprocess.run([sys.executable, "-I", "-S", "-c", code, lib, "--runtime", str(wrapper), "--only",
                            str(SUITE / case.nodeid.split("::")[0].rpartition("/")[2]) + "::" + case.name,
                            "--report", str(out), "--quiet"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=300)
            try:
                verdict = json.loads(out.read_text())["cases"][0]["outcome"]
            except (OSError, ValueError, IndexError, KeyError):
                verdict = "not run"
        case.control = {"failed": "caught", "passed": "NOT CAUGHT"}.get(verdict, f"inconclusive ({verdict})")
        sys.stdout.write(f"  control {case.control:<12} {case.name}  [{fault}]\n")
        sys.stdout.flush()


def totals(cases: list[Case]) -> dict[str, int]:
    return {v: sum(c.outcome == v for c in cases) for v in VERDICTS}


def table(cases: list[Case]) -> str:
    """Cases grouped by spec section: verdict, name, level, and the reason under failures and skips."""
    lines, section = [], None
    for case in sorted(cases, key=lambda c: (c.requirement.get("section", ""), c.name)):
        req = case.requirement
        if req.get("section") != section:
            section = req.get("section")
            lines.append(f"\n{section}")
        control = f"  control: {case.control}" if case.control else ""
        lines.append(f"  {case.outcome.upper():<8} {case.name:<52} {req.get('level', ''):<9}{control}")
        if case.reason and case.outcome != "passed":
            lines.append(f"           {case.reason}")
    t = totals(cases)
    lines.append(f"\n{len(cases)} cases: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped")
    return "\n".join(lines) + "\n"


def listing(cases: list[Case]) -> str:
    """Every case by spec section, with its level and cited sentence; the count per section and document."""
    from pyrunc.testing.requirement import SECTIONS

    lines, per_doc, section = [], {}, None
    ordered = sorted(cases, key=lambda c: (c.requirement.get("section", ""), c.name))
    counts = {}
    for case in ordered:
        counts[case.requirement.get("section", "")] = counts.get(case.requirement.get("section", ""), 0) + 1
    for case in ordered:
        req = case.requirement
        if req.get("section") != section:
            section = req.get("section")
            lines.append(f"\n{section} ({counts[section]})")
            doc = section.partition("#")[0]
            per_doc[doc] = per_doc.get(doc, 0) + counts[section]
        lines.append(f"  {req.get('level', ''):<9} {case.name}: {req.get('text', '')}")
    lines.append("\n" + ", ".join(f"{doc} ({SECTIONS.get(doc, doc)}) {n}" for doc, n in per_doc.items())
                 + f"; {len(cases)} cases")
    return "\n".join(lines) + "\n"


def runtime_version(runtime: str) -> str:
    try:
        r = subprocess.run([runtime, "--version"], capture_output=True, text=True, timeout=10)
        return r.stdout.splitlines()[0] if r.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def document(runtime: str, cases: list[Case], seconds: float) -> dict:
    return {"runtime": runtime, "version": runtime_version(runtime), "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": round(seconds, 1),
            "totals": totals(cases), "cases": [asdict(c) | {"seconds": round(c.seconds, 3)} for c in cases]}


def write_reports(path: str, doc: dict) -> list[Path]:
    from pyrunc.testing import report

    base = Path(path)
    stem = base.with_suffix("") if base.suffix in (".json", ".html") else base
    written = [stem.with_suffix(".json"), stem.with_suffix(".html")]
    written[0].write_text(json.dumps(doc, indent=2) + "\n")
    written[1].write_text(report.html(doc))
    return written


def parse(argv: list[str]) -> dict:
    opts = {"runtime": None, "pattern": None, "report": None, "controls": False, "only": [], "quiet": False,
            "list": False}
    flags = {"--runtime": "runtime", "-k": "pattern", "--report": "report", "--only": "only"}
    i = 0
    while i < len(argv):
        name, eq, value = argv[i].partition("=")
        if name in flags:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise PyruncError(f"flag needs an argument: {name}")
                value = argv[i]
            opts[flags[name]] = opts["only"] + [value] if name == "--only" else value
        elif name in ("--controls", "--quiet", "--list"):
            opts[name[2:]] = True
        else:
            raise PyruncError(f"flag provided but not defined: {name}")
        i += 1
    if not opts["runtime"] and not opts["list"]:
        raise PyruncError("conformance needs --runtime PATH (the runtime to test, e.g. runc)")
    return opts


def main(argv: list[str]) -> int:
    """0 when no case failed (and, with --controls, every control was caught), else 1."""
    opts = parse(argv)
    if opts["list"]:
        sys.stdout.write(listing(run_suite("runc", opts["pattern"], echo=False, collect_only=True)))
        return 0
    import shutil

    runtime = shutil.which(opts["runtime"])
    if not runtime:
        raise PyruncError(f"runtime not found: {opts['runtime']}")
    runtime = os.path.abspath(runtime)
    if os.geteuid() != 0:
        raise PyruncError("conformance runs real containers: it needs root")
    start = time.monotonic()
    if not opts["quiet"]:
        sys.stdout.write(f"conformance of {runtime} ({runtime_version(runtime) or 'no version'})\n")
    cases = run_suite(runtime, opts["pattern"], opts["only"] or None, echo=not opts["quiet"])
    if opts["controls"]:
        check_controls(runtime, cases)
    if not opts["quiet"]:
        sys.stdout.write(table(cases))
    if opts["report"]:
        for path in write_reports(opts["report"], document(runtime, cases, time.monotonic() - start)):
            if not opts["quiet"]:
                sys.stdout.write(f"report: {path}\n")
    missed = [c for c in cases if c.control == "NOT CAUGHT"]
    return 1 if totals(cases)["failed"] or missed else 0
