"""Runs a list of steps against a kernel object, logging each one when asked to."""

from pyrunc import crashpoint
from pyrunc.errors import PyruncError
from pyrunc.steps import Step


def run(steps: list[Step], target: object, log=None) -> None:
    """Perform each step in order; an OSError becomes a one-line error naming the step. A run of
    two or more steps the target performs together (its BATCHED ops, unless a crash point needs
    each step on its own) goes to target.perform_steps in one call: its first step is logged as
    the call begins, the others once done."""
    batched = () if crashpoint.AT else getattr(target, "BATCHED", ())
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j].op in batched:
            j += 1
        if j - i < 2:
            _run_one(steps[i], target, log)
            i += 1
            continue
        if log is not None:
            log(steps[i].log_line())
        done, error = target.perform_steps(steps[i:j])
        if log is not None:
            for step in steps[i + 1:i + done + (error is not None)]:
                log(step.log_line())
        if error is not None:
            raise _failed(steps[i + done], error)
        i = j


def _run_one(step: Step, target: object, log) -> None:
    if log is not None:
        log(step.log_line())
    if crashpoint.AT:
        crashpoint.reached(f"before:{step.op}")
    try:
        getattr(target, step.op)(*step.args)
    except OSError as e:
        raise _failed(step, e) from None
    if crashpoint.AT:
        crashpoint.reached(f"after:{step.op}")


def _failed(step: Step, e: OSError) -> PyruncError:
    reason = (e.strerror or str(e)).lower()
    return PyruncError(f"{step.describe()}: {reason}")
