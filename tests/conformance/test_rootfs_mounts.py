"""mounts: every mount(8) option, bind mounts of files and directories, recursive options,
propagation, rootfsPropagation, sysfs without a network namespace, tmpcopyup, idmapped mounts.

What a container sees is read from its /proc/self/mountinfo; what the host keeps, from the
host's. The helpers here are shared by the other test_rootfs_* modules."""

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from pyrunc.testing.bundle import wait_for

pytestmark = pytest.mark.root


class Mount:
    """One /proc/<pid>/mountinfo line."""

    def __init__(self, line):
        left, _, right = line.partition(" - ")
        fields, fs = left.split(), right.split()
        self.id, self.parent, self.root, self.point = fields[0], fields[1], fields[3], fields[4]
        self.options = set(fields[5].split(","))
        self.optional = fields[6:]
        self.fstype, self.source = fs[0], fs[1]
        self.super = set(fs[2].split(",")) if len(fs) > 2 else set()

    def propagation(self):
        """shared, slave, shared+slave, unbindable or private."""
        kinds = sorted({f.split(":")[0] for f in self.optional} & {"shared", "master", "unbindable"})
        return "+".join(kinds).replace("master", "slave") or "private"

    def __repr__(self):
        return f"Mount({self.point} {self.fstype} {sorted(self.options)} {self.optional} {sorted(self.super)})"


def mount_table(text):
    """{mount point: Mount} of the mountinfo lines in `text` (other lines ignored; the top mount wins)."""
    table = {}
    for line in text.splitlines():
        if " - " in line and len(line.split()) >= 10:
            m = Mount(line)
            table[m.point] = m
    return table


def applets(c, *names):
    """More busybox applets in the container's /bin."""
    for name in names:
        link = c.rootfs / "bin" / name
        if not link.exists():
            link.symlink_to("busybox")


def host_mounts(*marks):
    """The host's mountinfo lines that name one of `marks` (the tests' own directories)."""
    return {line.split(" ", 4)[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if any(str(m) in line for m in marks)}


def run_ok(c, *flags):
    r = c.run(*flags)
    assert r.rc == 0, r
    return r.out


@contextlib.contextmanager
def host_mount(*args):
    """A mount on the host for the length of a test (`mount ARGS...`; the last arg is the mount point)."""
    subprocess.run(["mount", *map(str, args)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(args[-1])], check=True)


# options -> (per-mount options that must show, superblock options that must show, options that must not)
OPTION_CASES = {
    "ro": (["ro"], {"ro"}, set(), {"rw"}),
    "rw": (["ro", "rw"], {"rw"}, set(), {"ro"}),
    "nosuid-nodev-noexec": (["nosuid", "nodev", "noexec"], {"nosuid", "nodev", "noexec"}, set(), set()),
    "suid-dev-exec": (["nosuid", "suid", "nodev", "dev", "noexec", "exec"], set(), set(),
                      {"nosuid", "nodev", "noexec"}),
    "noatime": (["noatime"], {"noatime"}, set(), {"relatime"}),
    "relatime": (["relatime"], {"relatime"}, set(), {"noatime"}),
    "strictatime": (["strictatime"], set(), set(), {"relatime", "noatime"}),
    "atime": (["noatime", "atime"], {"relatime"}, set(), {"noatime"}),
    "nodiratime": (["nodiratime"], {"nodiratime"}, set(), set()),
    "diratime": (["nodiratime", "diratime"], set(), set(), {"nodiratime"}),
    "sync": (["sync"], set(), {"sync"}, set()),
    "async": (["sync", "async"], set(), set(), {"sync"}),
    "dirsync": (["dirsync"], set(), {"dirsync"}, set()),
    "lazytime": (["lazytime"], set(), {"lazytime"}, set()),
    "nosymfollow": (["nosymfollow"], {"nosymfollow"}, set(), set()),
    "silent-loud": (["silent", "loud"], {"rw"}, set(), set()),
    "tmpfs-data": (["size=1m", "mode=1770", "uid=1000", "gid=1000", "nr_inodes=100"], set(),
                   {"size=1024k", "mode=1770", "uid=1000", "gid=1000", "nr_inodes=100"}, set()),
}


def test_mount_options(container):
    """Each option of mount(8), on a tmpfs of its own, as the kernel reports it."""
    c = container("cat", "/proc/self/mountinfo")
    for name, (options, *_) in OPTION_CASES.items():
        c.mount(f"/mnt/{name}", "tmpfs", "tmpfs", options)
    table = mount_table(run_ok(c))
    for name, (_, per_mount, superblock, absent) in OPTION_CASES.items():
        m = table[f"/mnt/{name}"]
        assert m.fstype == "tmpfs", m
        assert per_mount <= m.options and superblock <= m.super, (name, m)
        # ro/rw: the mount's own flag (a runtime may remount a read-write superblock read-only)
        assert not absent & m.options and not (absent - {"ro", "rw"}) & m.super, (name, m)


def test_defaults_option(container, rt):
    rt.lacks("the `defaults` mount option (it passes it to the kernel as data)")
    c = container("cat", "/proc/self/mountinfo")
    c.mount("/mnt/d", "tmpfs", "tmpfs", ["ro", "defaults"])
    assert "ro" in mount_table(run_ok(c))["/mnt/d"].options  # mount(8): rw,suid... are defaults, not overrides


def test_mounts_in_config_order(container):
    """A later mount covers an earlier one at the same place, and a mount inside an earlier one lands in it."""
    c = container("sh", "-c", "cat /mnt/a/marker; test -d /mnt/a/inner && echo inner; cat /proc/self/mountinfo")
    src = c.dir / "src"
    src.mkdir()
    (src / "marker").write_text("second\n")
    c.mount("/mnt/a", "tmpfs", "tmpfs", ["size=1m"])
    c.config["mounts"].append({"destination": "/mnt/a", "type": "bind", "source": str(src), "options": ["bind"]})
    c.config["mounts"].append({"destination": "/mnt/a/inner", "type": "tmpfs", "source": "tmpfs"})
    out = run_ok(c)
    assert out.startswith("second\ninner\n"), out
    assert mount_table(out)["/mnt/a/inner"].fstype == "tmpfs"


def test_bind_mounts(container):
    """Directories and files, rw and ro, a relative source, missing destinations made with the right type."""
    c = container("sh", "-c", """cat /mnt/dir/hello /etc/conf/file.txt /mnt/rel/hello
echo back > /mnt/dir/back; touch /mnt/ro/x 2>/dev/null || echo ro-refused
echo no > /etc/conf/file-ro.txt 2>/dev/null || echo file-ro-refused
test -f /etc/conf/file.txt && test -d /mnt/new/deep && echo types-ok
cat /proc/self/mountinfo""")
    src = c.bundle / "shared"
    src.mkdir()
    (src / "hello").write_text("hello\n")
    conf = c.dir / "file.txt"
    conf.write_text("a file\n")
    m = c.config["mounts"]
    m.append({"destination": "/mnt/dir", "type": "bind", "source": str(src), "options": ["rbind", "rw"]})
    m.append({"destination": "/mnt/ro", "type": "none", "source": str(src), "options": ["bind", "ro"]})
    m.append({"destination": "/etc/conf/file.txt", "type": "bind", "source": str(conf), "options": ["bind"]})
    m.append({"destination": "/etc/conf/file-ro.txt", "source": str(conf), "options": ["bind", "ro"]})
    m.append({"destination": "/mnt/rel", "type": "bind", "source": "shared", "options": ["rbind"]})
    m.append({"destination": "/mnt/new/deep", "type": "bind", "source": str(src), "options": ["bind"]})
    out = run_ok(c)
    lines = out.splitlines()
    assert lines[:6] == ["hello", "a file", "hello", "ro-refused", "file-ro-refused", "types-ok"], out
    assert (src / "back").read_text() == "back\n" and not (src / "x").exists()
    assert conf.read_text() == "a file\n"
    table = mount_table(out)
    assert "ro" in table["/mnt/ro"].options and "rw" in table["/mnt/dir"].options
    assert "ro" in table["/etc/conf/file-ro.txt"].options
    assert (c.rootfs / "etc/conf/file.txt").is_file() and (c.rootfs / "mnt/new/deep").is_dir()


def test_bind_mount_flags(container):
    c = container("sh", "-c", "/mnt/b/prog; cat /proc/self/mountinfo")
    src = c.dir / "src"
    src.mkdir()
    prog = src / "prog"
    prog.write_text("#!/bin/sh\necho ran\n")
    prog.chmod(0o755)
    c.bind(src, "/mnt/b", "nosuid", "nodev", "noexec", "noatime")
    out = run_ok(c)
    assert "ran" not in out
    assert {"nosuid", "nodev", "noexec", "noatime"} <= mount_table(out)["/mnt/b"].options


def test_bind_mount_ignores_data(container):
    """Data such as mode=755 on a bind mount is accepted and changes nothing (the kernel ignores data on a
    bind mount; runc passes it on): the validation suite's `mounts` file binds with mode=755."""
    c = container("sh", "-c", "cat /mnt/b/hello; stat -c %a /mnt/b; cat /proc/self/mountinfo")
    src = c.dir / "src"
    src.mkdir()
    src.chmod(0o700)
    (src / "hello").write_text("hello\n")
    c.bind(src, "/mnt/b", "mode=755", "ro")
    out = run_ok(c)
    assert out.splitlines()[:2] == ["hello", "700"], out
    assert "ro" in mount_table(out)["/mnt/b"].options and (src / "hello").read_text() == "hello\n"


@pytest.fixture
def submount(container):
    """A host directory with a tmpfs mounted below it: `rbind` copies it, `bind` does not."""
    src = container.dir / "tree"
    (src / "sub").mkdir(parents=True)
    with host_mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", src / "sub"):
        (src / "sub" / "in-sub").write_text("x")
        yield src


def test_rbind_copies_submounts_and_ro_is_not_recursive(container, submount):
    c = container("sh", "-c", "ls /mnt/r/sub; ls /mnt/b/sub; touch /mnt/r/sub/w && echo sub-writable; "
                              "cat /proc/self/mountinfo")
    c.config["mounts"].append({"destination": "/mnt/r", "type": "bind", "source": str(submount),
                               "options": ["rbind", "ro"]})
    c.config["mounts"].append({"destination": "/mnt/b", "type": "bind", "source": str(submount),
                               "options": ["bind"]})
    out = run_ok(c)
    assert out.splitlines()[0] == "in-sub" and "sub-writable" in out, out
    table = mount_table(out)
    assert "ro" in table["/mnt/r"].options and "rw" in table["/mnt/r/sub"].options
    assert "/mnt/b/sub" not in table


@pytest.mark.parametrize("option", ["rro", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rstrictatime",
                                    "rnodiratime", "rnosymfollow"])
def test_recursive_options(container, rt, submount, option):
    rt.lacks("recursive mount options (rro, rnosuid...)")
    c = container("cat", "/proc/self/mountinfo")
    c.config["mounts"].append({"destination": "/mnt/r", "type": "bind", "source": str(submount),
                               "options": ["rbind", option]})
    table = mount_table(run_ok(c))
    for point in ("/mnt/r", "/mnt/r/sub"):
        options = table[point].options
        if option == "rstrictatime":
            assert not options & {"relatime", "noatime"}, table[point]
        else:
            assert option[1:] in options, table[point]


def test_recursive_clear_options(container, rt, submount):
    """`rrw`, `rsuid`... clear what an earlier option set, on the whole tree."""
    rt.lacks("recursive mount options (rro, rnosuid...)")
    c = container("cat", "/proc/self/mountinfo")
    c.config["mounts"].append({"destination": "/mnt/r", "type": "bind", "source": str(submount),
                               "options": ["rbind", "rro", "rnosuid", "rrw", "rsuid", "rnoatime", "rrelatime"]})
    c.config["mounts"].append({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nodev", "rdev", "noexec", "rexec"]})
    table = mount_table(run_ok(c))
    for point in ("/mnt/r", "/mnt/r/sub"):
        assert "rw" in table[point].options and "relatime" in table[point].options, table[point]
        assert not {"nosuid", "noatime"} & table[point].options, table[point]
    assert not {"nodev", "noexec"} & table["/mnt/t"].options


@pytest.mark.parametrize("option,expected", [("private", "private"), ("shared", "shared"), ("slave", "slave"),
                                             ("unbindable", "unbindable"), ("rprivate", "private"),
                                             ("rshared", "shared")])
def test_mount_propagation_option(container, shared_workdir, option, expected):
    c = container("cat", "/proc/self/mountinfo")
    src = c.dir / "src"
    src.mkdir()
    c.bind(src, "/mnt/p", option)
    c.mount("/mnt/t", "tmpfs", "tmpfs", [option])
    table = mount_table(run_ok(c))
    # the bind's source is a slave of the host's shared mount; a new tmpfs has no master: `slave` leaves it private
    assert expected in table["/mnt/p"].propagation(), table["/mnt/p"]
    tmp_expected = "private" if expected == "slave" else expected
    assert tmp_expected in table["/mnt/t"].propagation(), table["/mnt/t"]


@pytest.fixture
def shared_workdir(container):
    """The test's directory as a shared mount of the host, so propagation between host and container shows."""
    d = container.dir
    subprocess.run(["mount", "--bind", str(d), str(d)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(d)], check=True)
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=True)


@pytest.mark.parametrize("propagation", [None, "slave", "private", "shared", "unbindable"])
def test_rootfs_propagation(container, rt, shared_workdir, propagation):
    """Host mounts reach the container unless private; container mounts never reach the host."""
    if propagation in ("slave", "shared", "unbindable"):
        rt.lacks("rootfsPropagation under a shared parent mount (it makes the rootfs private)")
    c = container("sh", "-c", "mount -t tmpfs tmpfs /mnt/from-inside && sleep 300")
    applets(c, "mount")
    (c.rootfs / "mnt/from-inside").mkdir(parents=True)
    (c.rootfs / "mnt/from-host").mkdir(parents=True)
    caps = c.config["process"]["capabilities"]
    for kind in ("bounding", "effective", "permitted"):
        caps[kind].append("CAP_SYS_ADMIN")
    if propagation:
        c.config["linux"]["rootfsPropagation"] = propagation
    before = host_mounts(shared_workdir)
    pid = c.started()
    try:
        wait_for(lambda: "/mnt/from-inside" in Path(f"/proc/{pid}/mountinfo").read_text(), what="inner mount")
        inside = mount_table(Path(f"/proc/{pid}/mountinfo").read_text())
        expected = {"slave": "slave", None: "slave", "private": "private", "shared": "slave+shared",
                    "unbindable": "unbindable"}[propagation]
        assert inside["/"].propagation() == expected, inside["/"]
        assert host_mounts(shared_workdir) == before, "a container mount propagated to the host"
        with host_mount("-t", "tmpfs", "tmpfs", c.rootfs / "mnt/from-host"):
            seen = "/mnt/from-host" in Path(f"/proc/{pid}/mountinfo").read_text()
            assert seen is (propagation not in ("private", "unbindable")), propagation
    finally:
        c.kill("KILL")
        c.wait_status("stopped")
        assert c.delete().rc == 0
    assert host_mounts(shared_workdir) == before


def test_sysfs_without_network_namespace(container):
    """The host's network namespace: /sys shows its devices, read-only."""
    c = container("sh", "-c", "ls /sys/class/net; cat /proc/self/mountinfo")
    c.drop_namespace("network")
    before = set(os.listdir("/sys/class/net"))
    out = run_ok(c)
    stable = before & set(os.listdir("/sys/class/net"))  # other work may add or remove links meanwhile
    assert stable <= set(out.splitlines()), out
    sys_mount = mount_table(out)["/sys"]
    assert sys_mount.fstype == "sysfs" and {"ro", "nosuid", "nodev", "noexec"} <= sys_mount.options


def test_sysfs_in_user_namespace_without_network_namespace(container, rt):
    rt.lacks("sysfs in a user namespace without a network namespace (its mount fails with EPERM)")
    c = container("sh", "-c", "ls /sys/class/net; cat /proc/self/mountinfo")
    c.drop_namespace("network")
    c.user_namespace()
    out = run_ok(c)
    assert "lo" in out.splitlines()
    assert "ro" in mount_table(out)["/sys"].options


def test_tmpcopyup(container):
    c = container("sh", "-c", "cat /etc/app/conf /etc/app/sub/deep; readlink /etc/app/link; echo new > /etc/app/conf; "
                              "cat /proc/self/mountinfo")
    app = c.rootfs / "etc/app"
    (app / "sub").mkdir(parents=True)
    (app / "conf").write_text("from the image\n")
    (app / "sub/deep").write_text("deep\n")
    (app / "link").symlink_to("/etc/passwd")
    c.mount("/etc/app", "tmpfs", "tmpfs", ["tmpcopyup", "mode=755"])
    out = run_ok(c)
    assert out.splitlines()[:3] == ["from the image", "deep", "/etc/passwd"], out
    assert mount_table(out)["/etc/app"].fstype == "tmpfs"
    assert (app / "conf").read_text() == "from the image\n", "the write reached the image"


@pytest.fixture
def owned_tree(container):
    """A host directory owned by 0 with a file owned by 1000:1000."""
    src = container.dir / "owned"
    src.mkdir()
    (src / "root-file").write_text("r\n")
    (src / "user-file").write_text("u\n")
    os.chown(src / "user-file", 1000, 1000)
    return src


def test_idmapped_bind_mount(container, rt, owned_tree):
    rt.lacks("idmapped mounts")
    c = container("sh", "-c", "stat -c '%n %u %g' /mnt/id/root-file /mnt/id/user-file /mnt/plain/root-file; "
                              "touch /mnt/id/new; cat /proc/self/mountinfo")
    applets(c, "stat")
    c.config["mounts"].append({"destination": "/mnt/id", "type": "bind", "source": str(owned_tree),
                               "options": ["rbind", "idmap"],
                               "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                               "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]})
    c.bind(owned_tree, "/mnt/plain")
    out = run_ok(c)
    assert out.splitlines()[:3] == ["/mnt/id/root-file 100000 200000", "/mnt/id/user-file 101000 201000",
                                    "/mnt/plain/root-file 0 0"], out
    assert "idmapped" in mount_table(out)["/mnt/id"].options
    new = owned_tree / "new"  # root inside maps to no one in the mount's namespace: nothing is made
    assert not new.exists() or new.stat().st_uid == 0


def test_idmapped_mount_takes_the_container_maps(container, rt, owned_tree):
    """`idmap` without maps of its own, in a user namespace: files of host root are the container root's."""
    rt.lacks("idmapped mounts")
    c = container("sh", "-c", "stat -c '%u %g' /mnt/id/root-file /mnt/id/user-file; echo w > /mnt/id/written; "
                              "stat -c '%u %g' /mnt/plain/root-file")
    applets(c, "stat")
    c.user_namespace()
    (c.rootfs / "mnt/id").mkdir(parents=True)  # the container's root may not write in the image
    c.config["mounts"].append({"destination": "/mnt/id", "type": "bind", "source": str(owned_tree),
                               "options": ["rbind", "ridmap"]})
    c.bind(owned_tree, "/mnt/plain")
    assert run_ok(c).splitlines() == ["0 0", "1000 1000", "65534 65534"]
    assert (owned_tree / "written").stat().st_uid == 0


def test_idmap_without_any_maps_is_refused(container, rt, owned_tree):
    rt.lacks("idmapped mounts")
    c = container()
    c.config["mounts"].append({"destination": "/mnt/id", "type": "bind", "source": str(owned_tree),
                               "options": ["rbind", "idmap"]})
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert "mounts[7]" in r.err and "idmap" in r.err, r
