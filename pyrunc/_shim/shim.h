/* pyrunc native shim: the syscalls Python cannot make safely, and nothing else.
 * Every function returns -1 (or a negative value) and leaves errno set on failure,
 * unless its comment says otherwise. This file is read both by the C compiler and
 * by cffi's cdef parser, so it holds declarations only. */

/* Clone the calling (single-threaded) process like fork(), with the CLONE_NEW* bits of
 * `flags`. Returns the child's pid in the parent and 0 in the child, which goes on from
 * the call like a fork child. When `flags` has CLONE_NEWUSER and `sync_fd` >= 0, the child
 * runs no code but a read() of one byte from `sync_fd` until the parent has written the
 * id maps, then becomes root of the new user namespace (setresgid/setresuid 0) before it
 * returns. If that read fails (the parent died), the child exits with status 1. The child
 * gets `pdeathsig` as its parent-death signal when it is non-zero. */
int pyr_clone(unsigned long flags, int sync_fd, int pdeathsig);

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

/* The last step of a container's init: marks every fd from `first_cloexec` on close-on-exec
 * (close_range), then execve(path, argv, envp). Only returns on failure. */
int pyr_exec(const char *path, char *const argv[], char *const envp[], int first_cloexec);

/* prlimit(2) on the calling process: `resource` is a separate extension module whose
 * loading costs more than the call. RLIM_INFINITY is ~0ULL. */
int pyr_setrlimit(int resource, unsigned long long soft, unsigned long long hard);

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
