"""The runtime signals only processes it started itself.

`create` and `run` kill the task that started the kernel's cgroup grace period (pyrunc/cgroups/grace.py),
whose pid the C launcher passes in PYRUNC_GRACE_PID. The variable comes through the caller's environment,
so pyrunc must check that the pid is its own child before it signals it.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pyrunc.testing.bundle import alive

pytestmark = pytest.mark.root


def attack(rt, victim: int, direct: bool):
    """`run -b /nonexistent x` (fails at once, after the grace task is ended) with PYRUNC_GRACE_PID set
    to `victim`. `direct` starts pyrunc.cli from the venv's interpreter, as a caller without the C
    launcher would (the launcher overwrites the variable with its own task's pid when it starts one)."""
    env = dict(os.environ, PYRUNC_GRACE_PID=str(victim))
    if direct:
        python = Path(rt.exe).parent / "python"
        cmd = [str(python), "-c", "from pyrunc.cli import run; run()", "--root", str(rt.root),
               "run", "-b", "/nonexistent", "x"]
        r = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, timeout=30)
        return r.returncode, r.stderr
    r = rt("run", "-b", "/nonexistent", "x", env=env, cwd="/")
    return r.rc, r.err


def still_alive(pid: int) -> bool:
    time.sleep(0.3)  # the grace task is ended before the command exits; leave a margin anyway
    return alive(pid)


@pytest.mark.parametrize("direct", [True, False], ids=["pyrunc.cli", "launcher"])
def test_grace_pid_of_a_stranger_is_not_signalled(rt, direct):
    """No CVE number: a confused-deputy kill (CWE-441) by an unverified pid, the reason runc and crun
    signal through pidfds of their own children. The attack: a caller's environment names a process
    the runtime did not start (here a `sleep` owned by the test) as PYRUNC_GRACE_PID, and runs a
    command that ends the grace task. The victim must survive. Control: the same victim dies to a
    plain SIGKILL from the test, so it was killable and `alive` sees the difference."""
    if direct and rt.name != "pyrunc":
        pytest.skip(f"pyrunc.cli is pyrunc's own; {rt.name} is run through its command only")
    victim = subprocess.Popen(["sleep", "60"])
    try:
        rc, err = attack(rt, victim.pid, direct)
        assert rc != 0 and "nonexistent" in err, err  # the command really ran and failed as meant
        assert still_alive(victim.pid), "the runtime killed a process it did not start"
        assert victim.poll() is None
    finally:
        victim.send_signal(signal.SIGKILL)  # the control: the victim is killable
        victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL


def test_grace_pid_of_another_container_is_not_signalled(rt, container):
    """As above (no CVE; CWE-441), aimed at a container's init: PYRUNC_GRACE_PID names the init of a
    created container that a different `create` started, and a failing `run` is given it. The init
    must still be alive and the container still `created`. Control: `kill KILL` of that container
    stops its init, so it could die."""
    c = container("true")
    r = c.create()
    assert r.rc == 0, r
    pid = c.state()["pid"]
    for direct in ([True, False] if rt.name == "pyrunc" else [False]):
        rc, err = attack(rt, pid, direct)
        assert rc != 0, err
        assert still_alive(pid), "the runtime killed another container's init"
        assert c.state()["status"] == "created"
    assert c.kill("KILL").rc == 0
    c.wait_status("stopped")
