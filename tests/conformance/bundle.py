"""OCI bundles for the conformance tests: a busybox-static rootfs and the config `runc spec` writes."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyrunc
from pyrunc import launcher

BUSYBOX = "/bin/busybox"
APPLETS = ("cat chmod echo env grep hostname id kill ls mkdir printf pwd readlink sh sleep sort stat tail test "
           "touch true uname").split()
CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def base_config(args):
    """The content of `runc spec` (runc 1.1.5), with process.terminal false and the given args."""
    nosuid_noexec_nodev = ["nosuid", "noexec", "nodev"]  # spelled out in the JSON runc writes
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": [*nosuid_noexec_nodev, "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": list(nosuid_noexec_nodev)},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": [*nosuid_noexec_nodev, "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": [*nosuid_noexec_nodev, "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def make_rootfs(rootfs):
    """busybox-static with a symlink per applet the tests use, and the usual top-level directories."""
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
    return value


def alive(pid):
    """True while /proc/<pid> exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return False


def ns_inode(pid, ns):
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


def proc_status(text):
    """Parse /proc/<pid>/status content into {field: value}."""
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def mountinfo(text):
    """{mount point: (fstype, per-mount options, superblock options)} from /proc/<pid>/mountinfo text;
    the last mount at a point wins. Lines that are not mountinfo are ignored."""
    mounts = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, fs = left.split(), right.split()
        if sep and len(fields) >= 6 and len(fs) >= 3:
            mounts[fields[4]] = (fs[0], set(fields[5].split(",")), set(fs[2].split(",")))
    return mounts


class Container:
    """A bundle at <workdir>/<id> plus the runtime calls that act on it.

    The container's stdout/stderr for create/run -d go to <workdir>/<id>.out and .err."""

    def __init__(self, rt, workdir, cid, args):
        self.rt, self.id, self.dir = rt, cid, workdir
        self.bundle = workdir / cid
        self.rootfs = self.bundle / "rootfs"
        self.stdout, self.stderr = workdir / f"{cid}.out", workdir / f"{cid}.err"
        make_rootfs(self.rootfs)
        self.config = base_config(args)

    # --- config tweaks
    @property
    def namespaces(self):
        return self.config["linux"]["namespaces"]

    def namespace(self, ns_type, path=None):
        """Add (or replace) a namespace entry; path=None creates a new namespace."""
        self.namespaces[:] = [n for n in self.namespaces if n["type"] != ns_type]
        self.namespaces.append({"type": ns_type} | ({"path": str(path)} if path else {}))

    def drop_namespace(self, ns_type):
        """Inherit the runtime's namespace of this type (and, for uts, set no hostname)."""
        self.namespaces[:] = [n for n in self.namespaces if n["type"] != ns_type]
        if ns_type == "uts":
            self.config.pop("hostname", None)

    def user_namespace(self, uid_maps=((0, 100000, 65536),), gid_maps=None):
        self.namespace("user")
        as_json = lambda maps: [{"containerID": c, "hostID": h, "size": s} for c, h, s in maps]  # noqa: E731
        self.config["linux"]["uidMappings"] = as_json(uid_maps)
        self.config["linux"]["gidMappings"] = as_json(gid_maps or uid_maps)

    def mount(self, destination, type, source, options=()):
        """Append a mount; its destination directory is made in the rootfs (the spec does not ask the
        runtime to create it)."""
        (self.rootfs / destination.lstrip("/")).mkdir(parents=True, exist_ok=True)
        self.config["mounts"].append({"destination": destination, "type": type, "source": str(source),
                                      "options": list(options)})

    def bind(self, source, destination, *options):
        self.mount(destination, "bind", source, ["rbind", *options])

    def hook(self, kind, path, args=None, env=None, timeout=None):
        entry = {"path": str(path)}
        entry |= {k: v for k, v in (("args", args), ("env", env), ("timeout", timeout)) if v is not None}
        self.config.setdefault("hooks", {}).setdefault(kind, []).append(entry)

    def write(self):
        (self.bundle / "config.json").write_text(json.dumps(self.config, indent=2, default=str))

    # --- runtime calls
    def create(self, *flags, **kw):
        self.write()
        return self.rt("create", "--bundle", self.bundle, *flags, self.id,
                       stdout=self.stdout, stderr=self.stderr, **kw)

    def run(self, *flags, **kw):
        """Foreground unless flags say otherwise; the container's stdio is the runtime's."""
        self.write()
        if "-d" in flags or "--detach" in flags:
            kw = {"stdout": self.stdout, "stderr": self.stderr} | kw
        return self.rt("run", "--bundle", self.bundle, *flags, self.id, **kw)

    def start(self, **kw):
        return self.rt("start", self.id, **kw)

    def kill(self, *signal, **kw):
        return self.rt("kill", self.id, *signal, **kw)

    def delete(self, *flags, **kw):
        return self.rt("delete", *flags, self.id, **kw)

    def state(self):
        r = self.rt("state", self.id)
        assert r.rc == 0 and not r.err, r
        return json.loads(r.out)

    def wait_status(self, status, timeout=10.0):
        return wait_for(lambda: (s := self.state())["status"] == status and s, timeout, f"{self.id} {status}")

    def started(self):
        """create + start, asserting both succeed; returns the container's host pid."""
        for r in (self.create(), self.start()):
            assert r.rc == 0, r
        return self.state()["pid"]

    def output(self):
        return self.stdout.read_text()

    def finish(self):
        """Wait for the program to exit, delete the container, return what it wrote to stdout."""
        self.wait_status("stopped")
        r = self.delete()
        assert r.rc == 0, r
        return self.output()

    def assert_refused(self, r, one_line=False):
        """The call failed with a message, and no container of this id exists."""
        assert r.rc != 0, r
        assert r.err.strip(), f"no error message: {r}"
        assert not one_line or len(r.err.strip().splitlines()) == 1, f"not a one-line message: {r}"
        s = self.rt("state", self.id)
        assert s.rc != 0 and "does not exist" in s.err, s
        assert self.state_dir_gone()

    def state_dir_gone(self):
        """No entry named after the container (`<id>`, `<id>.json`...) is left in the state root."""
        root = self.rt.root
        return not root.exists() or all(p.name.partition(".")[0] != self.id for p in root.iterdir())


def close_every_console(path: Path) -> threading.Thread:
    """A --console-socket peer that takes the pty master and closes it (the shell then exits)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        _, ancdata, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(4))
        for _, _, data in ancdata:
            os.close(int.from_bytes(data[:4], "little"))
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


class SocketPeer(threading.Thread):
    """The other end of a runtime's unix socket (--console-socket, linux.seccomp.listenerPath):
    accepts one connection and hands it to serve(); whatever serve() raises is kept for the test."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.server.settimeout(30)
        self.error = None

    def run(self):
        try:
            conn, _ = self.server.accept()
            with conn:
                self.serve(conn)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.server.close()

    def serve(self, conn):
        raise NotImplementedError


def receive_state(conn):
    """A seccomp listener's message: the container process state and the fds that came with it. The
    JSON is read until whole (runc 1.1.5 keeps the connection open)."""
    data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
    while True:
        try:
            return json.loads(data), fds
        except ValueError:
            data += conn.recv(65536)


# What `run` imports from site-packages; the rest (jsonschema, pyroute2) only on paths the tests avoid.
MODULES = ("pyrunc", "_cffi_backend", "prctl.py", "_prctl", "jeepney")  # jeepney: --systemd-cgroup


def reachable_runtime(rt, where: Path) -> Path:
    """A launcher for this interpreter whose package directory the user can read."""
    if rt.name != "pyrunc":
        return Path(shutil.which(rt.exe) or rt.exe)
    site = Path(pyrunc.__file__).resolve().parent.parent
    lib = where / "lib"
    lib.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name.startswith(MODULES):
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, lib / entry.name)
    exe = where / "pyrunc"
    launcher.write(str(exe), os.path.realpath(sys.executable), str(lib))
    for path in (where, *where.rglob("*")):
        path.chmod(path.stat().st_mode | 0o055)
    return exe


def user_bundle(bundle, uid, gid):
    """A bundle directory with the busybox rootfs, owned by an ordinary user."""
    make_rootfs(bundle / "rootfs")
    for path in (bundle, *bundle.rglob("*")):
        os.lchown(path, uid, gid)
    return bundle


def as_user(uid, gid, home, **extra):
    """subprocess.run's keyword arguments to run a command as that user: its $XDG_RUNTIME_DIR and HOME
    are `home`, its output captured."""
    return {"user": uid, "group": gid, "extra_groups": [], "capture_output": True, "text": True, "timeout": 60,
            "stdin": subprocess.DEVNULL,
            "env": {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(home), "HOME": str(home)}} | extra
