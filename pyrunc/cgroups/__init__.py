"""Container cgroups on v1, hybrid and v2 hosts: plan (pure), then do.

    layout = detect()                                 # once per command
    cg = plan(cfg["linux"], container_id, layout)     # pure: dirs + ordered writes + device program
    created = create(cg)                              # mkdir -p, writes, device program; undone on failure
    enter(cg, pid)                                    # echo pid > cgroup.procs in every hierarchy
    paths = paths_for(cg)                             # keep paths + created in the state file
    pids(paths); freeze(paths, True); frozen(paths)   # kill --all / ps, pause, state
    destroy(paths, created)                           # kill leftovers, rmdir what create() made

Keys of `paths` are hierarchy names: "" on a v2 host; on v1/hybrid the directory name under
/sys/fs/cgroup ("memory", "cpu,cpuacct", "systemd", "unified").
"""

from __future__ import annotations

from pyrunc.cgroups.layout import HYBRID, V1, V2, Hierarchy, Layout, detect, read_self_cgroup
from pyrunc.cgroups.ops import create, destroy, enter, freeze, frozen, pids
from pyrunc.cgroups.planner import CgroupPlan, paths_for, plan

__all__ = [
    "HYBRID", "V1", "V2", "CgroupPlan", "Hierarchy", "Layout", "create", "destroy", "detect", "enter",
    "freeze", "frozen", "paths_for", "pids", "plan", "read_self_cgroup",
]
