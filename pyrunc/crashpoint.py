"""Named points where the runtime kills itself, for tests of what a crash leaves behind.

`PYRUNC_CRASH_AT=<point>` (set only by tests) makes the process that reaches that point SIGKILL itself
there, as an operator's `kill -9` or the OOM killer would. Every step is a point before and after
itself (`before:<op>`, `after:<op>`), in whichever process performs it: the runtime for its phases, the
container's init for the init's. Moments that are not steps are `at:<name>` (POINTS lists them).
`<point>#<n>` dies the n-th time the point is reached (`at:cgroup_made#3`: after the third directory).
A crash is no privilege: the caller could kill its own runtime anyway.

Callers test `crashpoint.AT` before calling reached(): one environment lookup at import, then one
attribute read per point on the hot path."""

import posix  # not os (posixfs.py)

from pyrunc import uapi

# The points that are not steps: (name, command, when the process dies there).
POINTS = (
    ("at:cgroups_recorded", "create", "the record naming the cgroups is saved; none is made yet"),
    ("at:cgroup_made", "create", "after each cgroup directory create makes (#n: the n-th)"),
    ("at:created_saved", "create", "the final record (with the init's pid) is saved; create has not replied"),
    ("at:start_connected", "start", "connected to the start socket, which still exists"),
    ("at:start_socket_removed", "start", "the start socket is removed; the init has not been told"),
    ("at:start_sent", "start", "the init has been told to start; its reply is not read"),
    ("at:exec_started", "exec", "the exec'd process runs; its pid file is not written"),
    ("at:state_unlinked", "delete", "the state directory's files are removed, the directory is not"),
)

AT = (posix.environ.get(b"PYRUNC_CRASH_AT") or b"").decode(errors="surrogateescape") or None
_point, _, _nth = (AT or "").partition("#")
_left = int(_nth) if _nth.isdigit() else 1


def reached(point: str) -> None:
    """Die here if the tests asked for this point (and this is the n-th time it is reached)."""
    global _left
    if point == _point:
        _left -= 1
        if _left <= 0:
            posix.kill(posix.getpid(), uapi.SIGKILL)  # not signal's: it imports enum on every command
            posix._exit(128 + uapi.SIGKILL)  # pid 1 of its namespace ignores its own SIGKILL: die as abruptly
