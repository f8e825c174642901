"""plan(): the container's cgroup directories and every write that configures them. Pure.

The only input besides the config is the layout (detect()) and, for a relative cgroupsPath,
the runtime's own /proc/self/cgroup text; the output is data that create() carries out and
describe() shows.
"""


from pyrunc.cgroups import devices
from pyrunc.cgroups.layout import HYBRID, V2, Layout, parse_self_cgroup, read_self_cgroup
from pyrunc.errors import PyruncError, refuse

TYPE_CHECKING = False  # typing itself is not imported on the hot path
if TYPE_CHECKING:
    from pyrunc.cgroups.resources import Write

_V2_NAMES = {"blkio": "io"}


class CgroupPlan:
    """What create() does: mkdir -p each of `dirs`, apply `writes` in order, attach `device_program`.

    dirs: hierarchy key -> the container's cgroup directory (key "" on a v2 host, else the
    hierarchy's directory name under /sys/fs/cgroup, "unified" for a hybrid host's cgroup2).
    mounts: hierarchy key -> its mount point. writes: (dir, file, value, json path).
    device_rules: (default_allow, exceptions) after reduction, applied as v1 writes or as
    device_program (eBPF bytes, attached to device_dir). memory_check: (dir, limit) to compare
    with memory.current first (v2 checkBeforeUpdate). cpuset_dir: the v1 cpuset leaf, whose new
    directories must copy cpus and mems from their parent before a process can join.
    delegate_dir: the cgroup2 leaf when a write targets it: its ancestors must first enable
    (delegate) their controllers in cgroup.subtree_control, or its controller files do not exist.
    """

    __slots__ = ("version", "dirs", "mounts", "writes", "device_rules", "device_program", "device_dir",
                 "memory_check", "cpuset_dir", "delegate_dir", "devices_skipped")

    def __init__(self, version: str, dirs: dict[str, str], mounts: dict[str, str]) -> None:
        self.version = version
        self.dirs = dirs
        self.mounts = mounts
        self.writes: list[Write] = []
        self.device_rules: tuple[bool, list] = (True, [])
        self.device_program: bytes | None = None
        self.device_dir: str | None = None
        self.memory_check: tuple[str, int] | None = None
        self.cpuset_dir: str | None = None
        self.delegate_dir: str | None = None
        self.devices_skipped = False  # rootless: the device rules are not applied (runc ignores them)

    def describe(self) -> list[str]:
        """One shell-like line per action, for `pyrunc explain` and --debug."""
        lines = [f"mkdir -p {d}" for d in self.dirs.values()]
        if self.delegate_dir:
            lines.append(f"enable available controllers in cgroup.subtree_control above {self.delegate_dir}")
        if self.cpuset_dir:
            lines.append(f"copy cpuset.cpus and cpuset.mems into new directories up to {self.cpuset_dir}")
        if self.memory_check:
            lines.append(f"check {self.memory_check[0]}/memory.current <= {self.memory_check[1]}")
        lines += [f"echo {v!r} > {d}/{f}  # {p}" for d, f, v, p in self.writes]
        if self.devices_skipped:
            lines.append("no device rules: an unprivileged runtime cannot set them (runc ignores them rootless); "
                         "the devices are bind mounts of the host's")
        if self.device_program is not None:
            default, exceptions = self.device_rules
            verb = "deny" if default else "allow"
            rules = ", ".join(f"{verb} {devices.format_rule(m, a)}" for m, a in exceptions)
            lines.append(f"attach device program to {self.device_dir}: {'allow' if default else 'deny'} all"
                         + (f" except: {rules}" if rules else "")
                         + f" ({len(self.device_program) // 8} instructions)")
        return lines


DEFAULT_PARENT = "/pyrunc"


def _components(path: str, what: str) -> list[str]:
    """Split on '/', dropping empty and '.' parts; '..' would climb out of the hierarchy: refused."""
    if "\0" in path:
        raise PyruncError(f"{what}: {path!r} contains a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PyruncError(f"{what}: {path!r} must not contain '..'")
    return parts


def resolve_path(value: str | None, container_id: str) -> tuple[bool, str]:
    """linux.cgroupsPath -> (absolute, "/a/b"), the container's cgroup inside each hierarchy.
    Absolute values are taken from the hierarchy root, relative ones (absolute=False) from the
    runtime's own cgroup, and an absent one is /pyrunc/<id>, whose parent is the runtime's own and
    stays (ops.runtime_parents). With --systemd-cgroup the value is runc's "slice:prefix:name":
    systemd.py. (Here, not in a module of its own: each module imported costs create and run some
    0.04 ms.)"""
    if value is None or value == "":
        if "/" in container_id or container_id in (".", "..") or not container_id:
            raise PyruncError(f"invalid container id {container_id!r}")
        return True, f"{DEFAULT_PARENT}/{container_id}"
    if not isinstance(value, str):
        raise PyruncError("linux.cgroupsPath: must be a string")
    parts = _components(value, "linux.cgroupsPath")
    if not parts:
        raise PyruncError(f"linux.cgroupsPath: {value!r} names no cgroup of the container's own")
    return value.startswith("/"), "/" + "/".join(parts)


class _Placer:
    """Where each controller's files are: its v1 hierarchy, else the cgroup2 one if it offers it."""

    def __init__(self, layout: Layout, dirs: dict[str, str]) -> None:
        self.layout = layout
        self.dirs = dirs
        unified = layout.unified
        self.v2_dir = dirs[unified.key] if unified else None

    def __call__(self, controller: str, json_path: str) -> tuple[str, bool]:
        layout = self.layout
        if layout.version == V2:
            return self.v2_dir, True
        h = layout.v1_for(controller)
        if h is not None:
            return self.dirs[h.key], False
        if self.v2_dir and _V2_NAMES.get(controller, controller) in layout.v2_controllers:
            return self.v2_dir, True
        raise refuse(json_path, f"the {controller} cgroup controller is not mounted on this host")

    def unified(self, controller: str, json_path: str) -> str:
        if self.v2_dir is None:
            raise refuse(json_path, "this host has no cgroup2 hierarchy (cgroup v1 only)")
        layout = self.layout
        if layout.version == HYBRID and controller != "cgroup" and controller not in layout.v2_controllers:
            raise refuse(json_path, f"the {controller} controller is not available on the cgroup2 hierarchy")
        return self.v2_dir


def _dirs(linux: dict, container_id: str, layout: Layout, systemd: bool, self_cgroup: str | None,
          systemd_running: bool | None, rootless: bool, manager_cgroup: str | None) -> dict[str, str]:
    if systemd:
        from pyrunc.cgroups import systemd as sd

        if rootless and manager_cgroup is None:
            raise PyruncError("rootless --systemd-cgroup: the user's systemd instance's cgroup is unknown")
        return sd.dirs(linux.get("cgroupsPath"), container_id, layout, systemd_running=systemd_running,
                       manager_cgroup=manager_cgroup if rootless else None)
    # Unprivileged and no cgroupsPath: runc's fs2 rule, beside the runtime's own cgroup (in the parent
    # of a delegated leaf, which has processes and so cannot have children with controllers).
    beside = rootless and not linux.get("cgroupsPath")
    absolute, inner = (False, f"/{container_id}") if beside else resolve_path(linux.get("cgroupsPath"),
                                                                               container_id)
    if beside:
        resolve_path(None, container_id)  # the id's own checks
    own: dict[str, str] = {}
    if not absolute:
        own = parse_self_cgroup(self_cgroup if self_cgroup is not None else read_self_cgroup())
    dirs = {}
    for h in layout.hierarchies:
        path = inner
        if not absolute:
            base = own.get("" if h.v2 else h.controllers[0])
            if base is None:
                raise PyruncError(f"linux.cgroupsPath: the runtime's own cgroup in {h.mountpoint} is unknown")
            if h.mount_root != "/" and (base == h.mount_root or base.startswith(h.mount_root + "/")):
                base = base[len(h.mount_root):]
            if beside:
                base = base.rstrip("/").rpartition("/")[0]
            path = base.rstrip("/") + inner
        dirs[h.key] = h.mountpoint.rstrip("/") + path
    return dirs


def plan(linux: dict, container_id: str, layout: Layout, *, systemd: bool = False,
         self_cgroup: str | None = None, systemd_running: bool | None = None, rootless: bool = False,
         manager_cgroup: str | None = None) -> CgroupPlan:
    """The cgroups for config.json's `linux` object. `self_cgroup` is /proc/self/cgroup's text,
    read here only when a relative cgroupsPath needs it and it was not passed; with `systemd`,
    whether systemd runs is looked up unless `systemd_running` says (systemd.dirs). `rootless`:
    the runtime is unprivileged; restrict() then keeps what the caller may write. `manager_cgroup`
    (rootless with `systemd`): the ControlGroup of the caller's systemd instance, below which its
    units are made."""
    if not isinstance(linux, dict):
        raise PyruncError("linux: must be an object")
    dirs = _dirs(linux, container_id, layout, systemd, self_cgroup, systemd_running, rootless, manager_cgroup)
    result = CgroupPlan(layout.version, dirs, {h.key: h.mountpoint for h in layout.hierarchies})
    place = _Placer(layout, dirs)
    res = linux.get("resources") or {}
    if not isinstance(res, dict):
        raise PyruncError("linux.resources: must be an object")

    default_allow, exceptions = devices.reduce(devices.config_rules(linux))
    result.device_rules = (default_allow, exceptions)
    dev_h = None if layout.version == V2 else layout.v1_for("devices")
    if rootless:  # device rules need CAP_SYS_ADMIN (v1) or CAP_BPF
        result.devices_skipped = True
    elif dev_h is not None:
        d = dirs[dev_h.key]
        result.writes += [(d, f, v, "linux.resources.devices")
                          for f, v in devices.v1_writes(default_allow, exceptions)]
    elif place.v2_dir is not None:
        if not (default_allow and not exceptions):
            from pyrunc.cgroups import bpf

            result.device_program = bpf.program(default_allow, exceptions)
            result.device_dir = place.v2_dir
    else:
        raise refuse("linux.resources.devices", "the devices cgroup controller is not mounted on this host")

    if any(k != "devices" for k in res):  # limits: the module that knows every controller's files
        from pyrunc.cgroups import resources

        collected = resources.plan_resources(res, place)
        result.writes += collected.writes
        result.memory_check = collected.memory_check
    cpuset_h = None if layout.version == V2 else layout.v1_for("cpuset")
    if cpuset_h is not None:
        result.cpuset_dir = dirs[cpuset_h.key]
    if place.v2_dir is not None and any(w[0] == place.v2_dir for w in result.writes):
        result.delegate_dir = place.v2_dir
    return result


ROOTLESS_LIMITS = "rootless needs no limits + no cgrouppath when no permission is granted for cgroups"


def restrict(plan: CgroupPlan, usable: set[str], explicit: bool) -> CgroupPlan:
    """An unprivileged runtime's plan: only the hierarchies whose directory `usable` says the caller
    may make and enter (a delegated subtree; layout.usable_by_caller) are kept, as runc's rootless
    managers drop the others. A limit, or an explicit cgroupsPath, in one the caller cannot write is
    runc's error, with the json path and the directory named."""
    refused = {k: d for k, d in plan.dirs.items() if k not in usable}
    gone = set(refused.values())
    if explicit and refused:
        raise PyruncError(f"{ROOTLESS_LIMITS}: linux.cgroupsPath: {next(iter(refused.values()))}: permission denied")
    for d, _name, _value, json_path in plan.writes:
        if d in gone:
            raise PyruncError(f"{ROOTLESS_LIMITS}: {json_path}: {d}: permission denied")
    kept = CgroupPlan(plan.version, {k: d for k, d in plan.dirs.items() if k in usable}, plan.mounts)
    kept.writes = list(plan.writes)
    kept.device_rules = plan.device_rules
    kept.memory_check = plan.memory_check
    kept.cpuset_dir = plan.cpuset_dir if plan.cpuset_dir not in gone else None
    kept.delegate_dir = plan.delegate_dir if plan.delegate_dir not in gone else None
    kept.devices_skipped = plan.devices_skipped
    return kept


def paths_for(plan: CgroupPlan) -> dict[str, str]:
    """hierarchy key -> directory, to keep in the state file: delete needs nothing else."""
    return dict(plan.dirs)
