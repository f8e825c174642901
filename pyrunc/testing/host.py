"""What real containers could leave on the host: snapshot it before, compare after, and tidy up.

Other work may run containers on the same host meanwhile, so a leftover must be attributable to the
tests: a mount that names their directories (or a rootfs / bundles path), a cgroup or process carrying
one of their container ids, a process whose root is one of their rootfs directories (compared by inode:
/proc/<pid>/root reads "/" from outside) or whose cwd/root path lies in their directories. The checks
that cannot be attributed (network links, named netns, /run/pyrunc) run once for the whole session."""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .view import alive, wait_for

CGROUP = Path("/sys/fs/cgroup")


@dataclass
class Tracked:
    """What the tests made: container ids and the (st_dev, st_ino) of their rootfs directories."""

    ids: set
    roots: set

    def add(self, container):
        self.ids.add(container.id)
        with contextlib.suppress(OSError):
            self.roots.add(self._inode(container))

    def forget(self, container):
        """Once a rootfs is removed its inode may be reused by anyone's new directory (another test
        session's container, say): it no longer identifies the tests' processes."""
        with contextlib.suppress(OSError):
            self.roots.discard(self._inode(container))

    @staticmethod
    def _inode(container):
        st = os.stat(container.bundle / container.config["root"]["path"])
        return st.st_dev, st.st_ino


def _ls(path):
    return frozenset(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else frozenset()


def _cgroup_dirs():
    """Directories up to /sys/fs/cgroup/<hierarchy>/a/b, and two levels below our own cgroups, where a
    runtime puts containers by default (runc: <own cgroup>/<id>)."""
    own = {line.rstrip("\n").split(":", 2)[2].strip("/") for line in open("/proc/self/cgroup")} - {""}
    starts = [(CGROUP, 3)] + [(h / p, 2) for h in CGROUP.iterdir() for p in own if (h / p).is_dir()]
    found = set()
    for start, max_depth in starts:
        for top, dirs, _ in os.walk(start):
            if len(Path(top).relative_to(start).parts) >= max_depth:
                dirs.clear()
            found.update(os.path.join(top, d) for d in dirs)
    return found


def _process(pid):
    """(root inode, cwd, root, cgroups, cmdline) of a process, or None once it is gone or a zombie."""
    try:
        st = os.stat(f"/proc/{pid}/root")
        cwd, root = os.readlink(f"/proc/{pid}/cwd"), os.readlink(f"/proc/{pid}/root")
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return None
    return (st.st_dev, st.st_ino), cwd, root, cgroups, cmdline


def _pids():
    return {int(e.name) for e in os.scandir("/proc") if e.name.isdigit()}


@dataclass(frozen=True)
class Snapshot:
    marks: tuple  # a mountinfo line naming one of these is a mount of the tests
    mounts: frozenset
    cgroups: frozenset
    pids: frozenset
    links: frozenset
    netns: frozenset
    states: frozenset

    @classmethod
    def take(cls, *marks):
        marks = tuple(map(str, marks)) + ("rootfs", "/bundles/")
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
        mounts = frozenset(line.split(" ", 4)[4] for line in mountinfo if any(m in line for m in marks))
        return cls(marks, mounts, frozenset(_cgroup_dirs()), frozenset(_pids()), _ls("/sys/class/net"),
                   _ls("/run/netns"), _ls("/run/pyrunc"))

    def leftovers(self, within, tracked, everything=False):
        """{kind: [items]} that appeared since the snapshot and belong to the tests. `within`: the
        directory the tests own; `everything`: add the host-wide checks that cannot be attributed."""
        def ours(pid):
            p = _process(pid)
            if p and (p[0] in tracked.roots or any(str(within) in path for path in p[1:3])
                      or any(i in p[3] for i in tracked.ids)):
                return f"{pid} {p[4]!r} (cwd {p[1]}, root {p[2]})"

        for _ in range(50):  # a killed container process may take a moment to die
            if not (procs := [d for pid in _pids() - self.pids if (d := ours(pid))]):
                break
            time.sleep(0.02)
        now = Snapshot.take(*self.marks)
        found = {"mounts": now.mounts - self.mounts, "processes": procs,
                 "cgroups": [d for d in now.cgroups - self.cgroups if any(i in d for i in tracked.ids)]}
        if everything:
            found |= {"network links": now.links - self.links, "named netns": now.netns - self.netns,
                      "entries in /run/pyrunc": now.states - self.states}
        return {kind: sorted(items) for kind, items in found.items() if items}


def report(title, found):
    return title + "".join(f"\n  {kind}:\n    " + "\n    ".join(map(str, items))
                           for kind, items in found.items())


def _rmdir(path):
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def tidy(found, within):
    """Best effort removal of the tests' leftovers, so one runtime bug does not cascade into later tests.
    Host-wide findings (links, netns, /run/pyrunc) may be someone else's: they are only reported."""
    pids = [int(line.split()[0]) for line in found.get("processes", [])]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not any(map(alive, pids)), timeout=5)
    for line in reversed(found.get("mounts", [])):  # sorted: children after parents
        if str(within) in line:
            subprocess.run(["umount", "-l", line.split()[0]], capture_output=True)
    for d in sorted(found.get("cgroups", []), key=len, reverse=True):
        with contextlib.suppress(AssertionError):
            wait_for(lambda d=d: _rmdir(d), timeout=2)
    for d in found.get("state dirs", []):
        shutil.rmtree(d, ignore_errors=True)


def unmount_below(directory):
    """Lazily unmount everything mounted at or below `directory`, deepest first: never let rmtree walk
    into a leaked bind mount of a host directory."""
    prefix = str(directory).rstrip("/") + "/"
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in sorted((p for p in points if (p + "/").startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
