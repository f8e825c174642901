"""A step: one kernel action of a container's set-up, with the config field that caused it.

Plans are lists of steps; the same objects are executed by the kernel layer and printed by
`--debug`, so what is shown is what is done.
"""


# What the init asks for, when a runtime step waits for it (Step.on): the words explain uses.
REQUESTS = {
    "maps": "when the init asks for its id maps",
    "rlimits": "when the init asks for its limits",
    "hooks": "when the init asks for the hooks",
    "seccomp": "when the init sends its seccomp listener",
    "network": "when the init has unshared its network namespace",
}


class Step:
    """`op` names the method that performs it; `args` are its arguments; `details` are extra
    lines for a person (what a compound step such as creating the cgroups amounts to); `on`
    names the init's request (REQUESTS) a runtime step waits for, "" for at once."""

    __slots__ = ("phase", "op", "args", "text", "source", "details", "on")

    def __init__(self, phase: str, op: str, args: tuple, text: str, source: str = "",
                 details: tuple[str, ...] = (), on: str = "") -> None:
        self.phase = phase
        self.op = op
        self.args = args
        self.text = text
        self.source = source
        self.details = details
        self.on = on

    def describe(self) -> str:
        text = f"{REQUESTS[self.on]}: {self.text}" if self.on else self.text
        return f"{text}  [{self.source}]" if self.source else text

    def log_line(self) -> str:
        """How --debug reports the step as it is performed: its phase, then describe()."""
        return f"{self.phase}: {self.describe()}"

    def __repr__(self) -> str:
        return f"Step({self.op}{self.args!r})"


class Plan:
    """The ordered steps of a container's creation, by the phase (and process) running them."""

    PHASES = (
        "before",  # done before the plan was made (the launcher, the grace-period task): listed, logged
        "runtime",  # the runtime, before clone
        "clone",  # the runtime creates the init
        "parent",  # the runtime, from outside the init: cgroups, id maps (while the init is held), requests
        "namespaces",  # the init: joining and creating the remaining namespaces
        "rootfs",  # the init, before pivot_root
        "pivot",  # the init: pivot_root and what needs the final root
        "process",  # the init: limits, user, capabilities (before `start`)
        "start",  # the init, released by `start`: exec
        "started",  # the runtime, once the program runs: poststart hooks (lifecycle.plan_poststart)
        "delete",  # the runtime, deleting the container (lifecycle.plan_teardown)
    )

    def __init__(self) -> None:
        self.phases: dict[str, list[Step]] = {p: [] for p in self.PHASES}

    def add(self, phase: str, op: str, args: tuple, text: str, source: str = "",
            details: tuple[str, ...] = (), on: str = "") -> None:
        self.phases[phase].append(Step(phase, op, args, text, source, details, on))

    def on(self, phase: str, request: str) -> list[Step]:
        """The steps of `phase` that wait for the init's `request` ("": those done at once)."""
        return [s for s in self.phases[phase] if s.on == request]

    def has(self, op: str) -> bool:
        for steps in self.phases.values():
            for s in steps:
                if s.op == op:
                    return True
        return False

    def ops(self) -> set[str]:
        """Every op of the plan: one pass for several questions."""
        return {s.op for steps in self.phases.values() for s in steps}

    def steps(self) -> list[tuple[str, Step]]:
        return [(p, s) for p in self.PHASES for s in self.phases[p]]
