"""What a conformance case checks: the spec section and the sentence it cites, and its control.

    @cite("runtime.md#runtimeStart", "MUST", "This operation MUST generate an error if it is not provided the "
          "container ID.", control="ok:start")
    def test_start_needs_an_id(rt): ...

`control` is a fault of the broken runtime (pyrunc/testing/broken.py) that the case must catch: with it,
the case fails. `feature` is a path into the runtime's `features` document and a value that must be listed
there ("linux.namespaces", "time"); when the document says otherwise, the case is skipped as unsupported.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

SECTIONS = {
    "runtime.md": "Runtime and Lifecycle", "runtime-linux.md": "Linux Runtime",
    "config.md": "Configuration", "config-linux.md": "Linux Container Configuration",
}


@dataclass(frozen=True)
class Requirement:
    section: str  # file#anchor of the spec, e.g. runtime.md#runtimeCreate
    level: str  # MUST, MUST NOT, SHOULD, or "statement" for a normative sentence without a keyword
    text: str  # the sentence, word for word
    control: str | None = None
    feature: tuple[str, object] | None = None
    since: str | None = None  # the spec version that added the field: older runtimes skip the case

    @property
    def document(self) -> str:
        return self.section.partition("#")[0]

    def as_dict(self) -> dict:
        return asdict(self)


def cite(section: str, level: str, text: str, control: str | None = None,
         feature: tuple[str, str] | None = None, since: str | None = None):
    """Attach the Requirement to a test function (read by the suite's conftest and the report)."""
    req = Requirement(section, level, text, control, feature, since)

    def mark(func):
        func.requirement = req
        return func

    return mark


def unsupported(features: dict | None, feature: tuple[str, str] | None) -> str | None:
    """Why the runtime's features document rules the case out, or None (no document, no such key: run it)."""
    if not features or not feature:
        return None
    path, value = feature
    node = features
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, list) and value not in node:
        return f"the runtime's features output does not list {value!r} in {path}"
    if node is False:
        return f"the runtime's features output says {path} is false"
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.partition("-")[0])[:3])


def predates(features: dict | None, since: str | None) -> str | None:
    """Why the runtime's spec version (features' ociVersionMax) rules out a field added in `since`, or None."""
    version = (features or {}).get("ociVersionMax", "")
    if since and version and _version(version) < _version(since):
        return f"the runtime's features output says ociVersionMax {version}: the field is from spec {since}"
    return None
