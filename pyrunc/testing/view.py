"""The container's view, read from the host's /proc/<pid>: what a test checks against the config.

Reading from outside needs nothing inside the container (no binary of the kit's in the rootfs, unlike
runtime-tools' runtimetest); the text parsers also take what a program inside printed (`cat
/proc/self/mountinfo`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll predicate() every 20 ms until it returns something true, which is returned."""
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


def id_map(text):
    """[(inside, outside, count)] from uid_map / gid_map text."""
    return [tuple(int(x) for x in line.split()) for line in text.splitlines() if line.strip()]


def cap_set(hex_mask):
    """Capability names ('CAP_KILL'...) in a /proc status mask such as CapEff's."""
    from pyrunc.capabilities import NAMES  # the runtime's own table, in bit order

    mask = int(hex_mask, 16)
    return {name for bit, name in enumerate(NAMES) if mask >> bit & 1}


def limits(text):
    """{'Max open files': (soft, hard)} from /proc/<pid>/limits; 'unlimited' is None."""
    found = {}
    for line in text.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        found[name] = tuple(None if v == "unlimited" else int(v) for v in (soft, hard))
    return found


SECCOMP_MODES = {"0": "disabled", "1": "strict", "2": "filter"}


@dataclass
class View:
    """One process of a container as the host sees it; every property reads /proc afresh."""

    pid: int

    def _read(self, name):
        return Path(f"/proc/{self.pid}/{name}").read_text()

    @property
    def status(self):
        return proc_status(self._read("status"))

    @property
    def mounts(self):
        return mountinfo(self._read("mountinfo"))

    @property
    def uid_map(self):
        return id_map(self._read("uid_map"))

    @property
    def gid_map(self):
        return id_map(self._read("gid_map"))

    def capabilities(self, which="Eff"):
        """Names in CapEff / CapPrm / CapInh / CapBnd / CapAmb."""
        return cap_set(self.status[f"Cap{which}"])

    @property
    def seccomp(self):
        return SECCOMP_MODES.get(self.status.get("Seccomp", "0").strip(), "unknown")

    @property
    def no_new_privs(self):
        return self.status.get("NoNewPrivs", "0").strip() == "1"

    @property
    def limits(self):
        return limits(self._read("limits"))

    @property
    def cgroups(self):
        """{controller list ('' for cgroup2): path} from /proc/<pid>/cgroup."""
        return {ctl: path for _, ctl, path in (line.split(":", 2) for line in self._read("cgroup").splitlines())}

    def cgroup_file(self, controller, name):
        """A cgroup file of the process's cgroup, read on the host: v1 hierarchy first, then cgroup2."""
        groups = self.cgroups
        for ctls, path in groups.items():
            if controller in ctls.split(","):
                base = Path("/sys/fs/cgroup") / ctls
                return (base / path.lstrip("/") / name).read_text().strip()
        for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            if (root / "cgroup.controllers").exists() and "" in groups:
                return (root / groups[""].lstrip("/") / name).read_text().strip()
        raise FileNotFoundError(f"no cgroup with {controller} for pid {self.pid}")

    def namespace(self, ns):
        """The namespace's inode, for comparison with the host's (ns_inode(1, ns)) or another process's."""
        return ns_inode(self.pid, ns)

    @property
    def namespaces(self):
        return {ns: ns_inode(self.pid, ns) for ns in NAMESPACES if os.path.exists(f"/proc/{self.pid}/ns/{ns}")}

    @property
    def environ(self):
        return [e.decode() for e in Path(f"/proc/{self.pid}/environ").read_bytes().split(b"\0") if e]

    @property
    def cwd(self):
        return os.readlink(f"/proc/{self.pid}/cwd")

    @property
    def cmdline(self):
        return [a.decode() for a in Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")[:-1]]

    @property
    def oom_score_adj(self):
        return int(self._read("oom_score_adj"))

    @property
    def hostname(self):
        """The hostname seen in the process's uts namespace (via its root's /proc/sys)."""
        return Path(f"/proc/{self.pid}/root/proc/sys/kernel/hostname").read_text().strip()
