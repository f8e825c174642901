"""Named points where the runtime kills itself, for tests of what a crash leaves behind.

`PYRUNC_CRASH_AT=<point>` (set only by tests) makes the process that reaches that point SIGKILL itself
there, as an operator's `kill -9` or the OOM killer would. Every step is a point before and after
itself (`before:<op>`, `after:<op>`), in whichever process performs it: the runtime for its phases, the
container's init for the init's. A crash is no privilege: the caller could kill its own runtime anyway."""

import os

from pyrunc import uapi

AT = os.environ.get("PYRUNC_CRASH_AT")


def reached(point: str) -> None:
    """Die here if the tests asked for this point."""
    if AT == point:
        os.kill(os.getpid(), uapi.SIGKILL)  # not signal's: it imports enum on every command
