"""A runtime killed at any named point of create, start, exec or delete: `delete --force ID` and `list`
leave the host exactly as before (no state, cgroup in any hierarchy, mount or process).

PYRUNC_CRASH_AT (pyrunc/crashpoint.py) makes the process reaching a point SIGKILL itself there; every
step is a point before and after itself, and the moments between steps are `at:` points. The lists
below are checked against what `explain` shows for the same config, so a new step is a new point."""

import json
import os
import random
import signal
import subprocess
import time

import pytest

from pyrunc.crashpoint import POINTS
from pyrunc.testing.bundle import alive, wait_for

from .stress import assert_gone, rounds

# The steps of create for the tests' config, by the process performing them (explain's `process`).
RUNTIME_STEPS = ("listen_start", "create_cgroups", "protect_exe", "clone", "enter_cgroup", "release_init")
INIT_STEPS = ("close_inherited_fds", "await_release", "link_up", "sethostname", "join_session_keyring", "mount",
              "mount_at", "bind_mount", "mknod", "symlink", "pivot_root", "mask_path", "readonly_path",
              "home_from_passwd", "setrlimit", "drop_bounding", "chdir_before_user", "set_user", "capset",
              "raise_ambient", "chdir", "no_new_privs", "lookup", "clear_pdeathsig", "signal_ready")
EXEC_RUNTIME_STEPS = ("protect_exe", "join_pid_namespace", "fork")
EXEC_PROCESS_STEPS = ("close_inherited_fds", "enter_cgroups", "join_namespaces", "join_session_keyring",
                      "home_from_passwd", "setrlimit", "drop_bounding", "chdir_before_user", "set_user", "capset",
                      "raise_ambient", "chdir", "no_new_privs", "lookup", "clear_pdeathsig", "execve")
DELETE_STEPS = ("kill", "wait_gone", "remove_cgroups", "remove_state")
AT = {name: command for name, command, _ in POINTS}


def _points(steps, *names):
    return [f"{w}:{op}" for op in steps for w in ("before", "after")] + list(names)


# (command, point, who dies: the runtime itself or the container's process)
CASES = (
    [("create", p, "runtime") for p in _points(RUNTIME_STEPS, "at:cgroups_recorded", "at:cgroup_made",
                                                "at:cgroup_made#4", "at:cgroup_made#9", "at:created_saved")]
    + [("create", p, "init") for p in _points(INIT_STEPS)]
    + [("start", p, "runtime") for p in ("at:start_connected", "at:start_socket_removed", "at:start_sent")]
    + [("start", "before:execve", "init")]
    + [("exec", p, "runtime") for p in _points(EXEC_RUNTIME_STEPS, "at:exec_started")]
    + [("exec", p, "init") for p in _points(EXEC_PROCESS_STEPS) if p != "after:execve"]
    + [("delete", p, "runtime") for p in _points(DELETE_STEPS, "at:state_unlinked") if p != "after:remove_state"]
)
ROUNDS = rounds(1, 5)


def _crash_env(point):
    return os.environ | {"PYRUNC_CRASH_AT": point}


def _container(container, tag="crash"):
    """A container whose cgroups sit below a parent that create makes (and delete removes: runc leaves
    its parents, so with runc the container's cgroup is made directly below the root)."""
    c = container("sleep", "100")
    path = f"/{c.id}-{tag}/{c.id}" if c.rt.name == "pyrunc" else f"/{c.id}"
    c.config["linux"]["cgroupsPath"] = path
    return c, path


def test_every_step_and_point_is_covered(container, rt):
    """What `explain` shows for the tests' config (create, delete, and exec) is the list above, and
    every `at:` point of pyrunc/crashpoint.py is in CASES."""
    rt.only_pyrunc("crash points")
    c, _ = _container(container)
    c.write()
    r = rt("explain", "--format", "json", c.bundle)
    assert r.rc == 0, r
    steps = json.loads(r.out)["steps"]
    by = lambda proc, phases: {s["op"] for s in steps if s["process"] == proc and s["phase"] in phases}  # noqa: E731
    assert by("runtime", {"runtime", "clone", "parent"}) == set(RUNTIME_STEPS)
    assert by("init", {"namespaces", "rootfs", "pivot", "process"}) == set(INIT_STEPS)
    assert {s["op"] for s in steps if s["phase"] == "delete"} <= set(DELETE_STEPS)
    assert c.create().rc == 0
    r = rt("explain", "--exec", "--format", "json", c.id, "true")
    assert r.rc == 0, r
    steps = json.loads(r.out)["steps"]
    assert {s["op"] for s in steps if s["phase"] != "before" and s["process"] == "runtime"} == set(EXEC_RUNTIME_STEPS)
    assert {s["op"] for s in steps if s["process"] == "process"} == set(EXEC_PROCESS_STEPS)
    covered = {p.partition("#")[0] for _, p, _ in CASES}
    assert set(AT) <= covered


@pytest.mark.root
@pytest.mark.parametrize("command,point,dies", CASES, ids=[f"{c}-{p}" for c, p, _ in CASES])
def test_killed_at_point_then_delete_force_leaves_nothing(container, rt, command, point, dies):
    rt.only_pyrunc("crash points (PYRUNC_CRASH_AT)")
    for _ in range(ROUNDS):
        c, path = _container(container)
        env = _crash_env(point)
        if command == "create":
            r = c.create(env=env)
        else:
            assert c.create().rc == 0
            if command == "start":
                r = c.start(env=env)
            elif command == "exec":
                assert c.start().rc == 0
                r = rt("exec", "--pid-file", c.dir / f"{c.id}.exec.pid", c.id, "sleep", "100", env=env)
            else:
                assert c.start().rc == 0
                r = c.delete("--force", env=env)
        if dies == "runtime":
            assert r.rc == -signal.SIGKILL, f"{point} was not reached: {r}"
        elif command == "exec":  # the process died before its execve: exec reports its status, 128+9
            assert r.rc == 128 + signal.SIGKILL and "internal error" not in r.err, r
        elif r.rc != 0:  # the container's process died there: the runtime says so in one line
            assert len(r.err.strip().splitlines()) == 1 and "internal error" not in r.err, r
        else:  # only once it had reported ready (or, in start, past the point of reporting)
            assert point == "after:signal_ready" or command == "start", r
        assert_gone(rt, c, path)


@pytest.mark.root
def test_killed_at_random_moments_of_create(container, rt):
    """The issue's case: SIGKILL from outside at a random moment of create (0-80 ms in, where the
    cgroups are made), then delete --force: no cgroup survives in any hierarchy."""
    rt.lacks("a delete --force that removes the cgroups of a create killed while making them (runc issue 4534: "
             "runc 1.1.5 leaves one behind here)")
    rng = random.Random(20)
    for i in range(rounds(8, 40)):
        c, path = _container(container, f"r{i}")
        c.write()
        p = subprocess.Popen([rt.exe, "--root", str(rt.root), "create", "--bundle", str(c.bundle), c.id],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.08))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert_gone(rt, c, path)


@pytest.mark.root
def test_init_dying_before_start(container, rt):
    """The init killed from outside while created: state says stopped, start fails in one line, delete
    (without --force) removes everything."""
    c, path = _container(container)
    assert c.create().rc == 0
    pid = c.state()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid))
    c.wait_status("stopped")
    r = c.start()
    assert r.rc != 0 and len(r.err.strip().splitlines()) == 1, r
    r = c.delete()
    assert r.rc == 0, r
    assert_gone(rt, c, path)


@pytest.mark.root
def test_full_state_filesystem(container, rt, tmp_path):
    """A state root on a full tmpfs: create fails with one line naming the problem, and nothing is left
    (no cgroup made before the record could be written)."""
    root = tmp_path / "full"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", root], check=True)
    try:
        filler = root / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        c, path = _container(container)
        c.write()
        r = rt("--root", root, "create", "--bundle", c.bundle, c.id)
        # rt passes its own --root first; the last --root wins in pyrunc and runc alike
        assert r.rc != 0, r
        if rt.name == "pyrunc":  # runc 1.1.5: "unable to store init state: %!w(<nil>)"
            assert len(r.err.strip().splitlines()) == 1 and "internal error" not in r.err, r
            assert "no space left on device" in r.err, r
        assert not (root / c.id).exists()
        filler.unlink()
        assert rt("--root", root, "delete", "--force", c.id).rc == 0
        assert_gone(rt, c, path)
    finally:
        subprocess.run(["umount", "-l", root], check=False)


@pytest.mark.root
@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_hanging_past_its_timeout(container, rt, kind):
    """A hook that never ends is killed at its timeout: create fails in one line, and delete --force
    and list find nothing left, its cgroups included (tests/conformance/test_hooks.py: the hook's own
    process is gone too)."""
    c, path = _container(container)
    c.hook(kind, "/bin/sh", ["sh", "-c", "exec sleep 600"], timeout=1)
    r = c.create(timeout=60)
    assert r.rc != 0, r
    if rt.name == "pyrunc":
        assert len(r.err.strip().splitlines()) == 1 and "did not finish within 1s" in r.err, r
    assert_gone(rt, c, path)
