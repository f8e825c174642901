"""Shared pytest set-up.

tests/conformance runs real containers through a runtime's command line, as runtime-tools does:
    pytest tests/conformance [--runtime runc]      (default runtime: <repo>/.venv/bin/pyrunc)
Every call is `<runtime> --root /run/pyrunc-test-<pid> ...`. The host is compared before and after each
test and the whole session: mounts, processes, cgroups and state the tests' containers left behind fail
the test; new network links, named netns and /run/pyrunc entries fail the session (conformance/host.py).
Tests that need root are marked `root` and skip for other users.
"""

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conformance.bundle import Container
from conformance.host import Snapshot, Tracked, report, tidy, unmount_below

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--runtime", default=str(REPO / ".venv/bin/pyrunc"),
                     help="runtime binary driven by tests/conformance (default: %(default)s)")


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root")


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def __str__(self):
        return f"exit {self.rc}, stdout {self.out!r}, stderr {self.err!r}"


class Runtime:
    def __init__(self, exe, root, base):
        self.exe, self.root, self.base = exe, root, base
        self.name = Path(exe).name
        self.tracked = Tracked(set(), set())  # every container the session made

    def __call__(self, *args, stdout=None, stderr=None, input=None, cwd=None, env=None, timeout=60):
        """Run `<runtime> --root <state root> *args` and return what the runtime wrote before it exited.

        stdout/stderr: files to append to (a container started by the call may keep writing there), or
        None for private temporary files. Files rather than pipes, so that a container holding its end
        open cannot hang the call. stdin is /dev/null unless `input` (bytes) is given."""
        cmd = [self.exe, "--root", str(self.root), *map(str, args)]
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(open(p, "ab+") if p else tempfile.TemporaryFile())
                     for p in (stdout, stderr)]
            offsets = [f.seek(0, os.SEEK_END) for f in files]
            rc = subprocess.run(cmd, stdout=files[0], stderr=files[1], cwd=cwd, env=env, timeout=timeout,
                                **stdin).returncode
            written = []
            for f, offset in zip(files, offsets, strict=True):
                f.seek(offset)
                written.append(f.read().decode(errors="replace"))
        return Result(rc, *written)

    def lacks(self, feature):
        """Skip where runc 1.1.5 (Debian 12) is missing something the spec has."""
        if self.name == "runc":
            pytest.skip(f"runc 1.1.5 lacks {feature}")

    def only_pyrunc(self, feature):
        if self.name != "pyrunc":
            pytest.skip(f"{feature} is pyrunc's own, {self.name} does not have it")


@pytest.fixture(scope="session")
def rt(request):
    """The runtime under test, with a private state root; checks the host is clean after the session."""
    wanted = request.config.getoption("--runtime")
    exe = shutil.which(wanted)
    if not exe:
        pytest.fail(f"runtime {wanted!r} not found: run `make install` or pass --runtime PATH", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="pyrunc-test-"))
    base.chmod(0o755)  # a user namespace's root must be able to reach the bundles
    root = Path(f"/run/pyrunc-test-{os.getpid()}")
    before = Snapshot.take(base, root)
    runtime = Runtime(os.path.abspath(exe), root, base)
    yield runtime

    found = before.leftovers(base, runtime.tracked, everything=True)
    if root.exists() and (left := sorted(os.listdir(root))):
        found["state dirs"] = [f"{root}/{name}" for name in left]
        for name in left:
            runtime("delete", "--force", name)
    tidy(found, base)
    unmount_below(base)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    if found:
        pytest.fail(report("the host is not clean after the session:", found), pytrace=False)


@pytest.fixture
def container(rt, request):
    """Factory: container(*args) -> Container with a fresh bundle and an id unique to the test.

    At teardown every container made is `delete --force`d, then the host is checked against its state
    before the test. `container.dir` is the test's scratch directory (removed at the end)."""
    workdir = Path(tempfile.mkdtemp(prefix="w-", dir=rt.base))
    workdir.chmod(0o755)
    tag = hashlib.sha1(f"{os.getpid()} {request.node.nodeid}".encode()).hexdigest()[:8]  # unique per session
    before = Snapshot.take(rt.base, rt.root)
    made = []

    def make(*args):
        made.append(Container(rt, workdir, f"t-{tag}-{len(made)}", args or ("true",)))
        return made[-1]

    make.dir = workdir
    yield make

    for c in made:
        rt("delete", "--force", c.id)
        rt.tracked.add(c)
    found = before.leftovers(workdir, rt.tracked)
    if states := [str(rt.root / c.id) for c in made if not c.state_dir_gone()]:
        found["state dirs"] = states
    tidy(found, workdir)
    unmount_below(workdir)
    for c in made:
        rt.tracked.forget(c)
    shutil.rmtree(workdir, ignore_errors=True)
    if found:
        pytest.fail(report(f"{request.node.name} left this on the host:", found), pytrace=False)


@pytest.fixture
def ordinary_user():
    """(name, uid, gid, a directory it owns, a directory for the test) for a user made for this test
    alone; both directories sit in /tmp itself, which every user can enter (pytest's tmp_path is
    below a directory only root can)."""
    name = f"pyrunc-rl{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name], check=True,
                   capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="pyrunc-rootless-"))
    try:
        work.chmod(0o755)
        pw = pwd.getpwnam(name)
        home = work / "home"
        home.mkdir()
        os.chown(home, pw.pw_uid, pw.pw_gid)
        yield name, pw.pw_uid, pw.pw_gid, home, work
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
