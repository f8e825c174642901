"""The conformance report as one self-contained HTML page: totals, then per spec section every case with
its verdict, the sentence it cites and, when it did not pass, why. No scripts, no external files."""

from __future__ import annotations

import re
from html import escape

from pyrunc.testing.requirement import SECTIONS

SPEC = "https://github.com/opencontainers/runtime-spec/blob/v1.3.0/"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:2em;border-bottom:2px solid #ddd}
h3{font-size:1em;margin:1.4em 0 .4em} .meta{color:#666}
.totals span{display:inline-block;padding:.3em .8em;margin:.6em .4em 0 0;border-radius:4px;font-weight:600}
table{border-collapse:collapse;width:100%} td{border-top:1px solid #eee;padding:.35em .5em;vertical-align:top}
.v{width:6em;font-weight:600;text-align:center;border-radius:4px;color:#fff}
.ok{background:#2e7d32;color:#fff} .bad{background:#c62828;color:#fff} .skip{background:#9e9e9e;color:#fff}
.none{background:#6d4c41;color:#fff} tr.failed td:not(.v){background:#fff5f5}
.name{font-family:ui-monospace,monospace;width:22em;word-break:break-all} .level{width:5em;font-weight:600}
blockquote{margin:0;color:#333;font-style:italic} .why{color:#b71c1c;font-family:ui-monospace,monospace;
font-size:.9em;margin-top:.3em} tr.skipped .why{color:#555} .control{color:#555;font-size:.85em}
"""


def _title(anchor: str) -> str:
    """runtimeQueryState -> Query State; configLinuxCgroupsPath -> Cgroups Path."""
    words = re.sub(r"^(runtimeLinux|runtime|configLinux|config)", "", anchor)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words) or anchor


def html(doc: dict) -> str:
    cases = doc["cases"]
    t = doc["totals"]
    out = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>OCI conformance: "
           f"{escape(doc['runtime'])}</title><style>{STYLE}</style></head><body>",
           f"<h1>OCI runtime conformance: {escape(doc['runtime'])}</h1>",
           f"<p class=meta>{escape(doc['version'])} &middot; kernel {escape(doc['kernel'])} &middot; "
           f"{escape(doc['date'])} &middot; {doc['seconds']} s &middot; runtime-spec v1.3.0</p>",
           f"<p class=totals><span class=ok>{t['passed']} passed</span><span class=bad>{t['failed']} "
           f"failed</span><span class=skip>{t['skipped']} skipped</span> of {len(cases)} cases</p>"]
    documents: dict[str, dict[str, list]] = {}
    for case in cases:
        section = case["requirement"].get("section", "unknown#unknown")
        doc_name, _, anchor = section.partition("#")
        documents.setdefault(doc_name, {}).setdefault(anchor, []).append(case)
    order = list(SECTIONS) + sorted(set(documents) - set(SECTIONS))
    for doc_name in (d for d in order if d in documents):
        out.append(f"<h2>{escape(doc_name)}: {escape(SECTIONS.get(doc_name, ''))}</h2>")
        for anchor, group in documents[doc_name].items():
            counts = ", ".join(f"{sum(c['outcome'] == v for c in group)} {v}" for v in ("passed", "failed", "skipped")
                               if any(c["outcome"] == v for c in group))
            link = f"{SPEC}{escape(doc_name)}#{escape(anchor)}"
            out.append(f"<h3 id='{escape(anchor)}'><a href='{link}'>{escape(_title(anchor))}</a> "
                       f"<span class=meta>({counts})</span></h3><table>")
            for case in group:
                req, outcome = case["requirement"], case["outcome"]
                why = f"<div class=why>{escape(case['reason'])}</div>" if case["reason"] and outcome != "passed" else ""
                control = (f"<div class=control>control <code>{escape(req['control'])}</code>"
                           + (f": {escape(case['control'])}" if case.get("control") else "") + "</div>"
                           if req.get("control") else "")
                badge = {"passed": "ok", "failed": "bad", "skipped": "skip"}.get(outcome, "none")
                out.append(f"<tr class='{escape(outcome)}'><td class='v {badge}'>"
                           f"{escape(outcome)}</td><td class=name>{escape(case['name'])}</td>"
                           f"<td class=level>{escape(req.get('level', ''))}</td><td><blockquote>"
                           f"{escape(req.get('text', ''))}</blockquote>{why}{control}</td></tr>")
            out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)
