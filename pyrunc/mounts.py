"""The root filesystem: propagation, the config's mounts in order, pivot_root, masks.

Every path is a container path; the kernel layer (pyrunc/mountops.py) resolves it inside the
rootfs so that a symlink in the image never leads a mount or a mkdir out to the host.

Options follow mount(8) and the spec's table. Flags go to mount(2) for a new filesystem; a
bind mount is a detached copy of its source (open_tree) whose flags are changed with
mount_setattr before it is attached, so it keeps the source's restrictions and only gains
those asked for (as runc's bind remount does not drop them either). The `r*` options are
mount_setattr(AT_RECURSIVE) on the whole tree. A bare word that is not an option is refused
for a bind mount and for the filesystems listed in FS_WORDS; for other filesystems (ext4, nfs,
…) pyrunc cannot know the options, so they pass as data, as the spec says they should. The
kernel ignores key=value data on a bind mount, so it is accepted there and shown as ignored.
"""

from pyrunc.errors import PyruncError
from pyrunc.posixfs import normpath
from pyrunc.steps import Plan
from pyrunc.uapi import (
    ATTR_ATIME,
    ATTR_NOATIME,
    ATTR_NODEV,
    ATTR_NODIRATIME,
    ATTR_NOEXEC,
    ATTR_NOSUID,
    ATTR_NOSYMFOLLOW,
    ATTR_RDONLY,
    ATTR_RELATIME,
    ATTR_STRICTATIME,
    MS_BIND,
    MS_DIRSYNC,
    MS_I_VERSION,
    MS_LAZYTIME,
    MS_MANDLOCK,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_NOSYMFOLLOW,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_SHARED,
    MS_SILENT,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_SYNCHRONOUS,
    MS_UNBINDABLE,
)

# option -> (clear, set): mount(8)'s flag options.
FLAG_OPTIONS = {
    "defaults": (0, 0),
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
    "iversion": (0, MS_I_VERSION), "noiversion": (MS_I_VERSION, 0),
    "lazytime": (0, MS_LAZYTIME), "nolazytime": (MS_LAZYTIME, 0),
    "bind": (0, MS_BIND), "rbind": (0, MS_BIND | MS_REC),
    "silent": (0, MS_SILENT), "loud": (MS_SILENT, 0),
    "nosymfollow": (0, MS_NOSYMFOLLOW), "symfollow": (MS_NOSYMFOLLOW, 0),
}
_ATIME_OPTIONS = frozenset(("atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime"))
# Flags of the whole filesystem (superblock): a bind mount cannot change them.
_SUPERBLOCK = MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_I_VERSION | MS_LAZYTIME
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
# The recursive options (mount_setattr with AT_RECURSIVE): option -> (clear, set).
RECURSIVE = {
    "rro": (0, ATTR_RDONLY), "rrw": (ATTR_RDONLY, 0),
    "rnosuid": (0, ATTR_NOSUID), "rsuid": (ATTR_NOSUID, 0),
    "rnodev": (0, ATTR_NODEV), "rdev": (ATTR_NODEV, 0),
    "rnoexec": (0, ATTR_NOEXEC), "rexec": (ATTR_NOEXEC, 0),
    "rnodiratime": (0, ATTR_NODIRATIME), "rdiratime": (ATTR_NODIRATIME, 0),
    "rnosymfollow": (0, ATTR_NOSYMFOLLOW), "rsymfollow": (ATTR_NOSYMFOLLOW, 0),
}
# Recursive atime options -> the atime mode set on every mount. The kernel's default is
# relatime: `ratime` and `rnostrictatime` return to it, `rnorelatime` means full updates.
RECURSIVE_ATIME = {
    "rnoatime": ATTR_NOATIME, "rstrictatime": ATTR_STRICTATIME, "rrelatime": ATTR_RELATIME,
    "ratime": ATTR_RELATIME, "rnostrictatime": ATTR_RELATIME, "rnorelatime": ATTR_STRICTATIME,
}
IDMAP_OPTIONS = ("idmap", "ridmap")
EXTENSIONS = ("tmpcopyup",)
# Filesystems whose options pyrunc knows: a bare word (not key=value) other than these is an
# error. Their key=value data goes to the kernel, which checks it.
FS_WORDS = {
    "proc": frozenset(), "sysfs": frozenset(), "mqueue": frozenset(), "devpts": frozenset(("newinstance",)),
    "tmpfs": frozenset(("inode32", "inode64", "noswap", "quota", "usrquota", "grpquota")),
    "overlay": frozenset(("userxattr", "volatile")),
    # a cgroup mount is made of bind mounts of the container's cgroups: these words change nothing
    "cgroup": frozenset(("none", "all", "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "cpu", "cpuacct",
                         "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio", "perf_event",
                         "hugetlb", "pids", "rdma", "misc")),
    "cgroup2": frozenset(("nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot",
                          "memory_hugetlb_accounting", "pids_localevents")),
}
# The only mounts allowed inside /proc (runc's checkProcMount: the files lxcfs emulates).
PROC_FILE_MOUNTS = frozenset(("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                              "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
                              "/proc/sys/crypto/fips_enabled"))
# Destinations that must be a plain directory of the rootfs, not a symlink.
NO_SYMLINK = frozenset(("/proc", "/sys"))
# Filesystems that take no SELinux context= option (runc's list).
_NO_LABEL = frozenset(("proc", "sysfs", "mqueue", "cgroup", "cgroup2"))

_FLAG_TEXT = [(MS_RDONLY, "ro"), (MS_NOSUID, "nosuid"), (MS_NODEV, "nodev"), (MS_NOEXEC, "noexec"),
              (MS_NOATIME, "noatime"), (MS_NODIRATIME, "nodiratime"), (MS_RELATIME, "relatime"),
              (MS_STRICTATIME, "strictatime"), (MS_SYNCHRONOUS, "sync"), (MS_DIRSYNC, "dirsync"),
              (MS_MANDLOCK, "mand"), (MS_I_VERSION, "iversion"), (MS_LAZYTIME, "lazytime"),
              (MS_NOSYMFOLLOW, "nosymfollow"), (MS_SILENT, "silent"),
              (MS_BIND, "bind"), (MS_REC, "rec"), (MS_REMOUNT, "remount"), (MS_PRIVATE, "private"),
              (MS_SLAVE, "slave"), (MS_SHARED, "shared"), (MS_UNBINDABLE, "unbindable")]
_ATTR_TEXT = [(ATTR_RDONLY, "ro"), (ATTR_NOSUID, "nosuid"), (ATTR_NODEV, "nodev"), (ATTR_NOEXEC, "noexec"),
              (ATTR_NODIRATIME, "nodiratime"), (ATTR_NOSYMFOLLOW, "nosymfollow")]
_ATIME_TEXT = {ATTR_RELATIME: "relatime", ATTR_NOATIME: "noatime", ATTR_STRICTATIME: "strictatime"}
_MS_TO_ATTR = [(MS_RDONLY, ATTR_RDONLY), (MS_NOSUID, ATTR_NOSUID), (MS_NODEV, ATTR_NODEV),
               (MS_NOEXEC, ATTR_NOEXEC), (MS_NODIRATIME, ATTR_NODIRATIME), (MS_NOSYMFOLLOW, ATTR_NOSYMFOLLOW)]


def flags_text(flags: int, data: str = "") -> str:
    words = [name for bit, name in _FLAG_TEXT if flags & bit]
    if data:
        words.append(data)
    return ",".join(words)


def attr_text(attr_set: int, attr_clr: int) -> str:
    """mount_setattr bits as options: `ro`, `rw` (cleared), `noatime`…"""
    words = [name for bit, name in _ATTR_TEXT if attr_set & bit]
    words += [("rw" if name == "ro" else name[2:]) for bit, name in _ATTR_TEXT if attr_clr & bit]
    if attr_clr & ATTR_ATIME == ATTR_ATIME:
        words.append(_ATIME_TEXT[attr_set & ATTR_ATIME])
    return ",".join(words)


def ms_to_attr(flags: int) -> int:
    """MS_* flags as MOUNT_ATTR_* bits (the atime mode aside)."""
    return sum(attr for ms, attr in _MS_TO_ATTR if flags & ms)


def atime_attr(flags: int) -> int:
    if flags & MS_NOATIME:
        return ATTR_NOATIME
    return ATTR_STRICTATIME if flags & MS_STRICTATIME else ATTR_RELATIME


class MountOptions:
    """A mount's options sorted by who applies them."""

    __slots__ = ("flags", "atime", "rec_set", "rec_clr", "rec_atime", "propagation", "data", "idmap", "copyup")

    def __init__(self) -> None:
        self.flags = 0  # MS_* for mount(2)
        self.atime = False  # an atime option was given
        self.rec_set = self.rec_clr = 0  # MOUNT_ATTR_* for AT_RECURSIVE
        self.rec_atime: int | None = None
        self.propagation: list[tuple[int, str]] = []
        self.data: list[tuple[int, str]] = []  # (index in options, word): for the filesystem
        self.idmap = ""
        self.copyup = False

    def recursive(self) -> tuple[int, int]:
        """(attr_set, attr_clr) for mount_setattr(AT_RECURSIVE); (0, 0) if nothing is asked."""
        if self.rec_atime is None:
            return self.rec_set, self.rec_clr
        return self.rec_set | self.rec_atime, self.rec_clr | ATTR_ATIME


def parse_options(options: list[str]) -> MountOptions:
    o = MountOptions()
    for j, opt in enumerate(options):
        if opt in FLAG_OPTIONS:
            clear, set_ = FLAG_OPTIONS[opt]
            o.flags = (o.flags & ~clear) | set_
            o.atime = o.atime or opt in _ATIME_OPTIONS
        elif opt in PROPAGATION:
            o.propagation.append((PROPAGATION[opt], opt))
        elif opt in RECURSIVE:
            clear, set_ = RECURSIVE[opt]
            o.rec_set = (o.rec_set & ~clear) | set_
            o.rec_clr = (o.rec_clr & ~set_) | clear
        elif opt in RECURSIVE_ATIME:
            o.rec_atime = RECURSIVE_ATIME[opt]
        elif opt in IDMAP_OPTIONS:
            o.idmap = opt
        elif opt == "tmpcopyup":
            o.copyup = True
        else:
            o.data.append((j, opt))
    return o


def all_options() -> list[str]:
    """Every option string pyrunc implements, for `pyrunc features`."""
    return sorted(set(FLAG_OPTIONS) | set(PROPAGATION) | set(RECURSIVE) | set(RECURSIVE_ATIME)
                  | set(IDMAP_OPTIONS) | set(EXTENSIONS))


class Context:
    """What a mount's plan depends on besides the mount itself."""

    def __init__(self, cfg: dict, rootfs: str, cgroup_dirs: dict[str, str], new_netns: bool = True,
                 bundle: str = "") -> None:
        linux = cfg.get("linux") or {}
        self.rootfs = rootfs
        self.cgroup_dirs = cgroup_dirs
        self.new_netns = new_netns
        self.bundle = bundle
        self.label = linux.get("mountLabel") or ""
        userns = any(n.get("type") == "user" and not n.get("path") for n in linux.get("namespaces") or [])
        self.userns_maps = (linux.get("uidMappings"), linux.get("gidMappings")) if userns else (None, None)
        self.new_userns = userns


def plan_rootfs(plan: Plan, cfg: dict, rootfs: str, cgroup_dirs: dict[str, str], ns=None, bundle: str = "",
                rootless: bool = False, extra: list[tuple[dict, str]] = ()) -> None:
    """Everything done in the new mount namespace before pivot_root. `ns`: namespaces.Namespaces.
    `rootless`: the runtime has no more privileges than the init, so it opens no source for it.
    `extra`: mounts pyrunc adds after the config's, with the field behind each."""
    linux = cfg.get("linux") or {}
    prop_name = linux.get("rootfsPropagation")
    if prop_name and prop_name not in PROPAGATION:
        raise PyruncError(f"linux.rootfsPropagation: unknown propagation {prop_name!r}")
    new_netns = ns is None or bool(ns.new & 0x40000000)  # CLONE_NEWNET
    ctx = Context(cfg, rootfs, cgroup_dirs, new_netns, bundle)
    ctx.new_userns = ctx.new_userns and not rootless
    proc = cfg.get("process") or {}
    if ctx.label or proc.get("selinuxLabel") or proc.get("apparmorProfile"):
        from pyrunc import lsm  # imported by the runtime, before clone: the init finds it loaded

        lsm.plan_checks(plan, cfg)
    plan.add("rootfs", "mount", (None, "/", None, MS_SLAVE | MS_REC, None),
             "mount --make-rslave / (nothing propagates back to the host)")
    plan.add("rootfs", "mount", (rootfs, rootfs, None, MS_BIND | MS_REC, None),
             f"mount --rbind {rootfs} {rootfs} (the rootfs becomes a mount point)", "root.path")
    for i, m in enumerate(cfg.get("mounts") or []):
        plan_mount(plan, m, f"mounts[{i}]", ctx)
    for m, where in extra:
        plan_mount(plan, m, where, ctx)


def _refuse_words(o: MountOptions, where: str, words: frozenset, what: str) -> None:
    for j, opt in o.data:
        if "=" not in opt and opt not in words:
            raise PyruncError(f"{where}.options[{j}]: unknown mount option {opt!r} for {what}")


def clean(path: str) -> str:
    """A container path with `.`, `..` and repeated slashes resolved lexically (filepath.Clean)."""
    return "/" + normpath("/" + path).lstrip("/")


def check_proc_mount(dest: str, fstype: str, bind: bool, where: str) -> None:
    """runc's checkProcMount on the lexical destination: /proc takes only a procfs (a new one,
    or a bind mount whose source the kernel layer proves is procfs), and nothing is mounted
    inside /proc but PROC_FILE_MOUNTS. The kernel layer checks again where the destination
    really leads (mountops.py), so a symlink in the image cannot get round it."""
    path = clean(dest)
    if path == "/proc":
        if fstype != "proc" and not bind:
            raise PyruncError(f'{where}: "/proc" cannot be mounted because it is not of type proc')
    elif path.startswith("/proc/") and path not in PROC_FILE_MOUNTS:
        raise PyruncError(f'{where}: "{path}" cannot be mounted because it is inside /proc')


def plan_mount(plan: Plan, m: dict, where: str, ctx: Context) -> None:
    dest = m.get("destination") or ""
    if not dest:
        raise PyruncError(f"{where}.destination: missing")
    if not dest.startswith("/"):
        dest = "/" + dest  # deprecated, and relative to / (config.md, Mounts)
    fstype = m.get("type") or ""
    o = parse_options(m.get("options") or [])
    check_proc_mount(dest, fstype, bool(o.flags & MS_BIND) or fstype == "bind", where)
    uid_maps, gid_maps = m.get("uidMappings"), m.get("gidMappings")
    if (uid_maps is None) != (gid_maps is None):
        raise PyruncError(f"{where}: uidMappings and gidMappings must be given together")
    if uid_maps is not None and not o.idmap:
        o.idmap = "idmap"
    if o.flags & MS_BIND or fstype == "bind":
        plan_bind(plan, m, where, dest, o, ctx)
    elif fstype in ("cgroup", "cgroup2"):
        _refuse_words(o, where, FS_WORDS[fstype], f"a {fstype} mount")
        plan_cgroup_mount(plan, dest, o.flags, where, ctx.rootfs, ctx.cgroup_dirs)
    else:
        plan_filesystem(plan, m, where, dest, fstype, o, ctx)
    rec_set, rec_clr = o.recursive()
    if (rec_set or rec_clr) and not o.flags & MS_BIND and fstype != "bind":
        plan.add("rootfs", "setattr", (ctx.rootfs, dest, True, rec_set, rec_clr),
                 f"mount_setattr -R {dest} ({attr_text(rec_set, rec_clr)})", where)
    for flag, name in o.propagation:
        plan.add("rootfs", "mount_at", (None, ctx.rootfs, dest, None, flag, None), f"mount --make-{name} {dest}", where)


def plan_filesystem(plan: Plan, m: dict, where: str, dest: str, fstype: str, o: MountOptions, ctx: Context) -> None:
    """A new filesystem instance (or /sys of the host's network namespace) at `dest`."""
    if o.idmap:
        raise PyruncError(f"{where}.options: {o.idmap} is only implemented for bind mounts")
    if not fstype:
        raise PyruncError(f"{where}.type: missing (a mount without bind or rbind needs a filesystem type)")
    if fstype in FS_WORDS:
        _refuse_words(o, where, FS_WORDS[fstype], f"a {fstype} mount")
    if o.copyup and fstype != "tmpfs":
        raise PyruncError(f"{where}.options: tmpcopyup is for tmpfs mounts")
    if fstype == "sysfs" and not ctx.new_netns:
        # sysfs shows the network devices of the mounter's network namespace, and a user namespace
        # may not mount it for one it does not own: the host's /sys, read-only like runc's.
        attrs = ((True, ms_to_attr(o.flags) | ATTR_RDONLY, 0),)
        plan.add("rootfs", "bind_mount", ("/sys", ctx.rootfs, dest, True, attrs),
                 f"mount --rbind /sys {dest} (no new network namespace: the host's sysfs) "
                 f"(recursive {attr_text(attrs[0][1], 0)})", where)
        return
    source = m.get("source") or fstype
    words = [opt for _, opt in o.data]
    if ctx.label and fstype not in _NO_LABEL and not any(w.startswith("context=") for w in words):
        words.append(f'context="{ctx.label}"')
    data = ",".join(words)
    if o.copyup:
        from pyrunc import copyup  # noqa: F401 - for the init, which must not import after clone

    op = "mount_copy_up" if o.copyup else "mount_at"
    flags = o.flags
    if dev_remounted_readonly(fstype, dest, flags):
        flags &= ~MS_RDONLY
    text = f"mount -t {fstype} {source} {dest}" + (f" ({flags_text(flags, data)})" if flags or data else "")
    if flags != o.flags:
        text += ": read-only once the devices, devpts, shm, mqueue and console are in it"
    plan.add("rootfs", op, (source, ctx.rootfs, dest, fstype, flags, data or None),
             text + (" and copy up what the image has there" if o.copyup else ""), where)
    if ctx.label and fstype == "mqueue":
        plan.add("rootfs", "set_file_label", (ctx.rootfs, dest, ctx.label),
                 f"setxattr security.selinux {ctx.label!r} on {dest}", "linux.mountLabel")


def dev_remounted_readonly(fstype: str, dest: str, flags: int) -> bool:
    """A read-only tmpfs at /dev is mounted writable and remounted read-only after pivot_root
    (plan_protect), as runc's finalizeRootfs does: mount points, device nodes and /dev/console
    are made in it first."""
    return fstype == "tmpfs" and bool(flags & MS_RDONLY) and clean(dest) == "/dev"


def plan_bind(plan: Plan, m: dict, where: str, dest: str, o: MountOptions, ctx: Context) -> None:
    """A bind mount: a detached copy of the source with its flags set, attached at `dest`."""
    for j, opt in o.data:
        if "=" not in opt:
            raise PyruncError(f"{where}.options[{j}]: unknown mount option {opt!r} for a bind mount")
    # key=value data (mode=755...) means nothing to a bind mount: the kernel ignores it, runc passes it
    # on and so accepts it. A bare word would be a flag, and pyrunc knows them all: refused above.
    ignored = ",".join(opt for _, opt in o.data)
    note = f" (data {ignored} ignored: a bind mount takes none)" if ignored else ""
    if o.copyup:
        raise PyruncError(f"{where}.options: tmpcopyup is for tmpfs mounts")
    sb = o.flags & _SUPERBLOCK
    if sb:
        raise PyruncError(f"{where}.options: {flags_text(sb)} would change the whole filesystem, "
                          "not the bind mount")
    source = m.get("source") or ""
    if not source:
        raise PyruncError(f"{where}.source: a bind mount needs a source")
    if not source.startswith("/") and ctx.bundle:
        source = ctx.bundle.rstrip("/") + "/" + source  # relative to the bundle (config.md, Mounts)
    recursive = bool(o.flags & MS_REC)
    attrs = []
    attr_set = ms_to_attr(o.flags)
    attr_clr = 0
    if o.atime:
        attr_set |= atime_attr(o.flags)
        attr_clr = ATTR_ATIME
    if attr_set or attr_clr:
        attrs.append((False, attr_set, attr_clr))
    rec_set, rec_clr = o.recursive()
    if rec_set or rec_clr:
        attrs.append((True, rec_set, rec_clr))
    attrs_text = "".join(f" ({'recursive ' if rec else ''}{attr_text(s, c)})" for rec, s, c in attrs)
    verb = "rbind" if recursive else "bind"
    if o.flags & MS_REMOUNT:
        for rec, s, c in attrs:
            plan.add("rootfs", "setattr", (ctx.rootfs, dest, rec, s, c),
                     f"mount_setattr {'-R ' if rec else ''}{dest} ({attr_text(s, c)})", where)
        return
    if o.idmap:
        uid_maps, gid_maps = m.get("uidMappings"), m.get("gidMappings")
        if uid_maps is None:
            uid_maps, gid_maps = ctx.userns_maps
        if not uid_maps or not gid_maps:
            raise PyruncError(f"{where}: {o.idmap} needs uidMappings and gidMappings, on the mount or for a new "
                              "user namespace")
        from pyrunc.namespaces import id_map_text

        uid_lines, gid_lines = id_map_text(uid_maps), id_map_text(gid_maps)
        idmap_rec = o.idmap == "ridmap"
        how = "recursively idmapped" if idmap_rec else "idmapped"
        plan.add("runtime", "prepare_idmapped_mount",
                 (where, source, recursive, idmap_rec, tuple(attrs), uid_lines, gid_lines),
                 f"open_tree --clone {'-R ' if recursive else ''}{source}, {how}"
                 f" (uid {_maps_text(uid_lines)}, gid {_maps_text(gid_lines)}){attrs_text}", where)
        plan.add("rootfs", "attach_mount", (where, ctx.rootfs, dest, source),
                 f"move_mount the idmapped {source} to {dest}", where)
        return
    note += " (refused unless the source is a procfs)" if clean(dest) == "/proc" else ""
    if ctx.new_userns:  # the init, root of its user namespace only, may not reach the source
        plan.add("runtime", "prepare_bind_mount", (where, source, recursive, tuple(attrs)),
                 f"open_tree --clone {'-R ' if recursive else ''}{source}{attrs_text}: reached with the host's "
                 "credentials, for the init in its user namespace", where)
        plan.add("rootfs", "attach_mount", (where, ctx.rootfs, dest, source),
                 f"move_mount the {verb} of {source} to {dest}{note}", where)
        return
    plan.add("rootfs", "bind_mount", (source, ctx.rootfs, dest, recursive, tuple(attrs)),
             f"mount --{verb} {source} {dest}{attrs_text}{note}", where)


def _maps_text(lines: str) -> str:
    return ",".join(line.replace(" ", ":") for line in lines.splitlines())


def plan_cgroup_mount(plan: Plan, dest: str, flags: int, where: str, rootfs: str,
                      cgroup_dirs: dict[str, str]) -> None:
    """The container's own cgroups at `dest`: a tmpfs of bind mounts on v1, one bind on v2 (the
    runtime made them before clone)."""
    locked = ms_to_attr(flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY))
    attrs = ((False, locked, 0),) if locked else ()
    attrs_text = f" ({attr_text(locked, 0)})" if locked else ""
    if list(cgroup_dirs) == [""]:
        host_dir = cgroup_dirs[""]
        plan.add("rootfs", "bind_mount", (host_dir, rootfs, dest, False, attrs),
                 f"mount --bind {host_dir} {dest}{attrs_text}", where)
        return
    plan.add("rootfs", "mount_at", ("tmpfs", rootfs, dest, "tmpfs", flags & ~MS_RDONLY, "mode=755"),
             f"mount -t tmpfs tmpfs {dest} (mode=755)", where)
    for name, host_dir in cgroup_dirs.items():
        sub = f"{dest.rstrip('/')}/{name}"
        plan.add("rootfs", "bind_mount", (host_dir, rootfs, sub, False, attrs),
                 f"mount --bind {host_dir} {sub}{attrs_text}", where)
    if flags & MS_RDONLY:
        plan.add("rootfs", "mount_at", (None, rootfs, dest, None, MS_REMOUNT | MS_RDONLY | (flags & ~MS_RDONLY),
                                        "mode=755"), f"remount {dest} (ro)", where)


def plan_pivot(plan: Plan, rootfs: str, no_pivot: bool) -> None:
    """Make the rootfs `/`, the old root detached (or moved over with --no-pivot)."""
    if no_pivot:
        plan.add("pivot", "move_root", (rootfs,), "umount -l every procfs and sysfs outside the rootfs, then "
                 f"mount --move {rootfs} / && chroot . (--no-pivot)", "root.path")
    else:
        plan.add("pivot", "pivot_root", (rootfs,), f"pivot_root {rootfs} (old root detached)", "root.path")


def plan_protect(plan: Plan, cfg: dict) -> None:
    """rootfsPropagation, masked paths, read-only paths, then the read-only root: last, over
    everything else. The root's propagation is set once it is `/` (pivot_root refuses a shared
    new root), so `shared` makes a peer group of the container's own."""
    linux = cfg.get("linux") or {}
    prop_name = linux.get("rootfsPropagation")
    if prop_name:
        plan.add("pivot", "mount", (None, "/", None, PROPAGATION[prop_name], None), f"mount --make-{prop_name} /",
                 "linux.rootfsPropagation")
    for i, m in enumerate(cfg.get("mounts") or []):
        if m.get("type") != "tmpfs":  # dev_remounted_readonly's first test, before the options are parsed again
            continue
        o = parse_options(m.get("options") or [])
        if not o.flags & MS_BIND and dev_remounted_readonly("tmpfs", m.get("destination") or "", o.flags):
            plan.add("pivot", "mount_at", (None, "/", "/dev", None, MS_REMOUNT | o.flags, None),
                     "remount /dev read-only (its submounts keep their own flags)", f"mounts[{i}]")
    label = linux.get("mountLabel") or None
    for i, path in enumerate(linux.get("maskedPaths") or []):
        plan.add("pivot", "mask_path", (path, label), f"mask {path} (/dev/null or a read-only tmpfs)",
                 f"linux.maskedPaths[{i}]")
    for i, path in enumerate(linux.get("readonlyPaths") or []):
        plan.add("pivot", "readonly_path", (path,), f"mount --rbind -o ro {path} {path} (recursively read-only)",
                 f"linux.readonlyPaths[{i}]")
    if (cfg.get("root") or {}).get("readonly"):
        plan.add("pivot", "readonly_path", ("/",), "remount / read-only", "root.readonly")
    proc = cfg.get("process") or {}
    if proc.get("selinuxLabel") or proc.get("apparmorProfile"):
        from pyrunc import lsm

        lsm.plan_exec_labels(plan, proc)
