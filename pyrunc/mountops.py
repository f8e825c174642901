"""The init's filesystem operations: the kernel side of mounts.py and devices.py.

create.InitKernel adds these to kernel.LinuxKernel; each method is one step `op`. Paths inside
the container go through paths.open_in_root (openat2 RESOLVE_IN_ROOT), and what is created is created with
*at() calls on the fds found that way. Bind mounts are detached copies (open_tree) attached
with move_mount onto an fd, so no path is resolved again after the check; before pivot_root a
new filesystem is mounted through /proc/self/fd/N of the host's /proc, the magic link of such
an fd. After pivot_root /proc is the container's: masks are detached mounts (fsmount,
open_tree) moved onto an fd, with no path in between.

Where a mount really lands is checked against /proc as runc's checkProcMount does (the planner
checked the lexical destination): nothing but a procfs covers /proc, nothing but the files of
mounts.PROC_FILE_MOUNTS is mounted inside a procfs, and /proc and /sys must be directories of
the rootfs, not symlinks (the CVE-2019-19921 class).
"""

import errno
import posix
import stat

from pyrunc import native, paths, procfs, uapi
from pyrunc.mounts import NO_SYMLINK, PROC_FILE_MOUNTS, clean

_DIR_FLAGS = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC
_KINDS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "fifo",
          stat.S_IFDIR: "directory", stat.S_IFREG: "regular file", stat.S_IFLNK: "symlink",
          stat.S_IFSOCK: "socket"}


def _fs_error(e: OSError, fstype: str | None) -> OSError:
    """mount(2)'s ENODEV said as what it means."""
    if e.errno == errno.ENODEV and fstype:
        return OSError(errno.ENODEV, f"unknown filesystem type {fstype!r} (see /proc/filesystems)")
    return e


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    try:
        native.mount(source, target, fstype, flags, data)
    except OSError as e:
        raise _fs_error(e, fstype) from None


def _plain_dir(rootfs: str, dest: str, fstype: str | None) -> None:
    """proc and sysfs, and any mount at /proc or /sys, go on a directory of the rootfs reached
    without a symlink (runc: "must be mounted on ordinary directory")."""
    path = clean(dest)
    if fstype not in ("proc", "sysfs") and path not in NO_SYMLINK:
        return
    root = posix.open(rootfs, uapi.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        fd = native.openat2(root, path, uapi.O_PATH | posix.O_CLOEXEC, 0,
                            uapi.RESOLVE_IN_ROOT | uapi.RESOLVE_NO_SYMLINKS)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path} in the rootfs is a symlink: refused") from None
        raise
    finally:
        posix.close(root)
    try:
        if not stat.S_ISDIR(posix.fstat(fd).st_mode):
            raise OSError(errno.ENOTDIR, f"{path} in the rootfs is not a directory: refused")
    finally:
        posix.close(fd)


_proc_dirs: dict[str, tuple[int, int] | None] = {}  # rootfs -> (st_dev, st_ino) of its /proc directory


def _proc_dir(rootfs: str) -> tuple[int, int] | None:
    """The rootfs's own /proc directory. Only a procfs may cover it later (and is recognised as
    one), so it is looked up once, again only after a mount over the rootfs's `/`."""
    if rootfs not in _proc_dirs:
        try:
            fd = paths.open_in_root(rootfs, "/proc")
        except (FileNotFoundError, NotADirectoryError):
            _proc_dirs[rootfs] = None
        else:
            try:
                st = posix.fstat(fd)
            finally:
                posix.close(fd)
            _proc_dirs[rootfs] = (st.st_dev, st.st_ino)
    return _proc_dirs[rootfs]


def _proc_guard(rootfs: str, dest: str, fd: int, is_proc: bool) -> None:
    """Where `fd` (the resolved destination) really is: /proc takes only a procfs (`is_proc`),
    and nothing lands inside a procfs but PROC_FILE_MOUNTS."""
    path = clean(dest)
    if path == "/":
        _proc_dirs.pop(rootfs, None)
    if path in PROC_FILE_MOUNTS:
        return
    st = posix.fstat(fd)
    on_proc = native.fstatfs_type(fd) == uapi.PROC_SUPER_MAGIC
    at_proc = on_proc and st.st_ino == uapi.PROC_ROOT_INO
    if not at_proc and stat.S_ISDIR(st.st_mode):
        at_proc = _proc_dir(rootfs) == (st.st_dev, st.st_ino)
    # The step's text names the destination; the executor lowercases these reasons.
    if at_proc and not is_proc:
        via = " (the destination resolves to /proc)" if path != "/proc" else ""
        raise OSError(errno.EPERM, f'"/proc" cannot be mounted because it is not of type proc{via}')
    if on_proc and not at_proc:
        raise OSError(errno.EPERM, "the destination cannot be mounted because it is inside /proc")


def _destination(rootfs: str, dest: str, root: posix.stat_result, magic: int) -> int:
    """The O_PATH fd a tree lands on: `dest` made (a directory or a file, as the tree's `root`)
    if missing, after the checks against /proc (`magic`: the tree's filesystem)."""
    _plain_dir(rootfs, dest, None)
    fd = paths.open_in_root(rootfs, dest, create="dir" if stat.S_ISDIR(root.st_mode) else "file")
    try:
        _proc_guard(rootfs, dest, fd, magic == uapi.PROC_SUPER_MAGIC)
    except BaseException:
        posix.close(fd)
        raise
    return fd


def _perform(form: dict) -> None:
    """One step by the shim, the same code as a run of them (native.fs_steps): its error raised."""
    done, error, _, _ = native.fs_steps([form])
    if error is not None:
        raise error


def _proc_sys_mounts(mountinfo: str, rootfs: str) -> list[str]:
    """Mount points of whole procfs and sysfs mounts outside `rootfs`, from mountinfo text."""
    points = []
    inside = rootfs.rstrip("/") + "/"
    for line in mountinfo.splitlines():
        fields, _, fs = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or fs.split(" ", 1)[0] not in ("proc", "sysfs") or parts[3] != "/":
            continue
        point = parts[4]
        for esc, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
            point = point.replace(esc, char)
        if not (point + "/").startswith(inside):
            points.append(point)
    return points


def _node_text(st: posix.stat_result) -> str:
    kind = _KINDS.get(stat.S_IFMT(st.st_mode), "file")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        kind += f" {posix.major(st.st_rdev)}:{posix.minor(st.st_rdev)}"
    return kind


def _same_node(st: posix.stat_result, fmt: int, major: int, minor: int) -> bool:
    if stat.S_IFMT(st.st_mode) != fmt:
        return False
    return fmt == stat.S_IFIFO or st.st_rdev == posix.makedev(major, minor)


def _in_dir(path: str) -> tuple[str, str] | None:
    """The directory and the name paths.open_in_root would make `path` with, or None for a path
    whose last part names no file."""
    parts = [p for p in path.split("/") if p and p != "."]
    if not parts or parts[-1] == "..":
        return None
    return "/".join(parts[:-1]) or ".", parts[-1]


def _proc_fields(rootfs: str) -> tuple[int, int, int]:
    """has_proc_dir, proc_dev and proc_ino of a guarded form: looked up when its run is performed."""
    proc = _proc_dir(rootfs)
    return (1, *proc) if proc is not None else (0, 0, 0)


def _mask_form(path: str, label: str | None = None) -> dict:
    return {"op": native.FS_MASK, "root": "/", "path": path, "data": label}


def _readonly_form(path: str) -> dict:
    return {"op": native.FS_READONLY, "root": "/", "path": path}


def _mount_form(source: str | None, fstype: str | None, flags: int, data: str | None) -> dict:
    return {"op": native.FS_MOUNT, "target": source, "fstype": fstype, "flags": flags, "data": data}


def _bind_form(source: str, recursive: bool, attrs: tuple) -> dict:
    return {"op": native.FS_BIND, "target": source, "flags": uapi.AT_RECURSIVE if recursive else 0,
            "attrs": tuple((uapi.AT_RECURSIVE if rec else 0, attr_set, attr_clr) for rec, attr_set, attr_clr in attrs)}


def _node_form(op: str, args: tuple) -> dict:
    """mknod's or symlink's fields but where: `dir` and `name`, or the method's fd."""
    if op == "symlink":
        return {"op": native.FS_SYMLINK, "target": args[1]}
    _, _, fmt, major, minor, mode, uid, gid = args
    return {"op": native.FS_MKNOD, "mode": fmt | mode, "dev": posix.makedev(major, minor), "uid": uid, "gid": gid}


def _shim_form(step) -> dict | None:
    """The step as native.fs_steps resolves and performs it alone, or None for what its method
    decides first (a bind mount at /proc or /sys, a mount over the rootfs's `/`, the procfs files
    of PROC_FILE_MOUNTS, a path naming no file). A procfs or sysfs, or anything at /proc or /sys,
    is mounted by the shim on a directory reached without a symlink (`plain`); what _plain_dir
    or _proc_guard would refuse it gives back to the method, which says why."""
    op, args = step.op, step.args
    if op == "mask_path":
        return _mask_form(*args)
    if op == "readonly_path":
        return _readonly_form(*args)
    if op in ("mount_at", "bind_mount"):
        source, rootfs, dest = args[:3]
        path = clean(dest)
        fstype = args[3] if op == "mount_at" else None
        where = _in_dir(dest)
        methods_only = path == "/" or path in PROC_FILE_MOUNTS or (op == "bind_mount" and path in NO_SYMLINK)
        if where is None or methods_only:
            return None
        form = {"root": rootfs, "path": dest, "dir": where[0], "name": where[1]}
        if op == "mount_at":
            plain = {"plain": 1} if fstype in ("proc", "sysfs") or path in NO_SYMLINK else {}
            return (form | _mount_form(source, fstype, *args[4:]) | plain
                    | ({"guard": 1, "is_proc": int(fstype == "proc")} if fstype else {}))
        return form | _bind_form(source, *args[3:]) | {"guard": 1}
    rootfs, path = args[0], args[2] if op == "symlink" else args[1]
    parent, _, name = path.rstrip("/").rpartition("/")
    if name in ("", ".", ".."):
        return None
    return _node_form(op, args) | {"root": rootfs, "dir": parent or "/", "name": name}


def _runs(steps: list):
    """(index, forms) of each run of steps the shim performs in one call, as perform_steps makes them."""
    i = 0
    while i < len(steps):
        forms = []
        while (i + len(forms) < len(steps) and steps[i + len(forms)].op in MountOps.BATCHED
               and (form := _shim_form(steps[i + len(forms)])) is not None):
            forms.append(form)
        if forms:
            yield i, forms
        i += len(forms) or 1


# id(the first step of a run) -> (its struct array, what that points into, its length, the
# (index, rootfs) of its guarded steps): made before clone (prepare_runs) for the init to inherit.
_prepared: dict[int, tuple] = {}


def prepare_runs(phases: list[list]) -> None:
    """In the runtime, before clone: the shim's arrays for the init's runs of steps. The init only
    fills in the /proc directory of the guarded ones (looked up then, as before) and makes the
    call: building them there would cost it several times more, as every page the forked
    interpreter writes is first copied (a fault of 3 us here)."""
    for steps in phases:
        for i, forms in _runs(steps):
            array, keep = native.fs_array(forms)
            guarded = tuple((k, form["root"]) for k, form in enumerate(forms) if form.get("guard"))
            _prepared[id(steps[i])] = (array, keep, len(forms), guarded)


def _fill_proc(array, guarded: tuple, n: int) -> None:
    for k, rootfs in guarded:
        if k < n:
            item = array[k]
            item.has_proc_dir, item.proc_dev, item.proc_ino = _proc_fields(rootfs)


class MountOps:
    """Mounts, device nodes and links of the rootfs, pivot_root, masks, labels."""

    # -- runs of steps in one call of the shim (executor.run) --------------------------------
    BATCHED = frozenset({"mask_path", "readonly_path", "mknod", "symlink", "mount_at", "bind_mount"})

    def perform_steps(self, steps: list) -> tuple[int, OSError | None]:
        """A run of BATCHED steps in order, in as few shim calls as their forms allow
        (native.fs_steps). A step the shim gives back unchanged (what only its method handles:
        a parent to make, a node already there, a destination to check against /proc) or fails
        is performed by its method, whose error is the step's. How many were done, and the error
        that stopped the run."""
        i = 0
        while i < len(steps):
            prepared = _prepared.get(id(steps[i]))
            if prepared is not None:  # its guarded steps' /proc directory looked up now
                array, _, n, guarded = prepared
                n = min(n, len(steps) - i)
                _fill_proc(array, guarded, n)
            else:
                forms = []  # made now: a step performed by its method may have changed what they hold
                while i + len(forms) < len(steps) and (form := _shim_form(steps[i + len(forms)])) is not None:
                    forms.append(form)
                n = len(forms)
                if n:
                    array, keep = native.fs_array(forms)
                    _fill_proc(array, tuple((k, f["root"]) for k, f in enumerate(forms) if f.get("guard")), n)
            j = i + n
            if n:
                done, error, changed, _ = native.fs_run(array, n)
                i += done
                if i == j:
                    continue
                if changed:
                    return i, error
            try:
                getattr(self, steps[i].op)(*steps[i].args)
            except OSError as e:
                return i, e
            i += 1
        return i, None

    # -- mounts ----------------------------------------------------------------------------
    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        native.mount(source, target, fstype, flags, data)

    def mount_at(self, source: str | None, rootfs: str, dest: str, fstype: str | None, flags: int,
                 data: str | None) -> None:
        """mount(2) onto `dest` resolved inside the rootfs (created as a directory if missing); a
        new filesystem (`fstype`) passes the checks against /proc first."""
        if fstype:
            _plain_dir(rootfs, dest, fstype)
        fd = paths.open_in_root(rootfs, dest, create="dir")
        try:
            if fstype:
                _proc_guard(rootfs, dest, fd, fstype == "proc")
            _perform(_mount_form(source, fstype, flags, data) | {"given": 1, "fd": fd})
        except OSError as e:
            raise _fs_error(e, fstype) from None
        finally:
            posix.close(fd)

    def mount_copy_up(self, source: str, rootfs: str, dest: str, fstype: str, flags: int, data: str | None) -> None:
        """tmpcopyup: the new tmpfs starts with a copy of what the image has at `dest`."""
        fd = paths.open_in_root(rootfs, dest, create="dir")
        try:
            _proc_guard(rootfs, dest, fd, False)
            below = posix.open(paths.fd_path(fd), _DIR_FLAGS)  # stays on the directory the tmpfs covers
            try:
                _mount(source, paths.fd_path(fd), fstype, flags & ~uapi.MS_RDONLY, data)
                top_path = paths.open_in_root(rootfs, dest)
                try:
                    top = posix.open(paths.fd_path(top_path), _DIR_FLAGS)
                    try:
                        from pyrunc import copyup  # loaded by the planner

                        copyup.copy_tree(below, top)
                    finally:
                        posix.close(top)
                    if flags & uapi.MS_RDONLY:
                        native.mount(None, paths.fd_path(top_path), None, uapi.MS_REMOUNT | flags, data)
                finally:
                    posix.close(top_path)
            finally:
                posix.close(below)
        finally:
            posix.close(fd)

    def bind_mount(self, source: str, rootfs: str, dest: str, recursive: bool, attrs: tuple) -> None:
        """A detached copy of `source` (with its submounts if `recursive`), `attrs` applied as
        (AT_RECURSIVE?, MOUNT_ATTR set, clear) in order, attached at `dest`."""
        fd = _destination(rootfs, dest, posix.stat(source), native.statfs_type(source))  # followed, as by open_tree
        try:
            _perform(_bind_form(source, recursive, attrs) | {"given": 1, "fd": fd})
        finally:
            posix.close(fd)

    def attach_mount(self, key: str, rootfs: str, dest: str, source: str) -> None:
        """Attach the detached copy of `source` (idmapped, or reached before the user namespace) the
        runtime prepared for `key` (pyrunc/idmap.py)."""
        from pyrunc import idmap  # loaded by the runtime, which prepared the mount

        tree = idmap.take(key)
        try:
            fd = _destination(rootfs, dest, posix.fstat(tree), native.fstatfs_type(tree))
            try:
                native.move_mount(tree, fd)
            finally:
                posix.close(fd)
        finally:
            posix.close(tree)

    def setattr(self, rootfs: str, dest: str, recursive: bool, attr_set: int, attr_clr: int) -> None:
        """mount_setattr on the mount at `dest` (and every mount below it if `recursive`)."""
        fd = paths.open_in_root(rootfs, dest)
        try:
            native.mount_setattr(fd, recursive, attr_set, attr_clr)
        finally:
            posix.close(fd)

    # -- /dev ------------------------------------------------------------------------------
    def mknod(self, rootfs: str, path: str, fmt: int, major: int, minor: int, mode: int, uid: int,
              gid: int) -> None:
        """A device node (or fifo) at `path`; one already there must be the same device."""
        dirfd, name = paths.open_parent_in_root(rootfs, path)
        form = _node_form("mknod", (rootfs, path, fmt, major, minor, mode, uid, gid))
        try:
            _perform(form | {"name": name, "given": 1, "fd": dirfd})
        except FileExistsError:
            st = posix.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if not _same_node(st, fmt, major, minor):
                raise OSError(errno.EEXIST, f"a {_node_text(st)} is already there") from None
        finally:
            posix.close(dirfd)

    def check_device(self, rootfs: str, path: str, fmt: int, major: int, minor: int) -> None:
        """With /dev bind-mounted from the config nothing is made in it: the node must be there."""
        try:
            fd = paths.open_in_root(rootfs, path)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, "not in the bind-mounted /dev") from None
        try:
            st = posix.fstat(fd)
        finally:
            posix.close(fd)
        if not _same_node(st, fmt, major, minor):
            raise OSError(errno.EEXIST, f"a {_node_text(st)} is already there")

    def bind_device(self, rootfs: str, path: str) -> None:
        """In a user namespace mknod is refused: the host's node at the same path instead."""
        self.bind_mount(path, rootfs, path, False, ())

    def symlink(self, rootfs: str, target: str, path: str) -> None:
        dirfd, name = paths.open_parent_in_root(rootfs, path)
        try:
            _perform(_node_form("symlink", (rootfs, target, path)) | {"name": name, "given": 1, "fd": dirfd})
        except FileExistsError:
            pass
        finally:
            posix.close(dirfd)

    # -- the new root ----------------------------------------------------------------------
    def pivot_root(self, rootfs: str) -> None:
        """pivot_root(".", "."): the old root ends up mounted over the new one. `.` is the new
        root after the call, so the old one is reached through an fd opened before (as runc
        does): made rslave (its unmount must not propagate to the host) and detached, without
        touching the propagation of the container's own mounts."""
        old_root = posix.open("/", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            posix.chdir(rootfs)
            native.pivot_root(".", ".")
            posix.fchdir(old_root)
        finally:
            posix.close(old_root)
        native.mount(None, ".", None, uapi.MS_SLAVE | uapi.MS_REC, None)
        native.umount2(".", uapi.MNT_DETACH)
        posix.chdir("/")

    def move_root(self, rootfs: str) -> None:
        """--no-pivot (runc's msMoveRoot): the old root stays in the mount namespace below the
        new one, so every whole procfs and sysfs mounted outside the rootfs is detached first
        (covered by an empty read-only tmpfs where the kernel locks it): a process that gets
        out of the chroot finds no procfs of the host there."""
        for point in _proc_sys_mounts(procfs.read("self/mountinfo"), rootfs):
            try:
                native.mount(None, point, None, uapi.MS_SLAVE | uapi.MS_REC, None)
            except FileNotFoundError:
                continue  # under one detached already
            try:
                native.umount2(point, uapi.MNT_DETACH)
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.EPERM):
                    raise
                flags = uapi.MS_RDONLY | uapi.MS_NOSUID | uapi.MS_NODEV | uapi.MS_NOEXEC
                native.mount("tmpfs", point, "tmpfs", flags, None)
        posix.chdir(rootfs)
        native.mount(rootfs, "/", None, uapi.MS_MOVE, None)
        posix.chroot(".")
        posix.chdir("/")

    def mask_path(self, path: str, label: str | None = None) -> None:
        """After pivot_root: an empty read-only tmpfs over a directory, /dev/null over anything
        else; a path the image does not have is left alone. Both are detached mounts moved onto
        the fd of the target (by the shim): nothing goes through the container's /proc/self/fd."""
        _, error, _, what = native.fs_steps([_mask_form(path, label)])
        if error is None:
            return
        if what != "/dev/null":
            raise error
        null = paths.open_in_root("/", "/dev/null")
        try:
            text = _node_text(posix.fstat(null))
        finally:
            posix.close(null)
        raise OSError(errno.EINVAL, f"/dev/null is a {text}, not the null device")

    def readonly_path(self, path: str) -> None:
        """After pivot_root: `path` and every mount below it read-only (`/` alone for root.readonly)."""
        _perform(_readonly_form(path))

    # -- security labels (pyrunc/lsm.py, loaded by the planner when a config has one) -------
    def set_file_label(self, rootfs: str, dest: str, label: str) -> None:
        from pyrunc import lsm as lsm_module

        lsm_module.set_file_label(rootfs, dest, label)
