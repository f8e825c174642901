"""`events` (runc's command; the spec has none): runc's JSON shape, read from the cgroup files,
once with --stats or as a stream with OOM notifications that ends when the container does."""

import json
import os
import subprocess
import time

import pytest

from conformance.test_update import cgroup_file, read, v1
from pyrunc.testing.bundle import wait_for

DATA_KEYS = {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}


def stream(rt, cid, *flags):
    """`events` running in the background, its stdout a pipe read line by line."""
    return subprocess.Popen([rt.exe, "--root", str(rt.root), "events", *flags, cid], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def next_event(proc, timeout, want=None):
    """The next line of JSON (of type `want`, skipping others) within `timeout` seconds, or None at EOF."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"no {want or 'event'} within {timeout}s")
        line = proc.stdout.readline()
        if not line:
            return None
        event = json.loads(line)
        if want is None or event["type"] == want:
            return event


@pytest.mark.root
def test_stats_once(container, rt):
    c = container("sh", "-c", "sleep 60 & sleep 60 & wait")
    pid = c.started()
    wait_for(lambda: len(cgroup_file(pid, "pids", "cgroup.procs").read_text().split()) == 3, what="3 processes")
    r = rt("events", "--stats", c.id)
    assert r.rc == 0 and not r.err, r
    lines = r.out.splitlines()
    assert len(lines) == 1, r
    event = json.loads(lines[0])
    assert (event["type"], event["id"]) == ("stats", c.id)
    data = event["data"]
    assert DATA_KEYS <= set(data), data.keys()
    assert data["pids"]["current"] == 3
    assert set(data["cpu"]) >= {"usage", "throttling"} and data["cpu"]["usage"]["total"] > 0
    usage = data["memory"]["usage"]
    assert usage["usage"] > 0 and "limit" in usage and "failcnt" in usage
    limit_file = "memory.limit_in_bytes" if v1("memory") else "memory.max"
    assert str(usage["limit"]) == read(pid, "memory", limit_file) or read(pid, "memory", limit_file) == "max"
    assert isinstance(data["memory"]["raw"], dict) and data["memory"]["raw"]
    assert isinstance(data["hugetlb"], dict) and isinstance(data["intel_rdt"], dict)
    assert data["network_interfaces"] is None


@pytest.mark.root
def test_stream_every_interval_ends_with_the_container(container, rt):
    c = container("sleep", "60")
    c.started()
    proc = stream(rt, c.id, "--interval", "200ms")
    try:
        start = time.monotonic()
        first = next_event(proc, 5, "stats")
        second = next_event(proc, 5, "stats")
        assert first["id"] == second["id"] == c.id and time.monotonic() - start >= 0.35
        assert c.kill("KILL").rc == 0
        c.wait_status("stopped")
        assert c.delete().rc == 0  # runc 1.1 ends the stream when the cgroup goes; pyrunc when the init does
        wait_for(lambda: proc.poll() is not None, 5, "the stream to end")
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.root
def test_oom_notification(container, rt):
    c = container("sh", "-c", "sleep 1; tail /dev/zero; sleep 60")
    limit = 16 << 20
    mem = {"limit": limit}
    if v1("memory") and os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        mem["swap"] = limit
    c.config["linux"]["resources"]["memory"] = mem
    c.started()
    proc = stream(rt, c.id, "--interval", "30s")
    try:
        event = next_event(proc, 15, "oom")
        assert event == {"type": "oom", "id": c.id}
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.root
def test_bad_interval_and_stopped_container(container, rt):
    c = container("true")
    c.started()
    c.wait_status("stopped")
    r = rt("events", "--stats", c.id)
    assert r.rc != 0 and "is not running" in r.err, r
    for bad in ("0s", "-1s", "soon"):
        r = rt("events", "--interval", bad, c.id)
        assert r.rc != 0 and r.err.strip(), r
    r = rt("events", "--stats", "nosuch-" + c.id)
    assert r.rc != 0 and "does not exist" in r.err, r
