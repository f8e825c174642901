"""`pyrunc ps`: the container's processes, from its cgroups (as runc does).

`--format json` prints the host pids as a JSON array (containerd, docker top); the table runs the
host's `ps` with the given arguments (default `-ef`) and keeps its header and the lines whose PID
column is one of the container's.
"""

import os
import sys

from pyrunc import cgroups, jsonio
from pyrunc.errors import PyruncError
from pyrunc.state import Container, proc_start_time


def container_pids(c: Container) -> list[int]:
    """runc's Processes: whatever is in the cgroup, also once the init has gone (a stopped container
    in the host's pid namespace may leave processes behind); none while it is being created."""
    if c.status() == "creating":
        return []
    paths = c.record.get("cgroups") or {}
    if not paths and c.status() in ("created", "running", "paused"):
        return namespace_pids(c.record["pid"])
    return cgroups.pids(paths)


def namespace_pids(init: int) -> list[int]:
    """Without a cgroup of its own (rootless, none writable), a container is what its init's pid
    namespace holds; the host's pid namespace is every process, so then only the init (runc fails)."""
    try:
        ns = os.stat(f"/proc/{init}/ns/pid")
    except OSError:
        return []
    if os.stat("/proc/self/ns/pid").st_ino == ns.st_ino:
        return [init]
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                st = os.stat(f"/proc/{name}/ns/pid")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (ns.st_dev, ns.st_ino) and (proc_start_time(int(name)) or (0, "Z"))[1] != "Z":
                found.append(int(name))  # as in cgroup.procs: not the exited ones waiting to be reaped
    return sorted(found)


def table(ps_output: str, pids: list[int]) -> str:
    """runc's filter: the header, then the lines whose PID field is a container pid."""
    lines = ps_output.split("\n")
    header = lines[0].split()
    if "PID" not in header:
        raise PyruncError("couldn't find PID field in ps output")
    index = header.index("PID")
    wanted = set(pids)
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        try:
            pid = int(fields[index])
        except (IndexError, ValueError):
            raise PyruncError(f"unable to parse pid: {line!r}") from None
        if pid in wanted:
            out.append(line)
    return "\n".join(out) + "\n"


def run(root: str, cid: str, fmt: str | None, ps_args: list[str]) -> int:
    c = Container(root, cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    c.read()
    if fmt not in (None, "table", "json"):
        raise PyruncError(f"invalid format option: {fmt}")
    pids = container_pids(c)
    if fmt == "json":
        sys.stdout.write(jsonio.dumps(pids or None) + "\n")  # runc encodes no pids (a nil slice) as null
        return 0
    import subprocess

    try:
        r = subprocess.run(["ps", *(ps_args or ["-ef"])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=os.environ)
    except OSError as e:
        raise PyruncError(f"ps: {(e.strerror or str(e)).lower()}") from None
    output = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise PyruncError(f"ps exited with status {r.returncode}: {output.strip()}")
    sys.stdout.write(table(output, pids))
    return 0
