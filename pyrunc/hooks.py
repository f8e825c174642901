"""Hooks: run each program with the container state on stdin, its args, env and timeout.

posix_spawn keeps this cheap and usable from the container's init too (no Python runs in
the child); the timeout waits on a pidfd.
"""

import os
import select

from pyrunc.errors import PyruncError

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def run(kind: str, hooks: list[dict], state_json: bytes) -> None:
    """Run the hooks of one kind in order; the first failure raises naming the hook."""
    for i, hook in enumerate(hooks):
        run_one(hook, state_json, f"hooks.{kind}[{i}]")


def run_one(hook: dict, state_json: bytes, where: str) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env")
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(path, args, dict(e.split("=", 1) for e in env if "=" in e) if env is not None
                             else os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
    except OSError as e:
        os.close(r)
        os.close(w)
        raise PyruncError(f"{where}: exec {path}: {(e.strerror or '').lower()}") from None
    os.close(r)
    try:
        os.write(w, state_json)
    except BrokenPipeError:
        pass
    finally:
        os.close(w)
    status = _wait(pid, hook.get("timeout"))
    if status is None:
        raise PyruncError(f"{where}: {path} did not finish within {hook['timeout']}s: killed")
    if status != 0:
        raise PyruncError(f"{where}: {path} failed: {describe_status(status)}")


def _wait(pid: int, timeout: int | None) -> int | None:
    """The hook's wait status, or None after killing it at its timeout."""
    if timeout:
        fd = os.pidfd_open(pid)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return None
        finally:
            os.close(fd)
    return os.waitpid(pid, 0)[1]


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
