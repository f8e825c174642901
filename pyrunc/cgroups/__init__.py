"""Container cgroups on v1, hybrid and v2 hosts: plan (pure), then do.

    layout = detect()                                 # once per command
    cg = plan(cfg["linux"], container_id, layout)     # pure: dirs + ordered writes + device program
    record(missing(cg))                               # what create() will make, saved first
    created = create(cg)                              # mkdir -p, writes, device program; undone on failure
    enter(cg, pid)                                    # echo pid > cgroup.procs in every hierarchy
    paths = paths_for(cg)                             # keep paths + created in the state file
    pids(paths); freeze(paths, True); frozen(paths)   # kill --all / ps, pause, state
    destroy(paths, created)                           # kill leftovers, rmdir what create() made

Keys of `paths` are hierarchy names: "" on a v2 host; on v1/hybrid the directory name under
/sys/fs/cgroup ("memory", "cpu,cpuacct", "systemd", "unified").
"""


# Names resolve lazily, so that a command needing only destroy() does not load the planner.
_HOME = {
    "HYBRID": "layout", "V1": "layout", "V2": "layout", "Hierarchy": "layout", "Layout": "layout",
    "detect": "layout", "read_self_cgroup": "layout", "usable_by_caller": "layout",
    "check_existing": "ops", "create": "ops", "missing": "ops", "destroy": "ops", "enter": "ops",
    "freeze": "ops", "frozen": "paused", "pids": "ops",
    "CgroupPlan": "planner", "paths_for": "planner", "plan": "planner", "restrict": "planner",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'pyrunc.cgroups' has no attribute {name!r}")
    value = getattr(__import__(f"pyrunc.cgroups.{home}", fromlist=[name]), name)
    globals()[name] = value
    return value
