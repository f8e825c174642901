"""`run`: exit status, stdio, detaching, and pyrunc's `run DIR` form."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from pyrunc.testing.bundle import alive, wait_for

pytestmark = pytest.mark.root


def test_exit_status(container, rt):
    c = container("sh", "-c", "exit 3")
    assert c.run().rc == 3
    assert "does not exist" in rt("state", c.id).err  # run deletes the container it ran


def test_killed_by_own_signal(container):
    # Without a pid namespace the shell is not an init, so its own SIGKILL kills it.
    c = container("sh", "-c", "kill -9 $$")
    c.drop_namespace("pid")
    assert c.run().rc == 128 + 9


def test_killed_from_outside(container, rt):
    c = container("sleep", "300")

    def running():
        r = rt("state", c.id)
        return r.rc == 0 and json.loads(r.out)["status"] == "running"

    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(c.run)
        wait_for(running, what="the container to run")
        assert c.kill("KILL").rc == 0
        assert result.result(timeout=30).rc == 128 + 9


def test_stdio_pass_through(container):
    c = container("sh", "-c", "read line; echo out:$line; echo err:$line >&2")
    r = c.run(input=b"hello\n")
    assert (r.rc, r.out, r.err) == (0, "out:hello\n", "err:hello\n")


def test_run_detached(container):
    c = container("sh", "-c", "echo up; exec sleep 300")
    r = c.run("-d", "--pid-file", c.dir / "pid")
    assert r.rc == 0, r
    st = c.state()
    assert st["status"] == "running" and alive(st["pid"])
    assert (c.dir / "pid").read_text() == str(st["pid"])
    wait_for(lambda: c.output() == "up\n", what="the program's output")


def test_run_bundle_directory(container, rt):
    rt.only_pyrunc("`run DIR` (bundle directory as the only argument, its basename as id)")
    c = container("echo", "hello")
    c.write()
    r = rt("run", c.id, cwd=c.dir)  # relative path to the bundle, no config.json in cwd
    assert (r.rc, r.out) == (0, "hello\n"), r
    c.config["process"]["args"] = ["sleep", "300"]
    c.write()
    r = rt("run", "-d", c.bundle, cwd=c.dir, stdout=c.stdout, stderr=c.stderr)
    assert r.rc == 0, r
    st = c.state()
    assert (st["id"], st["bundle"], st["status"]) == (c.id, str(c.bundle), "running")
