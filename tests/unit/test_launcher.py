"""The C launcher (pyrunc/_shim/launcher.c): every command reaches the interpreter with the same
arguments and environment, whether it leaves from the entry point before libc starts (start, state,
kill, delete...) or through main (create, run, exec, explain)."""

import os
import shutil
import subprocess

import pytest

from pyrunc import launcher

pytestmark = pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")


@pytest.fixture
def built(tmp_path):
    """A launcher whose "interpreter" prints its arguments and one variable of its environment."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    fake = tmp_path / "bin" / "python"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\necho "PROBE=$PROBE"\n')
    fake.chmod(0o755)
    path = tmp_path / "pyrunc"
    launcher.write(str(path), str(fake), str(tmp_path / "lib"))
    return path, launcher.BOOT.format(libdir=str(tmp_path / "lib"))


@pytest.mark.parametrize("argv", [[], ["state", "c1"], ["--root", "/r", "--log-format", "json", "kill", "c1", "9"],
                                  ["--debug", "delete", "--force", "c1"], ["explain"], ["--root", "explain", "list"]])
def test_arguments_and_environment_reach_the_interpreter(built, argv):
    path, boot = built
    r = subprocess.run([str(path), *argv], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PROBE": "seen", "PYRUNC_NO_GRACE": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["-IS", "-c", boot, *argv, "PROBE=seen"]


def test_the_entry_point_is_the_fast_one_on_x86_64(built):
    if os.uname().machine != "x86_64":
        pytest.skip("fast_entry is x86-64 only")
    path, _ = built
    entry = subprocess.run(["readelf", "-h", str(path)], capture_output=True, text=True, check=True).stdout
    symbols = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    address = next(line.split()[0] for line in symbols.splitlines() if line.endswith(" pyrunc_entry"))
    assert f"0x{int(address, 16):x}" in entry
