"""Every kernel action of a real container is a step `explain` printed.

`strace -f` records the mounts, pivot_root, setns, unshare, clones, prctl, capset, writes into /proc
or /sys and execve of `pyrunc create`, `start` and `delete`, and the `--debug` lines the runtime and
the init write as they begin each step appear in the same trace, in order, per process. Each action
must fall inside a step whose operation can cause it; a child process inherits the step that cloned
it; a process stops being the runtime's once it has executed something else (the container's
program, a hook). An action outside any step, or inside a step that cannot cause it, fails the test
and is named."""

import codecs
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyrunc.steps import REQUESTS
from pyrunc.testing.bundle import (
    as_user,
    base_config,
    close_every_console,
    make_rootfs,
    reachable_runtime,
    user_bundle,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLES = sorted(p.parent for p in [*REPO.glob("bundles/*/config.json"), *REPO.glob("bundles/labs/*/config.json")])

MOUNT = "mount"
NS = "ns"
CLONE = "clone"
PRCTL = "prctl"
CAPSET = "capset"
EXECVE = "execve"
PROCWRITE = "write into /proc or /sys"

SYSCALLS = {
    **dict.fromkeys(("mount", "umount2", "pivot_root", "open_tree", "move_mount", "mount_setattr", "fsopen",
                     "fsmount", "fsconfig"), MOUNT),
    **dict.fromkeys(("setns", "unshare"), NS),
    **dict.fromkeys(("clone", "clone3", "fork", "vfork"), CLONE),
    "prctl": PRCTL,
    "capset": CAPSET,
    **dict.fromkeys(("execve", "execveat"), EXECVE),
}

# What each step op may do to the kernel, of the kinds above (steps not listed do none of them).
CAUSES = {
    "sealed_exec": {MOUNT, EXECVE},
    "plain_exec": {MOUNT, EXECVE},
    "grace_task": {CLONE, PROCWRITE},
    "protect_exe": {PRCTL},
    "set_child_subreaper": {PRCTL},
    "unshare_time": {NS, PROCWRITE},
    "create_cgroups": {PROCWRITE, MOUNT},
    "clone": {CLONE, PRCTL},  # the child's PR_SET_PDEATHSIG, in the shim
    "fork": {CLONE, PRCTL},
    "fork_init": {CLONE},
    "enter_cgroup": {PROCWRITE},
    "set_oom_score_adj": {PROCWRITE},
    "write_id_map": {PROCWRITE},
    "leave_time_namespace": {NS},
    "run_hooks": {CLONE},
    "setns": {NS},
    "unshare": {NS},
    "unshare_user": {NS},
    "join_namespaces": {NS},
    "join_pid_namespace": {NS},
    "enter_cgroups": {PROCWRITE},
    "mount": {MOUNT},
    "mount_at": {MOUNT},
    "bind_mount": {MOUNT},
    "bind_device": {MOUNT},
    "prepare_bind_mount": {MOUNT},  # open_tree and mount_setattr, by the runtime, before the user namespace
    "attach_mount": {MOUNT},
    "mask_path": {MOUNT},
    "readonly_path": {MOUNT},
    "pivot_root": {MOUNT},
    "move_root": {MOUNT, NS},
    "setup_terminal": {MOUNT},
    "exec_terminal": set(),
    "write_proc": {PROCWRITE},
    "set_exec_label": {PROCWRITE},
    "drop_bounding": {PRCTL},
    "set_user": {PRCTL},
    "capset": {CAPSET},
    "raise_ambient": {PRCTL},
    "no_new_privs": {PRCTL},
    "clear_pdeathsig": {PRCTL},
    "signal_ready": {CLONE, NS},  # the thread `start` watches and its own file table (sync.watch_exec)
    "seccomp_load": {PRCTL},
    "execve": {EXECVE},
    "run_poststart": {CLONE},
    "kill_all": {PROCWRITE},
    "thaw": {PROCWRITE},
    "remove_cgroups": {PROCWRITE},
    "run_poststop": {CLONE},
}

LINE = re.compile(r"^(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
MSG = re.compile(r'"((?:[^"\\]|\\.)*)"')


def actions_of(line: str) -> tuple[int, str, str] | None:
    """(pid, kind, the line) for a traced action, None for anything else."""
    m = LINE.match(line)
    if not m or m.group(2):  # a resumed call was counted when it began
        return None
    pid, name, rest = int(m.group(1)), m.group(3), m.group(4)
    if name in SYSCALLS:
        return pid, SYSCALLS[name], line
    if name in ("write", "pwrite64", "writev") and re.match(r"\d+</(proc|sys)/", rest):
        return pid, PROCWRITE, line
    return None


def marker(line: str, log: str) -> tuple[int, str] | None:
    """(pid, the step as --debug describes it) for a write of a --debug line to the log file."""
    m = LINE.match(line)
    if not m or m.group(3) != "write" or not m.group(4).startswith(tuple(f"{fd}<{log}>" for fd in range(3, 1024))):
        return None
    text = MSG.search(m.group(4))
    if not text:
        return None
    entry = json.loads(codecs.decode(text.group(1), "unicode_escape"))
    return int(m.group(1)), entry["msg"]


CLONE_ENTRY = re.compile(r"^(\d+) +(?:clone3?|v?fork)\(")
CLONE_RESULT = re.compile(r"^(\d+) +(?:<\.\.\. (?:clone3?|v?fork) resumed>|(?:clone3?|v?fork)\().*\) += (\d+)"
                          r"(?: /\* (\d+) in strace's PID NS \*/)?$")
QUERY = re.compile(r"^\d+ +prctl\((PR_GET_\w+|PR_CAPBSET_READ|PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET)")


def creators(trace: list[str]) -> dict[int, int]:
    """child pid -> the index of the line where its parent's clone began (strace -f may show the
    child's first line before the parent's clone returns)."""
    entry: dict[int, int] = {}
    found = {}
    for i, line in enumerate(trace):
        if m := CLONE_ENTRY.match(line):
            entry[int(m.group(1))] = i
        if m := CLONE_RESULT.match(line):
            found[int(m.group(3) or m.group(2))] = entry.get(int(m.group(1)), i)
    return found


def check_trace(trace: list[str], log: str, ops: dict[str, str], before: set[str]) -> list[str]:
    """The actions outside a step that can cause them, as lines naming the step and the action.
    Queries (prctl PR_GET_*, PR_CAPBSET_READ) change nothing and are not actions."""
    step: dict[int, str] = {}  # pid -> the op of the step it is in
    gone: set[int] = set()  # processes that executed something else, and their children
    at_clone: dict[int, tuple[str, bool]] = {}  # line index of a clone -> (the cloner's step, cloner gone)
    created_at = creators(trace)
    problems = []
    root = int(trace[0].split()[0])
    started = False
    for i, line in enumerate(trace):
        if not line[:1].isdigit():
            continue
        pid = int(line.split()[0])
        if pid != root and pid not in step:
            parent_step, parent_gone = at_clone.get(created_at.get(pid, -1), ("before", False))
            step[pid] = parent_step
            if parent_gone:
                gone.add(pid)
        if CLONE_ENTRY.match(line):
            at_clone[i] = (step.get(pid, "before"), pid in gone)
        if (m := marker(line, log)) is not None:
            if m[1] not in ops:
                problems.append(f"--debug line that explain did not print: {m[1]}")
            else:
                step[pid] = ops[m[1]]
            continue
        action = actions_of(line)
        if action is None or pid in gone or QUERY.match(line):
            continue
        kind = action[1]
        if pid == root and kind == EXECVE and not started:
            started = True  # strace starting the command
            continue
        current = step.get(pid, "before")
        allowed = set().union(*(CAUSES.get(op, set()) for op in before)) if current == "before" \
            else CAUSES.get(current, set())
        if kind not in allowed:
            problems.append(f"{kind} in step {current}: {line}")
        if kind == EXECVE and current not in ("sealed_exec", "plain_exec", "before"):
            gone.add(pid)  # it runs something else now (or exits, if the execve failed)
    return problems


def bundles(tmp_path):
    """The example bundles, and runc's default config running `true`."""
    default = tmp_path / "runc-default"
    make_rootfs(default / "rootfs")
    (default / "config.json").write_text(json.dumps(base_config(["true"])))
    return [*BUNDLES, default]


@pytest.mark.root
@pytest.mark.parametrize("which", range(len(BUNDLES) + 1))
def test_every_kernel_action_is_an_explained_step(which, rt, tmp_path):
    rt.only_pyrunc("explain")
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (make deps installs it)")
    bundle = bundles(tmp_path)[which]
    if not (bundle / "rootfs/bin/busybox").exists():
        pytest.skip(f"{bundle.name}: rootfs not built (make bundles)")
    if "org.pyrunc.network" in (json.loads((bundle / "config.json").read_text()).get("annotations") or {}):
        pytest.skip(f"{bundle.name}: its network would be made in the real host's network namespace")
    explained = json.loads(rt("explain", "--format", "json", bundle).out)["steps"]
    cid = f"trace-{bundle.name}-{which}"

    def described(s: dict) -> str:
        text = (f"{REQUESTS[s['on']]}: " if s["on"] else "") + s["action"]
        return f"{s['phase']}: {text}" + (f"  [{s['source']}]" if s["source"] else "")

    ops = {described(s).replace(f"/pyrunc/{bundle.name}", f"/pyrunc/{cid}").replace(f"_ses.{bundle.name}'",
                                                                                      f"_ses.{cid}'"): s["op"]
           for s in explained}
    before = {s["op"] for s in explained if s["phase"] == "before"}
    log = tmp_path / "debug.log"
    syscalls = ",".join([*SYSCALLS, "write", "pwrite64", "writev"])

    def traced(name: str, *args) -> list:
        return ["strace", "-f", "-qq", "-y", "--pidns-translation", "-s", "4096", "-o", tmp_path / name,
                "-e", f"trace={syscalls}", rt.exe, "--root", rt.root, "--debug", "--log", log, "--log-format",
                "json", *args]

    flags = []
    if json.loads((bundle / "config.json").read_text())["process"].get("terminal"):  # bundles/shell
        close_every_console(tmp_path / "console.sock")  # the shell ends when its terminal closes
        flags = ["--console-socket", tmp_path / "console.sock"]
    creating = subprocess.Popen(traced("create", "create", "--bundle", bundle, *flags, cid), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # strace -f follows the init until it exits: create is done once the container is created
        wait_for(lambda: json.loads(rt("state", cid).out or "{}").get("status") == "created", 60, "created")
        r = subprocess.run(traced("start", "start", cid), capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r
        assert creating.wait(timeout=60) == 0
        r = subprocess.run(traced("delete", "delete", cid), capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r
    finally:
        creating.kill()
        rt("delete", "--force", cid)
    problems = [f"{name}: {p}" for name in ("create", "start", "delete")
                for p in check_trace((tmp_path / name).read_text().splitlines(), str(log), ops, before)]
    assert not problems, "kernel actions outside the steps explain printed:\n" + "\n".join(problems[:40])


@pytest.mark.root
def test_every_kernel_action_of_exec_is_an_explained_step(container, rt, tmp_path):
    """The same for `exec` into a running container, against `explain --exec`."""
    rt.only_pyrunc("explain --exec")
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (make deps installs it)")
    c = container("sleep", "1000")
    c.started()
    explained = json.loads(rt("explain", "--exec", "--format", "json", c.id, "id", "-u").out)["steps"]

    def described(s: dict) -> str:
        text = (f"{REQUESTS[s['on']]}: " if s["on"] else "") + s["action"]
        return f"{s['phase']}: {text}" + (f"  [{s['source']}]" if s["source"] else "")

    ops = {described(s): s["op"] for s in explained}
    before = {s["op"] for s in explained if s["phase"] == "before"}
    log, out = tmp_path / "debug.log", tmp_path / "exec"
    syscalls = ",".join([*SYSCALLS, "write", "pwrite64", "writev"])
    r = subprocess.run(["strace", "-f", "-qq", "-y", "--pidns-translation", "-s", "4096", "-o", out,
                        "-e", f"trace={syscalls}", rt.exe, "--root", rt.root, "--debug", "--log", log,
                        "--log-format", "json", "exec", c.id, "id", "-u"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == "0\n", r
    problems = check_trace(out.read_text().splitlines(), str(log), ops, before)
    assert not problems, "kernel actions outside the steps explain --exec printed:\n" + "\n".join(problems[:40])
    c.kill("KILL")


@pytest.mark.root
def test_every_kernel_action_is_an_explained_step_rootless(rt, ordinary_user):
    """The same as an ordinary user: spec --rootless, then create, start and delete under strace."""
    rt.only_pyrunc("explain")
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (make deps installs it)")
    user, uid, gid, home, work = ordinary_user
    exe = reachable_runtime(rt, work / "runtime")
    bundle = home / "rl"  # explain names the container after its bundle
    user_bundle(bundle, uid, gid)
    run_as = as_user(uid, gid, home, cwd=bundle)
    assert subprocess.run([exe, "spec", "--rootless"], **run_as).returncode == 0
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"].update(terminal=False, args=["true"])
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([exe, "explain", "--format", "json", bundle], **run_as)
    assert r.returncode == 0, r
    explained = json.loads(r.stdout)["steps"]
    ops = {described(s): s["op"] for s in explained}
    before = {s["op"] for s in explained if s["phase"] == "before"}
    log = home / "debug.log"
    syscalls = ",".join([*SYSCALLS, "write", "pwrite64", "writev"])

    as_root = {k: v for k, v in run_as.items() if k not in ("user", "group", "extra_groups")}

    def traced(name: str, *args) -> list:
        """strace runs as root and starts the runtime as the user (-u): an unprivileged tracer could not
        read the non-dumpable init's memory and descriptors."""
        return ["strace", "-u", user, "-f", "-qq", "-y", "--pidns-translation", "-s", "4096", "-o", home / name,
                "-e", f"trace={syscalls}", exe, "--debug", "--log", log, "--log-format", "json", *args]

    creating = subprocess.Popen(traced("create", "create", "rl"), **{k: v for k, v in as_root.items()
                                                                     if k not in ("capture_output", "text",
                                                                                  "timeout")})
    try:
        try:
            wait_for(lambda: json.loads(subprocess.run([exe, "state", "rl"], **run_as).stdout or "{}").get(
                "status") == "created", 30, "created")
        except AssertionError:
            creating.kill()
            raise AssertionError((home / "create").read_text()[-3000:]) from None
        r = subprocess.run(traced("start", "start", "rl"), **as_root)
        assert r.returncode == 0, r
        assert creating.wait(timeout=60) == 0
        r = subprocess.run(traced("delete", "delete", "rl"), **as_root)
        assert r.returncode == 0, r
    finally:
        creating.kill()
        subprocess.run([exe, "delete", "--force", "rl"], **run_as)
    problems = [f"{name}: {p}" for name in ("create", "start", "delete")
                for p in check_trace((home / name).read_text().splitlines(), str(log), ops, before)]
    assert not problems, "kernel actions outside the steps explain printed:\n" + "\n".join(problems[:40])


def described(s: dict) -> str:
    """A step of explain's JSON as --debug logs it."""
    text = (f"{REQUESTS[s['on']]}: " if s["on"] else "") + s["action"]
    return f"{s['phase']}: {text}" + (f"  [{s['source']}]" if s["source"] else "")


def test_the_check_names_an_action_outside_its_steps():
    """The control: a trace where the runtime calls prctl inside a step that cannot cause it (as
    create once set PR_SET_CHILD_SUBREAPER beside the plan), and a mount before any step, is refused."""
    log = "/tmp/debug.log"

    def debug(pid: int, msg: str) -> str:
        text = json.dumps({"level": "debug", "msg": msg}).replace('"', '\\"')
        return f'{pid} write(3<{log}>, "{text}\\n", 80) = 80'

    ops = {"runtime: create the cgroups": "create_cgroups", "clone: clone(SIGCHLD)": "clone",
           "start: execve(/bin/true)": "execve"}
    trace = [
        '100 execve("/usr/bin/pyrunc", ["pyrunc"], 0x1 /* 1 vars */) = 0',
        debug(100, "runtime: create the cgroups"),
        "100 write(4</sys/fs/cgroup/pids/x/pids.max>, \"5\", 1) = 1",
        "100 prctl(PR_SET_CHILD_SUBREAPER, 1) = 0",
        debug(100, "clone: clone(SIGCHLD)"),
        "100 clone(child_stack=NULL, flags=SIGCHLD) = 101",
        '101 mount("proc", "/proc", "proc", 0, NULL) = 0',
        debug(101, "start: execve(/bin/true)"),
        '101 execve("/bin/true", ["true"], 0x1 /* 1 vars */) = 0',
        '101 mount("x", "/y", "tmpfs", 0, NULL) = 0',
    ]
    problems = check_trace(trace, log, ops, set())
    assert len(problems) == 2, problems
    assert problems[0].startswith("prctl in step create_cgroups"), problems
    assert problems[1].startswith("mount in step clone"), problems
    assert not check_trace(trace[:3] + trace[4:6] + trace[7:], log, ops, set())
