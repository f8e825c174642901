"""Limits before set-up: the container's init is in its cgroups before it does anything inside the
container, so the pids and memory limits bound its whole set-up, not only the program it execs.

Cgroup membership is inherited at fork and not moved with a parent that migrates later: a process the
init starts before it is placed (a hook, a second stage) stays outside the container's limits for good.
"""

import resource
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from pyrunc.testing.runtime import Result

pytestmark = pytest.mark.root


def v1_mount(controller: str) -> str | None:
    """The mount point of a v1 hierarchy holding `controller`, or None (then the test skips)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fs = right.split()
        if fs and fs[0] == "cgroup" and controller in fs[2].split(","):
            return left.split()[4]
    return None


def cgroup_line(text: str, controller: str) -> str:
    """The path of `controller`'s hierarchy in /proc/<pid>/cgroup text."""
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise AssertionError(f"no {controller} line in {text!r}")


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def limited(container, pids_max: int, record: Path, join_ipc: int = 0, hooks: bool = True):
    """A container whose pids cgroup allows `pids_max` tasks, with a cgroupsPath of its own and two
    hooks run during its set-up: createRuntime (the runtime, outside) copies /proc/<init>/cgroup to
    record/runtime and its oom_score_adj (process.oomScoreAdj 500) to record/oom; createContainer
    (a child the init forks in the container's namespaces) copies its own /proc/self/cgroup to
    record/container without forking. No cgroup mount and no cgroup namespace: nothing in the
    config makes the init need its cgroups before the hook runs."""
    c = container("true")
    c.config["mounts"] = [m for m in c.config["mounts"] if m["type"] != "cgroup"]
    if join_ipc:
        c.namespace("ipc", f"/proc/{join_ipc}/ns/ipc")
    c.config["linux"]["cgroupsPath"] = f"/sec-limits-{c.id}"
    c.config["linux"]["resources"]["pids"] = {"limit": pids_max}
    c.config["linux"]["resources"]["memory"] = {"limit": 256 << 20}
    record.mkdir(exist_ok=True)
    c.config["process"]["oomScoreAdj"] = 500
    outside = script(c.dir / f"{c.id}-runtime.sh",
                     f'pid=$(sed -n \'s/.*"pid": *\\([0-9]*\\).*/\\1/p\'); cat /proc/$pid/cgroup > {record}/runtime\n'
                     f'cat /proc/$pid/oom_score_adj > {record}/oom\n')
    inside = script(c.dir / f"{c.id}-container.sh",  # shell builtins only: no fork of its own
                    f'while IFS= read -r l; do echo "$l"; done < /proc/self/cgroup > {record}/container\n')
    if hooks:
        c.hook("createRuntime", outside)
        c.hook("createContainer", inside)
    return c


def test_init_and_its_set_up_children_are_in_the_container_cgroups(container, rt):
    """No CVE number: the resource-exhaustion class runc closes by placing its init (runc init, before
    nsexec forks its stages) into the cgroups first (CWE-770). The attack: work the container's set-up
    does (a createContainer hook forked by the init inside the container's namespaces) would run outside
    the pids and memory limits if the init were placed late. Checked: the hook process itself, and the
    init seen from outside by a createRuntime hook, are in the container's pids and memory cgroups,
    and the init's oom_score_adj is already the config's (pyrunc wrote it after the hooks before).
    Control: the test's own process is in another cgroup, so the comparison can fail."""
    if not (v1_mount("pids") and v1_mount("memory")):
        pytest.skip("needs v1 pids and memory hierarchies")
    record = container.dir / "record"
    c = limited(container, 8, record)
    r = c.create()
    assert r.rc == 0, r
    want = c.config["linux"]["cgroupsPath"]
    mine = Path("/proc/self/cgroup").read_text()
    for controller in ("pids", "memory"):
        assert cgroup_line(mine, controller) != want  # the control
        for who in ("runtime", "container"):
            assert cgroup_line((record / who).read_text(), controller) == want, (who, controller)
    assert (record / "oom").read_text().strip() == "500"


def test_init_is_placed_before_its_first_set_up_step(container, rt):
    """As above (no CVE; CWE-770), read from pyrunc's own `--debug` log, where the runtime and the init
    each log a step as they perform it: every `cgroup.procs` write and the release of the init come
    before the init's first step. The old design (clone, then create and join the cgroups while the
    init set up) logged init steps first. Closing its inherited fds and waiting for the release are
    no set-up: the init may do them while it is placed (plan.plan_await_release). Control: the log
    holds both kinds of lines."""
    rt.only_pyrunc("the --debug step log")
    log = container.dir / "debug.log"
    c = container("true")
    c.write()
    r = c.rt("--debug", "--log", log, "create", "--bundle", c.bundle, c.id)
    assert r.rc == 0, r
    lines = [line for line in log.read_text().splitlines()
             if ("parent: " in line and ("cgroup.procs" in line or "let the init go on" in line))
             or (any(f"{phase}: " in line for phase in ("namespaces", "rootfs", "pivot", "process"))
                 and not any(before in line for before in ("close every fd", "wait until the runtime lets")))]
    parent = [i for i, line in enumerate(lines) if "parent: " in line]
    init = [i for i, line in enumerate(lines) if i not in parent]
    assert parent and init, log.read_text()  # the control
    assert max(parent) < min(init), "\n".join(lines)


def test_pids_limit_bounds_the_set_up(container, rt):
    """No CVE number (CWE-770, as above). The attack: the init's set-up forks: the container joins an
    existing namespace (the ipc namespace of a `sleep` the test owns) and has a new pid namespace, so
    the first child forks the real init after its joins. With the container's pids.max at 1 (v1)
    that fork must fail, because the first child already counts against the limit (pyrunc used to
    place only the second, after that fork). Control: the same container with a pids.max that leaves
    room for the runtime's own set-up processes is created, and a createContainer hook the init
    forks ran inside the cgroup."""
    if not v1_mount("pids"):
        pytest.skip("needs a v1 pids hierarchy")
    record = container.dir / "record"
    owner = subprocess.Popen(["sleep", "60"])
    try:
        room = 3 if rt.name == "pyrunc" else 16  # runc's nsexec stages and Go threads count too
        ok = limited(container, room, record, join_ipc=owner.pid)
        r = ok.create()
        assert r.rc == 0, r
        assert cgroup_line((record / "container").read_text(), "pids") == ok.config["linux"]["cgroupsPath"]
        if rt.name == "runc":
            pytest.skip("runc 1.1 places its init early but writes the limits (manager.Set) only at "
                        "procHooks/procReady, after nsexec's forks and the mounts: pids.max does not bound them")
        tight = limited(container, 1, record, join_ipc=owner.pid, hooks=False)
        r = tight.create()
        tight.assert_refused(r)
    finally:
        owner.kill()
        owner.wait()


def limits_of(pid: int) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/limits as {name: (soft, hard)}."""
    rows = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        rows[name] = (soft, hard)
    return rows


def lowered(rt, *args):
    """The runtime run with its soft RLIMIT_NOFILE lowered to 256 (its hard limit kept): the
    container's limits must then be raised, not inherited. Output goes to files, not pipes, which
    a created container would hold open."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    cmd = [rt.exe, "--root", str(rt.root), *map(str, args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        rc = subprocess.run(cmd, stdout=out, stderr=err, timeout=60, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))).returncode
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read().decode(), err.read().decode())


def test_rlimits_of_a_user_namespace_container_are_set_from_outside(container, rt):
    """No CVE number: runc sets rlimits from the parent (setupRlimits on the child's pid) because
    "we lose permissions to raise the limits once we enter a user-namespace"; pyrunc's init asks the
    runtime to prlimit it, and an exec'd process sets them before it joins the user namespace. The
    container (a new user namespace) raises its soft RLIMIT_NOFILE above the runtime's (256) and
    RLIMIT_CORE above 0, both below the host's hard limits (this host lacks CAP_SYS_RESOURCE, so no
    hard limit can go higher); /proc/<pid>/limits of the init and of an exec'd process is read from
    outside. Control: a hard limit one above the host's is refused with EPERM, evidence the runtime
    really tried to raise it (only the missing CAP_SYS_RESOURCE stops it); nothing is left behind."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = min(4096, hard)
    c = container("sleep", "1000")
    c.user_namespace()
    c.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": want, "hard": want},
                                      {"type": "RLIMIT_CORE", "soft": 1 << 20, "hard": 1 << 20}]
    c.write()
    r = lowered(rt, "create", "--bundle", c.bundle, c.id)
    assert r.rc == 0, r
    pid_file = container.dir / "exec.pid"
    assert c.start().rc == 0
    r = lowered(rt, "exec", "-d", "--pid-file", pid_file, c.id, "sleep", "1000")
    assert r.rc == 0, r
    for pid in (c.state()["pid"], int(pid_file.read_text())):
        limits = limits_of(pid)
        assert limits["Max open files"] == (str(want), str(want)), pid
        assert limits["Max core file size"] == (str(1 << 20), str(1 << 20)), pid
    c.kill("KILL")

    above = container("true")
    above.user_namespace()
    above.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": hard + 1}]
    above.write()
    r = lowered(rt, "create", "--bundle", above.bundle, above.id)
    assert "operation not permitted" in r.err.lower(), r
    if rt.name == "pyrunc":
        assert "prlimit(<pid>, RLIMIT_NOFILE" in r.err, r
    above.assert_refused(r)
