"""A runtime killed in the middle of create leaves a container that `delete --force` removes
entirely: no process, cgroup, mount or state survives."""

import pytest


@pytest.mark.root
def test_runtime_killed_mid_create_is_cleaned_by_delete(container, rt):
    rt.lacks("a delete that removes the cgroups of a create it did not finish (they stay behind)")
    c = container("true")
    hook = c.dir / "kill-runtime.sh"
    hook.write_text("#!/bin/sh\ncat > /dev/null\nkill -9 $PPID\n")
    hook.chmod(0o755)
    c.hook("createRuntime", hook)
    r = c.create()
    assert r.rc != 0, r
    state = rt("state", c.id)
    if state.rc == 0:
        assert '"stopped"' in state.out or '"creating"' in state.out, state
    r = c.delete("--force")
    assert r.rc == 0, r
    s = rt("state", c.id)
    assert s.rc != 0 and "does not exist" in s.err, s
    assert c.state_dir_gone()  # processes, cgroups and mounts: the `container` fixture checks the host
