"""A read-only tmpfs /dev with devpts, shm and mqueue below it: the children are mounted and the device
nodes made first, then /dev is remounted read-only (runc's finalizeRootfs)."""

import pytest

pytestmark = pytest.mark.root

SCRIPT = """
touch /dev/new 2>/dev/null && echo dev-writable || echo dev-ro
touch /dev/shm/x && echo shm-rw
echo hi > /dev/null && echo null-ok
grep -E ' /dev(/pts|/shm|/mqueue)? ' /proc/self/mountinfo | awk '{print $5, $6}' | sed 's/,.*//'
"""


def test_read_only_dev_tmpfs(container):
    c = container("sh", "-c", SCRIPT)
    dev = next(m for m in c.config["mounts"] if m["destination"] == "/dev")
    dev["options"].append("ro")
    r = c.run()
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[:3] == ["dev-ro", "shm-rw", "null-ok"], r
    assert sorted(lines[3:]) == ["/dev ro", "/dev/mqueue rw", "/dev/pts rw", "/dev/shm rw"], r


def test_read_only_dev_with_a_terminal(container, rt):
    """/dev/console is made in /dev before it becomes read-only."""

    c = container("sh", "-c", "test -c /dev/console && touch /dev/y 2>/dev/null || echo ro-with-console")
    c.config["process"]["terminal"] = True
    next(m for m in c.config["mounts"] if m["destination"] == "/dev")["options"].append("ro")
    assert c.terminal_output() == "ro-with-console\n"
