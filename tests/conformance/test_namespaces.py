"""linux.namespaces: new, inherited and joined namespaces; user id maps; time offsets; loopback."""

import os
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import ns_inode, wait_for

pytestmark = pytest.mark.root

NS_FILE = {"pid": "pid", "network": "net", "mount": "mnt", "uts": "uts", "ipc": "ipc", "cgroup": "cgroup",
           "user": "user", "time": "time"}


def created_pid(c):
    r = c.create()
    assert r.rc == 0, r
    return c.state()["pid"]


def check_namespace(c, ns_type, expect_same_as):
    """Create, compare /proc/<pid>/ns/X with `expect_same_as` (an inode) or the host's (must differ),
    then start and check the program inside sees the same namespace."""
    name = NS_FILE[ns_type]
    c.config["process"]["args"] = ["readlink", f"/proc/self/ns/{name}"]
    inode = ns_inode(created_pid(c), name)
    if expect_same_as is None:
        assert inode != ns_inode("self", name), f"{ns_type}: the container shares the host's namespace"
    else:
        assert inode == expect_same_as
    assert c.start().rc == 0
    assert c.finish() == f"{name}:[{inode}]\n"


def skip_unsupported(rt, ns_type):
    if ns_type == "time":
        rt.lacks("time namespaces")


@pytest.mark.parametrize("ns_type", NS_FILE)
def test_new_namespace(container, rt, ns_type):
    skip_unsupported(rt, ns_type)
    c = container()
    if ns_type == "user":
        c.user_namespace()
    else:
        c.namespace(ns_type)
    check_namespace(c, ns_type, None)


def test_new_namespaces_are_each_containers_own(container, rt):
    """A namespace without a path is new for the container (config-linux.md): not the host's, nor
    that of another container created the same way, however the runtime makes it (by clone, or
    by another task before clone, which a runtime might do to take it off clone's path). Control:
    the two inits are distinct processes."""
    inits = [created_pid(container()) for _ in range(2)]
    assert inits[0] != inits[1]
    for name in ("net", "ipc", "uts", "pid", "mnt"):
        inodes = {ns_inode(pid, name) for pid in inits} | {ns_inode("self", name)}
        assert len(inodes) == 3, f"{name}: {inodes}"


def test_no_namespace_fd_reaches_the_container(container, rt):
    """Neither the created init (before start) nor the program holds an fd of a namespace: one
    would let the container reach the runtime's namespaces (or outlive the container's). Control:
    the program's own listing shows its stdio."""
    c = container("ls", "-l", "/proc/self/fd")
    init = created_pid(c)
    held = [os.readlink(f"/proc/{init}/fd/{fd}") for fd in os.listdir(f"/proc/{init}/fd")]
    assert not [t for t in held if t.split(":")[0] in NS_FILE.values()], held
    assert c.start().rc == 0
    out = c.finish()
    assert " 0 -> " in out and " 2 -> " in out, out  # the control
    assert not any(f"{name}:[" in out for name in NS_FILE.values()), out


@pytest.mark.parametrize("ns_type", ["pid", "network", "ipc", "uts", "cgroup", "user", "time"])
def test_unlisted_namespace_is_inherited(container, ns_type):
    c = container()
    c.drop_namespace(ns_type)
    check_namespace(c, ns_type, ns_inode("self", NS_FILE[ns_type]))


@pytest.fixture
def holder(container):
    """A process in its own namespaces, for containers to join by /proc/<pid>/ns/<type>."""
    p = subprocess.Popen(["unshare", "--net", "--uts", "--ipc", "--cgroup", "--time", "--pid", "--fork",
                          "--kill-child", "sleep", "300"])
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    yield int(wait_for(lambda: children.read_text().split(), what="the namespace holder")[0])
    p.kill()
    p.wait()


# A mount namespace is not joined here: pivot_root would move the holder's root too.
@pytest.mark.parametrize("ns_type", ["pid", "network", "ipc", "uts", "cgroup", "time"])
def test_join_namespace_by_proc_path(container, rt, holder, ns_type):
    skip_unsupported(rt, ns_type)
    c = container()
    c.namespace(ns_type, f"/proc/{holder}/ns/{NS_FILE[ns_type]}")
    c.config.pop("hostname")  # leave the holder's hostname alone
    check_namespace(c, ns_type, ns_inode(holder, NS_FILE[ns_type]))


@pytest.fixture
def netns_file(container):
    """A network namespace kept alive by a bind mount (as `ip netns add` and CNI do)."""
    path = container.dir / "netns"
    path.touch()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    yield path
    subprocess.run(["umount", path], check=True)


def test_join_namespace_by_bind_mounted_file(container, netns_file):
    c = container()
    c.namespace("network", netns_file)
    check_namespace(c, "network", os.stat(netns_file).st_ino)


@pytest.mark.parametrize("case", ["listed twice", "missing path", "path of another type", "not a namespace"])
def test_bad_namespace_entry(container, case):
    c = container()
    if case == "listed twice":
        c.namespaces.append({"type": "network"})
    else:
        path = {"missing path": "/nonexistent/ns/net", "path of another type": f"/proc/{os.getpid()}/ns/uts",
                "not a namespace": c.bundle / "config.json"}[case]
        c.namespace("network", path)
    c.assert_refused(c.create())


def map_lines(text):
    return [tuple(map(int, line.split())) for line in text.splitlines()]


def test_user_namespace_mappings(container):
    uids = [(0, 100000, 1000), (1000, 300000, 10), (2000, 400000, 5)]
    gids = [(0, 200000, 1000), (1000, 500000, 10)]
    c = container("cat", "/proc/self/uid_map", "/proc/self/gid_map")
    c.user_namespace(uids, gids)
    pid = created_pid(c)
    assert sorted(map_lines(Path(f"/proc/{pid}/uid_map").read_text())) == uids
    assert sorted(map_lines(Path(f"/proc/{pid}/gid_map").read_text())) == gids
    assert c.start().rc == 0
    inside = map_lines(c.finish())  # uid_map then gid_map, as the container reads them
    assert (sorted(inside[:len(uids)]), sorted(inside[len(uids):])) == (uids, gids)


def test_time_namespace_offsets(container, rt):
    rt.lacks("time namespaces")
    c = container("cat", "/proc/uptime")
    c.namespace("time")
    boot_offset = 10**6
    c.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 5},
                                        "boottime": {"secs": boot_offset, "nanosecs": 0}}
    pid = created_pid(c)
    offsets = {f[0]: (int(f[1]), int(f[2])) for f in map(str.split, open(f"/proc/{pid}/timens_offsets"))}
    assert offsets == {"monotonic": (86400, 5), "boottime": (boot_offset, 0)}
    assert c.start().rc == 0
    inside = float(c.finish().split()[0])
    host = float(Path("/proc/uptime").read_text().split()[0])
    assert abs(inside - host - boot_offset) < 30, (inside, host)


def test_new_network_namespace_has_lo_up(container):
    c = container("sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags")
    r = c.run()
    assert r.rc == 0, r
    links, flags = r.out.split()[:-1], int(r.out.split()[-1], 16)
    # What any new network namespace holds: lo, and tunl0 and such when their modules are loaded.
    fresh = subprocess.run(["unshare", "--net", "ip", "-o", "link"], capture_output=True, text=True,
                           check=True)
    assert links == sorted(line.split(": ")[1].split("@")[0] for line in fresh.stdout.splitlines())
    assert flags & 0x1, f"lo is down (flags {flags:#x})"  # IFF_UP


def test_config_without_mount_namespace_is_refused(container, rt):
    """pyrunc's choice (README): without a mount namespace the config's mounts would be made in the host's
    mount namespace and root.path reached by chroot (runc also makes the host's / rslave and leaves the
    mounts after delete); pyrunc refuses it with one line, before any mount, leaving nothing."""
    rt.only_pyrunc("refusing a config without a mount namespace")
    c = container("true")
    c.config["linux"]["namespaces"] = [n for n in c.config["linux"]["namespaces"] if n["type"] != "mount"]
    before = Path("/proc/self/mountinfo").read_text().count(str(c.dir))
    r = c.run()
    c.assert_refused(r, one_line=True)
    assert "a mount namespace is required" in r.err and "chroot" in r.err, r
    assert Path("/proc/self/mountinfo").read_text().count(str(c.dir)) == before == 0
