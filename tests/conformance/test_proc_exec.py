"""exec, ps, file descriptors and the path back to the host (CVE-2019-5736 / CVE-2024-21626 class)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import alive, ns_inode, wait_for

pytestmark = pytest.mark.root
NAMESPACES = ("pid", "mnt", "net", "ipc", "uts", "cgroup", "user")


def running(container, *args):
    c = container(*(args or ("sleep", "1000")))
    pid = c.started()
    return c, pid


def test_exec_args_env_cwd_user_and_exit_status(container, rt):
    c, _ = running(container)
    r = rt("exec", "--env", "GREETING=hello there", "--env", "SECOND=2", "--cwd", "/tmp", "--user", "1000:1001",
           "--additional-gids", "5", c.id, "sh", "-c",
           'echo "$GREETING|$SECOND|$(pwd)|$(id -u):$(id -g)|$(id -G)"; exit 3')
    assert r.rc == 3, r
    assert r.out == "hello there|2|/tmp|1000:1001|1001 5\n"
    c.kill("KILL")


def test_exec_process_json_is_authoritative(container, rt):
    c, _ = running(container)
    process = {"args": ["sh", "-c", 'echo "$0 $WHO $(pwd) $(id -u)"'], "env": ["WHO=json", "PATH=/bin"],
               "cwd": "/etc", "user": {"uid": 7, "gid": 7}, "terminal": False}
    path = container.dir / "process.json"
    path.write_text(json.dumps(process))
    r = rt("exec", "--process", path, c.id)
    assert r.rc == 0, r
    assert r.out == "sh json /etc 7\n"
    c.kill("KILL")


def test_exec_detached_joins_the_init_namespaces_and_cgroups(container, rt):
    c, init = running(container)
    pid_file = container.dir / "exec.pid"
    r = rt("exec", "-d", "--pid-file", pid_file, c.id, "sleep", "1000")
    assert r.rc == 0, r
    text = pid_file.read_text()
    assert text.isdigit(), f"pid file {text!r}: digits, no newline"
    pid = int(text)
    assert alive(pid)
    for ns in NAMESPACES:
        assert ns_inode(pid, ns) == ns_inode(init, ns), ns
    assert Path(f"/proc/{pid}/cgroup").read_text() == Path(f"/proc/{init}/cgroup").read_text()
    assert Path(f"/proc/{pid}/root").stat().st_ino == Path(f"/proc/{init}/root").stat().st_ino
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    assert not [p for p in os.listdir(container.dir) if p.startswith("exec.pid.")], "pid file not atomic"
    r = rt("ps", "--format", "json", c.id)
    assert r.rc == 0 and not r.err, r
    assert sorted(json.loads(r.out)) == sorted([init, pid])
    c.kill("KILL")
    wait_for(lambda: not alive(pid), what="exec'd process gone with the container")


def test_exec_into_a_stopped_container_fails(container, rt):
    c = container("true")
    assert c.run("-d").rc == 0
    c.wait_status("stopped")
    r = rt("exec", c.id, "true")
    assert r.rc != 0 and "stopped" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = rt("exec", "no-such-container", "true")
    assert r.rc != 0 and "does not exist" in r.err, r


def test_exec_missing_program_fails_with_255(container, rt):
    c, init = running(container)
    r = rt("exec", c.id, "/no/such/program")
    assert r.rc == 255, r
    assert "no such file or directory" in r.err.lower(), r
    r = rt("exec", c.id, "no-such-program")
    assert r.rc == 255 and "not found" in r.err, r
    assert json.loads(rt("ps", "--format", "json", c.id).out) == [init]
    c.kill("KILL")


def test_exec_console_socket_that_does_not_answer(container, rt):
    c, init = running(container)
    r = rt("exec", "-t", "-d", "--console-socket", container.dir / "nobody.sock", c.id, "sleep", "1000")
    assert r.rc != 0 and r.err.strip() and len(r.err.strip().splitlines()) == 1, r
    assert json.loads(rt("ps", "--format", "json", c.id).out) == [init], "a process was left behind"
    c.kill("KILL")


def test_ps_table(container, rt):
    c, init = running(container)
    r = rt("ps", c.id)
    assert r.rc == 0, r
    header, *lines = r.out.splitlines()
    assert "PID" in header.split()
    index = header.split().index("PID")
    assert [int(line.split()[index]) for line in lines] == [init]
    r = rt("ps", "--format", "bogus", c.id)
    assert r.rc != 0
    c.kill("KILL")


def _with_fds(rt, marker, *args, preserve=()):
    """Run the runtime with the marker file open as fd 3 and fd 7 (as a caller may leak them)."""
    script = 'exec 3<"$1" 7<"$1"; shift; exec "$@"'
    cmd = ["sh", "-c", script, "sh", str(marker), rt.exe, "--root", str(rt.root), *preserve, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_only_stdio_and_preserved_fds_reach_exec(container, rt):
    c, _ = running(container)
    marker = container.dir / "leak-marker"
    marker.write_text("host file")
    r = _with_fds(rt, marker, "exec", c.id, "ls", "-l", "/proc/self/fd")
    assert r.returncode == 0, r
    assert "leak-marker" not in r.stdout, r.stdout
    r = _with_fds(rt, marker, "exec", "--preserve-fds", "1", c.id, "ls", "-l", "/proc/self/fd")
    assert r.returncode == 0, r
    leaked = [line.split()[-3] for line in r.stdout.splitlines() if "leak-marker" in line]
    assert leaked == ["3"], r.stdout
    c.kill("KILL")


def test_only_stdio_and_preserved_fds_reach_run(container, rt):
    c = container("ls", "-l", "/proc/self/fd")
    c.write()
    marker = container.dir / "leak-marker"
    marker.write_text("host file")
    r = _with_fds(rt, marker, "run", "--bundle", c.bundle, "--preserve-fds", "1", c.id)
    assert r.returncode == 0, r
    leaked = [line.split()[-3] for line in r.stdout.splitlines() if "leak-marker" in line]
    assert leaked == ["3"], r.stdout


def test_listen_fds_reach_the_container(container, rt):
    c = container("sh", "-c", 'echo "$LISTEN_FDS $LISTEN_PID"; ls -l /proc/self/fd')
    c.write()
    marker = container.dir / "leak-marker"
    marker.write_text("host file")
    script = 'exec 3<"$1" 7<"$1"; shift; export LISTEN_FDS=1 LISTEN_PID=$$; exec "$@"'
    cmd = ["sh", "-c", script, "sh", str(marker), rt.exe, "--root", str(rt.root), "run", "--bundle", str(c.bundle),
           c.id]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    first, *listing = r.stdout.splitlines()
    assert first == "1 1"
    assert [line.split()[-3] for line in listing if "leak-marker" in line] == ["3"], r.stdout


def ptrace_container(container):
    """No user namespace, CAP_SYS_PTRACE: ptrace checks pass even on non-dumpable processes."""
    c = container("sleep", "1000")
    caps = c.config["process"]["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s].append("CAP_SYS_PTRACE")
    c.mount("/scratch", "tmpfs", "tmpfs")
    return c


def test_the_waiting_init_holds_no_host_fd(container, rt):
    """Between create and start the init is a copy of the runtime: a container process with
    CAP_SYS_PTRACE must not find host files among its fds (its /proc/1/exe: tests/security/test_exe.py)."""
    rt.lacks("a waiting init without host fds (it holds an O_PATH fd to <state>/exec.fifo)")
    c = ptrace_container(container)
    assert c.create().rc == 0
    r = rt("exec", c.id, "sh", "-c", "ls -l /proc/1/fd")
    assert r.rc == 0, r
    fds = [line.split()[-3:] for line in r.out.splitlines() if " -> " in line]
    assert not [f for f in fds if int(f[0]) > 2 and f[2].startswith("/")], f"host files held by the init: {r.out}"
    c.kill("KILL")


def test_exec_into_a_user_namespace(container, rt):
    c = container("sleep", "1000")
    c.user_namespace()
    init = c.started()
    r = rt("exec", c.id, "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert r.rc == 0, r
    uid, mapping = r.out.split("\n", 1)
    assert uid == "0" and mapping.split() == ["0", "100000", "65536"], r
    pid_file = container.dir / "exec.pid"
    assert rt("exec", "-d", "--pid-file", pid_file, c.id, "sleep", "1000").rc == 0
    pid = int(pid_file.read_text())
    for ns in NAMESPACES:
        assert ns_inode(pid, ns) == ns_inode(init, ns), ns
    c.kill("KILL")


def test_exec_tty_through_the_console_socket(container, rt):
    import socket

    c, _ = running(container)
    path = container.dir / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(20)
    r = rt("exec", "-t", "-d", "--console-socket", path, c.id, "sh", "-c", "tty; echo on-the-tty; sleep 1000")
    assert r.rc == 0, r
    conn, _ = server.accept()
    with conn:
        name, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    server.close()
    assert len(fds) == 1
    import select

    seen = b""
    while b"on-the-tty" not in seen and select.select([fds[0]], [], [], 10)[0]:
        seen += os.read(fds[0], 1024)
    os.close(fds[0])
    assert b"/dev/pts/" in seen, seen
    c.kill("KILL")
