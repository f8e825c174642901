"""What is this project's own in the test set-up; the harness is pyrunc.testing's plugin (pyrunc/testing/plugin.py).

tests/conformance runs real containers through a runtime's command line, as runtime-tools does:
    pytest tests/conformance [--runtime runc]      (default runtime: <repo>/.venv/bin/pyrunc)
"""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def runtime_path(request) -> str:
    """This repository's pyrunc unless --runtime says otherwise."""
    return request.config.getoption("--runtime") or str(REPO / ".venv/bin/pyrunc")
