"""Start the kernel's cgroup-migration grace period at once, so it passes while pyrunc works.

The first write to any cgroup.procs after an idle spell waits an RCU grace period (8-20 ms on
this kernel: cgroup_threadgroup_rwsem enters rcu_sync), and the rwsem is global, so the
migrations that follow within a grace period are fast. Measured here, that wait was over
half of a `create` (the init was ready 3 ms after clone, then waited 16 ms for its cgroups).
runc hides it behind its init's start-up; pyrunc instead starts it first thing in create and
run (and exec): a task of the shim writes the runtime's own pid into the cgroup it is already in (a
no-op migration) while the runtime loads its modules and plans. The runtime ends the task
right before it creates the container's cgroups (its repeated migrations would contend with
those writes), then clones the init and writes it into them: these migrations come well within
one grace period of the task's last, so they take the fast path, before the init runs at all.
exec ends it right before it forks the process that enters the container's cgroups.
"""

import posix  # not os: exec does not load it (pyrunc/posixfs.py)
import sys

ROOT = "/sys/fs/cgroup"
origin = ""  # who started the task start() returned: "launcher" or "runtime" (a step of the plan says so)


def own_procs_file(self_cgroup: str, root: str = ROOT) -> str | None:
    """cgroup.procs of the cgroup this process is in, in the first hierarchy that has one."""
    from pyrunc.posixfs import exists, normpath

    for line in self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2]
        for d in (("unified", "") if not controllers else (controllers.removeprefix("name="),)):
            candidate = normpath(f"{root}/{d}/{path}") + "/cgroup.procs"
            if exists(candidate):
                return candidate
    return None


def start() -> int:
    """A pidfd of the task making the no-op migration, or -1 when there is nothing to write.
    The C launcher (pyrunc/_shim/launcher.c) has usually started it already, before the
    interpreter, and passes its pid in PYRUNC_GRACE_PID: only a child of this process is
    taken from there (own_child), so the variable cannot make pyrunc signal anyone else.
    PYRUNC_NO_GRACE in the environment: none (the launcher has not started one either)."""
    global origin
    started = _take_env("PYRUNC_GRACE_PID")
    if b"PYRUNC_NO_GRACE" in posix.environ:  # the bench's A/B of this helper (tests/bench.py --grace-ab)
        return -1
    if started.isdigit():
        origin = "launcher"
        return own_child(int(started))
    try:
        with open("/proc/self/cgroup") as f:
            procs = own_procs_file(f.read())
        if procs is None:
            return -1
        from pyrunc import native

        origin = "runtime"
        return own_child(native.write_async(procs, "0"))
    except OSError:
        return -1


def _take_env(name: str) -> str:
    """os.environ.pop(name, ""), also when os is not loaded: then from posix's copy (from which
    os.environ would be made) and the process's own environment."""
    if "os" in sys.modules:
        return sys.modules["os"].environ.pop(name, "")
    posix.unsetenv(name)
    return posix.environ.pop(name.encode(), b"").decode(errors="surrogateescape")


def own_child(pid: int) -> int:
    """A pidfd of `pid` if that process is this one's child, else -1. The pidfd pins the process
    (a reused pid is another process), and waitid on it fails with ECHILD for a non-child."""
    try:
        fd = posix.pidfd_open(pid)
    except OSError:
        return -1
    try:
        posix.waitid(posix.P_PIDFD, fd, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
    except OSError:
        posix.close(fd)
        return -1
    return fd


def stop(pidfd: int) -> None:
    """Tell the task to end, without waiting for it (finish reaps it)."""
    if pidfd < 0:
        return
    import _signal

    try:
        _signal.pidfd_send_signal(pidfd, 9)
    except ProcessLookupError:
        pass


def finish(pidfd: int, wait: bool = True) -> None:
    """End and reap the task (the launcher's repeats its migration until it is told to stop).
    Without `wait` (a command failing early) it may still be in its first, unkillable write:
    it is then left to finish on its own rather than delaying the error by a grace period."""
    if pidfd < 0:
        return
    stop(pidfd)
    try:
        posix.waitid(posix.P_PIDFD, pidfd, posix.WEXITED | (0 if wait else posix.WNOHANG))
    except ChildProcessError:
        pass
    posix.close(pidfd)
