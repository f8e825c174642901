"""The container's init: the cloned child, from the new namespaces to execve.

It runs the init phases of the plan top to bottom; on any failure it sends one error line
to whoever waits for it (the runtime, or `start` after create) and exits.
"""

import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)
import sys

from pyrunc import executor
from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

INIT_PHASES = ("namespaces", "rootfs", "pivot", "process", "start")


class Lifecycle:
    """The init's steps that belong to the container's lifecycle, not to the kernel layer: the
    hooks it runs itself and the ones it asks the runtime for; every other step goes on to the
    kernel object."""

    def __init__(self, kernel, cfg: dict, hook_state) -> None:
        self.kernel = kernel
        self.cfg = cfg
        self.hook_state = hook_state

    def request_hooks(self) -> None:
        """The runtime runs prestart and createRuntime hooks now, in its own namespaces."""
        self.kernel.channel.send("hooks")
        self.kernel.channel.expect("hooks-done")

    def run_hooks(self, kind: str, filtered: bool = False, cwd: str = "") -> None:
        """createContainer and startContainer, in the container's namespaces; the state is
        `created` for both (runtime.md: the environment exists after its step 2). `filtered`: a
        seccomp filter is loaded (hooks.run_one). With `cwd` the hooks start there and the init
        comes back to where it was (createContainer: the rootfs, as runc does)."""
        back = posix.open(".", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC) if cwd else -1
        try:
            if cwd:
                posix.chdir(cwd)
            hooks = sys.modules["pyrunc.hooks"]  # imported before clone (kernel.preload): the init never imports
            hooks.run(kind, (self.cfg.get("hooks") or {}).get(kind) or [], self.hook_state("created", posix.getpid()),
                      filtered)
        finally:
            if back >= 0:
                posix.fchdir(back)
                posix.close(back)

    def __getattr__(self, op: str):
        return getattr(self.kernel, op)


def main(plan: Plan, kernel, log=None, cfg: dict | None = None, hook_state=None) -> None:
    """Never returns: either execve replaces the process or it exits with status 1."""
    target = Lifecycle(kernel, cfg or {}, hook_state)
    try:
        for phase in INIT_PHASES:
            executor.run(plan.phases[phase], target, log)
        raise PyruncError("execve returned")
    except BaseException as e:  # noqa: BLE001 - the init must report everything and exit
        message = e.message if isinstance(e, PyruncError) else f"init: {type(e).__name__}: {e}"
        if len(message) > 2000:  # one datagram the runtime reads whole (sync.py), whatever the config held
            message = f"{message[:1200]} ... {message[-600:]}"
        try:
            kernel.channel.send("error", message)
        except OSError:
            posix.write(2, f"pyrunc: init: {message}\n".encode())
    posix._exit(1)
