"""Capability names to bits, and the order in which the sets are applied.

The bounding set is reduced while the init is still fully privileged; the user switch keeps
the permitted set (PR_SET_KEEPCAPS), then effective/permitted/inheritable are set in one
capset and the ambient set is raised last, as runc does.
"""

import sys

from pyrunc.errors import PyruncError
from pyrunc.posixfs import read

NAMES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
         "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
         "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
         "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
         "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
         "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
         "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
         "CAP_CHECKPOINT_RESTORE"]
BITS = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    """The highest capability this kernel knows."""
    try:
        return int(read("/proc/sys/kernel/cap_last_cap"))
    except OSError:
        return len(NAMES) - 1


def mask(names: list[str], where: str, top: int) -> int:
    """A bit mask; unknown names are an error, names the kernel lacks a warning (as in runc)."""
    bits = 0
    for i, name in enumerate(names):
        bit = BITS.get(name)
        if bit is None:
            raise PyruncError(f"{where}[{i}]: unknown capability {name!r}")
        if bit > top:
            sys.stderr.write(f"pyrunc: warning: {where}[{i}]: {name} is not supported by this kernel, ignored\n")
            continue
        bits |= 1 << bit
    return bits


def masks(caps: dict, top: int) -> dict[str, int]:
    """Every set of process.capabilities as a mask (absent sets are empty)."""
    return {s: mask(caps.get(s) or [], f"process.capabilities.{s}", top) for s in SETS}


def names(bits: int) -> str:
    return ",".join(n[4:].lower() for i, n in enumerate(NAMES) if bits >> i & 1) or "none"
