"""The packaged suite's own set-up: every case carries a Requirement (pyrunc/testing/requirement.py); a
case whose feature the runtime's `features` output does not list is skipped as unsupported."""

import pytest

from pyrunc.testing.requirement import predates, unsupported


@pytest.fixture(autouse=True)
def _runtime_supports(request, rt):
    req = getattr(request.function, "requirement", None)
    if req is None:
        pytest.fail(f"{request.node.name} cites no requirement", pytrace=False)
    if why := unsupported(rt.features(), req.feature) or predates(rt.features(), req.since):
        pytest.skip(why)


@pytest.fixture
def hook_log(container):
    """(directory, hook factory): every hook made by the factory appends its kind to <directory>/log; the
    directory is bind-mounted at the same path in the container, so that hooks run in either namespace
    write the same file."""
    log = container.dir / "hooklog"
    log.mkdir()

    def hook(c, kind, fail=False):
        if not any(m["destination"] == str(log) for m in c.config["mounts"]):
            c.bind(log, str(log))
        c.hook(kind, "/bin/sh", args=["sh", "-c", f"echo {kind} >> {log}/log" + ("; exit 1" if fail else "")])

    hook.dir = log
    hook.kinds = lambda: (log / "log").read_text().split() if (log / "log").exists() else []
    return hook
