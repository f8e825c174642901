"""/dev: the default device nodes every container gets, linux.devices, and the links programs
expect.

Inside a user namespace mknod of a device is not allowed, so the host's nodes are bind-mounted
instead (as runc does; a fifo is still made). A /dev bind-mounted by the config is left as it
is: no default node or link is made in it, and a linux.devices entry there must already exist.
"""

from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

S_IFIFO = 0o010000
S_IFCHR = 0o020000
S_IFBLK = 0o060000
# type -> file format; `u` (unbuffered character device) is a character device for mknod(2).
TYPES = {"c": S_IFCHR, "u": S_IFCHR, "b": S_IFBLK, "p": S_IFIFO}
MAX_MAJOR = 0xFFF  # the kernel's dev_t: 12 bits of major,
MAX_MINOR = 0xFFFFF  # 20 of minor
# name, major, minor: config-linux.md "Default Devices".
DEFAULT_DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
                   ("tty", 5, 0)]
LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
         ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core")]


def dev_is_bound(cfg: dict) -> bool:
    """A config that bind-mounts /dev from elsewhere keeps it as it is (the last /dev mount counts)."""
    bound = False
    for m in cfg.get("mounts") or []:
        if "/" + m.get("destination", "").strip("/") == "/dev":
            bound = m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or [])
    return bound


def _normalize(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p and p != ".")


class Device:
    """A linux.devices entry, checked."""

    def __init__(self, d: dict, where: str) -> None:
        path = d.get("path") or ""
        if not path.startswith("/"):
            raise PyruncError(f"{where}.path: {path!r} is not an absolute path")
        self.path = _normalize(path)
        if self.path in ("/", "/dev") or ".." in self.path.split("/"):
            raise PyruncError(f"{where}.path: {path!r} cannot be a device node")
        kind = d.get("type")
        if kind not in TYPES:
            raise PyruncError(f"{where}.type: unknown device type {kind!r} (c, b, u or p)")
        self.type = kind
        self.fmt = TYPES[kind]
        self.major = self.minor = 0
        if kind != "p":
            for field, top in (("major", MAX_MAJOR), ("minor", MAX_MINOR)):
                value = d.get(field)
                if value is None:
                    raise PyruncError(f"{where}.{field}: required for a {kind} device")
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                    raise PyruncError(f"{where}.{field}: {value!r} is not a device number (0 to {top})")
                setattr(self, field, value)
        mode = d.get("fileMode", 0o666)
        if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            raise PyruncError(f"{where}.fileMode: {mode!r} is not a permission mode")
        self.mode = mode
        self.uid = d.get("uid", 0)
        self.gid = d.get("gid", 0)
        self.where = where

    def numbers(self) -> str:
        return "" if self.type == "p" else f" {self.major} {self.minor}"


def plan_devices(plan: Plan, cfg: dict, rootfs: str, in_userns: bool) -> None:
    spec = [Device(d, f"linux.devices[{i}]") for i, d in enumerate((cfg.get("linux") or {}).get("devices") or [])]
    bound = dev_is_bound(cfg)
    if not bound:
        overridden = {d.path for d in spec}
        for name, major, minor in DEFAULT_DEVICES:
            path = f"/dev/{name}"
            if path in overridden:
                continue
            if in_userns:
                plan.add("rootfs", "bind_device", (rootfs, path), f"mount --bind {path} {path} (user namespace)")
            else:
                plan.add("rootfs", "mknod", (rootfs, path, S_IFCHR, major, minor, 0o666, 0, 0),
                         f"mknod {path} c {major} {minor} (0666)")
    for d in spec:
        if bound and (d.path + "/").startswith("/dev/"):
            plan.add("rootfs", "check_device", (rootfs, d.path, d.fmt, d.major, d.minor),
                     f"check that the bind-mounted {d.path} is {d.type}{d.numbers()}", d.where)
        elif in_userns and d.type != "p":
            plan.add("rootfs", "bind_device", (rootfs, d.path),
                     f"mount --bind {d.path} {d.path} (user namespace: the host's {d.type}{d.numbers()})", d.where)
        else:
            plan.add("rootfs", "mknod", (rootfs, d.path, d.fmt, d.major, d.minor, d.mode, d.uid, d.gid),
                     f"mknod {d.path} {d.type}{d.numbers()} ({d.mode:04o}, owner {d.uid}:{d.gid})", d.where)
    if not bound:
        for target, path in LINKS:
            plan.add("rootfs", "symlink", (rootfs, target, path), f"ln -s {target} {path}")
