"""`kill --all` and `delete --force` reach every process of the container, found in its cgroup, also
when it shares the host's pid namespace (podman run --pid=host; stop): freeze, signal, thaw."""

import json
import time

import pytest

from conformance.test_update import cgroup_file
from pyrunc.testing.bundle import alive, wait_for

# Keeps forking: a process started between a listing and the signal would survive without the freeze.
FORKER = "while true; do sleep 300 & sleep 0.01; done"


def members(pid):
    return {int(p) for p in cgroup_file(pid, "pids", "cgroup.procs").read_text().split()}


def host_pid_container(container, script):
    c = container("sh", "-c", script)
    c.drop_namespace("pid")
    pid = c.started()
    wait_for(lambda: len(members(pid)) >= 4, what="children in the cgroup")
    return c, pid


@pytest.mark.root
def test_kill_all_host_pid_namespace(container, rt):
    c, pid = host_pid_container(container, FORKER)
    seen, procs = members(pid), cgroup_file(pid, "pids", "cgroup.procs")  # a dead pid's cgroup reads "/"
    r = rt("--debug", "kill", "--all", c.id, "KILL")
    assert r.rc == 0, r
    wait_for(lambda: not any(alive(p) for p in seen), 5, "every process seen to die")
    time.sleep(0.1)
    left = [int(p) for p in procs.read_text().split() if alive(int(p))] if procs.exists() else []
    assert not left, f"processes survived kill --all: {left}"
    if rt.name == "pyrunc":
        ops = [line.split("kill: ", 1)[1].split(" ")[0] for line in r.err.splitlines() if "kill: " in line]
        assert ops == ["freeze", "kill", "thaw"], r.err
    c.wait_status("stopped")


@pytest.mark.root
def test_kill_all_term_reaches_children(container, rt):
    """A signal other than KILL reaches every process too; the trapping init stays."""
    c, pid = host_pid_container(container, "trap : TERM; sleep 300 & sleep 300 & sleep 300 & wait; sleep 300")
    children = members(pid) - {pid}
    assert rt("kill", "--all", c.id, "TERM").rc == 0
    wait_for(lambda: not any(alive(p) for p in children), 5, "the children to die of TERM")
    assert alive(pid) and c.state()["status"] == "running"


@pytest.mark.root
def test_kill_all_paused_container(container, rt):
    """A paused container stays paused for a signal it cannot act on, and dies of KILL."""
    c, pid = host_pid_container(container, "sleep 300 & sleep 300 & sleep 300 & wait")
    seen = members(pid)
    assert rt("pause", c.id).rc == 0
    assert rt("kill", "--all", c.id, "CONT").rc == 0
    if rt.name != "runc":  # runc 1.1's signalAllProcesses thaws a paused container (not followed)
        assert c.state()["status"] == "paused"
    assert rt("kill", "--all", c.id, "KILL").rc == 0
    wait_for(lambda: not any(alive(p) for p in seen), 5, "a paused container to die of KILL")


@pytest.mark.root
def test_delete_force_host_pid_namespace(container, rt):
    c, pid = host_pid_container(container, FORKER)
    seen = members(pid)
    r = c.delete("--force")
    assert r.rc == 0, r
    wait_for(lambda: not any(alive(p) for p in seen), 5, "every process seen to die")
    assert rt("state", c.id).rc != 0


def ps_pids(rt, cid):
    r = rt("ps", "--format", "json", cid)
    assert r.rc == 0, r
    return set(json.loads(r.out) or ())


@pytest.mark.root
def test_ps_and_kill_all_reach_what_a_stopped_container_left(container, rt):
    """runc's Processes and Signal(all) read the cgroup, not the init: once a container sharing the
    host's pid namespace has stopped, its init gone, `ps` still lists the processes it left in its
    cgroup and `kill --all` still reaches them; `kill` without --all says it is not running."""
    c = container("sh", "-c", "sleep 300 & sleep 300 & sleep 0.3")
    c.drop_namespace("pid")
    pid = c.started()
    wait_for(lambda: len(members(pid)) >= 3, what="the two sleeps in the cgroup")
    left = members(pid) - {pid}
    c.wait_status("stopped")
    assert all(alive(p) for p in left)
    assert ps_pids(rt, c.id) == left
    r = rt("kill", c.id, "KILL")
    assert r.rc != 0 and "not running" in r.err, r
    r = rt("kill", "--all", c.id, "KILL")
    assert r.rc == 0, r
    wait_for(lambda: not any(alive(p) for p in left), 5, "what the container left to die")
    wait_for(lambda: not ps_pids(rt, c.id), 5, "an empty cgroup")
    assert rt("ps", "--format", "json", c.id).out == "null\n"  # runc's encoding of no pids


@pytest.mark.root
def test_kill_paused_container_init(container, rt):
    """KILL to a paused container's init (no --all) thaws it so that it dies, as runc's Signal does."""
    c = container("sleep", "300")
    pid = c.started()
    assert rt("pause", c.id).rc == 0
    assert rt("kill", c.id, "KILL").rc == 0
    wait_for(lambda: not alive(pid), 5, "a paused init to die of KILL")
    c.wait_status("stopped")
