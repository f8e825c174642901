"""process.* and the uts names, read by the program inside the container."""

import os
import socket

import pytest

from .bundle import proc_status

pytestmark = pytest.mark.root


def run_ok(c, **kw):
    r = c.run(**kw)
    assert r.rc == 0, r
    return r.out


def test_hostname(container):
    c = container("sh", "-c", "hostname; cat /proc/sys/kernel/hostname")
    c.config["hostname"] = "box-1"
    before = socket.gethostname()
    assert run_ok(c) == "box-1\nbox-1\n"
    assert socket.gethostname() == before


def test_domainname(container, rt):
    rt.lacks("domainname")
    c = container("cat", "/proc/sys/kernel/domainname")
    c.config["domainname"] = "example.test"
    before = os.uname().nodename, open("/proc/sys/kernel/domainname").read()
    assert run_ok(c) == "example.test\n"
    assert (os.uname().nodename, open("/proc/sys/kernel/domainname").read()) == before


def test_user_groups_and_umask(container):
    c = container("cat", "/proc/self/status")
    c.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 0o027}
    status = proc_status(run_ok(c))
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1001"] * 4
    assert sorted(status["Groups"].split()) == ["5", "7"]
    assert status["Umask"] == "0027"


def test_args_env_cwd(container):
    c = container("sh", "-c", 'echo "$0|$1|$GREETING|$(pwd)"; env', "first arg", "second")
    c.config["process"]["env"].append("GREETING=hello there")
    c.config["process"]["cwd"] = "/work/dir"
    (c.rootfs / "work/dir").mkdir(parents=True)
    out = run_ok(c, env=os.environ | {"CONFORMANCE_LEAK": "1"})
    first, *env = out.splitlines()
    assert first == "first arg|second|hello there|/work/dir"
    assert set(c.config["process"]["env"]) <= set(env)
    assert not [e for e in env if e.startswith("CONFORMANCE_LEAK=")], "the runtime's environment leaked in"
