/* pyrunc native shim; the contract of each function is in shim.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
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

/* Waits for the parent's "maps written" byte, then takes uid/gid 0 in the new user namespace. */
static int become_root_after_maps(int sync_fd)
{
    char c;
    ssize_t n;
    do {
        n = read(sync_fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        return -1;
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        return -1;
    return 0;
}

int pyr_clone(unsigned long flags, int sync_fd, int pdeathsig)
{
    long pid = syscall(SYS_clone, (flags & ~0xffUL) | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0)
        return (int)pid;
    if (pdeathsig)
        prctl(PR_SET_PDEATHSIG, pdeathsig, 0, 0, 0);
    if ((flags & CLONE_NEWUSER) && sync_fd >= 0 && become_root_after_maps(sync_fd) < 0)
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

int pyr_exec(const char *path, char *const argv[], char *const envp[], int first_cloexec)
{
    if (syscall(SYS_close_range, (unsigned int)first_cloexec, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        return -1;
    execve(path, argv, envp);
    return -1;
}

int pyr_setrlimit(int resource, unsigned long long soft, unsigned long long hard)
{
    struct rlimit64 lim = {.rlim_cur = soft, .rlim_max = hard};
    return prlimit64(0, (enum __rlimit_resource)resource, &lim, NULL);
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
