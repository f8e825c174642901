"""process.* and the uts names, read by the program inside the container."""

import os
import socket

import pytest

from pyrunc.testing.bundle import proc_status

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


def test_umask_unset_is_the_callers(container, rt):
    """config.md: "If unspecified, the umask should not be changed from the calling process' umask". A
    caller with umask 077 gets a container (and an exec'd process) with umask 077."""
    c = container("grep", "Umask", "/proc/self/status")
    old = os.umask(0o077)
    try:
        if rt.name == "runc":
            pytest.skip("runc sets umask 0022 when process.user.umask is unset (config.md: not to be changed)")
        out = run_ok(c)
        d = container("sleep", "1000")
        d.started()
        r = rt("exec", d.id, "grep", "Umask", "/proc/self/status")
    finally:
        os.umask(old)
    assert out.split() == ["Umask:", "0077"]
    assert r.rc == 0 and r.out.split() == ["Umask:", "0077"], r
    d.kill("KILL")


PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\nbad:line\n"


@pytest.mark.parametrize("uid, home, expected", [
    (0, None, "/root"), (1000, None, "/home/app"), (4242, None, "/"), (1000, "/data", "/data"), (1000, "", "/home/app"),
])
def test_home_comes_from_the_containers_passwd(container, uid, home, expected):
    """runc's default: HOME unset (or empty) in process.env is the home of process.user.uid in the
    container's /etc/passwd, else /; a HOME in process.env is kept."""
    c = container("sh", "-c", 'echo "$HOME"')
    c.config["process"]["user"] = {"uid": uid, "gid": uid}
    if home is not None:
        c.config["process"]["env"].append(f"HOME={home}")
    (c.rootfs / "etc/passwd").write_text(PASSWD)
    assert run_ok(c) == expected + "\n"


def test_exec_home_comes_from_the_containers_passwd(container, rt):
    c = container("sleep", "1000")
    (c.rootfs / "etc/passwd").write_text(PASSWD)
    c.started()
    for user, expected in (("1000:1000", "/home/app"), ("0:0", "/root"), ("7:7", "/")):
        r = rt("exec", "--user", user, c.id, "sh", "-c", 'echo "$HOME"')
        assert r.rc == 0 and r.out == expected + "\n", (user, r)
    r = rt("exec", "--user", "1000:1000", "--env", "HOME=/elsewhere", c.id, "sh", "-c", 'echo "$HOME"')
    assert r.out == "/elsewhere\n", r
    c.kill("KILL")


def test_a_missing_cwd_is_made(container):
    """runc makes a missing process.cwd (0755) before the root is made read-only."""
    c = container("sh", "-c", "pwd; stat -c %a .; touch /ro 2>/dev/null || echo read-only")
    c.config["process"]["cwd"] = "/work/new/dir"
    old = os.umask(0o022)
    try:
        assert run_ok(c) == "/work/new/dir\n755\nread-only\n"
    finally:
        os.umask(old)
    assert (c.rootfs / "work/new/dir").is_dir()


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
