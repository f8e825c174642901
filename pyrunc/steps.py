"""A step: one kernel action of a container's set-up, with the config field that caused it.

Plans are lists of steps; the same objects are executed by the kernel layer and printed by
`--debug`, so what is shown is what is done.
"""


class Step:
    """`op` names the method that performs it; `args` are its arguments; `details` are extra
    lines for a person (what a compound step such as creating the cgroups amounts to)."""

    __slots__ = ("phase", "op", "args", "text", "source", "details")

    def __init__(self, phase: str, op: str, args: tuple, text: str, source: str = "",
                 details: tuple[str, ...] = ()) -> None:
        self.phase = phase
        self.op = op
        self.args = args
        self.text = text
        self.source = source
        self.details = details

    def describe(self) -> str:
        return f"{self.text}  [{self.source}]" if self.source else self.text

    def log_line(self) -> str:
        """How --debug reports the step as it is performed: its phase, then describe()."""
        return f"{self.phase}: {self.describe()}"

    def __repr__(self) -> str:
        return f"Step({self.op}{self.args!r})"


class Plan:
    """The ordered steps of a container's creation, by the phase (and process) running them."""

    PHASES = (
        "runtime",  # the runtime, before clone
        "clone",  # the runtime creates the init
        "parent",  # the runtime, from outside the init: cgroups, id maps (while the init is held), requests
        "namespaces",  # the init: joining and creating the remaining namespaces
        "rootfs",  # the init, before pivot_root
        "pivot",  # the init: pivot_root and what needs the final root
        "process",  # the init: limits, user, capabilities (before `start`)
        "start",  # the init, released by `start`: exec
    )

    def __init__(self) -> None:
        self.phases: dict[str, list[Step]] = {p: [] for p in self.PHASES}

    def add(self, phase: str, op: str, args: tuple, text: str, source: str = "",
            details: tuple[str, ...] = ()) -> None:
        self.phases[phase].append(Step(phase, op, args, text, source, details))

    def has(self, op: str) -> bool:
        return any(s.op == op for steps in self.phases.values() for s in steps)

    def steps(self) -> list[tuple[str, Step]]:
        return [(p, s) for p in self.PHASES for s in self.phases[p]]
