"""The init imports nothing: every module it needs was imported by the runtime before clone; and
`run` imports no os (test_run_does_not_import_os).

After the init joins a mount namespace or changes user, an import could read the container's
files or fail (create.py, kernel.preload). `strace -f` records every file access of `run` and
`exec`; a process other than the runtime that touches a Python module file or the interpreter's
library before it executes something else (the container's program, a hook) fails the test.
Each case takes a path through the init that needs a module only some configs load (the
terminal's console, the hooks, python-prctl's capability and no_new_privs calls).
"""

import re
import shutil
import subprocess
import sys

import pytest

from pyrunc.testing.console import ConsoleReader
from pyrunc.testing.runtime import launcher_command

LINE = re.compile(r"^(\d+) +(\w+)\((.*)$")
PATH = re.compile(r'"([^"]*)"')
MODULE_FILE = re.compile(r"(\.py|\.pyc|\.so(\.[0-9.]+)?)$|__pycache__|/python3\.\d+/|site-packages")


def imports_outside_the_runtime(trace: list[str]) -> list[str]:
    """The accesses to module files by any process but the first (the runtime), before that
    process executed something else."""
    root, gone, found = None, set(), []
    for line in trace:
        m = LINE.match(line)
        if not m:
            continue
        pid, call, rest = int(m.group(1)), m.group(2), m.group(3)
        if root is None:
            root = pid
        if pid == root or pid in gone:
            continue
        if call in ("execve", "execveat"):
            gone.add(pid)
            continue
        path = PATH.search(rest)
        if path and MODULE_FILE.search(path.group(1)):
            found.append(line)
    return found


def traced(rt, out, *args) -> list[str]:
    return ["strace", "-f", "-qq", "-o", str(out), "-e", "trace=%file,execve,execveat", rt.exe, "--root",
            str(rt.root), *map(str, args)]


def check(out) -> None:
    lines = out.read_text().splitlines()
    assert any(" execve(" in line for line in lines[1:]), "the trace holds no execve of the container's program"
    found = imports_outside_the_runtime(lines)
    assert not found, "the init imported after clone:\n" + "\n".join(found[:20])


def run_traced(rt, c, tmp_path) -> None:
    """`run` of the container under strace, which must succeed, then check()."""
    r = subprocess.run(traced(rt, tmp_path / "run", "run", "--bundle", c.bundle, c.id), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    check(tmp_path / "run")


def imports_of_run(rt, c, tmp_path, prelude: str = "") -> set[str]:
    """The modules `run` of the container imports, as -X importtime names them: the launcher's
    program run by its interpreter (os and its kin are frozen modules: strace sees no file of theirs).
    `prelude`: statements run first, for the check's control."""
    python, *options, boot = launcher_command(rt.exe, "-X", "importtime")
    with open(tmp_path / "importtime", "w+") as err:  # a file: the container's stdio must not hold a pipe open
        r = subprocess.run([python, *options, prelude + boot, "--root", str(rt.root), "run", "--bundle",
                            str(c.bundle), c.id], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                           timeout=60)
        err.seek(0)
        lines = err.read().splitlines()
    assert r.returncode == 0, lines[-5:]
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}


@pytest.fixture
def strace(rt):
    rt.only_pyrunc("a Python init")
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (make deps installs it)")


@pytest.mark.root
def test_run_with_capabilities_and_no_new_privs_imports_nothing_in_the_init(strace, rt, container, tmp_path):
    c = container("true")
    c.config["process"]["noNewPrivileges"] = True
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}  # set_user keeping capabilities
    c.write()
    run_traced(rt, c, tmp_path)


@pytest.mark.root
def test_create_with_hooks_imports_nothing_in_the_init(strace, rt, container, tmp_path):
    c = container("true")
    for kind in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"):
        c.hook(kind, "/bin/true")
    c.write()
    run_traced(rt, c, tmp_path)


@pytest.mark.root
def test_a_terminal_imports_nothing_in_the_init(strace, rt, container, tmp_path):
    c = container("echo", "hi")
    c.config["process"]["terminal"] = True
    c.write()
    reader = ConsoleReader(c.dir / "console.sock")
    r = subprocess.run(traced(rt, tmp_path / "run", "run", "-d", "--console-socket", c.dir / "console.sock",
                              "--bundle", c.bundle, c.id), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r
    assert reader.text() == "hi\n"
    check(tmp_path / "run")


@pytest.mark.root
def test_exec_with_a_terminal_imports_nothing_in_its_process(strace, rt, container, tmp_path):
    c = container("sleep", "1000")
    c.started()
    reader = ConsoleReader(c.dir / "console.sock")
    r = subprocess.run(traced(rt, tmp_path / "exec", "exec", "-t", "-d", "--console-socket", c.dir / "console.sock",
                              "--user", "1000:1000", c.id, "echo", "hi"), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert reader.text() == "hi\n"
    check(tmp_path / "exec")
    c.kill("KILL")


def test_the_check_names_an_import_by_the_init():
    """The control: a child that opens a .pyc before its execve is named; the runtime's own
    imports, and anything after the child's execve, are not."""
    site = f"/usr/lib/python3.11/site-packages/x/__pycache__/m.cpython-3{sys.version_info[1]}.pyc"
    trace = [
        '100 execve("/usr/bin/pyrunc", ["pyrunc"], 0x1 /* 1 vars */) = 0',
        f'100 openat(AT_FDCWD, "{site}", O_RDONLY|O_CLOEXEC) = 3',
        '101 openat(AT_FDCWD, "/proc/self/fd", O_RDONLY) = 4',
        f'101 newfstatat(AT_FDCWD, "{site}", {{st_mode=S_IFREG|0644, st_size=1}}, 0) = 0',
        '101 execve("/bin/true", ["true"], 0x1 /* 1 vars */) = 0',
        '101 openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3',
    ]
    found = imports_outside_the_runtime(trace)
    assert found == [trace[3]], found
    assert not imports_outside_the_runtime(trace[:3] + trace[4:])


OS = {"os", "posixpath", "_collections_abc"}


@pytest.mark.root
@pytest.mark.parametrize("userns", [False, True], ids=["default", "user namespace"])
def test_run_does_not_import_os(rt, container, tmp_path, userns):
    """`import os` (posixpath, _collections_abc) cost 1.8-2 ms of a `run`: its modules call posix
    and pyrunc.posixfs. The control: the same check names os when the program imports it first."""
    rt.only_pyrunc("a Python runtime's imports")
    c = container("true")
    if userns:
        c.user_namespace()
    c.write()
    modules = imports_of_run(rt, c, tmp_path)
    assert "pyrunc.create" in modules and not OS & modules, sorted(OS & modules)
    assert OS <= imports_of_run(rt, c, tmp_path, prelude="import os; ")


def test_run_does_not_import_the_freezer(rt, container, tmp_path):
    """create's copy of a new v1 cpuset directory's cpus and mems is in cgroups/ops.py: `run` loads
    neither cgroups/v1.py nor the paused.py its freezer needs (0.18 ms). The control: the same check
    names the cgroup module run does load."""
    rt.only_pyrunc("a Python runtime's imports")
    c = container("true")
    c.write()
    modules = imports_of_run(rt, c, tmp_path)
    assert "pyrunc.cgroups.ops" in modules
    assert not {"pyrunc.cgroups.v1", "pyrunc.cgroups.paused"} & modules


LISTING = re.compile(r'openat\(AT_FDCWD, "([^"]+)", O_RDONLY\|O_NONBLOCK\|O_CLOEXEC\|O_DIRECTORY\)')


def directories_listed_by_run(rt, c, tmp_path, edit=lambda boot: boot) -> set[str]:
    """The directories a real `run` of the container lists the way importlib's path search does
    (os.listdir's openat), run as the launcher's program with `edit` applied to it."""
    python, *options, boot = launcher_command(rt.exe)
    out = tmp_path / "listing"
    r = subprocess.run(["strace", "-f", "-qq", "-o", str(out), "-e", "trace=openat", python, *options, edit(boot),
                        "--root", str(rt.root), "run", "--bundle", str(c.bundle), c.id], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {m.group(1) for m in LISTING.finditer(out.read_text())}


@pytest.mark.root
def test_run_loads_extension_modules_without_the_path_search(strace, rt, container, tmp_path):
    """_json, _prctl, cffi's backend and the shim are loaded from the files the bundle's index names
    (pyrunc._Bundle): `run` lists neither lib-dynload nor site-packages nor the package's directory.
    The control: the same run with the index's extension files forgotten lists them."""
    c = container("true")
    c.write()
    searched = [d for d in directories_listed_by_run(rt, c, tmp_path)
                if d.endswith(("lib-dynload", "site-packages", "/pyrunc"))]
    assert not searched, searched
    forget = "m.use_bundle(); sys.meta_path[0].extensions.clear(); "
    control = directories_listed_by_run(rt, c, tmp_path, lambda boot: boot.replace("m.use_bundle(); ", forget))
    assert any(d.endswith("lib-dynload") for d in control), sorted(control)
