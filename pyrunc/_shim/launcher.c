/* The `pyrunc` command: a few hundred bytes of C in front of the Python interpreter.
 *
 * For the commands that make processes inside a container (create, run, exec) and for explain,
 * which shows what they do, the interpreter is executed from a sealed view of itself: a
 * detached, lower-only overlayfs whose top layer is the interpreter's directory (runc's
 * exeseal). A container process that reaches the runtime's /proc/<pid>/exe (an entrypoint of
 * /proc/self/exe, a #!/proc/self/exe script, ptrace rights on a waiting init) finds a file no
 * one can open for writing: an overlay without an upper layer is read-only in its superblock,
 * and no mount flag undoes that (CVE-2019-5736). Where overlayfs cannot be mounted the
 * interpreter is executed as it is, and the runtime detaches /proc/self/exe itself
 * (pyrunc/exeseal.py).
 *
 * For `create`, `run` and `exec` it first forks a child that writes "0" into the cgroup.procs of the
 * cgroup it is already in: a no-op migration that makes the kernel start the RCU grace period
 * every first cgroup migration waits for (8-25 ms here, see pyrunc/cgroups/grace.py). It then
 * execs the interpreter, whose start-up (about 7 ms) now overlaps that wait instead of
 * preceding it. The child's pid reaches Python in PYRUNC_GRACE_PID; the runtime checks that it
 * is its own child and ends it before it creates the container's cgroups. PYRUNC_NO_GRACE (any
 * value) skips it, here and in Python: `make bench BENCH_ARGS=--grace-ab` times both.
 * Every other command is a plain exec. Built at install time by pyrunc/launcher.py with
 * -DPYTHON (the venv's interpreter), -DLIBDIR (the directory holding the package) and -DBOOT
 * (the interpreter's program, launcher.BOOT). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FSOPEN_CLOEXEC 0x1
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 0x1
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4

extern char **environ;

/* String equality without libc: fast_entry below runs before libc is initialised. */
static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* The command word after runc-style global flags; flags that take a separate value skip it. */
static const char *command_of(int argc, char **argv)
{
    static const char *const with_value[] = {"--root", "--log", "--log-format", "--criu", NULL};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            return argv[i];
        for (const char *const *f = with_value; *f; f++)
            if (same(argv[i], *f))
                i++;
    }
    return "";
}

/* Commands that make or enter a container (and explain, which shows what they do): main's work. */
static int needs_main(const char *cmd)
{
    return same(cmd, "create") || same(cmd, "run") || same(cmd, "exec") || same(cmd, "explain");
}

/* cgroup.procs of this process's cgroup in the first hierarchy listed in /proc/self/cgroup. */
static int own_procs_file(char *out, size_t size)
{
    char line[4096];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    int found = -1;
    while (found < 0 && fgets(line, sizeof(line), f)) {
        char *ctrl = strchr(line, ':');
        char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        ctrl++;
        if (strncmp(ctrl, "name=", 5) == 0)
            ctrl += 5;
        const char *dirs[2] = {ctrl, NULL};
        if (*ctrl == '\0') {
            dirs[0] = "unified";
            dirs[1] = "";
        }
        for (int d = 0; d < 2 && dirs[d] && found < 0; d++) {
            snprintf(out, size, "/sys/fs/cgroup/%s%s/cgroup.procs", dirs[d], strcmp(path, "/") == 0 ? "" : path);
            if (access(out, W_OK) == 0)
                found = 0;
        }
    }
    fclose(f);
    return found;
}

/* Forks the task; 0 when there is one. `mnt` (or -1): the sealed view's mount fd, which the
 * task closes 4 ms after its first write, the runtime having dropped its copy (see main). */
static int start_grace_period(int mnt)
{
    char procs[4200], pid[16];
    if (own_procs_file(procs, sizeof(procs)) < 0)
        return -1;
    pid_t child = fork();
    if (child == 0) {
        /* Repeat every 4 ms: after the last migration the kernel keeps the fast path for one
         * grace period only, and the runtime's own comes some 20 ms later. The runtime kills
         * this child once its init is placed; 0.25 s is the most it can last. */
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        /* Hold none of the caller's files (a pipe it waits on, say) while it lives. */
        for (int other = 0; other < fd; other++)
            if (other != mnt)
                close(other);
        if (mnt > fd) {
            syscall(SYS_close_range, fd + 1, mnt - 1, 0);
            syscall(SYS_close_range, mnt + 1, ~0U, 0);
        } else {
            syscall(SYS_close_range, fd + 1, ~0U, 0);
        }
        for (int i = 0; fd >= 0 && i < 60; i++) {
            if (write(fd, "0", 1) < 0)
                _exit(1);
            usleep(4000);
            if (i == 0 && mnt >= 0) /* the runtime has exec'd and dropped its copy by now */
                close(mnt);
        }
        _exit(0);
    }
    if (child < 0)
        return -1;
    snprintf(pid, sizeof(pid), "%d", (int)child);
    setenv("PYRUNC_GRACE_PID", pid, 1);
    return 0;
}

/* Append `dir` to `out` as an overlayfs lowerdir entry: ':' and '\\' are escaped. */
static int append_lowerdir(char *out, size_t size, const char *dir)
{
    size_t n = strlen(out);
    for (const char *c = dir; *c; c++) {
        if (n + 3 >= size)
            return -1;
        if (*c == ':' || *c == '\\')
            out[n++] = '\\';
        out[n++] = *c;
    }
    out[n] = '\0';
    return 0;
}

/* An O_PATH fd of `python` seen through a detached read-only overlayfs with two lower layers,
 * its own directory on top and `spare` (any other directory, not nested with it) below: overlayfs
 * needs two lower layers to mount without an upper one. -1 when the kernel or the caller's
 * privileges do not allow it. */
static int sealed_interpreter(const char *python, const char *spare, int *mnt)
{
    char real[4096], lower[8400] = "";
    if (!realpath(python, real))
        return -1;
    char *slash = strrchr(real, '/');
    if (!slash || slash == real)
        return -1;
    *slash = '\0';
    size_t dlen = strlen(real), slen = strlen(spare);
    if (strncmp(real, spare, dlen < slen ? dlen : slen) == 0)
        return -1; /* one contains the other: overlayfs refuses overlapping layers */
    if (append_lowerdir(lower, sizeof(lower), real) < 0)
        return -1;
    strcat(lower, ":"); /* append_lowerdir left room for it */
    if (append_lowerdir(lower, sizeof(lower), spare) < 0)
        return -1;
    int ctx = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (ctx < 0)
        return -1;
    int fd = -1;
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "lowerdir", lower, 0) == 0) {
        syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "xino", "off", 0); /* only quiets the kernel log */
        if (syscall(SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
            *mnt = (int)syscall(SYS_fsmount, ctx, FSMOUNT_CLOEXEC,
                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
            if (*mnt >= 0)
                fd = openat(*mnt, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
    }
    close(ctx);
    return fd;
}

int main(int argc, char **argv)
{
    const char *cmd = command_of(argc, argv);
    int create = same(cmd, "create") || same(cmd, "run");
    /* The sealed view first: the grace-period task inherits its mount fd. The last close of that
     * fd dissolves the detached mount, and the kernel waits an expedited RCU grace period there
     * (0.5 ms here, on every create, run and exec); with the task holding a copy, this process's
     * close is a decrement and the task pays the wait, off the command's path. */
    int mnt = -1, sealed = needs_main(cmd) ? sealed_interpreter(PYTHON, LIBDIR, &mnt) : -1;
    int grace = (create || same(cmd, "exec")) && !getenv("PYRUNC_NO_GRACE") && start_grace_period(mnt) == 0;
    if (mnt >= 0 && !grace)
        close(mnt);
    char **args = calloc((size_t)argc + 5, sizeof(char *));
    if (!args)
        return 1;
    args[0] = PYTHON;
    args[1] = "-IS";
    args[2] = "-c";
    args[3] = BOOT;
    for (int i = 1; i < argc; i++)
        args[3 + i] = argv[i];
    if (sealed >= 0)
        syscall(SYS_execveat, sealed, "", args, environ, AT_EMPTY_PATH);
    execv(PYTHON, args);
    perror("pyrunc: exec " PYTHON);
    return 127;
}

#if defined(__x86_64__)
/* Every other command (start, delete, state, kill...) is a plain exec of the interpreter, and
 * starting the C library first costs 0.35 ms of it (a static glibc's start-up, measured against an
 * exec from a program without libc). The program's entry point (-e pyrunc_entry, launcher.py) is
 * therefore fast_entry, which sees the stack as the kernel left it and execs the interpreter with
 * one system call, touching nothing libc has not set up (no TLS: no stack protector either).
 * Anything else, or a failed exec, continues at _start: libc, then main, as without it. */
__attribute__((used, no_stack_protector, optimize("no-tree-loop-distribute-patterns")))
static void fast_entry(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 1 || needs_main(command_of((int)argc, argv)))
        return;
    char *args[argc + 4];
    args[0] = PYTHON;
    args[1] = "-IS";
    args[2] = "-c";
    args[3] = BOOT;
    for (long i = 1; i <= argc; i++) /* argv[argc] is the terminating NULL */
        args[3 + i] = argv[i];
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_execve), "D"(PYTHON), "S"(args), "d"(envp)
                     : "rcx", "r11", "memory");
}

/* The stack is 16-byte aligned at entry; %rdx holds the dynamic loader's finaliser for _start. */
__asm__(".text\n"
        ".global pyrunc_entry\n"
        ".type pyrunc_entry, @function\n"
        "pyrunc_entry:\n"
        "    mov %rsp, %rdi\n"
        "    push %rdx\n"
        "    sub $8, %rsp\n"
        "    call fast_entry\n"
        "    add $8, %rsp\n"
        "    pop %rdx\n"
        "    jmp _start\n");
#endif
