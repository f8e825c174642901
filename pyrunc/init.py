"""The container's init: the cloned child, from the new namespaces to execve.

It runs the init phases of the plan top to bottom; on any failure it sends one error line
to whoever waits for it (the runtime, or `start` after create) and exits.
"""

import os

from pyrunc import executor
from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

INIT_PHASES = ("namespaces", "rootfs", "pivot", "process", "start")


def main(plan: Plan, kernel, log=None) -> None:
    """Never returns: either execve replaces the process or it exits with status 1."""
    try:
        for phase in INIT_PHASES:
            executor.run(plan.phases[phase], kernel, log)
        raise PyruncError("execve returned")
    except BaseException as e:  # noqa: BLE001 - the init must report everything and exit
        message = e.message if isinstance(e, PyruncError) else f"init: {type(e).__name__}: {e}"
        try:
            kernel.channel.send("error", message)
        except OSError:
            os.write(2, f"pyrunc: init: {message}\n".encode())
    os._exit(1)
