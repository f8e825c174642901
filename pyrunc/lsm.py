"""SELinux and AppArmor: linux.mountLabel, process.selinuxLabel and process.apparmorProfile.

Imported only for a config that sets one of them (by the planner, in the runtime, so the init
finds it loaded). The init first checks that the host has the module enabled: a label that
cannot be applied is an error naming the field, never silently dropped (runc ignores them on
a host without the module). Then:
- mountLabel: `context="<label>"` in the data of the mounts that take it (mounts.py), the
  label as the security.selinux attribute of an mqueue mount, and on masked directories;
- selinuxLabel: written to /proc/thread-self/attr/exec, the label the next execve takes;
- apparmorProfile: `exec <profile>` written to /proc/thread-self/attr/apparmor/exec (or the
  older /proc/thread-self/attr/exec), the profile the next execve enters.
Both are written after pivot_root, through the procfs handle the runtime opened before clone
(procfs.py), and before the user and capabilities change, as runc does.
"""

import posix

from pyrunc import paths, procfs
from pyrunc.errors import PyruncError
from pyrunc.posixfs import exists, isdir
from pyrunc.steps import Plan

NAMES = {"selinux": "SELinux", "apparmor": "AppArmor"}


def selinux_enabled() -> bool:
    """selinuxfs mounted where libselinux looks for it."""
    return exists("/sys/fs/selinux/enforce")


def apparmor_enabled() -> bool:
    """runc's apparmor.IsEnabled: securityfs has apparmor and the module parameter says Y."""
    if not isdir("/sys/kernel/security/apparmor"):
        return False
    try:
        with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
            return f.read(1) == b"Y"
    except OSError:
        return False


def plan_checks(plan: Plan, cfg: dict) -> None:
    """One check per module the config needs, before the first mount."""
    proc = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    wanted: dict[str, list[str]] = {}
    if linux.get("mountLabel"):
        wanted.setdefault("selinux", []).append("linux.mountLabel")
    if proc.get("selinuxLabel"):
        wanted.setdefault("selinux", []).append("process.selinuxLabel")
    if proc.get("apparmorProfile"):
        wanted.setdefault("apparmor", []).append("process.apparmorProfile")
    for lsm, fields in wanted.items():
        plan.add("rootfs", "check_lsm", (lsm, ",".join(fields)),
                 f"check that the host has {NAMES[lsm]} enabled", ",".join(fields))


def plan_exec_labels(plan: Plan, proc: dict) -> None:
    """What the program's execve will enter: before the user and capabilities change."""
    if proc.get("apparmorProfile"):
        profile = proc["apparmorProfile"]
        plan.add("process", "set_exec_label", ("apparmor", profile),
                 f"write 'exec {profile}' to /proc/thread-self/attr/apparmor/exec", "process.apparmorProfile")
    if proc.get("selinuxLabel"):
        label = proc["selinuxLabel"]
        plan.add("process", "set_exec_label", ("selinux", label),
                 f"write {label!r} to /proc/thread-self/attr/exec", "process.selinuxLabel")


def check(lsm: str, fields: str) -> None:
    enabled = selinux_enabled() if lsm == "selinux" else apparmor_enabled()
    if not enabled:
        where = "/sys/fs/selinux" if lsm == "selinux" else "/sys/kernel/security/apparmor"
        raise PyruncError(f"{fields}: {NAMES[lsm]} is not enabled on this host (no {where})")


def set_exec_label(lsm: str, label: str) -> None:
    """Through the runtime's procfs handle (procfs.py): after pivot_root the container's /proc
    is the container's to fake, and a label written to a file that is not procfs is lost."""
    if lsm == "selinux":
        procfs.write("thread-self/attr/exec", label)
        return
    try:
        procfs.write("thread-self/attr/apparmor/exec", f"exec {label}")
    except FileNotFoundError:
        procfs.write("thread-self/attr/exec", f"exec {label}")


def set_file_label(rootfs: str, dest: str, label: str) -> None:
    fd = paths.open_in_root(rootfs, dest)
    try:
        posix.setxattr(paths.fd_path(fd), "security.selinux", label.encode())
    finally:
        posix.close(fd)
