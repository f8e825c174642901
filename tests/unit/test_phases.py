"""tests/phases.py (make profile) cuts a strace log into phases at the same markers for every runtime."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import phases  # noqa: E402

# A pyrunc `run` as strace -f -ttt -T writes it: launcher, interpreter, the init, its program.
TRACE = """\
100 1.000000 execve("/venv/bin/pyrunc", ["pyrunc", "run"], 0x1 /* 3 vars */) = 0 <0.000100>
100 1.002000 execveat(5, "", ["/venv/bin/python", "-IS"], 0x2 /* 4 vars */, AT_EMPTY_PATH) = 0 <0.000200>
100 1.010000 openat(AT_FDCWD, "/venv/lib/pyrunc/__pycache__/cli.cpython-311.pyc", O_RDONLY|O_CLOEXEC) = 3 <0.000010>
100 1.020000 openat(AT_FDCWD, "/b/config.json", O_RDONLY|O_CLOEXEC) = 3 <0.000010>
100 1.025000 openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory) <0.000010>
100 1.030000 clone3({flags=CLONE_NEWNS|CLONE_NEWPID, exit_signal=SIGCHLD}, 88) = 101 <0.000500>
100 1.031000 openat(AT_FDCWD, "/sys/fs/cgroup/pids/c/cgroup.procs", O_WRONLY|O_CLOEXEC) = 4 <0.000010>
100 1.032000 write(4, "101", 3 <unfinished ...>
101 1.033000 pivot_root(".", ".") = 0 <0.000100>
100 1.034000 <... write resumed>) = 3 <0.002000>
101 1.040000 execve("/bin/true", ["/bin/true"], 0x3 /* 3 vars */) = 0 <0.000300>
100 1.041000 wait4(101,  <unfinished ...>
101 1.042000 exit_group(0)                     = ?
101 1.043000 +++ exited with 0 +++
100 1.044000 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 101 <0.003000>
100 1.046000 rmdir("/sys/fs/cgroup/pids/c") = 0 <0.000500>
100 1.050000 exit_group(0)                     = ?
100 1.050500 +++ exited with 0 +++
"""


def test_timeline_cuts_the_run_at_its_markers(tmp_path):
    path = tmp_path / "trace"
    path.write_text(TRACE)
    tl = phases.timeline(str(path))
    assert tl.ok
    got = {label: round(ms, 3) for label, ms in tl.phases().items()}
    assert got == {
        "launcher (C): exe seal, grace task (create, run)": 2.0,
        "interpreter start": 8.0,
        "imports + command line (runc: Go start-up)": 10.0,
        "planning, until the init is cloned": 10.0,
        "init: namespaces, cgroups, mounts": 3.0,
        "init: until execve (after pivot_root if any)": 7.0,
        "the program (/bin/true)": 3.0,
        "pid namespace teardown, reap": 1.0,
        "the rest (run: delete), exit": 6.5,
    }
    assert round(tl.cgroup_writes, 3) == 2.0
    assert round(tl.cgroup_dirs, 3) == 0.5
    assert (tl.opened, tl.failed_opens) == (3, 1)
