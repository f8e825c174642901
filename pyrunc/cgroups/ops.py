"""The do layer: carry out a CgroupPlan, and act on a container's cgroups by their stored paths.

Everything after create() takes `paths` (paths_for(plan), as kept in the state file), so
delete, kill --all, ps and pause recreate nothing and need no config.
"""


import posix
import time

from pyrunc import uapi
from pyrunc.cgroups import fs
from pyrunc.cgroups.planner import DEFAULT_PARENT
from pyrunc.errors import PyruncError, os_error, refuse
from pyrunc.posixfs import isdir

TYPE_CHECKING = False  # typing itself is not imported on the hot path
if TYPE_CHECKING:
    from pyrunc.cgroups.planner import CgroupPlan



def _apply(writes: list[tuple[str, str, str, str]]) -> None:
    i = 0
    while i < len(writes):
        end = i + 1
        while end < len(writes) and writes[end][:2] == writes[i][:2]:
            end += 1
        if end - i > 1 and _apply_run(writes[i:end]):
            i = end
            continue
        _apply_one(*writes[i])
        i += 1


def _apply_run(run: list[tuple[str, str, str, str]]) -> bool:
    """Writes to one file in a row (v1's device rules: 12 for runc's default config): one open,
    then a write(2) per value, which is what the kernel takes a value from (33 us for the 11
    rules against 125 with an open each). False when the file does not open: each write then
    goes its own way (_apply_one), to its own error or fallback."""
    d, name = run[0][:2]
    try:
        fd = fs.open_write(f"{d}/{name}")
    except OSError:
        return False
    try:
        for _, _, value, json_path in run:
            try:
                posix.write(fd, value.encode())
            except OSError as e:
                raise os_error(f"{json_path}: write {value!r} to {d}/{name}", e) from e
    finally:
        posix.close(fd)
    return True


def _apply_one(d: str, name: str, value: str, json_path: str) -> None:
    """One write, or its fallback when the file does not exist (resources.on_missing)."""
    try:
        fs.write(f"{d}/{name}", value)
        return
    except FileNotFoundError:
        from pyrunc.cgroups.resources import on_missing  # a missing file only: most creates never load it

        alt = on_missing(name, value)
    except OSError as e:
        raise os_error(f"{json_path}: write {value!r} to {d}/{name}", e) from e
    if alt is None:
        raise refuse(json_path, f"{d}/{name} does not exist (the kernel or the cgroup lacks it)")
    if not alt:
        return
    alt_name, alt_value = alt
    try:
        fs.write(f"{d}/{alt_name}", alt_value)
    except FileNotFoundError:
        raise refuse(json_path, f"neither {d}/{name} nor {d}/{alt_name} exists") from None
    except OSError as e:
        raise os_error(f"{json_path}: write {alt_value!r} to {d}/{alt_name}", e) from e


def _check_reused(paths: dict[str, str], warn) -> None:
    """A container's cgroup that already existed, as runc 1.1 checks it (factory_linux.go Create):
    processes in it only warn (runc 1.2 refuses), a frozen one is refused. The wording is runc's."""
    from pyrunc.cgroups import paused  # not on delete's usual path: see paused.py

    d = paused.v2_dir(paths) or next(iter(paths.values()))
    found = fs.procs(d)
    if found and warn is not None:
        warn(f"container's cgroup is not empty: {len(found)} process(es) found")
    if paused.frozen(paths):
        raise PyruncError("container's cgroup unexpectedly frozen")


def check_existing(paths: dict[str, str], warn=None) -> None:
    """_check_reused for those of `paths` that exist already (with --systemd-cgroup, before the
    unit is started: systemd then makes them and puts the init in them)."""
    existing = {k: d for k, d in paths.items() if isdir(d)}
    if existing:
        _check_reused(existing, warn)


def runtime_parents(plan: "CgroupPlan") -> frozenset[str]:
    """Each hierarchy's DEFAULT_PARENT: the runtime's own directory, which outlives the containers
    in it as /run/pyrunc does (runc leaves the parents of a cgroupsPath too). Made by the first
    container without a cgroupsPath, it is not recorded as the container's, so delete leaves it:
    otherwise every such run on a host without it makes and removes it in every hierarchy (0.8 ms
    of a run on this hybrid host), and one container's delete races another's mkdir below it."""
    return frozenset(m.rstrip("/") + DEFAULT_PARENT for m in plan.mounts.values())


def missing(plan: "CgroupPlan") -> list[str]:
    """The directories create() is about to make and keep for destroy(), outermost first: those
    absent now, but the runtime's own parents. The caller records them before create() runs
    (record first, then make), so that a runtime killed while making them leaves a record
    `delete` removes them from."""
    out: list[str] = []
    kept = runtime_parents(plan)
    for key, d in plan.dirs.items():
        stop = plan.mounts[key].rstrip("/")
        chain = []
        while len(d) > len(stop) and not posix.access(d, posix.F_OK):  # half a stat's cost on cgroupfs
            chain.append(d)
            d = d.rpartition("/")[0] or "/"
        out += [c for c in reversed(chain) if c not in out and c not in kept]
    return out


CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")


def inherit_cpuset(new_dirs: list[str], planned: set[tuple[str, str]]) -> None:
    """A new v1 cpuset cgroup starts with no cpus and no mems, and no process can join it (ENOSPC):
    copy the parent's into each new directory, outermost first (runc's cpuset ensureParent).
    A (dir, file) in `planned` gets the config's value later instead. Here, not in v1.py, whose
    freezer drags paused.py in: create and run need only this of v1 (0.18 ms of imports)."""
    for d in new_dirs:
        parent = d.rsplit("/", 1)[0]
        for name in CPUSET_FILES:
            if (d, name) in planned:
                continue
            try:
                value = fs.read(f"{parent}/{name}").strip()
                if value:
                    fs.write(f"{d}/{name}", value)
            except OSError as e:
                raise os_error(f"copy {parent}/{name} to {d}", e) from e


def create(plan: "CgroupPlan", warn=None, check: bool = True) -> list[str]:
    """Make the cgroups and configure them. Returns the directories it made, outermost first, but
    the runtime's own parents (runtime_parents): keep them for destroy(), which removes exactly
    those. On failure, removes all it made and raises.
    `warn(message)` hears what runc only warns about (a cgroup that already has processes);
    `check` False: check_existing was done before a systemd unit made some of them."""
    created: list[str] = []
    try:
        for key, d in plan.dirs.items():
            first = len(created)
            fs.makedirs(d, plan.mounts[key], created)
            if d == plan.cpuset_dir and len(created) > first:
                planned = {(w[0], w[1]) for w in plan.writes if w[0] == d}
                inherit_cpuset(created[first:], planned)
        reused = {k: d for k, d in plan.dirs.items() if d not in created}
        if reused and check:
            _check_reused(reused, warn)
        if plan.delegate_dir is not None:
            from pyrunc.cgroups import v2

            mount = next(plan.mounts[k] for k, d in plan.dirs.items() if d == plan.delegate_dir)
            v2.delegate(mount, plan.delegate_dir)
        if plan.memory_check is not None:
            from pyrunc.cgroups import v2

            v2.check_memory(*plan.memory_check)
        _apply(plan.writes)
        if plan.device_program is not None:
            from pyrunc.cgroups import bpf

            bpf.load_and_attach(plan.device_dir, plan.device_program)
    except BaseException:
        for d in reversed(created):
            try:
                fs.rmdir(d)
            except OSError:
                pass
        raise
    kept = runtime_parents(plan)
    return [d for d in created if d not in kept]


def enter(target: "CgroupPlan | dict[str, str]", pid: int) -> None:
    """Move `pid` (a whole process) into the container's cgroup in every hierarchy."""
    paths = target if isinstance(target, dict) else target.dirs
    value = str(pid)
    for d in paths.values():
        try:
            fs.write(f"{d}/cgroup.procs", value)
        except OSError as e:
            raise os_error(f"join cgroup {d}", e) from e


def pids(paths: dict[str, str]) -> list[int]:
    """Every process of the container, in its cgroup and any cgroup it made below (kill --all, ps)."""
    from pyrunc.cgroups import paused

    d = paused.v2_dir(paths) or paused.freezer_dir(paths) or next(iter(paths.values()), None)
    return sorted(set(fs.procs(d))) if d else []


def freeze(paths: dict[str, str], frozen: bool) -> None:
    """pause/resume: the v1 freezer if mounted (a hybrid host freezes there), else cgroup.freeze."""
    if not paths:
        raise PyruncError("cannot pause or resume: the container has no cgroup of its own (an unprivileged "
                          "runtime makes none where the caller cannot write, as runc does)")
    from pyrunc.cgroups import paused, v1, v2

    d = paused.freezer_dir(paths)
    if d is not None:
        v1.freeze(d, frozen)
        return
    d = paused.v2_dir(paths)
    if d is None:
        raise PyruncError("cannot pause or resume: no freezer cgroup controller is mounted")
    v2.freeze(d, frozen)


def _removed_if_empty(d: str) -> bool:
    """One rmdir: the kernel removes a cgroup without processes and cgroups below it, and refuses
    one with either (EBUSY). A container that has stopped usually leaves its cgroups empty: each
    then costs one rmdir, not a listing of processes and subdirectories and a second listing."""
    try:
        fs.rmdir(d)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # what is left is killed and removed below; an error other than EBUSY is raised there
    return True


def _kill_all(leaves: dict[str, str], timeout: float = 2.0) -> None:
    """SIGKILL every process left in the leaves and wait until the cgroups are empty."""
    everyone = [p for d in leaves.values() for p in fs.procs(d)]
    if not everyone:
        return
    from pyrunc.cgroups import paused, v1, v2  # only with something to kill: delete mostly finds the cgroups empty

    v2d = paused.v2_dir(leaves)
    if v2d is not None:
        v2.kill(v2d)  # one write; the loop below also catches what sits only in v1 hierarchies
    freezer = paused.freezer_dir(leaves)
    deadline = time.monotonic() + timeout
    while everyone:
        thaw = freezer is not None and paused.v1_frozen(freezer)
        for pid in everyone:
            try:
                posix.kill(pid, uapi.SIGKILL)
            except ProcessLookupError:
                pass
        if thaw:
            v1.freeze(freezer, False)  # a frozen v1 task only dies once thawed
        if time.monotonic() > deadline:
            raise PyruncError(f"processes {sorted(set(everyone))} in the container cgroups outlived SIGKILL")
        time.sleep(0.002)
        everyone = [p for d in leaves.values() for p in fs.procs(d)]


def destroy(paths: dict[str, str], created: list[str]) -> None:
    """Kill what is left in the container's cgroups, remove them, then the parents pyrunc made
    that are now empty. Only directories listed in `created` (create()'s result) are removed:
    a cgroup that existed before the container, and everything in it, is left alone."""
    made = set(created)
    leaves = {k: d for k, d in paths.items() if d in made}
    if not leaves:
        return
    left = {k: d for k, d in leaves.items() if not _removed_if_empty(d)}
    if left:
        _kill_all(left)
    failure: PyruncError | None = None
    for d in left.values():
        try:
            for sub in fs.subdirs_bottom_up(d):
                fs.rmdir_retry(sub)
            fs.rmdir_retry(d)
        except PyruncError as e:
            failure = failure or e
    for d in sorted(made - set(leaves.values()), key=lambda p: p.count("/"), reverse=True):
        try:
            fs.rmdir(d)
        except OSError as e:
            if e.errno not in (uapi.EBUSY, uapi.ENOTEMPTY, uapi.ENOENT):
                failure = failure or os_error(f"remove cgroup {d}", e)
    if failure is not None:
        raise failure
