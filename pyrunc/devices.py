"""/dev: the default device nodes every container gets, and the links programs expect.

Inside a user namespace mknod is not allowed, so the host's nodes are bind-mounted instead
(as runc does).
"""

from pyrunc.steps import Plan

# name, major, minor: config-linux.md "Default Devices".
DEFAULT_DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
                   ("tty", 5, 0)]
LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
         ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core")]


def dev_is_bound(cfg: dict) -> bool:
    """A config that bind-mounts /dev from elsewhere keeps it as it is."""
    for m in cfg.get("mounts") or []:
        if m.get("destination", "").rstrip("/") == "/dev":
            return m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or [])
    return False


def plan_devices(plan: Plan, cfg: dict, rootfs: str, in_userns: bool) -> None:
    if dev_is_bound(cfg):
        return
    for name, major, minor in DEFAULT_DEVICES:
        path = f"/dev/{name}"
        if in_userns:
            plan.add("rootfs", "bind_device", (rootfs, path), f"mount --bind {path} {path} (user namespace)")
        else:
            plan.add("rootfs", "mknod", (rootfs, path, major, minor, 0o666),
                     f"mknod {path} c {major} {minor} (0666)")
    for target, path in LINKS:
        plan.add("rootfs", "symlink", (rootfs, target, path), f"ln -s {target} {path}")
