"""The operations on an existing container: start, kill, delete, and what they share with
create (hook state, poststart/poststop hooks, the pid file). create and run are in create.py."""

import os

from pyrunc import OCI_VERSION, cgroups, jsonio, uapi
from pyrunc.errors import PyruncError
from pyrunc.state import Container


class Context:
    """Global options of the command line."""

    def __init__(self, root: str, log=None, systemd_cgroup: bool = False) -> None:
        self.root = root
        self.log = log
        self.systemd_cgroup = systemd_cgroup
        self.grace_pidfd = -1  # the task started by cgroups.grace (a child), reaped before the cgroups are made


def hook_state(cid: str, bundle: str, annotations: dict, status: str, pid: int) -> bytes:
    return jsonio.dumps({"ociVersion": OCI_VERSION, "id": cid, "status": status, "pid": pid,
                         "bundle": bundle, "annotations": annotations}).encode()


def write_pid_file(path: str, pid: int) -> None:
    """The host pid, atomically, without a trailing newline (as runc writes it)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def run_poststop(cfg_hooks: dict, state: bytes) -> None:
    """Poststop hooks only warn on failure (runtime.md step 13)."""
    if not cfg_hooks.get("poststop"):
        return
    from pyrunc import hooks

    for i, hook in enumerate(cfg_hooks.get("poststop") or []):
        try:
            hooks.run_one(hook, state, f"hooks.poststop[{i}]")
        except PyruncError as e:
            os.write(2, f"pyrunc: warning: {e}\n".encode())


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
        err = sync.start(c.dir, on_seccomp)
    except OSError as e:
        raise PyruncError(f"cannot start container {cid}: {(e.strerror or '').lower()}") from None
    if err:
        raise PyruncError(err)
    run_poststart(c)


def run_poststart(c: Container) -> None:
    """Poststart hooks; a failure stops the container and is an error (runtime.md step 9)."""
    post = (c.record.get("hooks") or {}).get("poststart") or []
    if post:
        from pyrunc import hooks

        try:
            hooks.run("poststart", post, hook_state(c.id, c.record["bundle"], c.record.get("annotations") or {},
                                                    "running", c.record["pid"]))
        except PyruncError:
            kill(c, uapi.SIGKILL)
            raise


def pause(c: Container, frozen: bool) -> None:
    """pause/resume (runc's, not the spec's): freeze or thaw the container's cgroup."""
    status = c.status()
    if frozen and status != "running":
        raise PyruncError(f"container not running: {status}")
    if not frozen and status != "paused":
        raise PyruncError(f"container not paused: {status}")
    cgroups.freeze(c.record.get("cgroups") or {}, frozen)


def kill(c: Container, sig: int, all_processes: bool = False, log=None) -> None:
    status = c.status()
    if status not in ("created", "running", "paused"):
        raise PyruncError("container not running")
    if all_processes and c.record.get("cgroups"):
        from pyrunc import killall

        killall.run(c.record["cgroups"], sig, status == "paused", log)
        return
    try:
        os.kill(c.record["pid"], sig)
    except ProcessLookupError:
        pass


def kill_and_reap(pid: int) -> None:
    """uapi.SIGKILL a child of ours and wait for it (undoing a half-made process)."""
    try:
        os.kill(pid, uapi.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def wait_gone(pid: int) -> None:
    """Wait until a process we may not be the parent of has exited."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(10_000)
    finally:
        os.close(fd)


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
    if status in ("created", "running", "paused"):
        if not own_pid_namespace(c.record["pid"]):  # the init's death would leave the others
            from pyrunc import killall

            killall.run(c.record.get("cgroups") or {}, uapi.SIGKILL, status == "paused", ctx.log)
        try:
            os.kill(c.record["pid"], uapi.SIGKILL)
        except ProcessLookupError:  # killed (and reaped) with the others just now
            pass
        if status == "paused":
            cgroups.freeze(c.record.get("cgroups") or {}, False)  # a frozen process dies once thawed
        wait_gone(c.record["pid"])
    destroy(c)


def destroy(c: Container) -> None:
    """Undo create: the cgroups, the state directory; then the poststop hooks."""
    cgroups.destroy(c.record.get("cgroups") or {}, c.record.get("cgroups_created") or [])
    if c.record.get("intel_rdt"):  # made by update --l3-cache-schema/--mem-bw-schema
        from pyrunc import resctrl

        resctrl.remove(c.record["intel_rdt"])
    c.remove()
    if c.record:
        run_poststop(c.record.get("hooks") or {}, hook_state(c.id, c.record["bundle"],
                                                             c.record.get("annotations") or {}, "stopped", 0))


