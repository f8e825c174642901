"""The operations on an existing container: start, kill, delete, and what they share with
create (hook state, poststart/poststop hooks, the pid file). create and run are in create.py."""

import posix

from pyrunc import OCI_VERSION, jsonio, uapi
from pyrunc.commands import Context  # the command line's global options (commands._ctx)
from pyrunc.errors import PyruncError
from pyrunc.posixfs import isdir
from pyrunc.state import Container

TYPE_CHECKING = False  # typing itself is not imported on the hot path
if TYPE_CHECKING:
    from pyrunc.steps import Plan


def hook_state(cid: str, bundle: str, annotations: dict, status: str, pid: int) -> bytes:
    return jsonio.dumps({"ociVersion": OCI_VERSION, "id": cid, "status": status, "pid": pid,
                         "bundle": bundle, "annotations": annotations}).encode()


def write_pid_file(path: str, pid: int) -> None:
    """The host pid, atomically, without a trailing newline (as runc writes it)."""
    tmp = f"{path}.{posix.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    posix.replace(tmp, path)


def run_poststop(cfg_hooks: dict, state: bytes) -> None:
    """Poststop hooks only warn on failure (runtime.md step 13)."""
    if not cfg_hooks.get("poststop"):
        return
    from pyrunc import hooks

    for i, hook in enumerate(cfg_hooks.get("poststop") or []):
        try:
            hooks.run_one(hook, state, f"hooks.poststop[{i}]")
        except PyruncError as e:
            posix.write(2, f"pyrunc: warning: {e}\n".encode())


def start(ctx: Context, cid: str) -> None:
    c = Container(ctx.root, cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    c.load()
    status = c.status()
    if status != "created":
        raise PyruncError(f"cannot start a container in the {status} state")
    if "exec" in c.record and c.record["exec"].get("process") is None:
        raise PyruncError(f"cannot start container {cid}: its config.json has no process (config.md: REQUIRED "
                          "when start is called); it stays created until delete --force")
    from pyrunc import sync

    def on_seccomp(fd: int) -> None:  # the filter came last (no_new_privs): its listener fd
        from pyrunc import seccomp

        r = c.record
        state = {"ociVersion": OCI_VERSION, "id": cid, "status": "created", "pid": r["pid"], "bundle": r["bundle"],
                 "annotations": r.get("annotations") or {}}
        seccomp.handover((r.get("exec") or {}).get("seccomp") or {}, fd, r["pid"], state)

    try:
        err = sync.start(c.dir, on_seccomp, early=not (c.record.get("hooks") or {}).get("poststart"))
    except OSError as e:
        raise PyruncError(f"cannot start container {cid}: {(e.strerror or '').lower()}") from None
    if err:
        raise PyruncError(err)
    run_poststart(c, ctx.log)


def plan_poststart(hooks_cfg: dict) -> "Plan":
    """`start` (and `run`), once the program runs: the poststart hooks."""
    from pyrunc.steps import Plan  # start and kill without hooks load no steps

    plan = Plan()
    if hooks_cfg.get("poststart"):
        plan.add("started", "run_poststart", (), "run the poststart hooks; a failure stops the container",
                 "hooks.poststart")
    return plan


class Started:
    """Performs plan_poststart's step."""

    def __init__(self, c: Container) -> None:
        self.c = c

    def run_poststart(self) -> None:
        """A failure stops the container and is an error (runtime.md step 9)."""
        from pyrunc import hooks

        r = self.c.record
        try:
            hooks.run("poststart", (r.get("hooks") or {}).get("poststart") or [],
                      hook_state(self.c.id, r["bundle"], r.get("annotations") or {}, "running", r["pid"]))
        except PyruncError:
            kill(self.c, uapi.SIGKILL)
            raise


def run_poststart(c: Container, log=None) -> None:
    if not (c.record.get("hooks") or {}).get("poststart"):
        return  # nothing to perform: `start` then never imports the executor
    from pyrunc import executor

    executor.run(plan_poststart(c.record.get("hooks") or {}).phases["started"], Started(c), log)


def pause(c: Container, frozen: bool) -> None:
    """pause/resume (runc's, not the spec's): freeze or thaw the container's cgroup."""
    status = c.status()
    if frozen and status != "running":
        raise PyruncError(f"container not running: {status}")
    if not frozen and status != "paused":
        raise PyruncError(f"container not paused: {status}")
    from pyrunc import cgroups

    cgroups.freeze(c.record.get("cgroups") or {}, frozen)


def kill(c: Container, sig: int, all_processes: bool = False, log=None) -> None:
    """runc's Signal: --all reaches every process in the cgroup, also those a stopped container left
    behind (its init gone, in the host's pid namespace); otherwise the init only, and a paused
    container is thawed for KILL (a frozen v1 task dies only once thawed)."""
    status = c.status()
    paths = c.record.get("cgroups") or {}
    if all_processes and paths and status != "creating":
        from pyrunc import killall

        if status == "stopped" and not any(isdir(d) for d in paths.values()):
            return  # as runc: nothing left to signal
        killall.run(paths, sig, status == "paused", log)
        return
    if status not in ("created", "running", "paused"):
        raise PyruncError("container not running")
    if all_processes and not paths:  # rootless without a cgroup: what its pid namespace holds (ps.py)
        from pyrunc.ps import namespace_pids

        for pid in namespace_pids(c.record["pid"]):
            try:
                posix.kill(pid, sig)
            except ProcessLookupError:
                pass
        return
    try:
        posix.kill(c.record["pid"], sig)
    except ProcessLookupError:
        pass
    if status == "paused" and sig == uapi.SIGKILL and paths:
        from pyrunc import killall

        killall.thaw(paths, log)


def kill_and_reap(pid: int) -> None:
    """SIGKILL a child of ours and wait for it (undoing a half-made process)."""
    try:
        posix.kill(pid, uapi.SIGKILL)
        posix.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def wait_gone(pid: int) -> None:
    """Wait until a process we may not be the parent of has exited."""
    import select

    try:
        fd = posix.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(10_000)
    finally:
        posix.close(fd)


def own_pid_namespace(pid: int) -> bool:
    """The init is pid 1 of its pid namespace: its death ends every process of the container."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return line.split()[-1] == "1"
    except OSError:
        pass
    return False


def delete(ctx: Context, cid: str, force: bool) -> None:
    c = Container(ctx.root, cid)
    if not c.exists():
        if force:
            return
        raise PyruncError(f"container {cid} does not exist")
    c.load()
    status = c.status()
    # runtime.md: deleting a container that is not stopped MUST generate an error (runc 1.1.5 deletes a
    # created one; the spec wins). --force is the way to delete it anyway.
    if status != "stopped" and not force:
        raise PyruncError(f"cannot delete container {cid} that is not stopped: {status}")
    live = status in ("created", "running", "paused")
    destroy(c, ctx.log, status if live else "stopped", live and not own_pid_namespace(c.record["pid"]))


def plan_teardown(record: dict, status: str = "stopped", shared_pid_ns: bool = False) -> "Plan":
    """delete's steps (and run's, once its container has exited): stop what still runs, then undo
    create: the cgroups, an Intel RDT group, the state directory; then the poststop hooks."""
    from pyrunc.steps import Plan

    plan = Plan()
    pid = record.get("pid", 0)
    if status != "stopped":
        if shared_pid_ns:  # the init's death would leave the others
            plan.add("delete", "kill_all", (status == "paused",), "freeze, SIGKILL every process in the "
                     "container's cgroups, thaw: it shares a pid namespace")
        plan.add("delete", "kill", (pid,), f"kill({pid}, SIGKILL)")
        if status == "paused":
            plan.add("delete", "thaw", (), "thaw the container's cgroups: a frozen process dies once thawed")
        plan.add("delete", "wait_gone", (pid,), f"wait until {pid} has exited")
    if record.get("systemd_unit"):
        user = bool(record.get("systemd_user"))
        bus = "the user's session bus" if user else "D-Bus"
        plan.add("delete", "stop_unit", (record["systemd_unit"], user),
                 f"StopUnit {record['systemd_unit']} over {bus}, wait for its JobRemoved, ResetFailedUnit",
                 "linux.cgroupsPath")
    if record.get("cgroups_created"):
        plan.add("delete", "remove_cgroups", (), "SIGKILL what is left in the container's cgroups, remove them "
                 "and the empty parents create made", "linux.cgroupsPath", tuple(record["cgroups_created"]))
    if record.get("intel_rdt"):
        plan.add("delete", "remove_rdt", (record["intel_rdt"],), f"rmdir {record['intel_rdt']}", "linux.intelRdt")
    if record.get("network"):
        from pyrunc import network

        network.plan_teardown(plan, record)
    plan.add("delete", "remove_state", (), "remove the container's state directory")
    if (record.get("hooks") or {}).get("poststop"):
        plan.add("delete", "run_poststop", (), "run the poststop hooks (a failure only warns)", "hooks.poststop")
    return plan


class Teardown:
    """Performs plan_teardown's steps."""

    def __init__(self, c: Container) -> None:
        self.c = c
        self.record = c.record or {}

    def kill_all(self, paused: bool) -> None:
        from pyrunc import killall

        killall.run(self.record.get("cgroups") or {}, uapi.SIGKILL, paused, None)

    def kill(self, pid: int) -> None:
        try:
            posix.kill(pid, uapi.SIGKILL)
        except ProcessLookupError:  # killed (and reaped) with the others just now
            pass

    def thaw(self) -> None:
        from pyrunc import cgroups

        cgroups.freeze(self.record.get("cgroups") or {}, False)

    def wait_gone(self, pid: int) -> None:
        wait_gone(pid)

    def stop_unit(self, name: str, user: bool = False) -> None:
        from pyrunc.cgroups import systemd_dbus

        manager = systemd_dbus.Manager(user)
        try:
            manager.stop_unit(name)
        finally:
            manager.close()

    def remove_cgroups(self) -> None:
        from pyrunc import cgroups

        cgroups.destroy(self.record.get("cgroups") or {}, self.record.get("cgroups_created") or [])

    def remove_rdt(self, path: str) -> None:
        from pyrunc import resctrl

        resctrl.remove(path)

    def net_release(self) -> None:
        from pyrunc import netops

        netops.NetOps(self.c.dir.rpartition("/")[0], self.c.id, self.record).perform("net_release")()

    def remove_state(self) -> None:
        self.c.remove()

    def run_poststop(self) -> None:
        r = self.record
        run_poststop(r.get("hooks") or {}, hook_state(self.c.id, r["bundle"], r.get("annotations") or {}, "stopped", 0))


def destroy(c: Container, log=None, status: str = "stopped", shared_pid_ns: bool = False) -> None:
    """Undo create (plan_teardown), each step logged by --debug as it is performed."""
    from pyrunc import executor

    executor.run(plan_teardown(c.record or {}, status, shared_pid_ns).phases["delete"], Teardown(c), log)
