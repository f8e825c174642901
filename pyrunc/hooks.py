"""Hooks: run each program with the container state on stdin, its args, env and timeout.

posix_spawn keeps this cheap and usable from the container's init too (no Python runs in
the child); the timeout waits on a pidfd. Under the container's seccomp filter (startContainer
without noNewPrivileges) neither is used: glibc's posix_spawn calls clone3 and gives up on any
error but ENOSYS, and a profile need not allow clone3 or pidfd_open (the validation suite's and
Docker's do not), so the hook is forked (clone) and its timeout polled with waitpid.
"""

import os
import select

from pyrunc.errors import PyruncError

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def run(kind: str, hooks: list[dict], state_json: bytes, filtered: bool = False) -> None:
    """Run the hooks of one kind in order; the first failure raises naming the hook."""
    for i, hook in enumerate(hooks):
        run_one(hook, state_json, f"hooks.{kind}[{i}]", filtered)


def run_one(hook: dict, state_json: bytes, where: str, filtered: bool = False) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env")
    environ = dict(e.split("=", 1) for e in env if "=" in e) if env is not None else os.environ
    r, w = os.pipe()
    try:
        pid = _fork_exec(path, args, environ, r) if filtered else os.posix_spawn(
            path, args, environ, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
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
    status = (_poll_wait if filtered else _wait)(pid, hook.get("timeout"))
    if status is None:
        raise PyruncError(f"{where}: {path} did not finish within {hook['timeout']}s: killed")
    if status != 0:
        raise PyruncError(f"{where}: {path} failed: {describe_status(status)}")


def _fork_exec(path: str, args: list[str], environ, stdin: int) -> int:
    """fork, stdin from `stdin`, execve; an exec failure comes back as OSError through a
    close-on-exec pipe (as posix_spawn reports it)."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rd)
            os.dup2(stdin, 0)
            os.execve(path, args, environ)
        except OSError as e:
            os.write(wr, str(e.errno or 0).encode())
        finally:
            os._exit(127)
    os.close(wr)
    with os.fdopen(rd, "rb") as f:
        failed = f.read()
    if failed:
        os.waitpid(pid, 0)
        err = int(failed)
        raise OSError(err, os.strerror(err))
    return pid


def _poll_wait(pid: int, timeout: int | None) -> int | None:
    """_wait without a pidfd: waitpid(WNOHANG) every 10 ms until the timeout."""
    import time

    deadline = time.monotonic() + timeout if timeout else None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.01)


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
