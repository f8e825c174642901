"""Writes the `pyrunc` command as a launcher that starts the venv's interpreter with -I -S.

Site processing costs about 2 ms on every command, and pip's console script needs it to
find site-packages; this launcher puts the package's own directory on sys.path instead.
Run as `python -m pyrunc.launcher PATH` after `pip install`. cli.run() leaves through
os._exit: tearing the interpreter down costs milliseconds and nothing needs it.
"""

import os
import sys

TEMPLATE = """#!{python} -IS
import sys
sys.path.insert(0, {libdir!r})
from pyrunc.cli import run
run()
"""


def write(path: str) -> None:
    """Replace `path` with the launcher for this interpreter and this installed package."""
    libdir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(TEMPLATE.format(python=sys.executable, libdir=libdir))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


if __name__ == "__main__":
    write(sys.argv[1])
