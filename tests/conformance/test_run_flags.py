"""run's runc flags: --keep (the stopped container and its cgroups stay until `delete`) and --no-subreaper."""

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def test_run_keep(container, rt):
    c = container("sh", "-c", "echo ran; exit 3")
    c.config["linux"]["cgroupsPath"] = f"/{c.id}"
    c.config["linux"]["resources"]["pids"] = {"limit": 50}
    r = c.run("--keep")
    assert r.rc == 3 and r.out == "ran\n", r
    state = c.state()
    assert state["status"] == "stopped" and state["pid"] == 0, state
    kept = [d for d in Path("/sys/fs/cgroup").glob(f"*/{c.id}") if d.is_dir()]
    assert kept, "the container's cgroups are kept until delete"
    assert Path("/sys/fs/cgroup/pids", c.id, "pids.max").read_text() == "50\n"
    assert rt("start", c.id).rc != 0  # stopped, not created again
    r = c.delete()
    assert r.rc == 0, r
    assert not [d for d in kept if d.exists()], "delete removes the kept cgroups"
    assert rt("state", c.id).rc != 0


def test_run_without_keep_deletes(container, rt):
    c = container("true")
    assert c.run().rc == 0
    r = rt("state", c.id)
    assert r.rc != 0 and "does not exist" in r.err, r


@pytest.mark.parametrize("flags", [("--no-subreaper",), ()])
def test_run_no_subreaper(container, rt, flags):
    """With --no-subreaper the runtime does not adopt what the container orphans (here in the host's pid
    namespace): the orphan's parent is not the runtime. Without it runc's `run` is their subreaper."""
    c = container("sh", "-c", 'sh -c "sleep 0.6 >/dev/null & echo \\$! > /tmp/orphan"; sleep 0.2; '
                              'grep PPid /proc/$(cat /tmp/orphan)/status; sleep 1')
    c.drop_namespace("pid")
    c.config["root"]["readonly"] = False
    c.write()
    p = subprocess.Popen([rt.exe, "--root", rt.root, "run", *flags, "--bundle", c.bundle, c.id],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, (out, err)
    ppid = int(out.split()[-1])
    if flags:
        assert ppid > 0 and ppid != p.pid, f"the orphan's parent is {ppid}, the runtime {p.pid}"
    else:  # the control: by default runc's run is the subreaper
        assert ppid == p.pid, f"the orphan's parent is {ppid}, the runtime {p.pid}"
