"""The root filesystem: propagation, the config's mounts in order, pivot_root, masks.

Every path is a container path; the kernel layer resolves it inside the rootfs so that a
symlink in the image never leads a mount or a mkdir out to the host.
"""

from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

# option -> (clear, set): mount(8)'s flag options.
FLAG_OPTIONS = {
    "ro": (0, MS_RDONLY), "rw": (MS_RDONLY, 0),
    "nosuid": (0, MS_NOSUID), "suid": (MS_NOSUID, 0),
    "nodev": (0, MS_NODEV), "dev": (MS_NODEV, 0),
    "noexec": (0, MS_NOEXEC), "exec": (MS_NOEXEC, 0),
    "sync": (0, MS_SYNCHRONOUS), "async": (MS_SYNCHRONOUS, 0),
    "dirsync": (0, MS_DIRSYNC), "remount": (0, MS_REMOUNT),
    "mand": (0, MS_MANDLOCK), "nomand": (MS_MANDLOCK, 0),
    "atime": (MS_NOATIME, 0), "noatime": (0, MS_NOATIME),
    "diratime": (MS_NODIRATIME, 0), "nodiratime": (0, MS_NODIRATIME),
    "relatime": (0, MS_RELATIME), "norelatime": (MS_RELATIME, 0),
    "strictatime": (0, MS_STRICTATIME), "nostrictatime": (MS_STRICTATIME, 0),
    "bind": (0, MS_BIND), "rbind": (0, MS_BIND | MS_REC),
    "silent": (0, MS_SILENT), "loud": (MS_SILENT, 0),
    "nosymfollow": (0, MS_NOSYMFOLLOW), "symfollow": (MS_NOSYMFOLLOW, 0),
}
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
_FLAG_TEXT = [(MS_RDONLY, "ro"), (MS_NOSUID, "nosuid"), (MS_NODEV, "nodev"), (MS_NOEXEC, "noexec"),
              (MS_NOATIME, "noatime"), (MS_RELATIME, "relatime"), (MS_STRICTATIME, "strictatime"),
              (MS_BIND, "bind"), (MS_REC, "rec"), (MS_REMOUNT, "remount"), (MS_PRIVATE, "private"),
              (MS_SLAVE, "slave"), (MS_SHARED, "shared"), (MS_UNBINDABLE, "unbindable")]


def flags_text(flags: int, data: str = "") -> str:
    words = [name for bit, name in _FLAG_TEXT if flags & bit]
    if data:
        words.append(data)
    return ",".join(words)


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data string) from a mount's options."""
    flags = 0
    prop = 0
    data = []
    for opt in options:
        if opt in FLAG_OPTIONS:
            clear, set_ = FLAG_OPTIONS[opt]
            flags = (flags & ~clear) | set_
        elif opt in PROPAGATION:
            prop = PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def plan_rootfs(plan: Plan, cfg: dict, rootfs: str, cgroup_dirs: dict[str, str]) -> None:
    """Everything done in the new mount namespace before pivot_root."""
    linux = cfg.get("linux") or {}
    prop_name = linux.get("rootfsPropagation")
    prop = PROPAGATION.get(prop_name or "rslave")
    if prop is None:
        raise PyruncError(f"linux.rootfsPropagation: unknown propagation {prop_name!r}")
    plan.add("rootfs", "mount", (None, "/", None, MS_SLAVE | MS_REC, None),
             "mount --make-rslave / (nothing propagates back to the host)")
    plan.add("rootfs", "mount", (rootfs, rootfs, None, MS_BIND | MS_REC, None),
             f"mount --rbind {rootfs} {rootfs} (the rootfs becomes a mount point)", "root.path")
    for i, m in enumerate(cfg.get("mounts") or []):
        plan_mount(plan, m, f"mounts[{i}]", rootfs, cgroup_dirs)
    if prop_name and prop & (MS_SHARED | MS_PRIVATE | MS_UNBINDABLE):
        plan.add("rootfs", "mount", (None, rootfs, None, prop, None),
                 f"mount --make-{prop_name} {rootfs}", "linux.rootfsPropagation")


def plan_mount(plan: Plan, m: dict, where: str, rootfs: str, cgroup_dirs: dict[str, str]) -> None:
    dest = m.get("destination", "")
    if not dest.startswith("/"):
        raise PyruncError(f"{where}.destination: {dest!r} is not an absolute path")
    fstype = m.get("type") or ""
    options = m.get("options") or []
    flags, prop, data = parse_options(options)
    source = m.get("source") or fstype
    is_bind = bool(flags & MS_BIND) or fstype == "bind"
    if fstype == "cgroup" or fstype == "cgroup2":
        plan_cgroup_mount(plan, dest, flags, where, rootfs, cgroup_dirs)
    elif is_bind:
        plan.add("rootfs", "bind_mount", (source, rootfs, dest, flags & (MS_BIND | MS_REC) | MS_BIND),
                 f"mount --{'rbind' if flags & MS_REC else 'bind'} {source} {dest}", where)
        rest = flags & ~(MS_BIND | MS_REC)
        if rest:
            plan.add("rootfs", "mount_at", (None, rootfs, dest, None, MS_BIND | MS_REMOUNT | rest, None),
                     f"remount {dest} ({flags_text(rest)})", where)
    else:
        plan.add("rootfs", "mount_at", (source, rootfs, dest, fstype, flags, data or None),
                 f"mount -t {fstype} {source} {dest}" + (f" ({flags_text(flags, data)})" if flags or data else ""),
                 where)
    if prop:
        plan.add("rootfs", "mount_at", (None, rootfs, dest, None, prop, None),
                 f"mount --make-{flags_text(prop)} {dest}", where)


def plan_cgroup_mount(plan: Plan, dest: str, flags: int, where: str, rootfs: str,
                      cgroup_dirs: dict[str, str]) -> None:
    """The container's own cgroups at `dest`: a tmpfs of bind mounts on v1, one bind on v2."""
    locked = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    if list(cgroup_dirs) == [""]:
        host_dir = cgroup_dirs[""]
        plan.add("rootfs", "bind_mount", (host_dir, rootfs, dest, MS_BIND), f"mount --bind {host_dir} {dest}", where)
        if locked:
            plan.add("rootfs", "mount_at", (None, rootfs, dest, None, MS_BIND | MS_REMOUNT | locked, None),
                     f"remount {dest} ({flags_text(locked)})", where)
        return
    plan.add("rootfs", "mount_at", ("tmpfs", rootfs, dest, "tmpfs", flags & ~MS_RDONLY, "mode=755"),
             f"mount -t tmpfs tmpfs {dest} (mode=755)", where)
    for name, host_dir in cgroup_dirs.items():
        sub = f"{dest.rstrip('/')}/{name}"
        plan.add("rootfs", "bind_mount", (host_dir, rootfs, sub, MS_BIND), f"mount --bind {host_dir} {sub}", where)
        if locked:
            plan.add("rootfs", "mount_at", (None, rootfs, sub, None, MS_BIND | MS_REMOUNT | locked, None),
                     f"remount {sub} ({flags_text(locked)})", where)
    if flags & MS_RDONLY:
        plan.add("rootfs", "mount_at", (None, rootfs, dest, None, MS_REMOUNT | MS_RDONLY | (flags & ~MS_RDONLY),
                                        "mode=755"), f"remount {dest} (ro)", where)


def plan_pivot(plan: Plan, rootfs: str, no_pivot: bool) -> None:
    """Make the rootfs `/`, the old root detached (or moved over with --no-pivot)."""
    if no_pivot:
        plan.add("pivot", "move_root", (rootfs,), f"mount --move {rootfs} / && chroot . (--no-pivot)", "root.path")
    else:
        plan.add("pivot", "pivot_root", (rootfs,), f"pivot_root {rootfs} (old root detached)", "root.path")


def plan_protect(plan: Plan, cfg: dict) -> None:
    """Masked paths, read-only paths, then the read-only root: last, over everything else."""
    linux = cfg.get("linux") or {}
    for i, path in enumerate(linux.get("maskedPaths") or []):
        plan.add("pivot", "mask_path", (path,), f"mask {path} (/dev/null or a read-only tmpfs)",
                 f"linux.maskedPaths[{i}]")
    for i, path in enumerate(linux.get("readonlyPaths") or []):
        plan.add("pivot", "readonly_path", (path,), f"mount --bind -o ro {path} {path}", f"linux.readonlyPaths[{i}]")
    if (cfg.get("root") or {}).get("readonly"):
        plan.add("pivot", "readonly_path", ("/",), "remount / read-only", "root.readonly")
