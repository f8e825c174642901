"""A kernel without time namespaces: the time namespace step fails with one line that says so."""

import os
from types import SimpleNamespace

import pytest

from pyrunc import create, executor
from pyrunc.errors import PyruncError
from pyrunc.steps import Step


def test_no_time_namespaces_is_one_clear_line(monkeypatch):
    real_open = os.open

    def without_time_ns(path, *args, **kw):
        if path == "/proc/self/ns/time":
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_open(path, *args, **kw)

    monkeypatch.setattr(create.posix, "open", without_time_ns)
    target = SimpleNamespace(alone=lambda: None)
    target.unshare_time = lambda offsets: create.RuntimeOps.unshare_time(target, offsets)
    step = Step("runtime", "unshare_time", ("monotonic 10 0\n",), "unshare(CLONE_NEWTIME)", "linux.namespaces[1]")
    with pytest.raises(PyruncError) as e:
        executor.run([step], target)
    assert str(e.value) == ("unshare(CLONE_NEWTIME)  [linux.namespaces[1]]: this kernel has no time namespaces "
                            "(no /proc/self/ns/time)")
