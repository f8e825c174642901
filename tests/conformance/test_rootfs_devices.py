"""/dev: the default devices and links, linux.devices (mknod, or the host's nodes in a user
namespace), a file in the way, and a /dev the config bind-mounts."""

import os
import stat

import pytest

from .test_rootfs_mounts import applets, run_ok

pytestmark = pytest.mark.root

STAT = "stat -c '%n %F %t %T %a %u %g'"
DEFAULTS = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7), "/dev/random": (1, 8),
            "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}
LINKS = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
         "/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx"}


def stats(out):
    """{path: (kind, major, minor, mode, uid, gid)} from `stat -c '%n %F %t %T %a %u %g'` lines."""
    found = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 7 and words[0].startswith("/"):
            name, *kind, major, minor, mode, uid, gid = words
            found[name] = (" ".join(kind), int(major, 16), int(minor, 16), int(mode, 8), int(uid), int(gid))
    return found


def script(*paths):
    return f"{STAT} {' '.join(paths)}; for l in {' '.join(LINKS)}; do echo \"$l -> $(readlink $l)\"; done; " \
           "echo x > /dev/null && echo null-ok; echo x 2>/dev/null > /dev/full || echo full-refused; " \
           "test -e /dev/console || echo no-console"


@pytest.mark.parametrize("userns", [False, True], ids=["mknod", "userns"])
def test_default_devices_and_links(container, userns):
    c = container("sh", "-c", script(*DEFAULTS))
    applets(c, "stat")
    if userns:
        c.user_namespace()
    out = run_ok(c)
    found = stats(out)
    for path, (major, minor) in DEFAULTS.items():
        kind, got_major, got_minor, mode, *_ = found[path]
        assert (kind, got_major, got_minor) == ("character special file", major, minor), found[path]
        assert mode & 0o666 == 0o666, (path, oct(mode))
    for link, target in LINKS.items():
        assert f"{link} -> {target}" in out.splitlines(), out
    assert {"null-ok", "full-refused", "no-console"} <= set(out.splitlines()), out


SPEC_DEVICES = [
    {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1, "gid": 2},
    {"path": "/dev/loop-test", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660, "gid": 6},
    {"path": "/dev/unbuffered", "type": "u", "major": 1, "minor": 3},
    {"path": "/dev/pipe", "type": "p", "fileMode": 0o640, "uid": 5},
    {"path": "/etc/devices/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o444},
]
EXPECTED = {
    "/dev/fuse": ("character special file", 10, 229, 0o600, 1, 2),
    "/dev/loop-test": ("block special file", 7, 0, 0o660, 0, 6),
    "/dev/unbuffered": ("character special file", 1, 3, 0o666, 0, 0),
    "/dev/pipe": ("fifo", 0, 0, 0o640, 5, 0),
    "/etc/devices/null": ("character special file", 1, 3, 0o444, 0, 0),
}


def test_linux_devices(container):
    """c, b, u and p nodes with their mode and owner, also outside /dev; fileMode defaults to 0666."""
    c = container("sh", "-c", f"{STAT} {' '.join(EXPECTED)}")
    applets(c, "stat")
    c.config["linux"]["devices"] = SPEC_DEVICES
    found = stats(run_ok(c))
    for path, expected in EXPECTED.items():
        assert found[path] == expected, (path, found.get(path))
    assert not (c.rootfs / "etc/devices/null").exists() or (c.rootfs / "etc/devices/null").is_char_device()


def test_linux_devices_in_user_namespace(container):
    """No mknod in a user namespace: the host's node at the same path."""
    c = container("sh", "-c", f"{STAT} /dev/fuse")
    applets(c, "stat")
    c.user_namespace()
    c.config["linux"]["devices"] = [SPEC_DEVICES[0]]
    found = stats(run_ok(c))
    host = os.stat("/dev/fuse")
    assert found["/dev/fuse"][:3] == ("character special file", os.major(host.st_rdev), os.minor(host.st_rdev))


def test_fifo_in_user_namespace(container, rt):
    """mknod of a fifo needs no privilege: made, with its mode and owner, where no host path is needed."""
    rt.lacks("fifos in a user namespace (it bind-mounts the host's path, which has none)")
    c = container("sh", "-c", f"{STAT} /dev/pipe")
    applets(c, "stat")
    c.user_namespace()
    c.config["linux"]["devices"] = [SPEC_DEVICES[3]]
    assert stats(run_ok(c))["/dev/pipe"][0::3] == ("fifo", 0o640)


def allow_null(c):
    """A linux.devices entry at a default device's path drops that device's default cgroup rule (as runc does)."""
    c.config["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3,
                                                      "access": "rwm"})


def test_device_over_the_default_one(container):
    """A linux.devices entry at a default device's path replaces it."""
    c = container("sh", "-c", f"{STAT} /dev/null")
    applets(c, "stat")
    c.config["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}]
    allow_null(c)
    assert stats(run_ok(c))["/dev/null"][3] == 0o600


def test_same_device_already_there(container):
    c = container("true")
    (c.rootfs / "etc/devices").mkdir(parents=True)
    os.mknod(c.rootfs / "etc/devices/null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    c.config["linux"]["devices"] = [SPEC_DEVICES[4]]
    run_ok(c)


@pytest.mark.parametrize("what", ["regular file", "directory", "other device", "symlink"])
def test_other_file_in_the_way(container, rt, what):
    rt.lacks("the check of a file already at a device's path (it keeps whatever is there)")
    c = container("true")
    path = c.rootfs / "etc/devices/null"
    path.parent.mkdir(parents=True)
    if what == "regular file":
        path.write_text("not a device\n")
    elif what == "directory":
        path.mkdir()
    elif what == "symlink":
        path.symlink_to("/dev/null")
    else:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    c.config["linux"]["devices"] = [SPEC_DEVICES[4]]
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert "linux.devices[0]" in r.err and "already there" in r.err, r
    assert path.is_symlink() or path.exists()


@pytest.fixture
def dev_dir(container):
    """A host directory to bind-mount as /dev, holding one node."""
    d = container.dir / "dev"
    d.mkdir()
    os.mknod(d / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return d


def test_bind_mounted_dev_is_left_alone(container, dev_dir):
    c = container("sh", "-c", "ls /dev; echo x > /dev/null && echo null-ok")
    c.config["mounts"] = [m for m in c.config["mounts"] if not m["destination"].startswith("/dev")]
    c.config["mounts"].append({"destination": "/dev", "type": "bind", "source": str(dev_dir), "options": ["rbind"]})
    c.config["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]
    allow_null(c)
    assert run_ok(c).splitlines() == ["null", "null-ok"]
    assert os.listdir(dev_dir) == ["null"]


def test_device_missing_from_bind_mounted_dev(container, rt, dev_dir):
    rt.lacks("linux.devices with a bind-mounted /dev (it skips them)")
    c = container()
    c.config["mounts"] = [m for m in c.config["mounts"] if not m["destination"].startswith("/dev")]
    c.config["mounts"].append({"destination": "/dev", "type": "bind", "source": str(dev_dir), "options": ["rbind"]})
    c.config["linux"]["devices"] = [SPEC_DEVICES[0]]
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert "linux.devices[0]" in r.err, r
    assert os.listdir(dev_dir) == ["null"], "a node was made in the host's directory"
