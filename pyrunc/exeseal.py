"""Is this interpreter run from the launcher's sealed view of itself (pyrunc/_shim/launcher.c)?

A process of a container can reach a copy of the runtime's /proc/<pid>/exe (an entrypoint of
/proc/self/exe needs nothing more, CVE-2019-5736). When the launcher executed the interpreter from
a detached overlayfs without an upper layer, that file cannot be opened for writing by anyone, and
the runtime has nothing to do; otherwise (pyrunc started as `python -m pyrunc.cli`, or no overlayfs)
the runtime detaches /proc/self/exe before cloning (process.plan_protect).
"""

import os

from pyrunc import native, uapi


def sealed() -> bool:
    """A host fact for the planner: overlayfs, and read-only (an overlay without an upper layer)."""
    try:
        readonly = bool(os.statvfs("/proc/self/exe").f_flag & os.ST_RDONLY)
        return readonly and native.statfs_type("/proc/self/exe") == uapi.OVERLAYFS_SUPER_MAGIC
    except OSError:
        return False
