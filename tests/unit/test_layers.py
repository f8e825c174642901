"""The layers keep their promises: planning never loads the native shim (nor python-prctl), so
`explain` and every planner run where the shim is absent; kernel constants come from pyrunc.uapi."""

import subprocess
import sys
import textwrap

import pytest

BLOCKED = ("pyrunc._native", "pyrunc._seccomp", "_prctl", "prctl", "pyrunc.native", "pyrunc.kernel", "pyrunc.mountops")

SCRIPT = textwrap.dedent("""
    import sys

    class Absent:
        def find_spec(self, name, path=None, target=None):
            if name in BLOCKED:
                raise ImportError(f"{name} is absent in this test")
            return None

    sys.meta_path.insert(0, Absent())
    from pyrunc import cgroups, explain, specgen
    from pyrunc.plan import Options, build

    cfg = specgen.default_config()
    linux = cfg["linux"]
    linux["namespaces"] += [{"type": t} for t in ("user", "cgroup", "time")]
    linux["uidMappings"] = linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    cfg["process"]["oomScoreAdj"] = 10
    cfg["hooks"] = {"createContainer": [{"path": "/bin/true"}]}
    layout = cgroups.detect("/sys/fs/cgroup", mountinfo=MOUNTINFO)
    cg = cgroups.plan(linux, "box", layout, self_cgroup="0::/\\n")
    plan, _ = build(cfg, "/bundles/box/rootfs", Options(container_id="box"), cgroups.paths_for(cg),
                    tuple(cg.describe()))
    text = explain.as_text(plan)
    assert "clone(" in text and "pivot_root" in text, text
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    assert not loaded, loaded
    print("planned", len(plan.steps()), "steps")
""")

MOUNTINFO = "30 1 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n"


def test_planning_runs_without_the_shim():
    code = f"BLOCKED = {BLOCKED!r}\nMOUNTINFO = {MOUNTINFO!r}\n" + SCRIPT
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("planned "), r.stdout


def test_kernel_constants_live_in_uapi_only():
    """No module but uapi.py spells a CLONE_NEW*, MS_* or MOUNT_ATTR value of its own."""
    import pathlib
    import re

    package = pathlib.Path(__file__).resolve().parents[2] / "pyrunc"
    pattern = re.compile(r"^(CLONE_NEW\w+|MS_\w+|ATTR_\w+|RESOLVE_\w+|AT_\w+|O_PATH|PR_\w+|SIGKILL) = ", re.M)
    offenders = {p.name: pattern.findall(p.read_text()) for p in package.rglob("*.py") if p.name != "uapi.py"}
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("imports", [
    "from pyrunc import cli, commands, exec, kernel\nfrom pyrunc.cgroups import grace, ops, v1, v2",
    "from pyrunc import cli, commands, config, _config_check, create, exeseal, lifecycle, mountops, mounts, plan, state"
    "\nfrom pyrunc import console, idmap, lsm, seccomp"
    "\nfrom pyrunc.cgroups import bpf, fs, grace, layout, ops, planner, v1, v2",
], ids=["exec", "create and run"])
def test_commands_do_not_load_os(imports):
    """`import os` costs 1.2-1.8 ms (posixpath, _collections_abc): exec, the modules its process runs
    on (kernel, process, paths, procfs, init, native), create and run, and what their checks and
    plans load, and a terminal, seccomp, LSM labels, idmapped mounts and cgroup2's device filter call
    posix and pyrunc.posixfs instead (a real `run`: tests/conformance/test_init_imports.py)."""
    import sysconfig

    code = f"import sys\nsys.path.insert(0, {sysconfig.get_paths()['purelib']!r})\n"  # the installed package
    code += imports + "\nimport prctl\nprint(sorted({'os', 'posixpath', '_collections_abc'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
