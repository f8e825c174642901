/* The floor of `make profile`: only the syscalls a command cannot do without, nothing decided.
 *
 *   floor run ROOTFS [CGROUP_NAME]   clone into 5 new namespaces (mnt uts ipc pid net); the child makes
 *                                    the mounts private, binds the rootfs, mounts /proc, pivot_root,
 *                                    execve /bin/true; the parent waits. With CGROUP_NAME it also makes
 *                                    that cgroup in every v1 hierarchy and the unified one, moves the
 *                                    child in before it runs, and removes them after (runc's default work).
 *   floor exec PID                   setns into PID's namespaces, fork, execve /bin/true, wait.
 *   floor noop                       nothing: the cost of starting any command at all.
 * Built by `make profile` (cc -O2); exits with the status of /bin/true. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CG 16
static char cgroups[MAX_CG][512];
static int ncg;

static int die(const char *what)
{
    perror(what);
    return 125;
}

/* cpuset's cpus and mems start empty in a new v1 cgroup: copy the parent's, as runc does. */
static void copy_cpuset(const char *parent, const char *dir)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (int i = 0; i < 2; i++) {
        char from[600], to[600], buf[256];
        snprintf(from, sizeof(from), "%s/%s", parent, files[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
        int in = open(from, O_RDONLY | O_CLOEXEC), out;
        ssize_t n = in >= 0 ? read(in, buf, sizeof(buf)) : -1;
        if (in >= 0)
            close(in);
        if (n > 0 && (out = open(to, O_WRONLY | O_CLOEXEC)) >= 0) {
            if (write(out, buf, (size_t)n) < 0)
                perror(to);
            close(out);
        }
    }
}

/* One directory per mounted hierarchy under /sys/fs/cgroup (v1 controllers, unified). */
static void make_cgroups(const char *name)
{
    DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *e;
    while (d && (e = readdir(d)) && ncg < MAX_CG) {
        char procs[600];
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        snprintf(cgroups[ncg], sizeof(cgroups[ncg]), "/sys/fs/cgroup/%s/%s", e->d_name, name);
        snprintf(procs, sizeof(procs), "/sys/fs/cgroup/%s/cgroup.procs", e->d_name);
        if (access(procs, W_OK) == 0 && mkdir(cgroups[ncg], 0755) == 0) {
            procs[strlen(procs) - strlen("/cgroup.procs")] = '\0';
            copy_cpuset(procs, cgroups[ncg]);
            ncg++;
        }
    }
    if (d)
        closedir(d);
}

static void enter_cgroups(pid_t pid)
{
    char procs[600], buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (int i = 0; i < ncg; i++) {
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroups[i]);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, buf, n) < 0)
                perror(procs);
            close(fd);
        }
    }
}

static int child_run(const char *rootfs, int go)
{
    char byte, proc[4096];
    if (go >= 0 && read(go, &byte, 1) != 1)
        return die("read");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return die("mount");
    snprintf(proc, sizeof(proc), "%s/proc", rootfs);
    if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return die("mount proc");
    if (chdir(rootfs) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return die("pivot_root");
    char *argv[] = {"/bin/true", NULL}, *envp[] = {"PATH=/bin", NULL};
    execve(argv[0], argv, envp);
    return die("execve");
}

static int run(const char *rootfs, const char *cgroup)
{
    int pipefd[2] = {-1, -1};
    if (cgroup) {
        make_cgroups(cgroup);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
            return die("pipe");
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD,
                               NULL, NULL, NULL, NULL);
    if (pid < 0)
        return die("clone");
    if (pid == 0)
        _exit(child_run(rootfs, pipefd[0]));
    if (cgroup) {
        enter_cgroups(pid);
        if (write(pipefd[1], "g", 1) != 1)
            perror("write");
    }
    int status = 0;
    waitpid(pid, &status, 0);
    for (int i = 0; i < ncg; i++)
        rmdir(cgroups[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int exec_into(const char *pid)
{
    static const char *const kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
    int fds[5];
    char path[64];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, kinds[i]);
        if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return die(path);
    }
    for (int i = 0; i < 5; i++)
        if (setns(fds[i], 0) < 0)
            return die("setns");
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {"/bin/true", NULL}, *envp[] = {"PATH=/bin", NULL};
        if (chdir("/") < 0)
            _exit(die("chdir"));
        execve(argv[0], argv, envp);
        _exit(die("execve"));
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2], argc > 3 ? argv[3] : NULL);
    if (argc == 3 && strcmp(argv[1], "exec") == 0)
        return exec_into(argv[2]);
    if (argc == 2 && strcmp(argv[1], "noop") == 0)
        return 0;
    fprintf(stderr, "usage: floor run ROOTFS [CGROUP_NAME] | exec PID | noop\n");
    return 2;
}
