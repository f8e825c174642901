"""Is this interpreter run from the launcher's sealed view of itself (pyrunc/_shim/launcher.c)?

A process of a container can reach a copy of the runtime's /proc/<pid>/exe (an entrypoint of
/proc/self/exe needs nothing more, CVE-2019-5736). When the launcher executed the interpreter from
a detached overlayfs without an upper layer, that file cannot be opened for writing by anyone, and
the runtime has nothing to do; otherwise (pyrunc started as `python -m pyrunc.cli`, or no overlayfs)
the runtime detaches /proc/self/exe before cloning (process.plan_protect).
"""

import posix  # not os: exec does not load it (posixfs.py)

from pyrunc import native, uapi


def sealed() -> bool:
    """A host fact for the planner: overlayfs, and read-only (an overlay without an upper layer)."""
    try:
        readonly = bool(posix.statvfs("/proc/self/exe").f_flag & posix.ST_RDONLY)
        return readonly and native.statfs_type("/proc/self/exe") == uapi.OVERLAYFS_SUPER_MAGIC
    except OSError:
        return False


def check_unprivileged() -> None:
    """Without privileges neither the sealed view nor the memfd is possible. The container's user
    namespace then maps only the caller's ids, so an interpreter the caller cannot write is safe
    behind non-dumpable alone; one it can write (its own copy) is refused, not exposed."""
    from pyrunc.posixfs import realpath

    exe = realpath("/proc/self/exe")
    if posix.access(exe, posix.W_OK):
        from pyrunc.errors import PyruncError

        raise PyruncError(f"the interpreter {exe} is writable by uid {posix.getuid()}, which the container's user "
                          "namespace maps: run pyrunc from an interpreter it cannot write, or as root")
