"""exec --cgroup: runc's parsing of `[controller[,controller]:]path` and the sub-cgroup directories."""

import pytest

from pyrunc.errors import PyruncError
from pyrunc.exec import parse_sub_cgroups, plan_exec, sub_cgroup_dirs

V1 = {"cpu": "/cg/cpu,cpuacct/c", "cpuacct": "/cg/cpu,cpuacct/c", "memory": "/cg/memory/c", "pids": "/cg/pids/c"}


def test_parse():
    assert parse_sub_cgroups([]) == {}
    assert parse_sub_cgroups(["sub"]) == {"": "sub"}
    assert parse_sub_cgroups(["memory,pids:a", "cpu:b"]) == {"memory": "a", "pids": "a", "cpu": "b"}


@pytest.mark.parametrize("values, words", [
    (["a:b:c"], "invalid --cgroup argument: a:b:c"),
    (["a", "b"], "missing <controller>: prefix"),
    ([",memory:a"], "empty <controller> prefix"),
    (["memory:a", "memory:b"], "controller memory specified multiple times"),
])
def test_parse_refused(values, words):
    with pytest.raises(PyruncError, match=words):
        parse_sub_cgroups(values)


def test_v2_one_path():
    assert sub_cgroup_dirs({"": "/cg/c"}, {"": "x/y"}) == {"": "/cg/c/x/y"}
    with pytest.raises(PyruncError, match="unknown controller memory"):
        sub_cgroup_dirs({"": "/cg/c"}, {"memory": "x"})


def test_v1_per_controller_moves_co_mounted_controllers_together():
    assert sub_cgroup_dirs(V1, {"cpu": "s"}) == V1 | {"cpu": "/cg/cpu,cpuacct/c/s", "cpuacct": "/cg/cpu,cpuacct/c/s"}
    assert sub_cgroup_dirs(V1, {"": "/s"}) == {k: v + "/s" for k, v in V1.items()}


@pytest.mark.parametrize("sub", ["..", "../c2", "a/../../x"])
def test_outside_the_container_refused(sub):
    with pytest.raises(PyruncError, match="is not a sub cgroup path"):
        sub_cgroup_dirs(V1, {"": sub})


def test_plan_names_the_flag():
    proc = {"args": ["true"], "cwd": "/"}
    plan = plan_exec(proc, {}, sub_cgroup_dirs({"": "/cg/c"}, {"": "s"}), [], 0, 0, cgroup_source="--cgroup")
    step = next(s for _, s in plan.steps() if s.op == "fork")  # cgroup2: born there (CLONE_INTO_CGROUP)
    assert step.args == ("/cg/c/s",) and step.source == "--cgroup"
    assert not any(s.op == "enter_cgroups" for _, s in plan.steps())
    hybrid = plan_exec(proc, {}, sub_cgroup_dirs(V1 | {"unified": "/cg/unified/c"}, {"": "s"}), [], 0, 0,
                       cgroup_source="--cgroup")
    step = next(s for _, s in hybrid.steps() if s.op == "enter_cgroups")
    assert step.args == (tuple(sorted({v + "/s" for v in V1.values()})),) and step.source == "--cgroup"
    assert next(s for _, s in hybrid.steps() if s.op == "fork").args == ("/cg/unified/c/s",)
