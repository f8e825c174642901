"""The pytest plugin (entry point `pytest11: pyrunc`), loaded by any pytest where pyrunc is installed.

    pytest [--runtime PATH]      (default: the `runtime_path` fixture: --runtime, else ini oci_runtime,
                                  else $OCI_RUNTIME, else runc on PATH; a conftest may override it)
Fixtures: `rt` (the Runtime under test, a private state root, the host checked after the session),
`container` (factory of Containers, every one deleted and the host checked after the test), `bundle` (a
temporary Bundle, not created), `leak_check` (Snapshot before, leftovers after), `ordinary_user` (a
user made for the test), `net_host` (a stand-in for the host's network: netns.StandIn, the real host's
links, network settings and ruleset compared after). Tests marked `root` skip for other users.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .bundle import Bundle, Container
from .host import Snapshot, report, tidy, unmount_below
from .netns import StandIn, host_facts
from .runtime import Runtime
from .users import made_user


def pytest_addoption(parser):
    parser.addoption("--runtime", default=None,
                     help="OCI runtime binary driven by the pyrunc.testing fixtures (default: runc on PATH)")
    parser.addini("oci_runtime", "OCI runtime binary for the pyrunc.testing fixtures", default="")


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root and runs real containers")


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture(scope="session")
def runtime_path(request) -> str:
    """What `rt` runs; override this fixture in a conftest to change the default."""
    return (request.config.getoption("--runtime") or request.config.getini("oci_runtime")
            or os.environ.get("OCI_RUNTIME") or "runc")


@pytest.fixture(scope="session")
def rt(runtime_path):
    """The runtime under test, with a private state root; checks the host is clean after the session."""
    exe = shutil.which(runtime_path)
    if not exe:
        pytest.fail(f"runtime {runtime_path!r} not found: pass --runtime PATH", pytrace=False)
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
def leak_check(rt, request):
    """A scratch directory for the test (removed at the end); what the test left on the host (mounts,
    processes, cgroups of rt.tracked containers) fails it, after a best-effort tidy. Containers to
    delete first go in `leak_check.containers`."""
    workdir = Path(tempfile.mkdtemp(prefix="w-", dir=rt.base))
    workdir.chmod(0o755)
    before = Snapshot.take(rt.base, rt.root)

    class Check:
        dir = workdir
        containers: list[Container] = []

    yield Check
    made = Check.containers
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
def container(rt, leak_check, request):
    """Factory: container(*args, config=None, busybox=True) -> Container with a fresh bundle (busybox=False:
    an empty rootfs) and an id unique to the test.

    At teardown every container made is `delete --force`d, then the host is checked against its state
    before the test. `container.dir` is the test's scratch directory (removed at the end)."""
    tag = hashlib.sha1(f"{os.getpid()} {request.node.nodeid}".encode()).hexdigest()[:8]  # unique per session
    made = leak_check.containers = []

    def make(*args, config=None, busybox=True):
        made.append(Container(rt, leak_check.dir, f"t-{tag}-{len(made)}", args or ("true",), config, busybox))
        return made[-1]

    make.dir = leak_check.dir
    return make


@pytest.fixture
def bundle(tmp_path) -> Bundle:
    """A temporary bundle (busybox rootfs, runc's default config running `true`), written on .write()."""
    return Bundle(tmp_path / "bundle")


@pytest.fixture
def net_host(rt, container):
    """A stand-in for the host's network (netns.StandIn) with the runtime run in it. At teardown the
    containers it adopted are deleted; what the network left in the stand-in, and any change to the real
    host's links, network settings or nftables ruleset, fails the test."""
    before = host_facts()
    host = StandIn(rt, container.dir)
    try:
        yield host
    finally:
        found = host.close()
        if host_facts() != before:
            pytest.fail("the real host's links, network settings or ruleset changed", pytrace=False)
        if found:
            pytest.fail(f"left in the stand-in host: {found}", pytrace=False)


@pytest.fixture
def ordinary_user():
    """(name, uid, gid, a directory it owns, a directory for the test) for a user made for this test."""
    with made_user() as user:
        yield user
