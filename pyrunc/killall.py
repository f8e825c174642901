"""Signal every process of a container, found in its cgroup: runc's signalAllProcesses.

`kill --all`, and `delete --force` of a container without a pid namespace of its own (where the
init's death takes no one else with it), freeze the cgroup first so that no process forks
between the listing and the signal, signal each one, then thaw. A container already paused
stays paused, unless the signal is SIGKILL: a frozen v1 task dies only once thawed.
"""

import posix

from pyrunc import cgroups, uapi


class KillOps:
    """One method per step op."""

    def freeze(self, paths: dict[str, str]) -> None:
        cgroups.freeze(paths, True)

    def thaw(self, paths: dict[str, str]) -> None:
        cgroups.freeze(paths, False)

    def signal_all(self, paths: dict[str, str], sig: int) -> None:
        for pid in cgroups.pids(paths):
            try:
                posix.kill(pid, sig)
            except ProcessLookupError:
                pass


def has_freezer(paths: dict[str, str]) -> bool:
    return any("freezer" in k.split(",") or k in ("", "unified") for k in paths)


def plan(paths: dict[str, str], sig: int, paused: bool, freezer: bool) -> list:
    """freeze, signal, thaw, as steps (--debug shows them)."""
    from pyrunc.steps import Step  # loaded only when there is something to kill: delete checks first

    where = ", ".join(sorted(set(paths.values())))
    steps = []
    if freezer and not paused:
        steps.append(Step("kill", "freeze", (paths,), f"freeze {where}: no fork between listing and signal"))
    steps.append(Step("kill", "signal_all", (paths, sig), f"kill -{sig} every pid in the cgroup.procs below {where}"))
    if freezer and (not paused or sig == uapi.SIGKILL):
        steps.append(Step("kill", "thaw", (paths,), f"thaw {where}"))
    return steps


def thaw(paths: dict[str, str], log=None) -> None:
    """After KILL to a paused container's init: thaw, so that it can die (runc's Signal)."""
    from pyrunc import executor
    from pyrunc.steps import Step

    where = ", ".join(sorted(set(paths.values())))
    executor.run([Step("kill", "thaw", (paths,), f"thaw {where}: the killed init dies once thawed")], KillOps(), log)


def run(paths: dict[str, str], sig: int, paused: bool, log=None) -> None:
    if paths:
        from pyrunc import executor

        executor.run(plan(paths, sig, paused, has_freezer(paths)), KillOps(), log)

