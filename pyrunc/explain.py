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


def as_json(plan: Plan) -> str:
    """Stable for tools: a version, then one object per step in order."""
    steps = [{"phase": phase, "process": PHASE_TITLES[phase][0], "op": s.op, "action": s.text,
              "source": s.source, "details": list(s.details), "on": s.on} for phase, s in plan.steps()]
    return jsonio.dumps({"ociVersion": OCI_VERSION, "steps": steps}, indent=2) + "\n"


def as_text(plan: Plan) -> str:
    """For a person: grouped by phase, one line per step."""
    lines = []
    for phase in Plan.PHASES:
        steps = plan.phases[phase]
        if not steps:
            continue
        lines.append(f"{PHASE_TITLES[phase][1]}:")
        for s in steps:
            lines.append(f"  {s.describe()}")
            lines.extend(f"      {d}" for d in s.details)
    return "\n".join(lines) + "\n"
