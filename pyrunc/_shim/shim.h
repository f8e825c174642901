/* pyrunc native shim: the syscalls Python cannot make safely, and nothing else.
 * Every function returns -1 (or a negative value) and leaves errno set on failure,
 * unless its comment says otherwise. This file is read both by the C compiler and
 * by cffi's cdef parser, so it holds declarations only. */

/* Clone the calling (single-threaded) process like fork(), with the CLONE_NEW* bits of
 * `flags`. Returns the child's pid in the parent and 0 in the child, which goes on from
 * the call like a fork child. When `sync_fd` >= 0, the child runs no code but a read() of
 * one byte from `sync_fd` until the parent has done what must precede it (placed it in
 * its cgroups; with CLONE_NEWUSER, written the id maps, after which the child becomes root
 * of the new user namespace with setresgid/setresuid 0) before it returns. If that read
 * fails (the parent died), the child exits with status 1. The child gets `pdeathsig` as
 * its parent-death signal when it is non-zero. */
int pyr_clone(unsigned long flags, int sync_fd, int pdeathsig, int cgroup_fd);

/* unshare(flags) where `flags` has CLONE_NEWUSER: writes one byte "M" to `sync_fd` to ask
 * the parent for the id maps, waits for one byte back, then becomes root of the new user
 * namespace. Used when namespaces were joined first, so a new user namespace cannot come
 * from clone(). */
int pyr_unshare_user(unsigned long flags, int sync_fd);

/* unshare(2). */
int pyr_unshare(unsigned long flags);

/* setns(2): join the namespace behind `fd`; nstype is a CLONE_NEW* bit or 0. */
int pyr_setns(int fd, int nstype);

/* mount(2); any string may be NULL. */
int pyr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data);

/* umount2(2). */
int pyr_umount2(const char *target, int flags);

/* pivot_root(2). */
int pyr_pivot_root(const char *new_root, const char *put_old);

/* sethostname(2) / setdomainname(2). */
int pyr_sethostname(const char *name, size_t len);
int pyr_setdomainname(const char *name, size_t len);

/* openat2(2) with how.flags = flags, how.mode = mode, how.resolve = resolve: resolves
 * `path` relative to `dirfd` under the RESOLVE_* rules, so a symlink in a container image
 * cannot lead outside the root. Returns the new fd. */
int pyr_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve);

/* Bring network interface `name` up (SIOCSIFFLAGS with IFF_UP) in the calling process's
 * network namespace: enough for `lo` without a netlink library. */
int pyr_link_up(const char *name);

/* close_range(first, ~0, CLOSE_RANGE_CLOEXEC): no fd from `first` on survives execve. Called
 * before a seccomp filter is loaded, which need not allow close_range (CVE-2024-21626 class). */
int pyr_cloexec_from(int first);

/* close_range(first, last, 0): close every fd from `first` to `last` (~0U: to the end) in one
 * call, without listing /proc/self/fd (a listing reads the host's procfs and allocates). */
int pyr_close_range(unsigned int first, unsigned int last);

/* The last step of a container's init: marks every fd from `first_cloexec` on close-on-exec
 * (pyr_cloexec_from; not when `first_cloexec` is -1: a filter loaded earlier, after the fds
 * were marked, may forbid it), then execve(path, argv, envp). Only returns on failure. */
int pyr_exec(const char *path, char *const argv[], char *const envp[], int first_cloexec);

/* keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): the caller leaves its session keyring for the
 * keyring `name` of its user namespace, made if none is searchable by it. Returns its serial. */
int pyr_join_session_keyring(const char *name);

/* keyctl(KEYCTL_DESCRIBE): "type;uid;gid;perm;description" of key `serial` into `buf` (`len`
 * bytes, NUL-terminated when it fits). Returns the length the description needs. */
int pyr_keyctl_describe(int serial, char *buf, unsigned int len);

/* keyctl(KEYCTL_SETPERM): the permission mask of key `serial`. */
int pyr_keyctl_setperm(int serial, unsigned int perm);

/* prlimit(2) on process `pid` (0: the caller): `resource` is a separate extension module
 * whose loading costs more than the call. RLIM_INFINITY is ~0ULL. */
int pyr_prlimit(int pid, int resource, unsigned long long soft, unsigned long long hard);

/* Unlock the pty master `fd` (TIOCSPTLCK 0) and return its slave's number (TIOCGPTN), so
 * the slave is /dev/pts/<n> of the devpts instance the master came from. */
int pyr_pty_unlock(int fd);

/* Window size of a terminal (TIOCSWINSZ); pyr_get_winsize packs TIOCGWINSZ as rows << 16 | cols. */
int pyr_set_winsize(int fd, unsigned short rows, unsigned short cols);
int pyr_get_winsize(int fd);

/* Make the terminal `fd` the controlling terminal of the calling session leader (TIOCSCTTY). */
int pyr_set_ctty(int fd);

/* capset(2) for the calling thread with 64-bit effective, permitted and inheritable masks:
 * python-prctl only sets the capabilities it knows by name, and misses the newest. */
int pyr_capset(unsigned long long effective, unsigned long long permitted,
               unsigned long long inheritable);

/* prctl(2) with integer arguments, for options python-prctl does not wrap (PR_CAP_AMBIENT). */
int pyr_prctl(int option, unsigned long arg2, unsigned long arg3);

/* bpf(2): runs `cmd` on the union bpf_attr of `size` bytes at `attr`, filled in by the caller;
 * returns what the command returns (a new fd for BPF_PROG_LOAD). cgroup v2 has no file for device
 * rules, only an eBPF program to load and attach (pyrunc/cgroups/bpf.py builds it). */
int pyr_bpf(int cmd, void *attr, unsigned int size);

/* open_tree(2): an O_PATH-like fd for the mount tree at `path` (relative to `dirfd`). With
 * OPEN_TREE_CLONE (1) in `flags` the tree is a detached copy, recursive with AT_RECURSIVE
 * (0x8000): a bind mount that mount_setattr can change before anything sees it, and that
 * move_mount attaches wherever an fd points, with no path resolution in between. */
int pyr_open_tree(int dirfd, const char *path, unsigned int flags);

/* move_mount(2): attach or move the mount `from_path` (relative to `from_dirfd`, "" with
 * MOVE_MOUNT_F_EMPTY_PATH 0x4) onto `to_path` (relative to `to_dirfd`, "" with
 * MOVE_MOUNT_T_EMPTY_PATH 0x40). */
int pyr_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                   unsigned int flags);

/* mount_setattr(2) with struct mount_attr {attr_set, attr_clr, propagation, userns_fd}: changes
 * only the MOUNT_ATTR_* bits named, so flags the kernel locked in a user namespace need not be
 * repeated; with AT_RECURSIVE (0x8000) in `flags` on every mount of the tree (the `r*` options);
 * with MOUNT_ATTR_IDMAP (0x100000) in `attr_set` idmaps a detached mount through the user
 * namespace `userns_fd`. */
int pyr_mount_setattr(int dirfd, const char *path, unsigned int flags, unsigned long long attr_set,
                      unsigned long long attr_clr, unsigned long long propagation, int userns_fd);

/* fsopen(2) with FSOPEN_CLOEXEC, fsconfig(2) (`cmd` FSCONFIG_SET_FLAG 0, _SET_STRING 1,
 * _CMD_CREATE 6; `key`/`value` may be NULL) and fsmount(2) with FSMOUNT_CLOEXEC and
 * MOUNT_ATTR_* `attr_flags`: a new filesystem as a detached mount fd, which move_mount attaches
 * onto an fd, so that no path (and no /proc/self/fd magic link) is resolved on the way. */
int pyr_fsopen(const char *fstype);
int pyr_fsconfig(int fd, unsigned int cmd, const char *key, const char *value);
int pyr_fsmount(int fd, unsigned int attr_flags);

/* fstatfs(2)'s f_type (the filesystem's magic number) of what `fd` is on, or -1: Python's
 * os.fstatvfs does not report it, and a procfs write must be proven to reach procfs. */
long long pyr_fstatfs_type(int fd);

/* Start a child in a new user namespace that runs no code but pause() until it is killed (and
 * gets SIGKILL when the caller dies). The caller writes its /proc/<pid>/uid_map and gid_map,
 * opens /proc/<pid>/ns/user (the user namespace an idmapped mount needs), then kills and reaps
 * it. The child never returns into Python. Returns its pid. */
int pyr_spawn_userns(void);

/* Detach /proc/self/exe from the host's interpreter (the CVE-2019-5736 class): a container
 * process with CAP_SYS_PTRACE in the host's user namespace passes the ptrace check even on a
 * non-dumpable process, and could open /proc/<init>/exe, a host file, and later write to it.
 * Every private mapping of the executable is replaced by an anonymous copy with the same
 * content and protection (no code of the executable runs meanwhile: this is C in another
 * object, and `main` never gets control back), then PR_SET_MM_MAP points exe_file at a sealed,
 * empty, read-only memfd. Needs CAP_SYS_ADMIN. Returns 0, or -1 (errno EINVAL when the kernel
 * lacks PR_SET_MM_MAP, the caller may then rely on non-dumpable alone). */
int pyr_hide_exe(void);

/* Join `n` namespaces (fds[i] of CLONE_NEW* type types[i]) in the order the kernel accepts:
 * every non-user namespace, then the user namespace, then again those that failed with EPERM
 * before it. Must be called single-threaded, unshared fs (a fork child). A joined pid
 * namespace applies to children only. Returns 0 or -1 with errno of the failing setns. */
int pyr_join_namespaces(const int *fds, const int *types, int n);

/* seccomp(SECCOMP_SET_MODE_FILTER, flags) with the `count` struct sock_filter instructions at
 * `insns` (compiled at create time, pyrunc/seccomp.py). Returns the listener fd when `flags`
 * has SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0. Needs no_new_privs or CAP_SYS_ADMIN. */
int pyr_seccomp_load(const void *insns, unsigned int count, unsigned int flags);

/* Whether the kernel takes these SECCOMP_FILTER_FLAG_* `flags`: seccomp(SECCOMP_SET_MODE_FILTER,
 * flags, NULL) checks the flags before it reads the (absent) program, so EFAULT means yes and
 * EINVAL no. Returns 0 if supported, else -1 with errno. Loads nothing. */
int pyr_seccomp_flags_supported(unsigned int flags);

/* The last step when the filter comes last (noNewPrivileges): pyr_seccomp_load, and when that
 * gives a listener fd, send it over `notify_sock` (payload "seccomp", one SCM_RIGHTS fd) and
 * wait for one message back (the runtime has handed it to the seccomp agent), close it; then
 * execve. The fds from `first_cloexec` on are marked close-on-exec first, before the filter,
 * which need not allow close_range. No interpreter code runs under the filter unless this
 * fails. Only returns on failure. */
int pyr_exec_seccomp(const char *path, char *const argv[], char *const envp[], int first_cloexec,
                     const void *insns, unsigned int count, unsigned int flags, int notify_sock);

/* sched_setattr(2) on the calling thread (process.scheduler): Python has no wrapper and
 * os.sched_setscheduler cannot set flags, nice together with a policy, or deadline values. */
int pyr_sched_setattr(unsigned int policy, unsigned long long flags, int nice, unsigned int priority,
                      unsigned long long runtime, unsigned long long deadline, unsigned long long period);

/* ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio) (process.ioPriority): no libc or Python wrapper. */
int pyr_ioprio_set(int ioprio);

/* personality(2) (linux.personality); returns the previous persona. */
int pyr_personality(unsigned long persona);

/* Start a short-lived task sharing our memory (CLONE_VM, its own small stack) that writes
 * `data` to the file `path` and exits; returns its pid at once (reap it with waitpid). The
 * runtime uses it to write its own pid into the cgroup.procs of the cgroup it is already in:
 * a no-op migration that makes the kernel start the RCU grace period every first cgroup
 * migration waits for (8-20 ms here), while the runtime goes on with its own work. No
 * Python runs in the task, so it needs no interpreter state. */
int pyr_write_async(const char *path, const char *data);

/* The same `data` written to each of the `n` files `paths` in order, one open(O_WRONLY), one
 * write(2) and one close each: the runtime's echo <pid> > cgroup.procs for every v1 hierarchy
 * (create.RuntimeOps.perform_steps), while the init waits for them, in one call. Returns how many
 * were written; below `n`, errno is that of the file at that index. */
int pyr_write_each(const char *const *paths, int n, const char *data);

/* statfs(2) of `path`: its file system's magic number (f_type), e.g. to tell that /proc/self/exe
 * is on the launcher's read-only overlayfs. */
long long pyr_statfs_type(const char *path);

/* One step of mountops.py for pyr_fs_steps: `op` 1 mask_path, 2 readonly_path, 3 mknod,
 * 4 symlink, 5 mount_at, 6 bind_mount. Every path is resolved with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) from `root`, opened once per call and again after a step mounted over
 * it (the same device and inode), unless `given`: then `fd`, held by the caller, is the
 * destination (mount_at, bind_mount) or the directory of `name` (mknod, symlink) its method
 * resolved and checked. The `dir` a node or a missing destination is made in stays open for the
 * next step with the same `dir`, until a step mounts anywhere but on a name just made in it. */
struct pyr_fs_step {
    int op;
    const char *root;
    const char *path;       /* the step's path (mknod, symlink: unused) */
    const char *dir;        /* the directory that holds `name`: made in it when missing */
    const char *name;
    const char *target;     /* symlink: the link's content; mount_at, bind_mount: the source */
    const char *fstype;     /* mount_at */
    const char *data;       /* mount_at: the options; mask_path: the tmpfs's label (context=), or NULL */
    unsigned long flags;    /* mount_at: MS_* flags; bind_mount: open_tree's AT_RECURSIVE or 0 */
    const unsigned long long *attrs; /* bind_mount: `nattrs` (AT_RECURSIVE or 0, set, clear) triples */
    int nattrs;
    int guard;              /* mount_at, bind_mount: give the step back when the destination is on a
                             * procfs, or is the directory proc_dev:proc_ino (has_proc_dir), unless
                             * `is_proc` (mount_at of a procfs) and it is that directory or a procfs's root */
    int is_proc;
    int plain;              /* mount_at: the destination is resolved without any symlink, and must be a
                             * directory if it exists (else the step is given back) */
    int has_proc_dir;
    unsigned long long proc_dev, proc_ino;
    unsigned int mode;      /* mknod: S_IFMT type | permission bits */
    unsigned long long dev; /* mknod: the device number */
    int uid, gid;           /* mknod: fchownat when either is not 0 */
    int given, fd;
};

/* The kernel work of mountops.py's filesystem steps, the only copy of it: a method performs its
 * step with a list of one (after deciding what only it decides), and a phase's run of them costs
 * one call:
 *   mask_path: a directory gets an empty read-only tmpfs (fsmount with RDONLY, NOSUID, NODEV,
 *     NOEXEC; labelled with `data`), anything else a detached copy (open_tree) of the root's
 *     /dev/null, each moved onto an O_PATH fd of the path; a path that does not resolve (ENOENT,
 *     ENOTDIR) is left; a /dev/null that is not the null device fails with EINVAL;
 *   readonly_path: "/" gets MOUNT_ATTR_RDONLY; another path a recursive detached copy of its
 *     tree, made read-only throughout, moved onto it; a path that does not resolve is left;
 *   mknod: mknodat, then fchmodat2 to the mode (mknod applied the umask) and, with a uid or
 *     gid, fchownat, neither following a symlink;
 *   symlink: symlinkat;
 *   mount_at: mount(2) of `target` onto /proc/self/fd/N of the path (a directory `name` made in
 *     `dir` when missing, then opened there with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
 *   bind_mount: open_tree(OPEN_TREE_CLONE) of `target`, mount_setattr per triple, move_mount
 *     onto the path (made in `dir` as a directory or an empty file, as the tree's root, when
 *     missing).
 * Returns `n` when every step is done. Otherwise the index of the step that stopped, errno set,
 * *failed the call its error names ("move_mount", "fsconfig tmpfs ro"..., "/dev/null" for
 * the null device check) or NULL for the reason alone, and *changed 1 when that step had
 * changed something first (a node made, its mode or owner not set), else 0: nothing of that
 * step was done but what its method would do again the same way (a directory made), and the
 * caller's own method may perform it. A step also stops there (errno 0) for what only its method
 * decides: a missing `dir` or `name` that is a symlink, a guarded destination on a procfs or at
 * the rootfs's /proc. */
int pyr_fs_steps(const struct pyr_fs_step *steps, int n, int *changed, const char **failed);
