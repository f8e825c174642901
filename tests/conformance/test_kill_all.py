"""`kill --all` and `delete --force` reach every process of the container, found in its cgroup, also
when it shares the host's pid namespace (podman run --pid=host; stop): freeze, signal, thaw."""

import time

import pytest

from conformance.bundle import alive, wait_for
from conformance.test_update import cgroup_file

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
