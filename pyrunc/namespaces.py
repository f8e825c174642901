"""Namespaces: which are created and which joined, and the kernel's order for both.

Joining needs every path opened first (joining mnt or user hides the rest), the others
joined before user (the host's root can join anything; the user namespace's root cannot),
and a fork afterwards when the pid namespace is involved: it applies to children only.
"""

from pyrunc import uapi
from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

FLAGS = {
    "pid": uapi.CLONE_NEWPID,
    "network": uapi.CLONE_NEWNET,
    "mount": uapi.CLONE_NEWNS,
    "ipc": uapi.CLONE_NEWIPC,
    "uts": uapi.CLONE_NEWUTS,
    "user": uapi.CLONE_NEWUSER,
    "cgroup": uapi.CLONE_NEWCGROUP,
    "time": uapi.CLONE_NEWTIME,
}
PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
             "cgroup": "cgroup", "time": "time"}
FLAG_NAMES = {v: "CLONE_NEW" + PROC_NAME[k].upper().replace("MNT", "NS") for k, v in FLAGS.items()}


def flag_text(flags: int) -> str:
    return "|".join(name for bit, name in FLAG_NAMES.items() if flags & bit) or "0"


class Namespaces:
    """The namespace decisions of a config: new ones (flags) and joined ones (type -> path)."""

    def __init__(self, linux: dict) -> None:
        self.new = 0
        self.time_offsets = linux.get("timeOffsets") or {}
        self.joined: dict[str, str] = {}
        self.index: dict[str, int] = {}
        for i, ns in enumerate(linux.get("namespaces") or []):
            kind = ns.get("type")
            where = f"linux.namespaces[{i}]"
            if kind not in FLAGS:
                raise PyruncError(f"{where}.type: unknown namespace type {kind!r}")
            if kind in self.index:
                raise PyruncError(f"{where}: namespace type {kind} is listed twice")
            self.index[kind] = i
            path = ns.get("path")
            if path:
                if not path.startswith("/"):
                    raise PyruncError(f"{where}.path: {path} is not an absolute path")
                self.joined[kind] = path
            else:
                self.new |= FLAGS[kind]

    def has(self, kind: str) -> bool:
        return kind in self.index

    def source(self, kind: str) -> str:
        return f"linux.namespaces[{self.index[kind]}]"

    @property
    def single_clone(self) -> bool:
        """With nothing to join, one clone() creates every namespace at once."""
        return not self.joined

    def clone_flags(self) -> int:
        """Namespaces created by clone() itself; time and cgroup come at their own moments."""
        if not self.single_clone:
            return 0
        return self.new & ~(uapi.CLONE_NEWTIME | uapi.CLONE_NEWCGROUP)

    def plan(self, plan: Plan) -> None:
        """Time before clone, clone, then joins and late unshares in the init."""
        if self.new & uapi.CLONE_NEWTIME:
            offsets = "".join(f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n"
                              for clock, o in self.time_offsets.items())
            plan.add("runtime", "unshare_time", (offsets,),
                     "unshare(CLONE_NEWTIME)" + (f", write /proc/self/timens_offsets {offsets.strip()!r}"
                                                 if offsets else ""), self.source("time"))
        elif self.time_offsets:
            raise PyruncError("linux.timeOffsets: needs a new time namespace")
        flags = self.clone_flags()
        plan.add("clone", "clone", (flags,), f"clone({flag_text(flags) + '|' if flags else ''}SIGCHLD); the child "
                 "sets PR_SET_PDEATHSIG(SIGKILL) until it is created",
                 ",".join(self.source(k) for k, bit in FLAGS.items() if self.has(k) and flags & bit))
        if self.single_clone:
            return
        order = sorted(self.joined, key=lambda k: k == "user")
        for kind in order:
            plan.add("namespaces", "open_namespace", (kind, self.joined[kind]),
                     f"open {self.joined[kind]}", self.source(kind))
        for kind in order:
            plan.add("namespaces", "setns", (kind, FLAGS[kind]),
                     f"setns({self.joined[kind]}, {FLAG_NAMES[FLAGS[kind]]})", self.source(kind))
        late = self.new & ~(uapi.CLONE_NEWTIME | uapi.CLONE_NEWCGROUP)
        if late & uapi.CLONE_NEWUSER:
            plan.add("namespaces", "unshare_user", (late,),
                     f"unshare({flag_text(late)}), then wait for the id maps", self.source("user"))
        elif late:
            plan.add("namespaces", "unshare", (late,), f"unshare({flag_text(late)})")
        if late & uapi.CLONE_NEWPID or "pid" in self.joined:
            plan.add("namespaces", "fork_init", (), "clone(SIGCHLD): the init is born in the pid namespace",
                     self.source("pid"))

    def plan_cgroup(self, plan: Plan) -> None:
        """A new cgroup namespace is unshared by the init, which the runtime placed in its
        cgroups before it ran (plan.plan_parent): the namespace's root is the container's cgroup."""
        if self.new & uapi.CLONE_NEWCGROUP:
            plan.add("namespaces", "unshare", (uapi.CLONE_NEWCGROUP,), "unshare(CLONE_NEWCGROUP)",
                     self.source("cgroup"))


def id_map_text(mappings: list[dict]) -> str:
    """uidMappings/gidMappings as the lines of /proc/<pid>/uid_map."""
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)
