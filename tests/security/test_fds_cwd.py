"""Descriptors and the working directory: the CVE-2024-21626 class.

runc up to 1.1.11 leaked a descriptor of the host's /sys/fs/cgroup into its init, and a config whose
process.cwd was /proc/self/fd/N gave the container a working directory on the host ("Leaky Vessels").
The runtime must (a) check after chdir that the cwd is inside the container's root, (b) let no
descriptor of the caller or of its own reach the container but stdio, --preserve-fds and LISTEN_FDS, and
do so before a seccomp filter that may not allow close_range, and (c) create a missing cwd inside the
root only. Every target is a directory the test owns; each is hashed before and after.
"""

import hashlib
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

# The attack's program: it writes into its working directory and into the directory fd 3 names.
ESCAPE = "echo pwned > escaped-through-cwd; echo pwned > /proc/self/fd/3/escaped-through-fd"


def host_dir(container, name="host-dir"):
    """A host directory the test owns, standing for anything of the host a descriptor could name."""
    d = container.dir / name
    d.mkdir()
    (d / "secret").write_text("host data\n")
    return d


def digest(d: Path) -> dict:
    """Every entry under `d` with a hash of its content: what an escape would change."""
    found = {}
    for p in sorted(d.rglob("*")):
        found[str(p.relative_to(d))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return found


def with_fd3(rt, directory, *args):
    """`<runtime> *args` with `directory` open as fd 3 (and 7), as a caller may pass or leak it."""
    script = 'exec 3<"$1" 7<"$1"; shift; exec "$@"'
    cmd = ["sh", "-c", script, "sh", str(directory), rt.exe, "--root", str(rt.root), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_cwd_through_a_preserved_host_directory_is_refused(container, rt):
    """CVE-2024-21626, attack 1: `run --preserve-fds 1` with fd 3 a host directory and process.cwd
    /proc/self/fd/3. The chdir itself succeeds (the magic link leads to the host's directory); only the
    check that the cwd is inside the root stops the program, which would write into that directory.
    Control: the same descriptor, used by a container whose cwd is /, does reach the host directory."""
    target = host_dir(container)
    before = digest(target)
    c = container("sh", "-c", ESCAPE)
    c.config["process"]["cwd"] = "/proc/self/fd/3"
    c.write()
    r = with_fd3(rt, target, "run", "--bundle", c.bundle, "--preserve-fds", "1", c.id)
    assert r.returncode != 0, r
    assert "possible container breakout detected" in r.stderr, r.stderr  # chdir succeeded: only the check is left
    assert digest(target) == before

    control = container("sh", "-c", "echo pwned > /proc/self/fd/3/escaped-through-fd")
    control.write()
    r = with_fd3(rt, target, "run", "--bundle", control.bundle, "--preserve-fds", "1", control.id)
    assert r.returncode == 0, r
    assert digest(target) == before | {"escaped-through-fd": hashlib.sha256(b"pwned\n").hexdigest()}


def test_exec_cwd_through_a_preserved_host_directory_is_refused(container, rt):
    """CVE-2024-21626, attack 1 through `exec --preserve-fds 1 --cwd /proc/self/fd/3` (runc's setns init
    has the same check). Control: `exec --preserve-fds 1` with cwd / writes through the descriptor."""
    target = host_dir(container)
    before = digest(target)
    c = container("sleep", "1000")
    c.started()
    r = with_fd3(rt, target, "exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3", c.id, "sh", "-c", ESCAPE)
    assert r.returncode != 0, r
    assert "possible container breakout detected" in r.stderr, r.stderr
    assert digest(target) == before

    r = with_fd3(rt, target, "exec", "--preserve-fds", "1", c.id, "sh", "-c",
                 "echo pwned > /proc/self/fd/3/escaped-through-fd")
    assert r.returncode == 0, r
    assert "escaped-through-fd" in digest(target)
    c.kill("KILL")


def test_no_descriptor_of_the_runtime_or_caller_is_a_cwd(container, rt):
    """CVE-2024-21626 as found: a descriptor the runtime leaks (runc's was the host's /sys/fs/cgroup) is
    reached as process.cwd /proc/self/fd/N. Here the caller also leaks a host directory as fds 3 and 7
    without --preserve-fds; for every N from 3 to 15 the container must not start in a directory of the
    host. Control: with --preserve-fds 1 that host directory is fd 3 of the container."""
    target = host_dir(container)
    before = digest(target)
    for n in range(3, 16):
        c = container("sh", "-c", f"echo pwned > escaped-through-cwd-{n}")
        c.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        c.write()
        r = with_fd3(rt, target, "run", "--bundle", c.bundle, c.id)
        assert r.returncode != 0, (n, r)
        assert digest(target) == before, n

    control = container("sh", "-c", "pwd")
    control.config["process"]["cwd"] = "/proc/self/fd/3"
    control.write()
    r = with_fd3(rt, target, "run", "--bundle", control.bundle, "--preserve-fds", "1", control.id)
    assert "possible container breakout detected" in r.stderr, r


def test_missing_cwd_is_made_inside_the_root_only(container, rt):
    """The symlink-in-the-image class runc guards with securejoin (CVE-2021-30465 raced it for mount
    destinations), for the cwd: a missing process.cwd is created (as runc does), but inside the root.
    An image whose /work is a symlink to an absolute path that names a host directory (the test's)
    must get its cwd made under the rootfs, not on the host. Control: the host's own resolution of the
    same path (mkdir -p through the symlink) does land in the host directory."""
    outside = container.dir / "outside"
    outside.mkdir()
    before = digest(outside)
    c = container("pwd")
    (c.rootfs / "work").symlink_to(outside)
    (c.rootfs / str(outside).lstrip("/")).mkdir(parents=True)  # the image has the same path
    c.config["process"]["cwd"] = "/work/sub/dir"
    r = c.run()
    assert r.rc == 0, r
    assert r.out == f"{outside}/sub/dir\n"  # getcwd: the link followed inside the root
    assert digest(outside) == before
    assert (c.rootfs / str(outside).lstrip("/") / "sub/dir").is_dir()

    (c.rootfs / "work/sub/dir").mkdir(parents=True)  # the host resolves the link: the control
    assert digest(outside) == before | {"sub": "dir", "sub/dir": "dir"}


def test_missing_cwd_under_a_host_descriptor_is_not_made(container, rt):
    """CVE-2024-21626 with a missing cwd: process.cwd /proc/self/fd/3/new under a preserved host
    directory. Nothing may be created in the host directory while the cwd is being made. Control: the
    same path, made by the container's own program through fd 3, lands in the host directory."""
    if rt.name == "runc":
        pytest.skip("runc 1.1's MkdirAll(cwd) follows /proc/self/fd/3 and makes the directory on the host "
                    "before its cwd check refuses (CVE-2024-21626 hardening gap)")
    target = host_dir(container)
    before = digest(target)
    c = container("true")
    c.config["process"]["cwd"] = "/proc/self/fd/3/new"
    c.write()
    r = with_fd3(rt, target, "run", "--bundle", c.bundle, "--preserve-fds", "1", c.id)
    assert r.returncode != 0, r
    assert digest(target) == before

    control = container("mkdir", "/proc/self/fd/3/new")
    control.write()
    r = with_fd3(rt, target, "run", "--bundle", control.bundle, "--preserve-fds", "1", control.id)
    assert r.returncode == 0, r
    assert digest(target) == before | {"new": "dir"}


# An allow-list in the style of Docker's default profile (default action: fail with EPERM), without
# close_range: the runtime must not call it after the filter. Each name is a syscall of x86_64.
ALLOWED = """
accept accept4 access arch_prctl bind brk capget capset chdir chmod chown clock_getres clock_gettime
clock_nanosleep clone clone3 connect dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait
epoll_wait eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fchdir fchmod fchmodat
fchown fchownat fcntl fdatasync flock fork fstat fstatfs fsync ftruncate futex getcwd getdents64 getegid
geteuid getgid getgroups getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresuid getrlimit get_robust_list getrusage getsid getsockname getsockopt gettid gettimeofday getuid
getxattr ioctl kill lchown lgetxattr link linkat listen lseek lstat madvise membarrier mkdir mkdirat mmap
mprotect mremap munmap nanosleep newfstatat open openat openat2 pause pipe pipe2 poll ppoll prctl pread64
prlimit64 pselect6 pwrite64 read readlink readlinkat readv recvfrom recvmsg rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait sched_getaffinity sched_yield select sendmsg sendto setgid setgroups
setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit set_robust_list setsid
setsockopt set_tid_address setuid shutdown sigaltstack socket socketpair stat statfs statx symlink
symlinkat sysinfo tgkill time tkill umask uname unlink unlinkat utimensat vfork wait4 waitid write writev
""".split()


@pytest.mark.parametrize("nnp,close", [(True, False), (True, True), (False, True)],
                         ids=["no-new-privileges-without-close", "no-new-privileges", "privileged-load"])
def test_seccomp_allow_list_without_close_range(container, rt, nnp, close):
    """CVE-2024-21626, the descriptor half: the runtime marks every descriptor but stdio and the preserved
    ones close-on-exec BEFORE it loads the filter (pyrunc used to call close_range after it, and every
    container under such a profile failed with `execve: operation not permitted`). The caller leaks a
    host directory as fds 3 and 7: the container runs (and so does a process exec'd into it), and
    neither is open in it nor reachable through /proc/self/fd. With noNewPrivileges the filter is loaded
    right before execve, so even close need not be allowed; without, the runtime's own code runs under
    the filter until execve (as runc's does), and that needs close. Control: with --preserve-fds 1 the
    same directory is fd 3 and the program writes into it."""
    if rt.name == "runc" and not close:
        pytest.skip("runc 1.1 closes its log pipe after loading the filter: a profile without close fails there")
    target = host_dir(container)
    before = digest(target)
    allowed = ALLOWED + ["close"] if close else ALLOWED
    script = "ls -l /proc/self/fd; echo pwned > /proc/self/fd/3/escaped-through-fd; echo pwned > /proc/self/fd/7/x"

    def filtered(*args):
        c = container(*args)
        c.config["process"]["noNewPrivileges"] = nnp
        c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                                        "architectures": ["SCMP_ARCH_X86_64"],
                                        "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
        c.write()
        return c

    def run(*preserve):
        c = filtered("sh", "-c", script)
        return with_fd3(rt, target, "run", "--bundle", c.bundle, *preserve, c.id)

    running = filtered("sleep", "1000")
    running.started()
    for plain in (run(), with_fd3(rt, target, "exec", running.id, "sh", "-c", script)):
        fds = {line.split()[-3]: line.split()[-1] for line in plain.stdout.splitlines() if "->" in line}
        assert {"0", "1", "2"} <= set(fds), plain  # the program ran
        assert str(target) not in fds.values(), plain.stdout
        assert set(fds) <= {"0", "1", "2", "3"} and fds.get("3", "/proc").startswith("/proc"), plain.stdout
        assert digest(target) == before
    running.kill("KILL")

    preserved = run("--preserve-fds", "1")
    fds = {line.split()[-3]: line.split()[-1] for line in preserved.stdout.splitlines() if "->" in line}
    assert fds.get("3") == str(target), preserved
    assert digest(target) == before | {"escaped-through-fd": hashlib.sha256(b"pwned\n").hexdigest()}


def deny_getcwd(c):
    """A filter loaded before the cwd check (no noNewPrivileges) that denies getcwd, as the validation
    suite's linux_seccomp does: the check must still tell inside from outside without it."""
    c.config["process"]["noNewPrivileges"] = False
    c.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                    "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}


def test_cwd_check_when_the_filter_denies_getcwd(container, rt):
    """CVE-2024-21626, attack 1, under a seccomp filter that denies getcwd: process.cwd /proc/self/fd/3 (a
    preserved host directory) is still refused, by climbing `..` to the root instead of asking getcwd, and
    the host directory is unchanged. Control: the same filter with a cwd inside the root runs (runc 1.1.5
    refuses every cwd then: it cannot check)."""
    rt.lacks("a cwd check without getcwd (it refuses any cwd when getcwd is denied)")
    target = host_dir(container)
    before = digest(target)
    c = container("sh", "-c", ESCAPE)
    c.config["process"]["cwd"] = "/proc/self/fd/3"
    deny_getcwd(c)
    c.write()
    r = with_fd3(rt, target, "run", "--bundle", c.bundle, "--preserve-fds", "1", c.id)
    assert r.returncode != 0 and "possible container breakout detected" in r.stderr, r
    assert digest(target) == before

    control = container("sh", "-c", "echo inside > here && cat /scratch/deep/here")
    control.mount("/scratch", "tmpfs", "tmpfs")
    control.config["process"]["cwd"] = "/scratch/deep"
    deny_getcwd(control)
    out = control.run()
    assert out.rc == 0 and out.out == "inside\n", out


def test_the_runtimes_own_descriptors_do_not_reach_the_container(container, rt):
    """pyrunc keeps its module bundle open for the whole command (pyrunc.use_bundle). The caller passes
    `--preserve-fds 2` with only fd 3 open, so the runtime's first own descriptor lands in the preserved
    range, where the init's fd closing keeps what it finds: neither the waiting init (after create)
    nor the program (after run) may hold anything of the runtime's. Control: fd 3, the caller's, is there."""
    target = host_dir(container)
    waiting = container("sleep", "1000")
    waiting.write()
    script = 'exec 3<"$1"; shift; exec "$@"'  # the waiting init keeps stdio: no pipes to wait on
    cmd = ["sh", "-c", script, "sh", str(target), rt.exe, "--root", str(rt.root), "create", "--bundle",
           str(waiting.bundle), "--preserve-fds", "2", waiting.id]
    assert subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60).returncode == 0
    proc = Path(f"/proc/{waiting.state()['pid']}/fd")
    held = {fd.name: str(fd.readlink()) for fd in proc.iterdir()}
    assert held.get("3") == str(target), held
    assert not [t for t in held.values() if t.endswith("/_bundle.bin") or "site-packages" in t], held

    c = container("sh", "-c", "ls -l /proc/self/fd")
    c.write()
    r = with_fd3(rt, target, "run", "--bundle", c.bundle, "--preserve-fds", "2", c.id)
    fds = {line.split()[-3]: line.split()[-1] for line in r.stdout.splitlines() if "->" in line}
    assert r.returncode == 0 and fds.get("3") == str(target), r
    if fds.get("4") == "/sys/fs/cgroup":
        rt.lacks("the close of its /sys/fs/cgroup descriptor in the --preserve-fds range (CVE-2024-21626, 1.1.12)")
    assert set(fds) <= {"0", "1", "2", "3", "4"} and fds.get("4", "/proc").startswith("/proc"), r.stdout
