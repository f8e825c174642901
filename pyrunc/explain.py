"""`pyrunc explain`: the steps create and start would perform, printed instead of done.

It reads the bundle and the host (cgroup layout) only; the plan is the one `create` builds,
so what it shows cannot drift from what the runtime does.
"""

from pyrunc import OCI_VERSION, jsonio
from pyrunc.steps import Plan

PHASE_TITLES = {
    "before": ("runtime", "before the plan, overlapping the interpreter's start-up"),
    "runtime": ("runtime", "the runtime, before clone"),
    "clone": ("runtime", "the runtime creates the container's init"),
    "parent": ("runtime", "the runtime, from outside the new init"),
    "namespaces": ("init", "the init, joining and creating namespaces"),
    "rootfs": ("init", "the init, before pivot_root"),
    "pivot": ("init", "the init, after pivot_root"),
    "process": ("init", "the init prepares the process, then waits for start"),
    "start": ("init", "the init, released by start"),
    "started": ("runtime", "start, once the program runs"),
    "delete": ("runtime", "delete, once the container has stopped"),
}


def plan_only(ctx, bundle: str, opts) -> Plan:
    """The plan `create` would follow for this bundle (create.Prepared's), with what `start` and
    `delete` would add; nothing is done. create is imported here: the rest of this module plans
    nothing and loads no shim (tests/unit/test_layers.py)."""
    from pyrunc import exeseal
    from pyrunc.create import Prepared
    from pyrunc.lifecycle import plan_poststart, plan_teardown
    from pyrunc.posixfs import abspath, basename

    cid = basename(abspath(bundle))
    opts.grace = "launcher" if exeseal.sealed() else "runtime"  # as create and run start it
    p = Prepared(ctx, cid, bundle, opts)
    record = {"cgroups_created": list(p.cgroup_dirs.values()), "hooks": p.cfg.get("hooks") or {}}
    if p.unit:  # what create records for delete
        record.update(systemd_unit=p.unit.name, systemd_user=p.unit.user)
    allocate = [s for s in p.plan.phases["runtime"] if s.op == "net_allocate"]
    if allocate:  # what net_allocate records for delete
        record["network"] = {"bridge": allocate[0].args[0], "veth": allocate[0].args[2]}
    p.plan.phases["started"] = plan_poststart(record["hooks"]).phases["started"]
    p.plan.phases["delete"] = plan_teardown(record).phases["delete"]
    return p.plan


# `explain --exec`: the same phases, performed by `exec` and the process it forks.
EXEC_TITLES = {
    "before": ("runtime", "before the plan, overlapping the interpreter's start-up"),
    "runtime": ("runtime", "exec, before it forks"),
    "clone": ("runtime", "exec forks the process"),
    "namespaces": ("process", "the process, entering the container's cgroups and namespaces"),
    "pivot": ("process", "the process, its terminal"),
    "process": ("process", "the process prepares itself"),
    "start": ("process", "the process executes the program"),
}


def as_json(plan: Plan, titles: dict = PHASE_TITLES) -> str:
    """Stable for tools: a version, then one object per step in order."""
    steps = [{"phase": phase, "process": titles[phase][0], "op": s.op, "action": s.text,
              "source": s.source, "details": list(s.details), "on": s.on} for phase, s in plan.steps()]
    return jsonio.dumps({"ociVersion": OCI_VERSION, "steps": steps}, indent=2) + "\n"


def as_text(plan: Plan, titles: dict = PHASE_TITLES) -> str:
    """For a person: grouped by phase, one line per step."""
    lines = []
    for phase in Plan.PHASES:
        steps = plan.phases[phase]
        if not steps:
            continue
        lines.append(f"{titles[phase][1]}:")
        for s in steps:
            lines.append(f"  {s.describe()}")
            lines.extend(f"      {d}" for d in s.details)
    return "\n".join(lines) + "\n"
