"""create / start / state / kill / delete / list, checked against /proc from outside."""

import json
import re
import time

import pytest

from pyrunc.testing.bundle import alive, wait_for

pytestmark = pytest.mark.root

ANNOTATIONS = {"org.example.key": "value", "empty": ""}
TRAPS = 'trap "echo TERM; exit" TERM; trap "echo USR1; exit" USR1; echo ready; while :; do sleep 0.1; done'


def test_create_start_kill_delete(container, rt):
    c = container("sh", "-c", "echo ran; exec sleep 300")
    pid_file = c.dir / "container.pid"
    r = c.create("--pid-file", pid_file)
    assert r.rc == 0 and not r.out, r
    st = c.state()
    assert st["status"] == "created" and st["pid"] > 0 and alive(st["pid"]), st
    assert pid_file.read_text() == str(st["pid"])  # the host pid, no newline
    time.sleep(0.3)  # time enough for a runtime that starts the program too early to show it
    assert c.output() == "", "the user program ran before start"

    r = c.start()
    assert r.rc == 0, r
    wait_for(lambda: c.output() == "ran\n", what="the program's output")
    assert (c.state()["status"], c.state()["pid"]) == ("running", st["pid"])

    assert c.kill("KILL").rc == 0
    assert c.wait_status("stopped")["pid"] == 0
    wait_for(lambda: not alive(st["pid"]), what="the container process to die")
    r = c.delete()
    assert r.rc == 0, r
    assert c.state_dir_gone()
    r = rt("state", c.id)
    assert r.rc != 0 and "does not exist" in r.err, r


def test_state_fields(container, rt):
    c = container("sleep", "300")
    c.config["annotations"] = ANNOTATIONS
    c.write()
    r = rt("create", "--bundle", c.id, c.id, cwd=c.dir)  # a relative bundle path
    assert r.rc == 0, r
    st = c.state()
    assert st["ociVersion"] and isinstance(st["ociVersion"], str)
    assert (st["id"], st["status"], st["bundle"]) == (c.id, "created", str(c.bundle))
    assert st["rootfs"] == str(c.rootfs)
    assert st["annotations"] == ANNOTATIONS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", st["created"]), st
    assert "owner" in st
    assert alive(st["pid"])


def test_list(container, rt):
    c = container("sleep", "300")
    assert c.create().rc == 0
    pid = c.state()["pid"]
    r = rt("list")
    assert r.rc == 0 and re.search(rf"^{c.id}\s+{pid}\s+created\s", r.out, re.M), r
    r = rt("list", "-q")
    assert r.rc == 0 and c.id in r.out.split(), r
    r = rt("list", "--format", "json")
    assert r.rc == 0, r
    entry = {e["id"]: e for e in json.loads(r.out)}[c.id]
    assert (entry["status"], entry["pid"], entry["bundle"]) == ("created", pid, str(c.bundle))


@pytest.mark.parametrize("signal, seen", [("KILL", ""), ("SIGKILL", ""), ("9", ""), ("TERM", "TERM\n"),
                                          ("15", "TERM\n"), ("SIGUSR1", "USR1\n"), (None, "TERM\n")])
def test_kill_signal(container, signal, seen):
    c = container("sh", "-c", TRAPS)
    pid = c.started()
    wait_for(lambda: c.output() == "ready\n", what="the traps to be set")
    r = c.kill(*[signal] if signal else [])  # no signal: TERM
    assert r.rc == 0, r
    c.wait_status("stopped")
    assert not alive(pid)
    assert c.output() == "ready\n" + seen


def test_kill_stopped_container_fails(container):
    c = container("true")
    c.started()
    c.wait_status("stopped")
    assert c.kill("KILL").rc != 0
    assert c.state()["status"] == "stopped"


def test_start_only_once(container):
    c = container("sh", "-c", "echo once; exec sleep 300")
    pid = c.started()
    wait_for(lambda: c.output() == "once\n", what="the program's output")
    r = c.start()
    assert r.rc != 0 and r.err, r
    assert c.state()["status"] == "running" and alive(pid)
    c.kill("KILL")
    c.wait_status("stopped")
    r = c.start()
    assert r.rc != 0 and r.err, r
    assert c.state()["status"] == "stopped"
    assert c.output() == "once\n"


@pytest.mark.parametrize("started", [False, True], ids=["created", "running"])
def test_delete_refuses_container_not_stopped(container, rt, started):
    """runtime.md: deleting a container that is not stopped MUST generate an error; a created one too
    (the validation suite's `delete` file), and it stays as it was, ready to start."""
    if not started:
        rt.lacks("an error on deleting a created container (it deletes it)")
    c = container("sh", "-c", "echo ran; exec sleep 300")
    assert c.create().rc == 0
    if started:
        assert c.start().rc == 0
    status = c.state()["status"]
    pid = c.state()["pid"]
    r = c.delete()
    assert r.rc != 0 and f"not stopped: {status}" in r.err and len(r.err.splitlines()) == 1, r
    assert c.state()["status"] == status and alive(pid)
    if not started:
        assert c.start().rc == 0
        wait_for(lambda: c.output() == "ran\n", what="the program's output")


@pytest.mark.parametrize("started", [False, True], ids=["created", "running"])
def test_delete_force(container, rt, started):
    c = container("sleep", "300")
    assert c.create().rc == 0
    if started:
        assert c.start().rc == 0
    pid = c.state()["pid"]
    r = c.delete("--force")
    assert r.rc == 0, r
    wait_for(lambda: not alive(pid), what="the container process to die")
    assert c.state_dir_gone()
    assert "does not exist" in rt("state", c.id).err


def test_delete_force_unknown_id(rt):
    r = rt("delete", "--force", "t-never-created")
    assert r.rc == 0, r


def test_config_without_process(container, rt):
    """config.md: process is OPTIONAL, REQUIRED only when start is called. create makes the container;
    start refuses it with a one-line error and no effect (it stays created, its init waiting); delete
    --force removes it; run refuses it up front and leaves nothing."""
    rt.lacks("a config without process (it refuses create)")
    c = container("true")
    del c.config["process"]
    r = c.create()
    assert r.rc == 0, r
    st = c.state()
    assert st["status"] == "created" and alive(st["pid"]), st
    r = c.start()
    assert r.rc != 0 and "no process" in r.err and len(r.err.splitlines()) == 1, r
    assert c.state()["status"] == "created" and alive(st["pid"])
    assert c.delete().rc != 0  # not stopped
    r = c.delete("--force")
    assert r.rc == 0, r
    wait_for(lambda: not alive(st["pid"]), what="the init to die")
    assert c.state_dir_gone()
    c2 = container("true")
    del c2.config["process"]
    r = c2.run()
    assert "process is required" in r.err
    c2.assert_refused(r, one_line=True)
