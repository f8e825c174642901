"""pause and resume (runc's commands, not the spec's; clients such as podman rely on them):
the container's processes are frozen in their cgroup, state says paused, and they go on after."""

import time

import pytest

from pyrunc.testing.bundle import proc_status


@pytest.mark.root
def test_pause_resume(container, rt):
    c = container("sh", "-c", "while true; do echo tick >> /tmp/ticks; sleep 0.05; done")
    c.config["root"]["readonly"] = False
    pid = c.started()
    r = rt("pause", c.id)
    assert r.rc == 0, r
    assert c.state()["status"] == "paused"
    time.sleep(0.2)
    state_letter = proc_status(open(f"/proc/{pid}/status").read())["State"]
    ticks = (c.rootfs / "tmp/ticks").read_text().count("tick")
    time.sleep(0.3)
    assert (c.rootfs / "tmp/ticks").read_text().count("tick") == ticks, "a paused container went on"
    assert state_letter.startswith(("S", "D", "T")), state_letter
    assert rt("pause", c.id).rc != 0  # already paused
    r = rt("delete", c.id)
    assert r.rc != 0 and "not stopped" in r.err, r
    r = rt("resume", c.id)
    assert r.rc == 0, r
    assert c.state()["status"] == "running"
    time.sleep(0.3)
    assert (c.rootfs / "tmp/ticks").read_text().count("tick") > ticks
    assert rt("resume", c.id).rc != 0  # not paused


@pytest.mark.root
def test_delete_force_paused(container, rt):
    c = container("sleep", "60")
    c.started()
    assert rt("pause", c.id).rc == 0
    r = c.delete("--force")
    assert r.rc == 0, r
    assert rt("state", c.id).rc != 0
