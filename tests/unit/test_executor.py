"""executor.run: a run of two or more of a target's BATCHED steps goes to its perform_steps in
one call; the --debug lines and a failure's one-line error are those of the steps one by one."""

import errno

import pytest

from pyrunc import crashpoint, executor
from pyrunc.errors import PyruncError
from pyrunc.steps import Step


class Target:
    """Performs `a` alone and `b` alone or in runs; the run stops at the step named `fail_at`."""

    BATCHED = frozenset({"b"})

    def __init__(self, fail_at: str = "") -> None:
        self.calls: list = []
        self.fail_at = fail_at

    def a(self, name: str) -> None:
        self.calls.append(name)

    def b(self, name: str) -> None:
        self.calls.append(name)

    def perform_steps(self, steps: list[Step]) -> tuple[int, OSError | None]:
        names = [s.args[0] for s in steps]
        self.calls.append(tuple(names))
        if self.fail_at in names:
            return names.index(self.fail_at), OSError(errno.EPERM, "Operation not permitted")
        return len(steps), None


def steps(*names: str) -> list[Step]:
    return [Step("rootfs", n[0], (n,), f"do {n}", f"field.{n}") for n in names]


def test_a_run_of_batched_steps_is_one_call_and_logged_step_by_step():
    target, log = Target(), []
    executor.run(steps("a1", "b1", "b2", "b3", "a2", "b4"), target, log.append)
    assert target.calls == ["a1", ("b1", "b2", "b3"), "a2", "b4"]  # a lone batched step goes alone
    assert log == [f"rootfs: do {n}  [field.{n}]" for n in ("a1", "b1", "b2", "b3", "a2", "b4")]


def test_the_step_that_stopped_a_run_is_named_and_nothing_after_it_runs_or_is_logged():
    target, log = Target(fail_at="b2"), []
    with pytest.raises(PyruncError) as failed:
        executor.run(steps("a1", "b1", "b2", "b3", "a2"), target, log.append)
    assert failed.value.message == "do b2  [field.b2]: operation not permitted"
    assert target.calls == ["a1", ("b1", "b2", "b3")]
    assert log == [f"rootfs: do {n}  [field.{n}]" for n in ("a1", "b1", "b2")]


def test_with_a_crash_point_every_step_goes_alone(monkeypatch):
    monkeypatch.setattr(crashpoint, "AT", "before:nothing-here")
    target = Target()
    executor.run(steps("b1", "b2", "a1"), target)
    assert target.calls == ["b1", "b2", "a1"]


def test_the_runtime_enters_its_cgroups_in_one_shim_call(tmp_path):
    """create's enter_cgroup steps: one write of the pid per cgroup.procs, in one call; a missing
    cgroup stops the run with the error of its step, the ones before it written."""
    from pyrunc.create import RuntimeOps

    ops = RuntimeOps.__new__(RuntimeOps)
    ops.pid = 4242
    dirs = [tmp_path / name for name in ("cpu", "memory", "pids")]
    for d in dirs[:2]:
        d.mkdir()
        (d / "cgroup.procs").write_text("")
    run = [Step("parent", "enter_cgroup", (str(d),), f"echo <pid> > {d}/cgroup.procs") for d in dirs]
    with pytest.raises(PyruncError, match=f"echo <pid> > {dirs[2]}/cgroup.procs: no such file or directory"):
        executor.run(run, ops)
    assert [(d / "cgroup.procs").read_text() for d in dirs[:2]] == ["4242", "4242"]
    assert ops.perform_steps(run[:2]) == (2, None)
