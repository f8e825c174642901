"""exec's runc flags and exit codes: --cgroup (sub-cgroups, v1 and v2), --ignore-paused, 255 when exec
itself fails, and a cwd the user cannot enter (tried before and after the user switch, as runc does)."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from pyrunc.testing.bundle import alive, wait_for

pytestmark = pytest.mark.root


def running(container, *args):
    c = container(*(args or ("sleep", "1000")))
    return c, c.started()


def cgroup_dirs(pid):
    """hierarchy (its /proc/<pid>/cgroup controllers field; "" for cgroup2) -> the process's directory,
    found from the mounts (runtime-independent: the state files differ between pyrunc and runc)."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, superopts = right.split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            mounts.append((fstype, set(superopts.split(",")), left.split()[3], left.split()[4]))
    dirs = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for fstype, opts, root, point in mounts:
            if (fstype == "cgroup2") == (ctrls == "") and set(filter(None, ctrls.split(","))) <= opts:
                rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
                dirs[ctrls] = os.path.normpath(os.path.join(point, rel))
                break
    return dirs


def make_sub(dirs, name):
    """Sub-cgroups the exec'd process can join; a v1 cpuset needs cpus and mems first."""
    made = []
    for d in dirs.values():
        sub = Path(d, name)
        sub.mkdir(exist_ok=True)
        made.append(sub)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if (sub / f).exists():
                (sub / f).write_text(Path(d, f).read_text())
    return made


def remove(subs):
    for sub in subs:
        wait_for(lambda s=sub: not (s / "cgroup.procs").read_text().strip(), what=f"{sub} empty")
        sub.rmdir()


def exec_detached(rt, container, c, *flags):
    pid_file = container.dir / "exec.pid"
    r = rt("exec", "-d", "--pid-file", pid_file, *flags, c.id, "sleep", "1000")
    return r, (int(pid_file.read_text()) if r.rc == 0 else 0)


def stop(c, *pids):
    c.kill("KILL")
    c.wait_status("stopped")
    for pid in pids:
        wait_for(lambda p=pid: not alive(p), what=f"exec'd {pid} gone")


def test_exec_cgroup_path_joins_every_hierarchy(container, rt):
    """`--cgroup sub` (no controller): the sub-cgroup in every v1 hierarchy and in the cgroup2 one."""
    c, init = running(container)
    dirs = cgroup_dirs(init)
    subs = make_sub(dirs, "sub")
    try:
        r, pid = exec_detached(rt, container, c, "--cgroup", "sub")
        assert r.rc == 0, r
        now = cgroup_dirs(pid)
        assert now == {k: f"{v}/sub" for k, v in dirs.items()}, now
        assert "" in now or not any(m.split()[0] == "cgroup2" for m in Path("/proc/mounts").read_text()), "v2 seen"
        stop(c, pid)
    finally:
        c.kill("KILL")
        remove(subs)


def test_exec_born_in_the_cgroup2_directory(container, rt):
    """Where there is a cgroup2 hierarchy, pyrunc's exec'd process is born in the container's directory
    there (clone3 with CLONE_INTO_CGROUP, as create's init) and joins the v1 ones; runc 1.1 migrates."""
    c, init = running(container)
    dirs = cgroup_dirs(init)
    if "" not in dirs:
        pytest.skip("no cgroup2 hierarchy on this host")
    r = rt("--debug", "exec", c.id, "cat", "/proc/self/cgroup")
    assert r.rc == 0, r
    lines = dict(line.split(":", 2)[1:] for line in r.out.splitlines())
    assert lines[""] == Path(f"/proc/{init}/cgroup").read_text().split("0::")[1].splitlines()[0], r.out
    if rt.name == "pyrunc":
        assert "CLONE_INTO_CGROUP" in r.err and "echo 0 > " + dirs[""] not in r.err, r.err
    c.kill("KILL")


def test_exec_cgroup_per_controller(container, rt):
    """`--cgroup memory,pids:sub`: those hierarchies move to the sub-cgroup, the others stay."""
    c, init = running(container)
    dirs = cgroup_dirs(init)
    subs = make_sub({k: v for k, v in dirs.items() if k in ("memory", "pids")}, "sub")
    if len(subs) != 2:
        pytest.skip("needs v1 memory and pids hierarchies")
    try:
        r, pid = exec_detached(rt, container, c, "--cgroup", "memory,pids:sub")
        assert r.rc == 0, r
        now = cgroup_dirs(pid)
        assert now == {k: f"{v}/sub" if k in ("memory", "pids") else v for k, v in dirs.items()}, now
        stop(c, pid)
    finally:
        c.kill("KILL")
        remove(subs)


@pytest.mark.parametrize("flags, words", [
    (("--cgroup", "../.."), "not a sub cgroup path"),
    (("--cgroup", "no-such-controller:sub"), "unknown controller no-such-controller"),
    (("--cgroup", "a", "--cgroup", "b"), "missing <controller>: prefix"),
    (("--cgroup", "memory:a", "--cgroup", "memory:b"), "controller memory specified multiple times"),
    (("--cgroup", "no-such-sub"), ""),
])
def test_exec_cgroup_refused(container, rt, flags, words):
    if "multiple" in words:
        rt.lacks("the check for a controller named twice in --cgroup (runc 1.2's getSubCgroupPaths)")
    c, init = running(container)
    r = rt("exec", *flags, c.id, "true")
    assert r.rc == 255 and len(r.err.strip().splitlines()) == 1 and words in r.err, r
    assert Path(f"/proc/{init}/task/{init}/children").read_text().split() == [], "a process was left behind"
    c.kill("KILL")


def test_exec_paused_needs_ignore_paused(container, rt):
    c, init = running(container)
    assert rt("pause", c.id).rc == 0
    r = rt("exec", c.id, "true")
    assert r.rc == 255 and "cannot exec in a paused container (use --ignore-paused to override)" in r.err, r
    out = container.dir / "exec.out"
    proc = subprocess.Popen([rt.exe, "--root", rt.root, "exec", "--ignore-paused", c.id, "echo", "hello"],
                            stdout=open(out, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        assert c.state()["status"] == "paused", "exec --ignore-paused resumed the container"
        assert rt("resume", c.id).rc == 0
        assert proc.wait(timeout=20) == 0, out.read_text()
        assert out.read_text() == "hello\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    c.kill("KILL")


def test_exec_unwritable_pid_file_exits_255(container, rt):
    """runc kills the process and exits 255 with `exec failed: open ...: no such file or directory`."""
    c, init = running(container)
    r = rt("exec", "-d", "--pid-file", container.dir / "no-such-dir" / "exec.pid", c.id, "sleep", "1000")
    assert r.rc == 255, r
    assert len(r.err.strip().splitlines()) == 1 and "exec failed" in r.err, r
    assert "no such file or directory" in r.err and "internal error" not in r.err, r
    wait_for(lambda: Path(f"/proc/{init}/task/{init}/children").read_text().split() == [],
             what="the exec'd process killed")
    c.kill("KILL")


def test_exec_user_into_a_cwd_only_root_can_enter(container, rt):
    """runc chdirs before the user switch: uid 1000 starts in root's 0700 directory."""
    c = container("sleep", "1000")
    (c.rootfs / "private").mkdir(mode=0o700)
    c.started()
    r = rt("exec", "--user", "1000:1000", "--cwd", "/private", c.id, "sh", "-c", "pwd; id -u; ls . || echo no")
    assert r.rc == 0, r
    assert r.out.splitlines()[:2] == ["/private", "1000"], r
    assert r.out.splitlines()[-1] == "no", "the user itself cannot read it"
    c.kill("KILL")


def test_init_user_into_a_cwd_only_root_can_enter(container, rt):
    c = container("sh", "-c", "pwd; id -u")
    (c.rootfs / "private").mkdir(mode=0o700)
    c.config["process"]["cwd"] = "/private"
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = c.run()
    assert r.rc == 0, r
    assert r.out == "/private\n1000\n", r


def test_init_cwd_only_the_user_can_enter(container, rt):
    """In a user namespace, a directory of the user's whose group is not mapped: the container's root
    cannot enter it (its capabilities do not apply to the inode), the user can, after the switch."""
    c = container("sh", "-c", "pwd; id -u")
    c.user_namespace()
    c.config["process"]["cwd"] = "/mine"
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    mine = c.rootfs / "mine"
    mine.mkdir(mode=0o700)
    os.chown(mine, 101000, 0)  # owner: the container's 1000; group: the host's root, unmapped
    for p in (c.bundle, c.rootfs):
        p.chmod(0o755)
    r = c.run()
    assert r.rc == 0, r
    assert r.out == "/mine\n1000\n", r


def test_exec_missing_cwd(container, rt):
    c, _ = running(container)
    r = rt("exec", "--cwd", "/no/such/dir", c.id, "true")
    assert r.rc == 255 and len(r.err.strip().splitlines()) == 1, r
    err = r.err.replace('\\"', '"')  # runc's text log escapes the quotes
    assert 'chdir to cwd ("/no/such/dir") set in config.json failed: no such file or directory' in err, r
    c.kill("KILL")
