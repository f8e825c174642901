"""pyrunc/bundle.py: the modules come from the bundle while their sources are unchanged, from the
sources otherwise, and the bundle's fd never takes a number the caller's fds may need."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pyrunc
from pyrunc import bundle

PROBE = """
import os, sys
sys.path[0:0] = [{lib!r}, {site!r}]  # the copy first; cffi and python-prctl from the installation
import pyrunc.cli, pyrunc.create, pyrunc.cgroups.planner
from pyrunc import bundle
for name in ("pyrunc.cli", "pyrunc.create", "pyrunc.cgroups.planner", "pyrunc.cgroups"):
    m = sys.modules[name]
    print(name, type(m.__spec__.loader).__name__, m.__file__)
low = []
for fd in range(3, 64):  # the numbers --preserve-fds and LISTEN_FDS hand to the container
    try:
        os.fstat(fd)
        low.append(str(fd))
    except OSError:
        pass
print("low-fds", *low)
"""


@pytest.fixture
def lib(tmp_path) -> Path:
    """A copy of the package, as an installation would hold it."""
    lib = tmp_path / "lib"
    shutil.copytree(Path(pyrunc.__file__).parent, lib / "pyrunc", ignore=shutil.ignore_patterns("__pycache__"))
    return lib


def probe(lib: Path) -> dict[str, list[str]]:
    code = PROBE.format(lib=str(lib), site=str(Path(pyrunc.__file__).parents[1]))
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()}


def test_modules_come_from_the_bundle_with_their_own_file(lib):
    bundle.write(str(lib / "pyrunc"))
    out = probe(lib)
    for name in ("pyrunc.cli", "pyrunc.create", "pyrunc.cgroups.planner", "pyrunc.cgroups"):
        loader, file = out[name]
        assert loader == "Finder", (name, loader)
        assert file == str(lib / Path(*name.split("."))) + ("/__init__.py" if name == "pyrunc.cgroups" else ".py")
    assert out["low-fds"] == [], "the bundle's fd took a number the caller's fds may need"


def test_an_edited_source_is_imported_from_the_source(lib):
    bundle.write(str(lib / "pyrunc"))
    with open(lib / "pyrunc" / "create.py", "a") as f:
        f.write("\nEDITED = True\n")
    out = probe(lib)
    assert out["pyrunc.create"][0] == "SourceFileLoader"
    assert out["pyrunc.cli"][0] == "Finder"


def test_without_a_bundle_the_ordinary_import(lib):
    out = probe(lib)
    assert {v[0] for k, v in out.items() if k != "low-fds"} == {"SourceFileLoader"}


def test_a_bundle_of_another_python_is_ignored(lib):
    path = bundle.write(str(lib / "pyrunc"))
    data = Path(path).read_bytes()
    Path(path).write_bytes(b"\0\0\r\n" + data[4:])
    assert probe(lib)["pyrunc.cli"][0] == "SourceFileLoader"


def test_the_test_kit_and_data_are_not_bundled(lib):
    bundle.write(str(lib / "pyrunc"))
    import marshal

    data = Path(bundle.path(str(lib / "pyrunc"))).read_bytes()
    index = marshal.loads(data[8:8 + int.from_bytes(data[4:8], "little")])
    assert "pyrunc.cli" in index and "pyrunc" in index
    assert not [name for name in index if name.startswith(bundle.SKIP)]


def test_make_install_wrote_the_bundle_the_runtime_reads():
    """The installed package (make install) reads its modules from its bundle, made from its own sources."""
    package = Path(pyrunc.__file__).parent
    if "site-packages" not in package.parts:
        pytest.skip("pyrunc is imported from the source tree, not installed")
    assert Path(bundle.path(str(package))).is_file(), "make install did not write the bundle"
    code = f"import sys; sys.path.insert(0, {str(package.parent)!r}); import pyrunc.cli, pyrunc.create; " \
           "print(sum(type(m.__spec__.loader).__name__ != 'Finder' for n, m in sys.modules.items() " \
           "if n.startswith('pyrunc.') and n != 'pyrunc.bundle' and getattr(m, '__file__', '').endswith('.py')))"
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "0", (r.stdout, r.stderr)
