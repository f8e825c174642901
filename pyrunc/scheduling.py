"""How the kernel schedules the container's process: process.scheduler (sched_setattr),
process.ioPriority (ioprio_set) and exec's execCPUAffinity CPU lists.

Apart from process.py because few configs ask for them: create and run load this module only
when one does (process.plan_process), exec when its process has a CPU affinity.
"""

from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
                  "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
               "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}


def parse_cpus(text: str, where: str) -> frozenset[int]:
    """`0-3,7` -> {0, 1, 2, 3, 7} (execCPUAffinity)."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise PyruncError(f"{where}: invalid CPU list {text!r}") from None
        if first < 0 or last < first or last > 8191:
            raise PyruncError(f"{where}: invalid CPU range {part!r}")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise PyruncError(f"{where}: empty CPU list {text!r}")
    return frozenset(cpus)


def plan_scheduler(plan: Plan, sched: dict) -> None:
    where = "process.scheduler"
    policy = sched.get("policy")
    if policy not in SCHED_POLICIES:
        raise PyruncError(f"{where}.policy: unknown scheduling policy {policy!r}")
    flags = 0
    for i, flag in enumerate(sched.get("flags") or []):
        if flag not in SCHED_FLAGS:
            raise PyruncError(f"{where}.flags[{i}]: unknown scheduling flag {flag!r}")
        flags |= SCHED_FLAGS[flag]
    nice, prio = sched.get("nice", 0), sched.get("priority", 0)
    runtime, deadline, period = (sched.get(k, 0) for k in ("runtime", "deadline", "period"))
    if not -20 <= nice <= 19:
        raise PyruncError(f"{where}.nice: {nice} is outside -20..19")
    if policy in ("SCHED_FIFO", "SCHED_RR"):
        if not 1 <= prio <= 99:
            raise PyruncError(f"{where}.priority: {policy} needs a priority in 1..99")
    elif prio:
        raise PyruncError(f"{where}.priority: only SCHED_FIFO and SCHED_RR take a priority")
    if policy != "SCHED_DEADLINE" and (runtime or deadline or period):
        raise PyruncError(f"{where}: runtime, deadline and period are for SCHED_DEADLINE only")
    args = (SCHED_POLICIES[policy], flags, nice, prio, runtime, deadline, period)
    text = f"sched_setattr({policy}, nice {nice}, priority {prio}"
    text += f", flags {','.join(sched.get('flags') or [])}" if flags else ""
    text += f", runtime {runtime}, deadline {deadline}, period {period})" if policy == "SCHED_DEADLINE" else ")"
    plan.add("process", "sched_setattr", args, text, where)


def plan_ioprio(plan: Plan, io: dict) -> None:
    where = "process.ioPriority"
    cls, prio = io.get("class"), io.get("priority")
    if cls not in IOPRIO_CLASSES:
        raise PyruncError(f"{where}.class: unknown I/O priority class {cls!r}")
    if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= 7:
        raise PyruncError(f"{where}.priority: {prio!r} is outside 0..7")
    plan.add("process", "ioprio_set", (IOPRIO_CLASSES[cls] << 13 | prio,), f"ioprio_set({cls}, {prio})", where)
