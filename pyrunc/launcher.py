"""Writes the `pyrunc` command: a small C launcher (pyrunc/_shim/launcher.c) that starts the
venv's interpreter with -I -S, or, without a C compiler, an equivalent Python script.

Site processing costs about 2 ms on every command, and pip's console script needs it to
find site-packages; the launcher puts the package's own directory on sys.path instead. The C
version (static where libc.a is installed) also starts the kernel's cgroup grace period before
the interpreter starts for `create` and `run` (see launcher.c). Run as `python -m pyrunc.launcher PATH` after
`pip install`. cli.run() leaves through os._exit: tearing the interpreter down costs
milliseconds and nothing needs it.
"""

import os
import subprocess
import sys

SCRIPT = """#!{python} -IS
import sys
sys.path.insert(0, {libdir!r})
from pyrunc.cli import run
run()
"""


def write(path: str, python: str = sys.executable, libdir: str = "", compiled: bool = True) -> None:
    """Replace `path` with the launcher for `python` and the package in `libdir` (this one's by
    default); the Python script instead of the C launcher without a compiler or `compiled`."""
    libdir = libdir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_shim", "launcher.c")
    tmp = path + ".tmp"
    compiler = os.environ.get("CC", "cc")
    command = [compiler, "-O2", "-Wall", "-o", tmp, f'-DPYTHON="{python}"', f'-DLIBDIR="{libdir}"', source]
    # Static where libc.a is installed: no dynamic loader on every command (0.3 of its 0.95 ms here).
    built = compiled and os.path.exists(source) and "'" not in libdir and any(
        subprocess.run(command + flags, check=False, stderr=subprocess.DEVNULL if flags else None).returncode == 0
        for flags in (["-static"], []))
    if not built:
        with open(tmp, "w") as f:
            f.write(SCRIPT.format(python=python, libdir=libdir))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


if __name__ == "__main__":
    write(sys.argv[1])
