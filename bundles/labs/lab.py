"""Run a namespace lab and print its evidence side by side: what the container shows of an
isolation from inside, and what the host shows of the same objects from outside.

    make lab NAME=pid                      (= python bundles/labs/lab.py --runtime .venv/bin/pyrunc pid)
    make lab NAME=user LAB_USER=someone    (the user lab is rootless: as root, run it as that user)

Each lab's script (bundles/labs/<name>/lab.sh, the container's process) prints `  key: value` lines and
a blank line, then waits while its stdin is a pipe (`labtool hold`): the host's side is read meanwhile,
while the container and its namespaces exist. Run alone (`pyrunc run bundles/labs/<name>`), with a
terminal or /dev/null as stdin, it prints the inside and exits. Standard library only."""

import argparse
import contextlib
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LABS = Path(__file__).resolve().parent
LABTOOL = LABS / "labtool"
Rows = list[tuple[str, str, str]]


class LabError(Exception):
    """What keeps a lab from running, as one line for the reader."""


@dataclass
class Running:
    """A lab container waiting on its stdin: its id, host pid and the evidence it printed."""

    cid: str
    pid: int
    inside: dict[str, str]
    text: str


@dataclass
class Runner:
    """The runtime's command line (`--root` for tests), run as the caller or as another user."""

    runtime: str
    root: str | None = None
    popen: dict = field(default_factory=dict)

    @property
    def cmd(self) -> list[str]:
        return [self.runtime, *(["--root", self.root] if self.root else [])]

    def call(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.cmd, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=60, **self.popen)

    @contextlib.contextmanager
    def held(self, bundle: Path, cid: str) -> Iterator[Running]:
        """`run` the lab with a pipe as its stdin; yield once it has printed its evidence; close the pipe
        (the lab exits and `run` deletes it) when the caller is done with the host's side."""
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([*self.cmd, "run", "--bundle", str(bundle), cid], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, text=True, **self.popen)
            try:
                lines = []
                for line in proc.stdout:
                    if not line.strip():
                        break
                    lines.append(line)
                else:
                    proc.wait(30)
                    err.seek(0)
                    why = err.read().strip().splitlines()
                    raise LabError(f"the container did not run: {why[-1] if why else f'exit {proc.returncode}'}")
                state = self.call("state", cid)
                if state.returncode:
                    raise LabError(f"state {cid}: {state.stderr.strip()}")
                yield Running(cid, json.loads(state.stdout)["pid"], parse(lines), "".join(lines))
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.call("delete", "--force", cid)
                    proc.wait(30)
                proc.stdout.close()


def parse(lines: list[str]) -> dict[str, str]:
    """`  key: value` lines of a lab's output (the heading has no indent)."""
    return dict(line.strip().split(": ", 1) for line in lines if line.startswith("  ") and ": " in line)


def labtool(*args: str) -> str:
    """The labs' static helper, run on the host."""
    if not LABTOOL.exists():
        raise LabError(f"{LABTOOL} is missing: run `make bundles`")
    r = subprocess.run([str(LABTOOL), *args], capture_output=True, text=True, check=False)
    if r.returncode:
        raise LabError(r.stderr.strip())
    return r.stdout.strip()


def mountinfo(pid: str | int) -> list[tuple[str, str, str, str]]:
    """(major:minor, root, mount point, fstype) of each line of /proc/<pid>/mountinfo."""
    out = []
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        f = left.split()
        out.append((f[2], f[3], f[4], right.split()[0]))
    return out


def status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return " ".join(line.split()[1:])
    return ""


def ns_inode(pid: int | str, ns: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


def cgroups(pid: int | str) -> dict[str, str]:
    """controllers -> path from /proc/<pid>/cgroup ("(unified)" for the v2 line), as the cgroup lab prints."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        out[controllers or "(unified)"] = path
    return out


def lab_pid(r: Runner, bundle: Path, cid: str) -> Rows:
    with r.held(bundle, cid) as c:
        host_pids = sum(1 for e in os.scandir("/proc") if e.name.isdigit())
        return [("the lab's process", f"pid {c.inside['my pid']}", f"pid {c.pid} (NSpid: {status(c.pid, 'NSpid')})"),
                ("pids seen", c.inside["pids I see"], f"{host_pids} processes"),
                ("pid 1 runs", c.inside["pid 1 runs"], Path("/proc/1/comm").read_text().strip())]


def lab_mount(r: Runner, bundle: Path, cid: str) -> Rows:
    with r.held(bundle, cid) as c:
        host, theirs = mountinfo("self"), mountinfo(c.pid)
        root_dev = next(dev for dev, _, point, _ in host if point == "/")
        tmpfs = c.inside["tmpfs /tmp"].split()[-1]
        seen = [point for dev, _, point, _ in host if dev == tmpfs]
        old_root = [point for dev, root, point, _ in theirs if dev == root_dev and root == "/"]
        return [("/", c.inside["/ is"], f"/ (dev {root_dev})"),
                ("the tmpfs at /tmp", c.inside["tmpfs /tmp"],
                 f"dev {tmpfs} in the host's mountinfo: {', '.join(seen) if seen else 'absent'}"),
                ("mount points", c.inside["mount points"], f"{len(host)} on the host"),
                ("the old root", c.inside["cd /.. leads to"],
                 f"the host's / (dev {root_dev}, root /) in the lab's mountinfo: {old_root or 'absent'}")]


def lab_uts(r: Runner, bundle: Path, cid: str) -> Rows:
    with r.held(bundle, cid) as c:
        return [("hostname", c.inside["hostname"], socket.gethostname()),
                ("domainname", c.inside["domainname"], Path("/proc/sys/kernel/domainname").read_text().strip())]


HOST_MQ, HOST_SHM, LAB_MQ, LAB_SHM = "/lab-host", "1ab0", "/lab-inside", "1ab1"


def lab_ipc(r: Runner, bundle: Path, cid: str) -> Rows:
    """The host's queue and segment are made before the container, removed after it."""
    labtool("mq", "rm", HOST_MQ)
    labtool("shm", "rm", HOST_SHM)
    labtool("mq", "make", HOST_MQ)
    try:
        labtool("shm", "make", HOST_SHM)
        with r.held(bundle, cid) as c:
            objects = [("the host's queue /lab-host", "the host's queue /lab-host", "mq", HOST_MQ),
                       ("the host's segment 0x1ab0", "the host's segment 0x1ab0", "shm", HOST_SHM),
                       ("the lab's queue /lab-inside", "my queue /lab-inside", "mq", LAB_MQ),
                       ("the lab's segment 0x1ab1", "my segment 0x1ab1", "shm", LAB_SHM)]
            return [(label, c.inside[key], labtool(kind, "has", name)) for label, key, kind, name in objects]
    finally:
        labtool("mq", "rm", HOST_MQ)
        labtool("shm", "rm", HOST_SHM)


def address(inside: dict[str, str]) -> str | None:
    """The lab's first IPv4 address other than loopback, from its `addresses: if=a.b.c.d/n ...` line."""
    for entry in inside.get("addresses", "").split():
        name, _, cidr = entry.partition("=")
        if name != "lo":
            return cidr.split("/")[0]
    return None


def ping(addr: str, netns: str | None = None) -> str:
    """The host pings addr; netns names the network namespace that plays the host (tests give a
    stand-in, /proc/<pid>/ns/net, with the runtime run in it); None is the caller's own."""
    cmd = ["ping"] if shutil.which("ping") else ["/bin/busybox", "ping"]
    if netns:
        cmd = ["nsenter", f"--net={netns}", *cmd]
    ok = subprocess.run([*cmd, "-c", "1", "-W", "2", addr], capture_output=True).returncode == 0
    return "ok" if ok else "failed"


def lab_net(r: Runner, bundle: Path, cid: str) -> Rows:
    """With a bridge network (config.json's org.pyrunc.network annotation), the host pings the lab, and a
    second lab container pings the first; without one the lab has only lo."""
    host_links = " ".join(sorted(os.listdir("/sys/class/net")))
    with r.held(bundle, cid) as a:
        rows = [("interfaces", a.inside["interfaces"], host_links),
                ("addresses", a.inside["addresses"], "")]
        addr = address(a.inside)
        if addr is None:
            return [*rows, ("bridge network", "none (only lo)", "this runtime gave the lab no bridge network")]
        rows += [("default route", a.inside["default route"], ""),
                 ("ping the host", a.inside.get(f"ping the host ({a.inside['default route']})", "?"),
                  f"ping {addr}: {ping(addr)}")]
        with r.held(bundle, cid + "-b") as b:
            peer = address(b.inside) or "none"
            reach = r.call("exec", cid, "ping", "-c", "1", "-W", "2", peer)
            rows.append((f"a second lab at {peer}", f"ping {peer}: {'ok' if reach.returncode == 0 else 'failed'}",
                         f"{cid} and {cid}-b on the bridge"))
        return rows


def user_of(as_user: str | None) -> pwd.struct_passwd:
    if as_user:
        return pwd.getpwnam(as_user)
    if os.geteuid() == 0:
        raise LabError("the user lab is rootless: run it as an ordinary user (`make lab NAME=user` as that user), "
                       "or as root `make lab NAME=user LAB_USER=<user>`, which runs it as <user>")
    return pwd.getpwuid(os.geteuid())


def rootless_bundle(bundle: Path, user: pwd.struct_passwd, where: Path) -> Path:
    """A copy of the lab owned by the user, its uid and gid maps naming the user's ids."""
    copy = where / "user"
    shutil.copytree(bundle, copy, symlinks=True)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.pw_uid, "size": 1}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.pw_gid, "size": 1}]
    (copy / "config.json").write_text(json.dumps(cfg, indent=2))
    if os.geteuid() == 0:
        for path in (where, *where.rglob("*")):
            os.lchown(path, user.pw_uid, user.pw_gid)
    return copy


def as_user(user: pwd.struct_passwd, home: Path) -> dict:
    """Popen's arguments to run the runtime as that user, its state under home."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_RUNTIME_DIR": str(home), "HOME": str(home)}
    if os.geteuid() != 0:
        return {"env": os.environ | {"XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", str(home))}}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": env}


def user_rows(c: Running, rootfs: Path) -> Rows:
    made = rootfs / "tmp/made-inside"
    return [("uid", c.inside["my uid"], f"{status(c.pid, 'Uid').split()[0]} (the lab's init, /proc/{c.pid}/status)"),
            ("uid map", c.inside["uid map"], " ".join(Path(f"/proc/{c.pid}/uid_map").read_text().split())),
            ("owner of /tmp/made-inside", c.inside["owner of /tmp/made-inside"], f"{made.stat().st_uid} ({made})"),
            ("mount a tmpfs", c.inside["CAP_SYS_ADMIN, mount a tmpfs (my mount namespace)"],
             f"the lab's mount namespace {ns_inode(c.pid, 'mnt')}, owned by its user namespace"),
            ("sethostname", c.inside["CAP_SYS_ADMIN, sethostname (the host's uts namespace)"],
             f"the host's uts namespace {ns_inode(c.pid, 'uts')} (= {ns_inode('self', 'uts')})")]


def lab_user(r: Runner, bundle: Path, cid: str, as_name: str | None = None) -> Rows:
    user = user_of(as_name)
    where = Path(tempfile.mkdtemp(prefix="pyrunc-lab-user-"))
    try:
        where.chmod(0o755)
        copy = rootless_bundle(bundle, user, where)
        runner = Runner(r.runtime, None, as_user(user, where))
        with runner.held(copy, cid) as c:
            return user_rows(c, copy / "rootfs")
    finally:
        shutil.rmtree(where, ignore_errors=True)


def lab_time(r: Runner, bundle: Path, cid: str) -> Rows:
    if not Path("/proc/self/ns/time").exists():
        raise LabError("this kernel has no time namespaces (CONFIG_TIME_NS, Linux 5.6 and later): "
                       "the time lab cannot run here")
    offsets = json.loads((bundle / "config.json").read_text())["linux"].get("timeOffsets", {})
    with r.held(bundle, cid) as c:
        monotonic, boottime = map(float, labtool("clocks").split())
        uptime = subprocess.run(["/bin/busybox", "uptime"], capture_output=True, text=True).stdout
        rows = []
        for name, host in (("monotonic", monotonic), ("boottime", boottime)):
            inside = float(c.inside[f"CLOCK_{name.upper()}"])
            offset = offsets.get(name, {}).get("secs", 0)
            rows.append((f"CLOCK_{name.upper()}", f"{inside:.3f}",
                         f"{host:.3f} (inside - outside = {inside - host:.0f} s; timeOffsets.{name}: {offset} s)"))
        up = re.sub(r".*up (.*?), *\d+ users?.*", r"up \1", uptime.strip())
        return [*rows, ("uptime", c.inside["uptime"], up)]


def lab_cgroup(r: Runner, bundle: Path, cid: str) -> Rows:
    with r.held(bundle, cid) as c:
        outside = cgroups(c.pid)
        return [(controllers, c.inside.get(controllers, "?"), path) for controllers, path in outside.items()]


LAB_RUNS: dict[str, Callable[..., Rows]] = {
    "pid": lab_pid, "mount": lab_mount, "uts": lab_uts, "ipc": lab_ipc,
    "net": lab_net, "user": lab_user, "time": lab_time, "cgroup": lab_cgroup,
}


def side_by_side(name: str, rows: Rows) -> str:
    """The rows as three columns, under the lab's README title."""
    readme = (LABS / name / "README.md").read_text().splitlines()
    title = readme[0].lstrip("# ") if readme else f"{name} lab"
    rows = [("", "inside the container", "outside (the host)"), *rows]
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    return "\n".join([title, *(f"  {a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", default="pyrunc", help="runtime command (default: %(default)s)")
    parser.add_argument("--root", help="the runtime's --root")
    parser.add_argument("--as-user", help="user lab: run it as this user (the caller must be root)")
    parser.add_argument("name", choices=sorted(LAB_RUNS))
    args = parser.parse_args()
    runner = Runner(args.runtime, args.root)
    bundle = LABS / args.name
    if not (bundle / "rootfs/lab.sh").exists():
        print(f"lab: {bundle}/rootfs is not built: run `make bundles`", file=sys.stderr)
        return 1
    cid = f"lab-{args.name}-{os.getpid()}"
    try:
        rows = (lab_user(runner, bundle, cid, args.as_user) if args.name == "user"
                else LAB_RUNS[args.name](runner, bundle, cid))
    except (LabError, OSError, subprocess.SubprocessError) as e:
        print(f"lab {args.name}: {e}", file=sys.stderr)
        return 1
    print(side_by_side(args.name, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
