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
