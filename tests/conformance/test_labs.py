"""The namespace labs (bundles/labs/<name>) as real containers: what each prints from inside is checked
against the kernel's state read from the host while the lab waits (the driver bundles/labs/lab.py
holds it through a pipe on its stdin), and the host is clean afterwards (the `container` fixture).

Each test runs a copy of the lab's config.json and rootfs under the container's own id; the labs'
rootfs comes from `make bundles`."""

import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.testing.bundle import reachable_runtime

pytestmark = pytest.mark.root

LABS = Path(__file__).resolve().parents[2] / "bundles/labs"
_spec = importlib.util.spec_from_file_location("lab", LABS / "lab.py")
lab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab)


def lab_container(container, name: str):
    """A container of the test whose bundle is a copy of the lab."""
    if not (LABS / name / "rootfs/lab.sh").exists():
        pytest.skip(f"bundles/labs/{name}: rootfs not built (make bundles)")
    c = container()
    shutil.rmtree(c.rootfs)
    shutil.copytree(LABS / name / "rootfs", c.rootfs, symlinks=True)
    c.config = json.loads((LABS / name / "config.json").read_text())
    c.write()
    return c


def runner(rt) -> "lab.Runner":
    return lab.Runner(rt.exe, str(rt.root))


def in_namespaces(pid: int, flags: str, *cmd: str) -> str:
    """A command run on the host in some of the lab's namespaces (nsenter -t pid -<flags>)."""
    r = subprocess.run(["nsenter", "-t", str(pid), f"-{flags}", *cmd], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    return r.stdout.strip()


def test_pid_lab(rt, container):
    c = lab_container(container, "pid")
    with runner(rt).held(c.bundle, c.id) as run:
        assert run.inside["my pid"] == "1"
        assert run.inside["pids I see"].split() == ["1"], "the lab's pid 1 sees only itself"
        assert run.inside["pid 1 runs"] == "sh"
        assert lab.status(run.pid, "NSpid").split() == [str(run.pid), "1"], "the host's pid, and 1 inside"
        assert Path(f"/proc/{run.pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"/bin/sh", b"/lab.sh"]
        assert lab.ns_inode(run.pid, "pid") != lab.ns_inode("self", "pid")
        assert run.pid == c.state()["pid"]


def test_mount_lab(rt, container):
    c = lab_container(container, "mount")
    with runner(rt).held(c.bundle, c.id) as run:
        host, theirs = lab.mountinfo("self"), lab.mountinfo(run.pid)
        dev = run.inside["tmpfs /tmp"].removeprefix("dev ")
        assert (dev, "tmpfs") in {(d, t) for d, _, p, t in theirs if p == "/tmp"}, "the kernel has the lab's tmpfs"
        assert dev not in {d for d, _, _, _ in host}, "the host's mount table lacks it"
        assert run.inside["/ is"].partition(" (dev ")[0] == str(c.rootfs.resolve())
        points = [p for _, _, p, _ in theirs if not p.startswith(("/proc/", "/sys/"))]
        assert run.inside["mount points"].split() == points
        host_root = next(d for d, r, p, _ in host if p == "/")
        assert not [p for d, r, p, _ in theirs if d == host_root and r == "/"], "the old root is gone"
        above = run.inside["cd /.. leads to"]
        inode = os.stat(c.rootfs).st_ino
        assert above == f"/ (inode {inode}, / is inode {inode})", "/.. is the rootfs itself"


def test_uts_lab(rt, container):
    c = lab_container(container, "uts")
    before = socket.gethostname()
    with runner(rt).held(c.bundle, c.id) as run:
        assert run.inside["hostname"] == c.config["hostname"] == "lab-uts"
        assert in_namespaces(run.pid, "u", "hostname") == "lab-uts", "the kernel's name in the lab's uts namespace"
        assert socket.gethostname() == before != "lab-uts"
    assert socket.gethostname() == before


def test_uts_lab_domainname(rt, container):
    rt.lacks("domainname")
    c = lab_container(container, "uts")
    domainname = Path("/proc/sys/kernel/domainname")
    before = domainname.read_text()
    with runner(rt).held(c.bundle, c.id) as run:
        assert run.inside["domainname"] == c.config["domainname"] == "lab.example"
        assert in_namespaces(run.pid, "u", str(lab.LABTOOL), "domainname") == "lab.example"
        assert domainname.read_text() == before
    assert domainname.read_text() == before


def test_ipc_lab(rt, container):
    """The host's queue and segment are invisible inside; the lab's exist in its namespace (nsenter
    finds them) and not on the host; both the lab's vanish with it, the host's stay until removed."""
    c = lab_container(container, "ipc")
    for kind, name in (("mq", lab.HOST_MQ), ("shm", lab.HOST_SHM), ("mq", lab.LAB_MQ), ("shm", lab.LAB_SHM)):
        assert lab.labtool(kind, "has", name) == "absent", f"the host already has {kind} {name}"
    lab.labtool("mq", "make", lab.HOST_MQ)
    try:
        lab.labtool("shm", "make", lab.HOST_SHM)
        with runner(rt).held(c.bundle, c.id) as run:
            assert run.inside["the host's queue /lab-host"] == "absent"
            assert run.inside["the host's segment 0x1ab0"] == "absent"
            assert run.inside["my queue /lab-inside"] == run.inside["my segment 0x1ab1"] == "present"
            assert lab.labtool("mq", "has", lab.LAB_MQ) == lab.labtool("shm", "has", lab.LAB_SHM) == "absent"
            for kind, name in (("mq", lab.LAB_MQ), ("shm", lab.LAB_SHM)):
                assert in_namespaces(run.pid, "i", str(lab.LABTOOL), kind, "has", name) == "present"
            assert lab.labtool("mq", "has", lab.HOST_MQ) == lab.labtool("shm", "has", lab.HOST_SHM) == "present"
        assert lab.labtool("mq", "has", lab.LAB_MQ) == lab.labtool("shm", "has", lab.LAB_SHM) == "absent"
    finally:
        lab.labtool("mq", "rm", lab.HOST_MQ)
        lab.labtool("shm", "rm", lab.HOST_SHM)
    assert lab.labtool("mq", "has", lab.HOST_MQ) == lab.labtool("shm", "has", lab.HOST_SHM) == "absent"


def links(pid: int | str) -> list[str]:
    """The lab's interfaces as the kernel lists them (iproute2 in its network namespace)."""
    out = in_namespaces(pid, "n", "ip", "-o", "link") if pid != "self" else subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(": ")[1].split("@")[0] for line in out.splitlines())


def test_net_lab_without_bridge_only_lo(rt, container):
    c = lab_container(container, "net")
    c.config.pop("annotations")
    c.write()
    host = links("self")
    with runner(rt).held(c.bundle, c.id) as run:
        assert run.inside["interfaces"].split() == ["lo"] == links(run.pid)
        assert run.inside["default route"] == "none"
        assert lab.ns_inode(run.pid, "net") != lab.ns_inode("self", "net")
    assert links("self") == host


def test_net_lab_bridge(rt, net_host, container):
    """With org.pyrunc.network: bridge the host and the lab ping each other, and two labs each other.
    The host is the `net_host` stand-in: the lab's runtime runs in it (the nsenter wrapper is the
    Runner's runtime), the host's ping is sent from it, and the real host's links, network settings and
    ruleset are compared after (the fixture)."""
    rt.only_pyrunc("the bridge network (org.pyrunc.network)")
    a, b = (net_host.adopt(lab_container(container, "net")) for _ in range(2))
    real = sorted(os.listdir("/sys/class/net"))
    with runner(net_host.rt).held(a.bundle, a.id) as first:
        addr = lab.address(first.inside)
        if addr is None:
            pytest.skip("this pyrunc has no bridge network yet: it ignored org.pyrunc.network (only lo)")
        gw = first.inside["default route"]
        assert first.inside[f"ping the host ({gw})"] == "ok"
        assert lab.ping(addr, net_host.host.path) == "ok"
        assert links(first.pid) != ["lo"]
        assert "pyrunc0" in net_host.host.links() and sorted(os.listdir("/sys/class/net")) == real
        with runner(net_host.rt).held(b.bundle, b.id) as second:
            peer = lab.address(second.inside)
            assert peer and peer != addr
            r = net_host.rt("exec", a.id, "ping", "-c", "1", "-W", "2", peer)
            assert r.rc == 0, r
    assert net_host.leftovers() == []


def test_user_lab(rt, ordinary_user):
    """Rootless: uid 0 inside is the user outside, a file made inside is the user's on the host, and
    CAP_SYS_ADMIN works on the lab's mount namespace but not on the host's uts namespace."""
    if not (LABS / "user/rootfs/lab.sh").exists():
        pytest.skip("bundles/labs/user: rootfs not built (make bundles)")
    name, uid, gid, home, work = ordinary_user
    user = pwd.getpwnam(name)
    exe = reachable_runtime(rt, work / "runtime")
    (home / "lab").mkdir()
    bundle = lab.rootless_bundle(LABS / "user", user, home / "lab")
    hostname = socket.gethostname()
    run_as = lab.Runner(str(exe), None, lab.as_user(user, home))
    with run_as.held(bundle, "lab-user") as run:
        assert run.inside["my uid"] == "0"
        assert set(lab.status(run.pid, "Uid").split()) == {str(uid)}, "outside, the lab is the user"
        assert run.inside["uid map"] == f"0 {uid} 1" == " ".join(Path(f"/proc/{run.pid}/uid_map").read_text().split())
        made = bundle / "rootfs/tmp/made-inside"
        assert run.inside["owner of /tmp/made-inside"] == "0"
        assert (made.stat().st_uid, made.stat().st_gid) == (uid, gid)
        assert run.inside["CAP_SYS_ADMIN, mount a tmpfs (my mount namespace)"] == "ok"
        assert "Operation not permitted" in run.inside["CAP_SYS_ADMIN, sethostname (the host's uts namespace)"]
        assert lab.ns_inode(run.pid, "uts") == lab.ns_inode("self", "uts")
        assert "tmpfs" in {t for _, _, p, t in lab.mountinfo(run.pid) if p == "/mnt"}
    assert socket.gethostname() == hostname
    assert not (home / ("pyrunc" if rt.name == "pyrunc" else "runc") / "lab-user").exists()


def test_user_lab_as_root_says_how(rt):
    """The user lab is rootless: run by root without a user, the driver says how to run it."""
    r = subprocess.run([sys.executable, LABS / "lab.py", "--runtime", rt.exe, "user"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and not r.stdout, r
    assert len(r.stderr.strip().splitlines()) == 1 and "LAB_USER=" in r.stderr, r.stderr


def test_time_lab(rt, container):
    rt.lacks("time namespaces")
    if not Path("/proc/self/ns/time").exists():
        pytest.skip("this kernel has no time namespaces")
    c = lab_container(container, "time")
    offsets = c.config["linux"]["timeOffsets"]
    with runner(rt).held(c.bundle, c.id) as run:
        monotonic, boottime = map(float, lab.labtool("clocks").split())
        kernel = Path(f"/proc/{run.pid}/timens_offsets").read_text().split()
        assert kernel == ["monotonic", str(offsets["monotonic"]["secs"]), "0",
                          "boottime", str(offsets["boottime"]["secs"]), "0"], kernel
        for clock, host in (("monotonic", monotonic), ("boottime", boottime)):
            shift = float(run.inside[f"CLOCK_{clock.upper()}"]) - host
            assert offsets[clock]["secs"] - 10 < shift <= offsets[clock]["secs"], (clock, shift)
        assert run.inside["uptime"].startswith(f"up {offsets['boottime']['secs'] // 86400} days")


def test_cgroup_lab(rt, container):
    c = lab_container(container, "cgroup")
    with runner(rt).held(c.bundle, c.id) as run:
        outside = lab.cgroups(run.pid)
        inside = {k: run.inside[k] for k in outside}
        assert set(inside.values()) == {"/"}, inside
        assert all(path != "/" and c.id in path for path in outside.values()), outside
        assert lab.ns_inode(run.pid, "cgroup") != lab.ns_inode("self", "cgroup")


@pytest.mark.parametrize("name", ["uts", "ipc"])
def test_make_lab_prints_side_by_side(rt, name):
    """The driver `make lab` runs: the lab's rows, inside and outside, under its README's title."""
    python = sys.executable
    r = subprocess.run([python, LABS / "lab.py", "--runtime", rt.exe, "--root", rt.root, name],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == (LABS / name / "README.md").read_text().splitlines()[0].lstrip("# ")
    assert lines[1].split() == ["inside", "the", "container", "outside", "(the", "host)"]
    if name == "uts":
        assert lines[2].split() == ["hostname", "lab-uts", socket.gethostname()]
    else:
        assert [line.split()[-2:] for line in lines[2:]] == [["absent", "present"]] * 2 + [["present", "absent"]] * 2


def test_make_lab_failure_is_one_line(rt):
    """A runtime that cannot run the lab (here: one that fails at once) gives one line, no traceback."""
    r = subprocess.run([sys.executable, LABS / "lab.py", "--runtime", "/bin/false", "uts"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and not r.stdout, r
    assert r.stderr == "lab uts: the container did not run: exit 1\n", r.stderr
