"""procfs and sysfs: what the container controls must never redirect the runtime's writes into
procfs, nor hide its masks, nor leave the host's procfs reachable.

Each test is an attack from a real container (through its config and image, which the runtime
must treat as hostile) on a file the test owns, checked on the host before and after, with a
control in the same run that shows the attack's path really leads to that file.
"""

import hashlib
import os

import pytest
from conformance.test_rootfs_mounts import applets

pytestmark = pytest.mark.root

def vulnerable(rt, cve, why):
    """Never run an attack against a runtime known to fall to it."""
    if rt.name == "runc":
        pytest.skip(f"runc 1.1.5 is vulnerable to {cve} ({why}): the attack is not run against it")


def digest(*files):
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def fake_sysctl(base, prefix="sys/"):
    """A host directory laid out like /proc (or /proc/sys with prefix ""): the file a sysctl
    write of net.ipv4.ip_forward lands in when the runtime follows the container's /proc."""
    target = base / prefix / "net/ipv4/ip_forward"
    target.parent.mkdir(parents=True)
    target.write_text("host-marker\n")
    return target


# -- mounts over and inside /proc (CVE-2019-19921, runc's checkProcMount) ------------------------------

@pytest.mark.parametrize("dest, link, prefix, message", [
    ("/proc", None, "sys/", 'cannot be mounted because it is not of type proc'),
    ("//proc/./", None, "sys/", 'cannot be mounted because it is not of type proc'),
    ("/evil", "/proc", "sys/", 'cannot be mounted because it is not of type proc'),
    ("/proc/sys", None, "", 'cannot be mounted because it is inside /proc'),
    ("/evil/sys", "/proc", "", 'cannot be mounted because it is inside /proc'),
], ids=["proc", "proc-unclean", "link-to-proc", "proc-sys", "link-into-proc"])
def test_host_directory_over_proc(container, dest, link, prefix, message):
    """CVE-2019-19921 (and the issue's report): a config bind-mounts a host directory over /proc
    (or /proc/sys, or a path that a symlink of the image leads there) and sets a sysctl: a runtime
    that writes sysctls through the container's /proc writes the host file
    <dir>/sys/net/ipv4/ip_forward, and every mask under /proc is silently skipped. The mount must be
    refused, with one line, and the host file keep its content. Control: the same directory at an
    ordinary destination, written through by the container, changes the host file."""
    ctl = container("sh", "-c", "echo 1 > /fake/net/ipv4/ip_forward")
    ctl_target = fake_sysctl(container.dir / "control")
    ctl.bind(ctl_target.parent.parent.parent, "/fake")
    assert ctl.run().rc == 0
    assert ctl_target.read_text() == "1\n"

    c = container("true")
    host_dir = container.dir / "fakeproc"
    target = fake_sysctl(host_dir, prefix)
    if link:
        (c.rootfs / dest.strip("/").split("/")[0]).symlink_to(link)
    else:
        (c.rootfs / dest.strip("/")).mkdir(parents=True, exist_ok=True)
    c.config["mounts"].append({"destination": dest, "type": "bind", "source": str(host_dir),
                               "options": ["rbind"]})
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    before = digest(target)
    r = c.run()
    c.assert_refused(r, one_line=True)
    if c.rt.name == "pyrunc":
        assert message in r.err, r
    assert digest(target) == before


def test_tmpfs_over_proc_is_refused(container):
    """CVE-2019-19921: /proc takes nothing but a procfs; a tmpfs there would let the image decide
    what /proc/self and /proc/sys are."""
    c = container("true")
    c.config["mounts"][0] = {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}
    r = c.run()
    c.assert_refused(r, one_line=True)
    if c.rt.name == "pyrunc":
        assert '"/proc" cannot be mounted because it is not of type proc' in r.err


def test_lxcfs_style_files_inside_proc_are_allowed(container):
    """runc's short list (the files lxcfs emulates) may be bind-mounted over files of /proc."""
    c = container("sh", "-c", "cat /proc/uptime /proc/meminfo")
    for name in ("uptime", "meminfo"):
        src = container.dir / name
        src.write_text(f"fake {name}\n")
        c.config["mounts"].append({"destination": f"/proc/{name}", "type": "bind", "source": str(src),
                                   "options": ["bind"]})
    r = c.run()
    assert r.rc == 0, r
    assert r.out == "fake uptime\nfake meminfo\n"


def test_a_procfs_bind_mounted_over_proc_is_allowed(container):
    """runc allows a bind mount at /proc whose source is a procfs (checked on the detached copy,
    not the path): here the host's, which the container then sees."""
    c = container("sh", "-c", "test -d /proc/self/fd && echo ok")
    c.config["mounts"][0] = {"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"]}
    r = c.run()
    assert r.rc == 0 and r.out == "ok\n", r


@pytest.mark.parametrize("name", ["proc", "sys"])
def test_symlinked_proc_or_sys_is_refused(container, name):
    """CVE-2019-16884 / CVE-2023-28642 class: an image whose /proc (or /sys) is a symlink, here to
    /data, a host directory the config binds: procfs (sysfs) would be mounted wherever the link
    says, and what the runtime later writes into "/proc" would follow it. Refused with one line;
    the host directory is unchanged. Control: the same bundle with a plain directory runs, and
    /data is the host directory."""
    host_dir = container.dir / "data"
    target = fake_sysctl(host_dir)
    ctl = container("sh", "-c", "cat /data/sys/net/ipv4/ip_forward")
    ctl.bind(host_dir, "/data")
    r = ctl.run()
    assert r.rc == 0 and r.out == "host-marker\n", r

    c = container("true")
    c.bind(host_dir, "/data")
    (c.rootfs / name).rmdir()
    (c.rootfs / name).symlink_to("/data")
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    before = digest(target)
    r = c.run()
    c.assert_refused(r, one_line=True)
    if c.rt.name == "pyrunc":
        assert f"/{name} in the rootfs is a symlink" in r.err, r
    assert digest(target) == before


# -- writes into procfs (CVE-2025-52881) ----------------------------------------------------------------

def test_sysctl_and_oom_score_adj_reach_the_real_procfs(container):
    """CVE-2025-52881: with no procfs mounted at /proc, the image's /proc/sys and /proc/self are
    symlinks into /data, a host directory the config binds. A runtime that writes linux.sysctl and
    oomScoreAdj through the container's /proc writes the host's files instead (and the settings are
    silently lost). They must go to the real procfs: the host files keep their content, and a
    procfs mounted at /mnt/proc shows the values. Control: inside the container, the paths a naive
    runtime would write lead to the host files."""
    c = container("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; "
                              "cat /mnt/proc/sys/net/ipv4/ip_forward /mnt/proc/self/oom_score_adj")
    vulnerable(c.rt, "CVE-2025-52881", "it writes linux.sysctl through the container's /proc")
    host_dir = container.dir / "data"
    sysctl = fake_sysctl(host_dir, "")
    oom = host_dir / "self/oom_score_adj"
    oom.parent.mkdir()
    oom.write_text("host-marker\n")
    c.config["mounts"][0] = {"destination": "/mnt/proc", "type": "proc", "source": "proc"}
    (c.rootfs / "mnt/proc").mkdir(parents=True)
    c.bind(host_dir, "/data")
    (c.rootfs / "proc/sys").symlink_to("/data")
    (c.rootfs / "proc/self").symlink_to("/data/self")
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    c.config["linux"]["readonlyPaths"] = c.config["linux"]["maskedPaths"] = []
    c.config["process"]["oomScoreAdj"] = 5
    before = digest(sysctl, oom)
    r = c.run()
    assert digest(sysctl, oom) == before, r
    assert r.rc == 0, r
    assert r.out.splitlines() == ["host-marker", "host-marker", "1", "5"], r


def test_masks_are_not_redirected_through_the_container_proc(container):
    """CVE-2025-52881 class: with no procfs at /proc, the image's /proc/self/fd/N are links to
    /decoy. A runtime that mounts a mask through /proc/self/fd/N (the magic link of its fd)
    mounts it on /decoy, and the masked directory stays readable. The mask must cover /secret
    (runc 1.1.5 refuses to start on a /proc that is not procfs, which resists too). Control:
    inside the container /proc/self/fd/5 leads to /decoy."""
    c = container("sh", "-c", "readlink /proc/self/fd/5; ls -A /secret; echo end")
    del c.config["mounts"][0]
    (c.rootfs / "secret").mkdir()
    (c.rootfs / "secret/s").write_text("secret\n")
    (c.rootfs / "decoy").mkdir()
    (c.rootfs / "decoy/decoy-file").write_text("decoy\n")
    fd_dir = c.rootfs / "proc/self/fd"
    fd_dir.mkdir(parents=True)
    for n in range(64):
        (fd_dir / str(n)).symlink_to("/decoy")
    c.config["linux"]["maskedPaths"] = ["/secret"]
    c.config["linux"]["readonlyPaths"] = []
    r = c.run()
    if r.rc != 0 and c.rt.name == "runc":  # it resists by refusing to run on a /proc that is not procfs
        assert "/proc/self/fd is not on procfs" in r.err and not r.out, r
        return
    assert r.rc == 0, r
    assert r.out.splitlines() == ["/decoy", "end"], r


def test_masks_refuse_a_dev_null_that_is_not_the_null_device(container):
    """CVE-2025-31133: masking a file bind-mounts the container's /dev/null over it. With a /dev
    the config binds from a directory whose `null` is a link to /owned/file (a host file the test
    owns, bound at /owned), a runtime that trusts the path binds that file over /proc/kcore and
    the other masked files: the container writes the host file through them (with
    /proc/sys/kernel/core_pattern as the link's target, the host's). Refused with one line; the
    host file keeps its content. Control: inside the container /dev/null leads to the file."""
    owned = container.dir / "owned"
    owned.mkdir()
    target = owned / "file"
    target.write_text("host-marker\n")
    dev = container.dir / "dev"
    dev.mkdir()
    (dev / "null").symlink_to("/owned/file")

    def bundle(*args):
        c = container(*args)
        c.config["mounts"][1] = {"destination": "/dev", "type": "bind", "source": str(dev), "options": ["rbind"]}
        c.bind(owned, "/owned")
        return c

    ctl = bundle("cat", "/dev/null")
    ctl.config["linux"]["maskedPaths"] = []
    r = ctl.run()
    assert r.rc == 0 and r.out == "host-marker\n", r

    c = bundle("sh", "-c", "echo pwned > /proc/timer_list")
    vulnerable(c.rt, "CVE-2025-31133", "it bind-mounts /dev/null by path over masked files")
    before = digest(target)
    r = c.run()
    assert digest(target) == before, r
    c.assert_refused(r, one_line=True)
    if c.rt.name == "pyrunc":
        assert "not the null device" in r.err, r


# -- --no-pivot (runc's msMoveRoot) -----------------------------------------------------------------

MOUNT_PROC = "unshare -mrfp sh -c 'mount -t proc proc /mnt && echo mounted || echo refused'"


@pytest.mark.parametrize("userns", [False, True], ids=["host-userns", "userns"])
@pytest.mark.parametrize("masked", [True, False], ids=["masked", "control-unmasked"])
def test_no_pivot_leaves_no_host_procfs_in_the_namespace(container, masked, userns):
    """runc 28a697cc (no CVE; the procfs class): --no-pivot moves the rootfs over the old root
    instead of detaching it, so the host's /proc, whole and unmasked, stays in the container's
    mount namespace. The kernel lets a new user namespace mount procfs only when a fully
    visible one exists there: a container process does `unshare -mrfp` and mounts a procfs with
    none of the container's masks. With the masks and read-only paths of runc's default config it
    must be refused (CAP_SETFCAP, in Docker's default set, lets it map uid 0). Control: the
    same container without masks, whose own /proc is fully visible, mounts it (the attack works
    where nothing stops it)."""
    c = container("sh", "-c", MOUNT_PROC)
    if userns:  # the host's /proc is locked there: it is covered, not detached
        c.user_namespace()
    applets(c, "unshare", "mount")
    (c.rootfs / "mnt").mkdir()
    for kind in ("bounding", "effective", "permitted"):  # Docker's default set has it: map uid 0
        c.config["process"]["capabilities"][kind].append("CAP_SETFCAP")
    if not masked:
        c.config["linux"]["maskedPaths"] = []
        c.config["linux"]["readonlyPaths"] = []
    r = c.run("--no-pivot")
    assert r.rc == 0, r
    assert r.out.splitlines()[-1] == ("refused" if masked else "mounted"), r


# -- /dev/console (CVE-2025-52565) --------------------------------------------------------------------

def test_console_is_the_pty_not_what_dev_pts_n_names(container):
    """CVE-2025-52565: the runtime learns the pty's number N and opens and bind-mounts
    "/dev/pts/N"; the container's /dev/pts is a directory of the config's whose N is a link to
    a terminal the test owns (on the host's devpts, bound at /hostpts). A runtime that follows
    the path makes the test's terminal the container's stdio and /dev/console. The console must
    be the pty's own peer: what the container writes to /dev/console reaches the runtime's
    relay, and the test's terminal receives nothing. Control: the container writing to
    /dev/pts/0 reaches the test's terminal."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    try:
        k = os.ttyname(slave).rsplit("/", 1)[1]
        pts_dir = container.dir / "pts"
        pts_dir.mkdir()
        (pts_dir / "ptmx").symlink_to("/hostpts/ptmx")
        for n in range(256):
            if str(n) != k:
                (pts_dir / str(n)).symlink_to(f"/hostpts/{k}")

        def bundle(*args):
            c = container(*args)
            c.config["mounts"][2] = {"destination": "/dev/pts", "type": "bind", "source": str(pts_dir),
                                     "options": ["rbind"]}
            c.bind("/dev/pts", "/hostpts")
            return c

        def received():
            try:
                return os.read(master, 65536)
            except BlockingIOError:
                return b""

        n = "1" if k == "0" else "0"
        ctl = bundle("sh", "-c", f"echo control-through-the-path > /dev/pts/{n}")
        assert ctl.run().rc == 0
        assert b"control-through-the-path" in received()

        c = bundle("sh", "-c", "echo through-the-console > /dev/console")
        vulnerable(c.rt, "CVE-2025-52565", "it opens and bind-mounts /dev/pts/N by path")
        c.config["process"]["terminal"] = True
        r = c.run()
        assert received() == b"", r
        assert r.rc == 0, r
        assert "through-the-console" in r.out, r
    finally:
        os.close(master)
        os.close(slave)


# -- the trusted handle where it is harder to reach -----------------------------------------------

def test_sysctl_from_an_init_in_a_user_namespace(container):
    """Not an attack: a sysctl written through the runtime's procfs handle (the host's /proc)
    by an init in its own user namespace reaches the container's network namespace."""
    c = container("cat", "/proc/sys/net/ipv4/ip_forward")
    c.user_namespace()
    c.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    r = c.run()
    assert r.rc == 0 and r.out == "1\n", r


def test_oom_score_adj_of_an_exec_process(container, rt):
    """Not an attack: an exec'd process writes its oomScoreAdj (--process) through the handle."""
    import json

    rt.lacks("oomScoreAdj for exec --process (it keeps the container's)")
    c = container("sleep", "1000")
    c.started()
    proc = dict(c.config["process"], args=["cat", "/proc/self/oom_score_adj"], oomScoreAdj=7)
    path = container.dir / "process.json"
    path.write_text(json.dumps(proc))
    r = rt("exec", "--process", path, c.id)
    assert r.rc == 0 and r.out == "7\n", r
    c.kill("KILL")
