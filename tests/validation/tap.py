"""The verdict on one validation file's output, kept pure so `make test` checks the pass rule without the suite.

A file passes when it exits 0, prints a TAP plan, prints no `not ok` and as many points as it planned.
Only top-level lines count: the suite nests runtimetest's own TAP in indented YAML diagnostics.
The hook files (hooks, prestart, poststart, poststop and their _fail forms) plan no points at all and report
a failure only as a YAML diagnostic: an empty plan `1..0` passes only when no diagnostic was printed.
The files that expect a refusal (process_capabilities_fail, process_rlimits_fail) print no TAP at all and exit 0
when the runtime refuses the config, and exit 1 when it does not: exit 0 with an empty stdout passes as "refused".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLAN = re.compile(r"^1\.\.(\d+)")
_POINT = re.compile(r"^(not )?ok\b")
_SKIP = re.compile(r"#\s*skip\b", re.IGNORECASE)
# Lines the suite itself prints around a runtime's error: they name no cause.
_WRAPPER = re.compile(
    r"^(failed to (create|start|delete|read standard streams).*|exit status \d+|Clean: .*|TAP version .*|\s*)$"
)
_DIAG_ERROR = re.compile(r'^\s+"error": "(.+?)",?$')
_RUNC_MSG = re.compile(r'level=(?:error|fatal) msg="(.*)"$')
_CELL = 160


@dataclass(frozen=True)
class Verdict:
    """What one run of one file showed."""

    passed: bool
    planned: int | None
    points: int
    failed: int
    skipped: int
    first_failure: str

    @property
    def label(self) -> str:
        """The table cell: pass, pass with its skips, pass as a silent refusal, or FAIL."""
        if not self.passed:
            return "FAIL"
        if self.planned is None:
            return "pass (refused, no TAP)"
        return f"pass ({self.skipped} skipped)" if self.skipped else "pass"


def runtime_error(stderr: str) -> str:
    """The first stderr line that is not the suite's own wrapping, runc's logfmt reduced to its message."""
    for line in stderr.splitlines():
        if _WRAPPER.match(line):
            continue
        m = _RUNC_MSG.search(line)
        return m.group(1) if m else line.strip()
    return ""


def judge(returncode: int | None, stdout: str, stderr: str = "", timeout: float | None = None) -> Verdict:
    """Apply the pass rule; `returncode` None with `timeout` set means the file was killed after that many seconds."""
    planned = None
    points = failed = skipped = 0
    first_not_ok = ""
    diagnosed = False
    for line in stdout.splitlines():
        diagnosed = diagnosed or line.rstrip() == "  ---"
        if (m := _PLAN.match(line)) and planned is None:
            planned = int(m.group(1))
        elif m := _POINT.match(line):
            points += 1
            if m.group(1):
                failed += 1
                first_not_ok = first_not_ok or line.strip()
            elif _SKIP.search(line):
                skipped += 1
    passed = returncode == 0 and planned is not None and failed == 0 and points == planned
    passed = passed and not (planned == 0 and diagnosed)
    if returncode == 0 and not stdout.strip():
        return Verdict(True, None, 0, 0, 0, "")
    if passed:
        return Verdict(True, planned, points, failed, skipped, "")
    reasons = []
    if returncode is None:
        reasons.append(f"timeout after {timeout:g}s")
    if first_not_ok:
        reasons.append(first_not_ok)
    elif returncode:
        reasons.append(f"exit {returncode}")
    elif returncode == 0 and planned is None:
        reasons.append("no TAP plan")
    elif returncode == 0 and planned == 0:
        diag = next((m.group(1) for line in stdout.splitlines() if (m := _DIAG_ERROR.match(line))), "")
        reasons.append("1..0 with a diagnostic" + (f": {diag.replace(chr(92) + 'n', ' ')}" if diag else ""))
    elif returncode == 0 and points != planned:
        reasons.append(f"{points} of {planned} planned points")
    cause = runtime_error(stderr)
    first = "; ".join(reasons) + (f" ← {cause}" if cause else "")
    return Verdict(False, planned, points, failed, skipped, first)


def cell(text: str) -> str:
    """Text made safe for one markdown table cell, cut to a readable length."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"
