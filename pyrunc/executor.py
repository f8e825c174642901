"""Runs a list of steps against a kernel object, logging each one when asked to."""

from pyrunc import crashpoint
from pyrunc.errors import PyruncError
from pyrunc.steps import Step


def run(steps: list[Step], target: object, log=None) -> None:
    """Perform each step in order; an OSError becomes a one-line error naming the step."""
    for step in steps:
        if log is not None:
            log(step.log_line())
        if crashpoint.AT:
            crashpoint.reached(f"before:{step.op}")
        try:
            getattr(target, step.op)(*step.args)
        except OSError as e:
            reason = (e.strerror or str(e)).lower()
            raise PyruncError(f"{step.describe()}: {reason}") from None
        if crashpoint.AT:
            crashpoint.reached(f"after:{step.op}")
