"""The process confined as config.json says: capabilities, no_new_privs, rlimits, oom_score_adj,
sysctl, seccomp (errno and a notify listener), personality, scheduler, I/O priority, CPU affinity."""

import contextlib
import ctypes
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from pyrunc.testing.bundle import SocketPeer, proc_status, receive_state, wait_for

pytestmark = pytest.mark.root
CAP_BITS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
            "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
            "CAP_AUDIT_WRITE": 29}


def mask(*names):
    return f"{sum(1 << CAP_BITS[n] for n in names):016x}"


def run_ok(c, **kw):
    r = c.run(**kw)
    assert r.rc == 0, r
    return r.out


def refused(c, *words):
    r = c.run()
    c.assert_refused(r, one_line=True)
    for word in words:
        assert word in r.err, r
    return r


# -- capabilities and no_new_privs -----------------------------------------------------------

def test_all_five_capability_sets_as_root(container):
    c = container("cat", "/proc/self/status")
    c.config["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_NET_RAW"],
        "ambient": ["CAP_NET_RAW"],
    }
    s = proc_status(run_ok(c))
    assert s["CapBnd"] == mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID")
    assert s["CapInh"] == mask("CAP_NET_RAW")
    assert s["CapAmb"] == mask("CAP_NET_RAW")
    # root execve: permitted = effective = (inheritable | bounding) & ... as the kernel computes for uid 0
    assert int(s["CapPrm"], 16) & int(mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"), 16)


def test_ambient_capabilities_survive_the_user_switch(container):
    c = container("cat", "/proc/self/status")
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    c.config["process"]["capabilities"] = {k: ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"] for k in
                                           ("bounding", "permitted", "effective", "inheritable", "ambient")}
    s = proc_status(run_ok(c))
    want = mask("CAP_NET_BIND_SERVICE", "CAP_NET_RAW")
    assert (s["Uid"].split()[0], s["CapAmb"], s["CapEff"], s["CapPrm"]) == ("1000", want, want, want)


def test_non_root_without_ambient_has_no_capabilities(container):
    c = container("cat", "/proc/self/status")
    c.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    s = proc_status(run_ok(c))
    assert (s["CapEff"], s["CapPrm"], s["CapAmb"]) == ("0" * 16,) * 3


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(container, nnp):
    c = container("cat", "/proc/self/status")
    c.config["process"]["noNewPrivileges"] = nnp
    assert proc_status(run_ok(c))["NoNewPrivs"] == ("1" if nnp else "0")


def test_unknown_capability_is_refused(container, rt):
    rt.lacks("refusing unknown capability names (it warns and goes on)")
    c = container("true")
    c.config["process"]["capabilities"]["bounding"].append("CAP_BOGUS")
    refused(c, "CAP_BOGUS")


def test_exec_cap_and_no_new_privs(container, rt):
    c = container("sleep", "1000")
    c.config["process"]["noNewPrivileges"] = False
    c.started()
    r = rt("exec", "--cap", "CAP_CHOWN", "--no-new-privs", c.id, "cat", "/proc/self/status")
    assert r.rc == 0, r
    s = proc_status(r.out)
    assert int(s["CapEff"], 16) & 1 and s["NoNewPrivs"] == "1"
    if rt.name == "pyrunc":  # runc 1.1.5 warns and goes on
        r = rt("exec", "--cap", "CAP_BOGUS", c.id, "true")
        assert r.rc != 0 and "CAP_BOGUS" in r.err, r
    c.kill("KILL")


# -- rlimits and oom_score_adj ---------------------------------------------------------------

def test_rlimits(container):
    c = container("cat", "/proc/self/limits")
    c.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                      {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                                      {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]
    limits = {line[:26].strip(): line[26:].split()[:2] for line in run_ok(c).splitlines()[1:]}
    assert limits["Max open files"] == ["512", "1024"]
    assert limits["Max core file size"] == ["0", "0"]
    assert limits["Max processes"] == ["100", "200"]


@pytest.mark.parametrize("rlimit, word", [({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}, "RLIMIT_BOGUS"),
                                          ({"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}, "")])
def test_bad_rlimits_are_refused(container, rlimit, word):
    c = container("true")
    c.config["process"]["rlimits"] = [rlimit]
    refused(c, word)


def test_duplicate_rlimit_is_refused(container, rt):
    rt.lacks("refusing duplicated rlimits")
    c = container("true")
    c.config["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] * 2
    refused(c, "RLIMIT_CORE")


def test_oom_score_adj(container):
    c = container("cat", "/proc/self/oom_score_adj")
    c.config["process"]["oomScoreAdj"] = 123
    assert run_ok(c) == "123\n"


# -- sysctl ----------------------------------------------------------------------------------

def test_namespaced_sysctls(container):
    c = container("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max")
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234", "fs.mqueue.msg_max": "20"}
    before = open("/proc/sys/kernel/shmmni").read()
    assert run_ok(c).split() == ["1", "1234", "20"]
    assert open("/proc/sys/kernel/shmmni").read() == before


@pytest.mark.parametrize("key, drop", [("vm.swappiness", None), ("net.ipv4.ip_forward", "network"),
                                       ("kernel.shmmni", "ipc")])
def test_sysctls_outside_a_namespace_are_refused(container, key, drop):
    c = container("true")
    if drop:
        c.drop_namespace(drop)
    c.config["linux"]["sysctl"] = {key: "1"}
    before = open("/proc/sys/" + key.replace(".", "/")).read()
    refused(c, key)
    assert open("/proc/sys/" + key.replace(".", "/")).read() == before


# -- seccomp ---------------------------------------------------------------------------------

def seccomp_config(c, nnp=True, **extra):
    c.mount("/scratch", "tmpfs", "tmpfs")
    c.config["process"]["noNewPrivileges"] = nnp
    c.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
                     {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]}],
        **extra,
    }


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_blocks_with_the_configured_errno(container, nnp):
    c = container("sh", "-c", "touch /scratch/f && echo touched; mkdir /scratch/d; chmod 700 /scratch/f; "
                  "chmod 600 /scratch/f && echo chmod-600")
    seccomp_config(c, nnp)
    r = c.run()
    assert r.rc == 0, r
    assert "touched" in r.out and "chmod-600" in r.out, r
    assert "Function not implemented" in r.err, r  # mkdir: ENOSYS
    assert "Operation not permitted" in r.err, r  # chmod 700: the default errno, EPERM


def test_seccomp_applies_to_exec(container, rt):
    c = container("sleep", "1000")
    seccomp_config(c)
    c.started()
    r = rt("exec", c.id, "mkdir", "/scratch/d")
    assert r.rc != 0 and "Function not implemented" in r.err, r
    c.kill("KILL")


@pytest.mark.parametrize("change, word", [
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_BOGUS"), "SCMP_ACT_BOGUS"),
    (lambda s: s["syscalls"][1]["args"][0].update(op="SCMP_CMP_BOGUS"), "SCMP_CMP_BOGUS"),
    (lambda s: s["syscalls"][1]["args"][0].update(index=9), "index"),
    (lambda s: s.update(architectures=["SCMP_ARCH_BOGUS"]), "SCMP_ARCH_BOGUS"),
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_ALLOW", errnoRet=5), "errnoRet"),
])
def test_malformed_seccomp_is_refused(container, rt, change, word):
    if word == "errnoRet":
        rt.lacks("refusing errnoRet on an action without one")
    c = container("true")
    seccomp_config(c)
    change(c.config["linux"]["seccomp"])
    r = c.run()
    c.assert_refused(r)
    if rt.name == "pyrunc":
        assert word in r.err and len(r.err.strip().splitlines()) == 1, r


# A static x86_64 program without libc: for each number in argv, syscall(n, 1000, 1000, 0, 0, 0, 0)
# (bad fds and pointers: harmless whatever the call) and print "n result". It makes no other syscall
# but write and exit_group, so an allow-list of execve, write and exit_group is all it needs.
SYSCALL_PROBE = r"""
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static void put(long v, char *end)
{
    char buf[32], *p = buf + sizeof(buf);
    int neg = v < 0;
    unsigned long u = neg ? -v : v;
    *--p = *end;
    do { *--p = '0' + u % 10; u /= 10; } while (u);
    if (neg) *--p = '-';
    sys6(1, 1, (long)p, buf + sizeof(buf) - p, 0, 0, 0);
}

void probe_main(long *sp)
{
    char **argv = (char **)(sp + 1);
    for (long i = 1; i < sp[0]; i++) {
        long n = 0;
        for (char *c = argv[i]; *c; c++) n = n * 10 + (*c - '0');
        put(n, " ");
        put(sys6(n, 1000, 1000, 0, 0, 0, 0), "\n");
    }
    sys6(231, 0, 0, 0, 0, 0, 0);
}

__attribute__((naked, noreturn)) void _start(void)
{
    __asm__("mov %rsp, %rdi\n and $-16, %rsp\n call probe_main\n hlt");
}
"""
GETPID, TIMES, CLONE3, CLOSE_RANGE, FACCESSAT2 = 39, 100, 435, 436, 439  # x86_64


@pytest.fixture(scope="module")
def syscall_probe(tmp_path_factory):
    if os.uname().machine != "x86_64":
        pytest.skip("the syscall probe is x86_64 assembly")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.fail("a C compiler is needed to build the syscall probe (make deps installs gcc)")
    d = tmp_path_factory.mktemp("sysprobe")
    (d / "probe.c").write_text(SYSCALL_PROBE)
    subprocess.run([cc, "-static", "-nostdlib", "-O2", "-fno-stack-protector", "-o", d / "probe", d / "probe.c"],
                   check=True)
    return d / "probe"


def probe_results(container, probe, seccomp, *numbers):
    """{syscall number: what it returned} inside a container under `seccomp` (noNewPrivileges)."""
    c = container("/probe", *map(str, numbers))
    shutil.copy(probe, c.rootfs / "probe")
    c.config["process"]["noNewPrivileges"] = True
    c.config["linux"]["seccomp"] = seccomp
    out = run_ok(c)
    return {int(n): int(r) for n, r in (line.split() for line in out.splitlines())}


# What a runtime makes between loading the filter and execve with noNewPrivileges (runc: Go's threads),
# and what the probe makes: all numbered below clone3, close_range and faccessat2.
ALLOW_LIST = ["execve", "write", "close", "exit_group", "futex", "sched_yield", "nanosleep", "rt_sigreturn",
              "rt_sigprocmask", "sigaltstack", "mmap", "munmap", "madvise", "getpid", "tgkill", "exit",
              "openat", "read", "fcntl", "fstat", "newfstatat", "getppid", "gettid", "epoll_pwait",
              "epoll_ctl", "pipe2", "prctl", "capget", "getdents64", "statfs", "fstatfs", "readlinkat",
              "lseek", "sched_getaffinity", "mprotect", "brk", "rt_sigaction", "clone", "getrandom"]


@pytest.mark.parametrize("errno_ret", [None, errno.EACCES])
def test_seccomp_newer_syscalls_get_enosys(container, syscall_probe, errno_ret):
    """runc's ENOSYS patch: under a default-deny allow-list, a syscall newer than every one the profile
    names (clone3, close_range, faccessat2 here) returns ENOSYS, so that libc falls back to an older call;
    an older unlisted one (times) gets the default errno (EPERM, or defaultErrnoRet), and so does
    close_range once the profile names it with an errno action (the control: the same call, now known)."""
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [{"names": ALLOW_LIST, "action": "SCMP_ACT_ALLOW"}]}
    if errno_ret is not None:
        profile["defaultErrnoRet"] = errno_ret
    denied = -(errno_ret or errno.EPERM)
    seen = probe_results(container, syscall_probe, profile, TIMES, CLONE3, CLOSE_RANGE, FACCESSAT2, GETPID)
    assert seen[TIMES] == denied and seen[GETPID] > 0, seen
    assert seen[CLONE3] == seen[CLOSE_RANGE] == seen[FACCESSAT2] == -errno.ENOSYS, seen
    profile["syscalls"].append({"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM})
    seen = probe_results(container, syscall_probe, profile, TIMES, CLONE3, CLOSE_RANGE, FACCESSAT2)
    assert seen[CLOSE_RANGE] == -errno.EPERM and seen[TIMES] == denied, seen
    assert seen[CLONE3] == denied and seen[FACCESSAT2] == -errno.ENOSYS, seen  # clone3 is older now


def test_seccomp_allow_default_has_no_enosys_stub(container, syscall_probe):
    """With an allow default nothing is patched: a newer syscall goes through (close_range of a closed
    fd returns 0), and a listed one gets its errno."""
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["times"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV}]}
    seen = probe_results(container, syscall_probe, profile, TIMES, CLOSE_RANGE)
    assert seen == {TIMES: -errno.EXDEV, CLOSE_RANGE: 0}, seen


SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


class Agent(SocketPeer):
    """A seccomp agent: takes the state + fd from the listener socket, answers one notification
    with EXDEV."""

    def __init__(self, path):
        super().__init__(path)
        self.state, self.fds, self.syscall = None, [], None
        self.start()

    def serve(self, conn):
        import fcntl

        self.state, self.fds = receive_state(conn)
        buf = bytearray(80)
        fcntl.ioctl(self.fds[0], SECCOMP_IOCTL_NOTIF_RECV, buf)
        notif_id, _pid, _flags, nr = struct.unpack_from("=QIIi", buf)
        self.syscall = nr
        fcntl.ioctl(self.fds[0], SECCOMP_IOCTL_NOTIF_SEND, bytearray(struct.pack("=Qqii", notif_id, 0,
                                                                                  -errno.EXDEV, 0)))


@pytest.mark.parametrize("nnp, how", [(True, "run"), (False, "run"), (True, "create+start"), (False, "create+start")])
def test_seccomp_notify_listener(container, nnp, how):
    c = container("sh", "-c", "mkdir /scratch/d; echo done")
    seccomp_config(c, nnp)
    path = container.dir / "agent.sock"
    sc = c.config["linux"]["seccomp"]
    sc["syscalls"] = [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    sc["listenerPath"] = str(path)
    sc["listenerMetadata"] = "hello agent"
    agent = Agent(path)
    if how == "run":
        r = c.run()
        out, err = r.out, r.err
    else:
        c.started()
        out, err = c.finish(), c.stderr.read_text()
    agent.join(10)
    assert agent.error is None, agent.error
    assert out == "done\n", (out, err)
    assert "Invalid cross-device link" in err, err  # the agent's answer
    st = agent.state
    assert st["fds"] == ["seccompFd"] and st["metadata"] == "hello agent" and st["pid"] > 0, st
    assert st["state"]["id"] == c.id and st["state"]["bundle"] == str(c.bundle), st
    assert agent.syscall in (83, 258), agent.syscall  # mkdir, mkdirat on x86_64
    for fd in agent.fds:
        os.close(fd)


MKDIR_CALLS, CHMOD_CALLS = (83, 258), (90, 268)  # mkdir, mkdirat; chmod, fchmodat on x86_64
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


class Listener(SocketPeer):
    """A seccomp agent with a policy, for the notify tests: `answer` lets mkdir go on
    (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and refuses chmod with EXDEV, for as long as the container
    lives; `never` keeps the fd and answers nothing; `close` closes the fd as soon as it has it."""

    def __init__(self, path, policy):
        super().__init__(path)
        self.policy = policy
        self.state, self.seen, self.fd = None, [], None
        self.got_fd = threading.Event()
        self.start()

    def serve(self, conn):
        import fcntl
        import select

        self.state, fds = receive_state(conn)
        self.fd = fds[0]
        self.got_fd.set()
        if self.policy == "close":
            os.close(self.fd)
            return
        if self.policy == "never":
            return  # the test closes self.fd at the end
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            events = poller.poll(30000)
            if not events or events[0][1] & (select.POLLHUP | select.POLLERR):
                break  # every task under the filter is gone
            buf = bytearray(80)
            fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_RECV, buf)
            notif_id, _pid, _flags, nr = struct.unpack_from("=QIIi", buf)
            self.seen.append(nr)
            answer = (struct.pack("=QqiI", notif_id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                      if nr in MKDIR_CALLS else struct.pack("=QqiI", notif_id, 0, -errno.EXDEV, 0))
            with contextlib.suppress(OSError):  # ENOENT: the caller died meanwhile
                fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(answer))
        os.close(self.fd)


def notify_config(c, path, nnp):
    seccomp_config(c, nnp)
    sc = c.config["linux"]["seccomp"]
    sc["syscalls"] = [{"names": ["mkdir", "mkdirat", "chmod", "fchmodat"], "action": "SCMP_ACT_NOTIFY"}]
    sc["listenerPath"] = str(path)


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_listener_answers_while_the_container_runs(container, nnp):
    """config-linux.md: the listener gets the container process state with `seccompFd` in `fds` and the fd;
    the container runs on while it answers: a mkdir it lets continue happens, a chmod it refuses fails with
    its errno, again and again, and the container ends normally."""
    c = container("sh", "-c", "for i in 1 2 3; do mkdir /scratch/d$i && echo made; chmod 700 /scratch/d$i "
                  "|| echo refused; done; echo done")
    path = container.dir / "listener.sock"
    notify_config(c, path, nnp)
    agent = Listener(path, "answer")
    c.started()
    out = c.finish()
    agent.join(10)
    assert agent.error is None, agent.error
    assert out.split() == ["made", "refused"] * 3 + ["done"], (out, c.stderr.read_text())
    assert len([nr for nr in agent.seen if nr in MKDIR_CALLS]) == 3, agent.seen
    st = agent.state
    assert st["fds"] == ["seccompFd"] and st["pid"] == st["state"]["pid"] > 0, st
    assert st["state"]["id"] == c.id and st["state"]["status"] in ("creating", "created", "running"), st
    assert {"ociVersion", "fds", "pid", "state"} <= set(st), st


@pytest.mark.parametrize("nnp", [True, False])
@pytest.mark.parametrize("policy", ["never", "close"])
def test_seccomp_listener_that_never_answers_or_goes_away(container, nnp, policy):
    """A listener that keeps the fd and never answers leaves the container's mkdir waiting, but create,
    start, kill and delete each return (timed); one that closes the fd makes the notified call fail with
    ENOSYS (the kernel's answer without a listener) and the container goes on."""
    c = container("sh", "-c", "mkdir /scratch/d || echo failed; echo done; exec sleep 300")
    path = container.dir / "listener.sock"
    notify_config(c, path, nnp)
    agent = Listener(path, policy)
    try:
        for call in (c.create, c.start):
            t0 = time.monotonic()
            r = call(timeout=20)
            assert r.rc == 0 and time.monotonic() - t0 < 10, r
        assert agent.got_fd.wait(10)
        if policy == "close":
            wait_for(lambda: "done" in c.output(), what="the container to go on")
            assert "failed" in c.output() and "Function not implemented" in c.stderr.read_text()
        else:
            time.sleep(0.5)
            assert c.output() == "" and c.state()["status"] == "running"  # waiting in mkdir
        t0 = time.monotonic()
        assert c.kill("KILL", timeout=20).rc == 0
        c.wait_status("stopped")
        assert c.delete(timeout=20).rc == 0 and time.monotonic() - t0 < 10
        assert c.state_dir_gone()
    finally:
        if policy == "never" and agent.fd is not None:
            os.close(agent.fd)


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_listener_that_accepts_nothing(container, rt, nnp):
    """A listener socket whose backlog is full (it never accepts) makes the runtime give up in time with
    a one-line error; the container is not left running under a filter nobody watches."""
    rt.lacks("a timeout on listenerPath (it waits forever)")
    c = container("sh", "-c", "mkdir /scratch/d; echo done")
    path = container.dir / "full.sock"
    notify_config(c, path, nnp)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(0)
    queued = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    queued.connect(str(path))  # fills the backlog
    try:
        t0 = time.monotonic()
        r = c.create(timeout=30)
        if r.rc == 0:  # the filter comes last (noNewPrivileges): start hands the fd over
            r = c.start(timeout=30)
            assert r.rc != 0, r
            c.wait_status("stopped")
            assert c.delete().rc == 0
        assert time.monotonic() - t0 < 20 and "timed out" in r.err and len(r.err.splitlines()) == 1, r
        assert c.output() == ""
        assert c.state_dir_gone()
    finally:
        queued.close()
        server.close()


def test_seccomp_notify_without_listener_is_refused(container):
    c = container("true")
    seccomp_config(c)
    c.config["linux"]["seccomp"]["syscalls"] = [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    c.config["linux"]["seccomp"]["listenerPath"] = str(container.dir / "nobody.sock")
    r = c.run()
    c.assert_refused(r)


# -- personality, scheduler, I/O priority, CPU affinity (runc 1.2+) --------------------------------

def test_personality_linux32(container, rt):
    rt.lacks("linux.personality")
    c = container("uname", "-m")
    c.config["linux"]["personality"] = {"domain": "LINUX32"}
    assert run_ok(c).strip() in ("i686", "i386", "armv8l")


def test_scheduler(container, rt):
    rt.lacks("process.scheduler")
    c = container("cat", "/proc/self/stat")
    c.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    fields = run_ok(c).rsplit(")", 1)[1].split()
    assert (fields[16], fields[38]) == ("7", "3")  # nice (field 19), policy (field 41): SCHED_BATCH


def test_io_priority(container, rt):
    rt.lacks("process.ioPriority")
    c = container("sleep", "1000")
    c.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    pid = c.started()
    libc = ctypes.CDLL(None, use_errno=True)
    ioprio = libc.syscall(252, 1, pid)  # ioprio_get(IOPRIO_WHO_PROCESS, pid)
    assert (ioprio >> 13, ioprio & 0xFF) == (2, 6)
    c.kill("KILL")


def test_exec_cpu_affinity(container, rt):
    rt.lacks("process.execCPUAffinity")
    if len(os.sched_getaffinity(0)) < 2 or 1 not in os.sched_getaffinity(0):
        pytest.skip("needs CPUs 0 and 1")
    c = container("sleep", "1000")
    init = c.started()
    process = dict(c.config["process"], args=["grep", "Cpus_allowed_list", "/proc/self/status"],
                   execCPUAffinity={"initial": "0", "final": "1"})
    path = container.dir / "process.json"
    path.write_text(json.dumps(process))
    r = rt("exec", "--process", path, c.id)
    assert r.rc == 0, r
    assert r.out.split() == ["Cpus_allowed_list:", "1"]
    assert os.sched_getaffinity(init) == os.sched_getaffinity(0), "the init is not affected"
    c.kill("KILL")


def test_features_seccomp_flags_are_the_kernels(rt):
    """features.md: seccomp.supportedFlags are the known flags this kernel takes, each probed with
    seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL): EFAULT means the flag passed the kernel's check."""
    r = rt("features")
    assert r.rc == 0, r
    sc = json.loads(r.out)["linux"]["seccomp"]
    if "knownFlags" not in sc:
        rt.lacks("seccomp.knownFlags and supportedFlags in features")
    if os.uname().machine != "x86_64":
        pytest.skip("the probe calls seccomp(2) by its x86_64 number")
    libc = ctypes.CDLL(None, use_errno=True)

    def kernel_takes(flag):
        bits = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32 | 8}[flag]
        assert libc.syscall(317, 1, bits, None) == -1  # x86_64 seccomp(2); no program: nothing loaded
        return ctypes.get_errno() == errno.EFAULT

    known = [f for f in sc["knownFlags"] if f != "SECCOMP_FILTER_FLAG_NEW_LISTENER"]
    assert sorted(sc["supportedFlags"]) == sorted(f for f in known if kernel_takes(f)), sc
