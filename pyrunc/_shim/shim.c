/* pyrunc native shim; the contract of each function is in shim.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "shim.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct pyr_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

/* Blocks until the parent's one byte arrives on `sync_fd`. */
static int await_parent_byte(int sync_fd)
{
    char c;
    ssize_t n;
    do {
        n = read(sync_fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

/* Waits for the parent's "maps written" byte, then takes uid/gid 0 in the new user namespace. */
static int become_root_after_maps(int sync_fd)
{
    if (await_parent_byte(sync_fd) < 0)
        return -1;
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        return -1;
    /* An unprivileged runtime left the child dumpable so that it could open its /proc files for
     * the maps; from here on it is not (a privileged runtime made it so before clone). */
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int pyr_clone(unsigned long flags, int sync_fd, int pdeathsig, int cgroup_fd)
{
    long pid;
    if (cgroup_fd >= 0) {
        struct clone_args args;
        memset(&args, 0, sizeof(args));
        args.flags = (flags & ~0xffUL) | CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (unsigned long long)cgroup_fd;
        pid = syscall(SYS_clone3, &args, sizeof(args));
    } else {
        pid = syscall(SYS_clone, (flags & ~0xffUL) | SIGCHLD, 0, 0, 0, 0);
    }
    if (pid != 0)
        return (int)pid;
    if (pdeathsig)
        prctl(PR_SET_PDEATHSIG, pdeathsig, 0, 0, 0);
    if (sync_fd >= 0 && ((flags & CLONE_NEWUSER) ? become_root_after_maps(sync_fd) : await_parent_byte(sync_fd)) < 0)
        _exit(1);
    return 0;
}

int pyr_unshare_user(unsigned long flags, int sync_fd)
{
    if (unshare((int)flags) < 0)
        return -1;
    if (write(sync_fd, "M", 1) != 1)
        return -1;
    return become_root_after_maps(sync_fd);
}

int pyr_unshare(unsigned long flags) { return unshare((int)flags); }

int pyr_setns(int fd, int nstype) { return setns(fd, nstype); }

int pyr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data)
{
    return mount(source, target, fstype, flags, data);
}

int pyr_umount2(const char *target, int flags) { return umount2(target, flags); }

int pyr_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int pyr_sethostname(const char *name, size_t len) { return sethostname(name, len); }

int pyr_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }

int pyr_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve)
{
    struct pyr_open_how how = {.flags = (uint64_t)flags, .mode = (uint64_t)mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int pyr_link_up(const char *name)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int pyr_cloexec_from(int first)
{
    return (int)syscall(SYS_close_range, (unsigned int)first, ~0U, CLOSE_RANGE_CLOEXEC);
}

int pyr_close_range(unsigned int first, unsigned int last)
{
    return (int)syscall(SYS_close_range, first, last, 0U);
}

int pyr_exec(const char *path, char *const argv[], char *const envp[], int first_cloexec)
{
    if (first_cloexec >= 0 && pyr_cloexec_from(first_cloexec) < 0)
        return -1;
    execve(path, argv, envp);
    return -1;
}

int pyr_join_session_keyring(const char *name)
{
    return (int)syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
}

int pyr_keyctl_describe(int serial, char *buf, unsigned int len)
{
    return (int)syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, buf, (unsigned long)len);
}

int pyr_keyctl_setperm(int serial, unsigned int perm)
{
    return (int)syscall(SYS_keyctl, KEYCTL_SETPERM, serial, (unsigned long)perm);
}

int pyr_prlimit(int pid, int resource, unsigned long long soft, unsigned long long hard)
{
    struct rlimit64 lim = {.rlim_cur = soft, .rlim_max = hard};
    return prlimit64((pid_t)pid, (enum __rlimit_resource)resource, &lim, NULL);
}

int pyr_pty_unlock(int fd)
{
    int unlock = 0, n = -1;
    if (ioctl(fd, TIOCSPTLCK, &unlock) < 0 || ioctl(fd, TIOCGPTN, &n) < 0)
        return -1;
    return n;
}

int pyr_set_winsize(int fd, unsigned short rows, unsigned short cols)
{
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &ws);
}

int pyr_get_winsize(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
        return -1;
    return (int)((unsigned)ws.ws_row << 16 | ws.ws_col);
}

int pyr_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int pyr_capset(unsigned long long effective, unsigned long long permitted,
               unsigned long long inheritable)
{
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
    };
    return (int)syscall(SYS_capset, &hdr, data);
}

int pyr_prctl(int option, unsigned long arg2, unsigned long arg3)
{
    return prctl(option, arg2, arg3, 0, 0);
}

int pyr_bpf(int cmd, void *attr, unsigned int size)
{
    return (int)syscall(SYS_bpf, cmd, attr, size);
}

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct pyr_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

int pyr_open_tree(int dirfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int pyr_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                   unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

int pyr_fsopen(const char *fstype) { return (int)syscall(SYS_fsopen, fstype, 1U /* FSOPEN_CLOEXEC */); }

int pyr_fsconfig(int fd, unsigned int cmd, const char *key, const char *value)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, 0);
}

int pyr_fsmount(int fd, unsigned int attr_flags)
{
    return (int)syscall(SYS_fsmount, fd, 1U /* FSMOUNT_CLOEXEC */, attr_flags);
}

long long pyr_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -1;
    return (long long)(unsigned long)st.f_type;
}

int pyr_mount_setattr(int dirfd, const char *path, unsigned int flags, unsigned long long attr_set,
                      unsigned long long attr_clr, unsigned long long propagation, int userns_fd)
{
    struct pyr_mount_attr attr = {
        .attr_set = attr_set,
        .attr_clr = attr_clr,
        .propagation = propagation,
        .userns_fd = userns_fd < 0 ? 0 : (uint64_t)userns_fd,
    };
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}

int pyr_spawn_userns(void)
{
    pid_t parent = getpid();
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0)
        return (int)pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(0);
    for (;;)
        pause();
}

/* ---- the container process: exe hiding, namespace joins, seccomp, scheduling ---- */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef SYS_seccomp
#define SYS_seccomp 317
#endif

struct pyr_mm_map {
    uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
    uint64_t arg_start, arg_end, env_start, env_end;
    uint64_t *auxv;
    uint32_t auxv_size, exe_fd;
};

struct pyr_range {
    unsigned long start, end;
    int prot;
};

/* Replace one private file mapping by an anonymous one with the same bytes and protection. */
static int anonymize(const struct pyr_range *r)
{
    size_t size = r->end - r->start;
    void *addr = (void *)r->start;
    if (!(r->prot & PROT_READ) && mprotect(addr, size, r->prot | PROT_READ) < 0)
        return -1;
    void *copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED)
        return -1;
    memcpy(copy, addr, size);
    if (mprotect(copy, size, r->prot) < 0 ||
        mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
        int saved = errno;
        munmap(copy, size);
        errno = saved;
        return -1;
    }
    return 0;
}

/* The mm fields PR_SET_MM_MAP must be given back unchanged, from /proc/self/stat. */
static int read_mm_map(struct pyr_mm_map *map)
{
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long f[52] = {0};
    int field = 2;
    p++;
    while (*p && field < 51) {
        while (*p == ' ')
            p++;
        field++;
        f[field] = strtoull(p, &p, 10);
        if (field == 3) /* the state letter */
            while (*p && *p != ' ')
                p++;
    }
    if (field < 51) {
        errno = EINVAL;
        return -1;
    }
    memset(map, 0, sizeof(*map));
    map->start_code = f[26];
    map->end_code = f[27];
    map->start_stack = f[28];
    map->start_data = f[45];
    map->end_data = f[46];
    map->start_brk = f[47];
    map->arg_start = f[48];
    map->arg_end = f[49];
    map->env_start = f[50];
    map->env_end = f[51];
    map->brk = (uint64_t)syscall(SYS_brk, 0);
    return 0;
}

int pyr_hide_exe(void)
{
    struct stat exe;
    char exe_path[4096], line[4096 + 256], proc[64];
    struct pyr_range ranges[32];
    int nranges = 0;
    unsigned int mm_size = 0;

    if (prctl(PR_SET_MM, 15 /* PR_SET_MM_MAP_SIZE */, (unsigned long)&mm_size, 0, 0) < 0 ||
        mm_size != sizeof(struct pyr_mm_map)) {
        errno = EINVAL;
        return -1;
    }
    ssize_t len = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
    if (len < 0 || stat("/proc/self/exe", &exe) < 0)
        return -1;
    exe_path[len] = 0;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return -1;
    while (fgets(line, sizeof(line), maps)) {
        unsigned long start, end, inode;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu %n", &start, &end, perms, &inode, &path_at) < 4)
            continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = 0;
        if (inode != exe.st_ino || strcmp(path, exe_path) != 0)
            continue;
        if (nranges == 32) {
            fclose(maps);
            errno = E2BIG;
            return -1;
        }
        ranges[nranges].start = start;
        ranges[nranges].end = end;
        ranges[nranges].prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                               (perms[2] == 'x' ? PROT_EXEC : 0);
        nranges++;
    }
    fclose(maps);
    for (int i = 0; i < nranges; i++)
        if (anonymize(&ranges[i]) < 0)
            return -1;

    int memfd = (int)syscall(SYS_memfd_create, "pyrunc-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (memfd < 0 && errno == EINVAL)
        memfd = (int)syscall(SYS_memfd_create, "pyrunc-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0)
        return -1;
    /* exe_file must not be open for writing: seal it, then keep only a read-only descriptor. */
    fchmod(memfd, 0555);
    fcntl(memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", memfd);
    int ro = open(proc, O_RDONLY | O_CLOEXEC);
    int saved = errno;
    close(memfd);
    if (ro < 0) {
        errno = saved;
        return -1;
    }
    struct pyr_mm_map map;
    int rc = read_mm_map(&map);
    if (rc == 0) {
        map.exe_fd = (uint32_t)ro;
        rc = prctl(PR_SET_MM, 14 /* PR_SET_MM_MAP */, (unsigned long)&map, sizeof(map), 0);
    }
    saved = errno;
    close(ro);
    errno = saved;
    return rc;
}

int pyr_join_namespaces(const int *fds, const int *types, int n)
{
    int retry[16], nretry = 0, user = -1;
    if (n > 16) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (types[i] == CLONE_NEWUSER) {
            user = i;
            continue;
        }
        if (setns(fds[i], types[i]) < 0) {
            if (errno != EPERM)
                return -1;
            retry[nretry++] = i;
        }
    }
    if (user >= 0 && setns(fds[user], CLONE_NEWUSER) < 0)
        return -1;
    for (int i = 0; i < nretry; i++)
        if (setns(fds[retry[i]], types[retry[i]]) < 0)
            return -1;
    return 0;
}

struct pyr_sock_fprog {
    unsigned short len;
    const void *filter;
};

int pyr_seccomp_load(const void *insns, unsigned int count, unsigned int flags)
{
    struct pyr_sock_fprog prog = {.len = (unsigned short)count, .filter = insns};
    if (count == 0 || count > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog);
}

int pyr_seccomp_flags_supported(unsigned int flags)
{
    if (syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, NULL) == 0)
        return 0; /* cannot happen: no program */
    if (errno == EFAULT)
        return 0;
    return -1;
}

/* Send `fd` with the payload "seccomp" and wait for the runtime's one-message answer. */
static int hand_over_listener(int sock, int fd)
{
    char payload[] = "seccomp", answer[64];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload) - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof(control)};
    memset(control, 0, sizeof(control));
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        return -1;
    ssize_t n;
    do {
        n = read(sock, answer, sizeof(answer));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        errno = n == 0 ? EPIPE : errno;
        return -1;
    }
    return 0;
}

int pyr_exec_seccomp(const char *path, char *const argv[], char *const envp[], int first_cloexec,
                     const void *insns, unsigned int count, unsigned int flags, int notify_sock)
{
    if (pyr_cloexec_from(first_cloexec) < 0)
        return -1;
    int fd = pyr_seccomp_load(insns, count, flags);
    if (fd < 0)
        return -1;
    if (fd > 0) {
        int rc = notify_sock >= 0 ? hand_over_listener(notify_sock, fd) : (errno = EBADF, -1);
        int saved = errno;
        close(fd);
        if (rc < 0) {
            errno = saved;
            return -1;
        }
    }
    execve(path, argv, envp);
    return -1;
}

struct pyr_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};

int pyr_sched_setattr(unsigned int policy, unsigned long long flags, int nice, unsigned int priority,
                      unsigned long long runtime, unsigned long long deadline, unsigned long long period)
{
    struct pyr_sched_attr attr = {
        .size = sizeof(attr), .sched_policy = policy, .sched_flags = flags, .sched_nice = nice,
        .sched_priority = priority, .sched_runtime = runtime, .sched_deadline = deadline,
        .sched_period = period,
    };
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

int pyr_ioprio_set(int ioprio) { return (int)syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, ioprio); }

int pyr_personality(unsigned long persona) { return personality(persona); }

#define WRITE_ASYNC_STACK (64 * 1024)

struct write_async {
    char path[4096];
    char data[64];
    char stack[WRITE_ASYNC_STACK] __attribute__((aligned(16)));
};

static struct write_async write_async_job;

/* The task shares the caller's thread-local storage, so it must not set errno: raw syscalls. */
static long raw3(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#else
    return syscall(nr, a, b, c);
#endif
}

static int write_async_task(void *arg)
{
    struct write_async *job = arg;
    long fd = raw3(SYS_openat, AT_FDCWD, (long)job->path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        raw3(SYS_write, fd, (long)job->data, (long)strlen(job->data));
        raw3(SYS_close, fd, 0, 0);
    }
    for (;;)
        raw3(SYS_exit, 0, 0, 0);
    return 0;
}

int pyr_write_async(const char *path, const char *data)
{
    if (strlen(path) >= sizeof(write_async_job.path) || strlen(data) >= sizeof(write_async_job.data)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(write_async_job.path, path);
    strcpy(write_async_job.data, data);
    return clone(write_async_task, write_async_job.stack + WRITE_ASYNC_STACK, CLONE_VM | SIGCHLD, &write_async_job);
}

int pyr_write_each(const char *const *paths, int n, const char *data)
{
    size_t len = strlen(data);
    for (int i = 0; i < n; i++) {
        int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return i;
        ssize_t w = write(fd, data, len);
        if (w >= 0 && (size_t)w != len)
            errno = EIO;
        int saved = errno;
        close(fd);
        if (w < 0 || (size_t)w != len) {
            errno = saved;
            return i;
        }
    }
    return n;
}

long long pyr_statfs_type(const char *path)
{
    struct statfs st;
    if (statfs(path, &st) < 0)
        return -1;
    return (long long)st.f_type;
}

/* ---- mountops.py's filesystem steps, one or a run of them in one call (pyr_fs_steps) ---- */
#define PYR_RESOLVE (0x10ULL /* RESOLVE_IN_ROOT */ | 0x02ULL /* RESOLVE_NO_MAGICLINKS */)
#define PYR_ATTR_RDONLY 0x1U
#define PYR_MASK_ATTRS (0x1U | 0x2U | 0x4U | 0x8U) /* MOUNT_ATTR_RDONLY|NOSUID|NODEV|NOEXEC */
#define PYR_AT_EMPTY_PATH 0x1000U
#define PYR_AT_RECURSIVE 0x8000U
#define PYR_CLONE_TREE (1U /* OPEN_TREE_CLONE */ | O_CLOEXEC)
#define PYR_MOVE_EMPTY (0x4U | 0x40U) /* MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH */

/* The call named in the error of the step that stopped (NULL: the reason alone). */
static const char *fs_failed;

static int named(int rc, const char *what)
{
    if (rc < 0)
        fs_failed = what;
    return rc;
}

/* close() keeping errno: the cleanup after a failure must not hide its reason. */
static void close_keep_errno(int fd)
{
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
}

/* What one call of pyr_fs_steps keeps open between its steps: the fd of the last `root` (its
 * device and inode, to tell a mount over it) and of the last `dir` a node or a missing
 * destination was made in. A step that mounts over the root drops both; one that mounts
 * anywhere but on a name just made in the kept `dir` drops the `dir` (the mount may cover it
 * or one of its parents, through a symlink). */
struct fs_cache {
    const char *root;
    int root_fd;
    dev_t root_dev;
    ino_t root_ino;
    const char *dir;
    int dir_fd;
};

static void drop_dir(struct fs_cache *c)
{
    close_keep_errno(c->dir_fd);
    c->dir_fd = -1;
    c->dir = NULL;
}

static void drop_root(struct fs_cache *c)
{
    drop_dir(c);
    close_keep_errno(c->root_fd);
    c->root_fd = -1;
    c->root = NULL;
}

/* The kept fd of `root` (O_PATH), opened when it is another root or was dropped. */
static int root_of(struct fs_cache *c, const char *root)
{
    struct stat st;
    if (c->root && strcmp(c->root, root) == 0)
        return c->root_fd;
    drop_root(c);
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        close_keep_errno(fd);
        return -1;
    }
    c->root = root;
    c->root_fd = fd;
    c->root_dev = st.st_dev;
    c->root_ino = st.st_ino;
    return fd;
}

/* An O_PATH fd of `path` resolved inside `root`, the caller's to close. */
static int open_in(struct fs_cache *c, const char *root, const char *path)
{
    int root_fd = root_of(c, root);
    if (root_fd < 0)
        return -1;
    return pyr_openat2(root_fd, path, O_PATH | O_CLOEXEC, 0, PYR_RESOLVE);
}

/* The kept fd of `dir` resolved inside `root` (the cache's to close). */
static int dir_in(struct fs_cache *c, const char *root, const char *dir)
{
    if (c->dir && c->root && strcmp(c->dir, dir) == 0 && strcmp(c->root, root) == 0)
        return c->dir_fd;
    drop_dir(c);
    int fd = open_in(c, root, dir);
    if (fd < 0)
        return -1;
    c->dir = dir;
    c->dir_fd = fd;
    return fd;
}

/* After a mount onto the file `st`: made just now as a name in the kept `dir` (`fresh`), it
 * covers neither that directory nor the root; anything else may. */
static void mounted_on(struct fs_cache *c, const struct stat *st, int fresh)
{
    if (c->root && st->st_dev == c->root_dev && st->st_ino == c->root_ino)
        drop_root(c);
    else if (!fresh)
        drop_dir(c);
}

/* The fd the step's method resolved and checked (`given`): a copy, closed as one opened here. */
static int given_fd(const struct pyr_fs_step *s)
{
    return fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
}

/* move_mount the detached `tree` onto `fd`, the file `st` (`fresh`: see mounted_on); both closed. */
static int attach(struct fs_cache *c, int tree, int fd, const struct stat *st, int fresh)
{
    int rc = tree < 0 ? -1 : named(pyr_move_mount(tree, "", fd, "", PYR_MOVE_EMPTY), "move_mount");
    close_keep_errno(tree);
    close_keep_errno(fd);
    if (rc == 0)
        mounted_on(c, st, fresh);
    return rc;
}

/* 1 with `*fd` and `*st` for the step's path in its root; 0 when it is absent (nothing to mask or
 * make read-only there); -1 on an error. */
static int open_present(struct fs_cache *c, const struct pyr_fs_step *s, int *fd, struct stat *st)
{
    *fd = open_in(c, s->root, s->path);
    if (*fd < 0)
        return (errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
    if (fstat(*fd, st) < 0) {
        close_keep_errno(*fd);
        return -1;
    }
    return 1;
}

/* An empty read-only tmpfs, labelled `label` (its SELinux context) unless NULL. */
static int empty_tmpfs(const char *label)
{
    int ctx = named(pyr_fsopen("tmpfs"), "fsopen tmpfs");
    if (ctx < 0)
        return -1;
    int tree = -1;
    if (named(pyr_fsconfig(ctx, 0 /* FSCONFIG_SET_FLAG */, "ro", NULL), "fsconfig tmpfs ro") == 0 &&
        (!label || named(pyr_fsconfig(ctx, 1 /* FSCONFIG_SET_STRING */, "context", label),
                         "fsconfig tmpfs context") == 0) &&
        named(pyr_fsconfig(ctx, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL), "create a tmpfs filesystem") == 0)
        tree = named(pyr_fsmount(ctx, PYR_MASK_ATTRS), "fsmount tmpfs");
    close_keep_errno(ctx);
    return tree;
}

/* A detached copy of the root's /dev/null; EINVAL when it is not the null device. */
static int null_copy(struct fs_cache *c, const char *root)
{
    struct stat st;
    int null = open_in(c, root, "/dev/null");
    if (null < 0)
        return -1;
    if (fstat(null, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(null);
        errno = EINVAL;
        fs_failed = "/dev/null";
        return -1;
    }
    int tree = pyr_open_tree(null, "", PYR_CLONE_TREE | PYR_AT_EMPTY_PATH);
    close_keep_errno(null);
    return tree;
}

static int mask_path(struct fs_cache *c, const struct pyr_fs_step *s)
{
    struct stat st;
    int fd, found = open_present(c, s, &fd, &st);
    if (found <= 0)
        return found;
    return attach(c, S_ISDIR(st.st_mode) ? empty_tmpfs(s->data) : null_copy(c, s->root), fd, &st, 0);
}

static int readonly_path(struct fs_cache *c, const struct pyr_fs_step *s)
{
    struct stat st;
    if (strcmp(s->path, "/") == 0) {
        int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        int rc = named(pyr_mount_setattr(fd, "", PYR_AT_EMPTY_PATH, PYR_ATTR_RDONLY, 0, 0, -1), "mount_setattr");
        close_keep_errno(fd);
        return rc;
    }
    int fd, found = open_present(c, s, &fd, &st);
    if (found <= 0)
        return found;
    int tree = pyr_open_tree(fd, "", PYR_CLONE_TREE | PYR_AT_EMPTY_PATH | PYR_AT_RECURSIVE);
    if (tree >= 0 && named(pyr_mount_setattr(tree, "", PYR_AT_EMPTY_PATH | PYR_AT_RECURSIVE, PYR_ATTR_RDONLY, 0, 0, -1),
                           "mount_setattr") < 0) {
        close_keep_errno(tree);
        tree = -1;
    }
    return attach(c, tree, fd, &st, 0);
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* fchmodat without following a symlink: fchmodat2 (Linux 6.6) in one call, else glibc's
 * emulation (an O_PATH open and a chmod of its /proc/self/fd link). */
static int chmod_nofollow(int dir, const char *name, unsigned int mode)
{
    if (syscall(SYS_fchmodat2, dir, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    return fchmodat(dir, name, mode, AT_SYMLINK_NOFOLLOW);
}

/* mknod and symlink; *changed once the node exists but its mode or owner is not yet set. */
static int make_node(struct fs_cache *c, const struct pyr_fs_step *s, int *changed)
{
    int dir = s->given ? given_fd(s) : dir_in(c, s->root, s->dir);
    if (dir < 0)
        return -1;
    int rc;
    if (s->op == 4) {
        rc = symlinkat(s->target, dir, s->name);
    } else {
        rc = mknodat(dir, s->name, s->mode, (dev_t)s->dev);
        if (rc == 0) {
            *changed = 1;
            rc = chmod_nofollow(dir, s->name, s->mode & 07777);
            if (rc == 0 && (s->uid || s->gid))
                rc = fchownat(dir, s->name, (uid_t)s->uid, (gid_t)s->gid, AT_SYMLINK_NOFOLLOW);
            if (rc == 0)
                *changed = 0;
        }
    }
    if (s->given)
        close_keep_errno(dir);
    return rc;
}

#define PYR_GIVE_BACK (-2) /* not an error: the step is its method's to perform */
#define PYR_RESOLVE_NAME (0x08ULL /* RESOLVE_BENEATH */ | 0x04ULL /* RESOLVE_NO_SYMLINKS */)
#define PYR_RESOLVE_PLAIN (0x10ULL /* RESOLVE_IN_ROOT */ | 0x04ULL /* RESOLVE_NO_SYMLINKS */)

/* An O_PATH fd of the step's path; when missing, `name` is made in `dir` first (a directory,
 * or with `file` an empty file), as paths.open_in_root(create=...) does, and opened there
 * without following a symlink (*fresh then 1). */
static int open_or_make(struct fs_cache *c, const struct pyr_fs_step *s, int file, int *fresh)
{
    *fresh = 0;
    if (s->given)
        return given_fd(s);
    int fd;
    if (s->plain) {
        struct stat st;
        int root_fd = root_of(c, s->root);
        fd = root_fd < 0 ? -1 : pyr_openat2(root_fd, s->path, O_PATH | O_CLOEXEC, 0, PYR_RESOLVE_PLAIN);
        if (fd < 0 && errno == ELOOP)
            return PYR_GIVE_BACK; /* a symlink on the way: its method refuses it */
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
            close_keep_errno(fd);
            return PYR_GIVE_BACK; /* not a directory: its method refuses it */
        }
    } else {
        fd = open_in(c, s->root, s->path);
    }
    if (fd >= 0 || errno != ENOENT)
        return fd;
    int dir = dir_in(c, s->root, s->dir);
    if (dir < 0)
        return errno == ENOENT ? PYR_GIVE_BACK : -1;
    int rc;
    if (file) {
        rc = openat(dir, s->name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
        if (rc >= 0)
            close(rc);
    } else {
        rc = mkdirat(dir, s->name, 0755);
    }
    if (rc < 0)
        return errno == EEXIST ? PYR_GIVE_BACK : -1; /* a dangling symlink: followed by the method */
    fd = pyr_openat2(dir, s->name, O_PATH | O_CLOEXEC, 0, PYR_RESOLVE_NAME);
    if (fd < 0)
        return errno == ELOOP ? PYR_GIVE_BACK : -1; /* replaced meanwhile: its method's again */
    *fresh = 1;
    return fd;
}

/* mountops._proc_guard's cases that fail, left to it to say: a destination on a procfs (but a
 * procfs's root for a procfs), or the rootfs's own /proc directory for anything but a procfs.
 * `st` is the destination's. */
static int guarded(const struct pyr_fs_step *s, int fd, const struct stat *st)
{
    if (!s->guard)
        return 0;
    if (pyr_fstatfs_type(fd) == 0x9fa0 /* PROC_SUPER_MAGIC */)
        return s->is_proc && st->st_ino == 1 /* PROC_ROOT_INO */ ? 0 : PYR_GIVE_BACK;
    if (S_ISDIR(st->st_mode) && s->has_proc_dir && st->st_dev == s->proc_dev && st->st_ino == s->proc_ino)
        return s->is_proc ? 0 : PYR_GIVE_BACK;
    return 0;
}

static int mount_at(struct fs_cache *c, const struct pyr_fs_step *s)
{
    char proc[64];
    struct stat st;
    int fresh;
    int fd = open_or_make(c, s, 0, &fresh);
    if (fd < 0)
        return fd;
    int rc = fstat(fd, &st);
    if (rc == 0)
        rc = guarded(s, fd, &st);
    if (rc == 0) {
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        rc = mount(s->target, proc, s->fstype, s->flags, s->data);
        if (rc == 0)
            mounted_on(c, &st, fresh);
    }
    close_keep_errno(fd);
    return rc;
}

static int bind_mount(struct fs_cache *c, const struct pyr_fs_step *s)
{
    struct stat st;
    int fresh;
    int tree = pyr_open_tree(AT_FDCWD, s->target, PYR_CLONE_TREE | (unsigned int)s->flags);
    if (tree < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < s->nattrs && rc == 0; i++)
        rc = named(pyr_mount_setattr(tree, "", PYR_AT_EMPTY_PATH | (unsigned int)s->attrs[3 * i], s->attrs[3 * i + 1],
                                     s->attrs[3 * i + 2], 0, -1), "mount_setattr");
    if (rc == 0)
        rc = fstat(tree, &st);
    int fd = rc < 0 ? -1 : open_or_make(c, s, !S_ISDIR(st.st_mode), &fresh);
    if (fd < 0) {
        close_keep_errno(tree);
        return rc < 0 ? rc : fd;
    }
    rc = fstat(fd, &st);
    if (rc == 0)
        rc = guarded(s, fd, &st);
    if (rc != 0) {
        close_keep_errno(tree);
        close_keep_errno(fd);
        return rc;
    }
    return attach(c, tree, fd, &st, fresh);
}

int pyr_fs_steps(const struct pyr_fs_step *steps, int n, int *changed, const char **failed)
{
    struct fs_cache cache = {.root = NULL, .root_fd = -1, .dir = NULL, .dir_fd = -1};
    int i;
    *changed = 0;
    fs_failed = NULL;
    for (i = 0; i < n; i++) {
        const struct pyr_fs_step *s = &steps[i];
        int rc;
        switch (s->op) {
        case 1:
            rc = mask_path(&cache, s);
            break;
        case 2:
            rc = readonly_path(&cache, s);
            break;
        case 3:
        case 4:
            rc = make_node(&cache, s, changed);
            break;
        case 5:
            rc = mount_at(&cache, s);
            break;
        case 6:
            rc = bind_mount(&cache, s);
            break;
        default:
            errno = EINVAL;
            rc = -1;
        }
        if (rc == PYR_GIVE_BACK) {
            errno = 0;
            fs_failed = NULL;
        }
        if (rc < 0) {
            *failed = fs_failed;
            break;
        }
    }
    drop_root(&cache);
    return i;
}
