"""A terminal for a user other than root: the pty is the user's, in the devpts mount's tty group (runc's
fixStdioPermissions changes only the owner), for the init and for `exec -t`."""

import pytest

from pyrunc.testing.console import ConsoleReader

pytestmark = pytest.mark.root

SHOW = 'stat -c "%u:%g" $(tty); id -u'


def test_init_terminal_belongs_to_the_user(container, rt):
    c = container("sh", "-c", SHOW)
    c.config["process"]["terminal"] = True
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    assert c.terminal_output() == "1000:5\n1000\n"


def test_exec_terminal_belongs_to_the_user(container, rt):
    c = container("sleep", "1000")
    c.started()
    sock = container.dir / "exec.sock"
    reader = ConsoleReader(sock)
    r = rt("exec", "-t", "-d", "--console-socket", sock, "--user", "1000:1000", c.id, "sh", "-c", SHOW)
    assert r.rc == 0, r
    assert reader.text() == "1000:5\n1000\n"
    c.kill("KILL")


def test_root_terminal_unchanged(container, rt):
    c = container("sh", "-c", SHOW)
    c.config["process"]["terminal"] = True
    assert c.terminal_output() == "0:5\n0\n"
