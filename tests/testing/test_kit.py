"""The conformance kit itself: its API, its imports, its plugin used from outside the repository (the
README's example, run literally), `pyrunc conformance` and its report, and a sample of its controls."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyrunc.testing.bundle import Config, base_config
from pyrunc.testing.rootfs import host_rootfs, shared_libraries
from pyrunc.testing.view import cap_set, id_map, limits

REPO = Path(__file__).resolve().parent.parent.parent
API = ("bundle", "runtime", "view", "host", "rootfs", "requirement", "broken", "report", "console", "users")


def test_config_builder_chains_from_runcs_default():
    c = Config.default(["sh"]).set("linux.resources.pids.limit", 7).namespace("user").drop("hostname")
    assert c["process"]["args"] == ["sh"] and c.get_path("linux.resources.pids.limit") == 7
    assert {"type": "user"} in c.namespaces and "hostname" not in c
    d = Config.from_dict(base_config(["true"]))
    d.set("process.cwd", "/tmp")
    assert base_config(["true"])["process"]["cwd"] == "/"  # from_dict copies


def test_view_parsers():
    assert id_map("         0     100000      65536\n") == [(0, 100000, 65536)]
    assert cap_set("0000000000000021") == {"CAP_CHOWN", "CAP_KILL"}
    text = Path("/proc/self/limits").read_text()
    soft, hard = limits(text)["Max open files"]
    assert soft is not None and (hard is None or soft <= hard)


def test_host_rootfs_copies_the_shared_libraries(tmp_path):
    libs = shared_libraries("/bin/ls")
    assert libs and any("libc.so" in p for p in libs), libs
    rootfs = host_rootfs(tmp_path / "rootfs", ["ls", "/bin/busybox"])
    for path in (shutil.which("ls"), "/bin/busybox", *libs):
        assert (rootfs / path.lstrip("/")).is_file(), path


def test_api_imports_no_pytest():
    """The API modules load without pytest (only plugin.py and the suite import it)."""
    code = "import sys; " + "; ".join(f"import pyrunc.testing.{m}" for m in API) + \
           "; print([m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert r.stdout.strip() == "[]", r.stdout


@pytest.mark.root
def test_run_imports_nothing_of_the_kit(container):
    """`pyrunc run`'s imports (-X importtime) hold nothing of pyrunc.testing, nor pytest."""
    c = container("true")
    c.write()
    code = "import sys; from pyrunc.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code, "--root", str(c.rt.root), "run",
                        "--bundle", str(c.bundle), c.id], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, cwd="/")  # not the source tree's pyrunc/
    assert r.returncode == 0, r.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time")]
    assert "pyrunc.cli" in imported
    assert not [m for m in imported if m.startswith(("pyrunc.testing", "pytest", "_pytest"))]


@pytest.mark.root
def test_typed_results(container, rt):
    c = container("sleep", "300")
    c.write()
    assert rt.create(c.id, c.bundle, stdout=c.stdout, stderr=c.stderr).ok
    st = rt.state(c.id)
    assert st.ok and st.state.status == "created" and st.state.id == c.id and st.state.pid > 0
    assert rt.start(c.id).ok
    assert rt.ps(c.id).pids == [st.state.pid]
    assert rt.pause(c.id).ok and rt.state(c.id).state.status == "paused"
    assert rt.resume(c.id).ok
    assert rt.exec(c.id, "true").ok
    assert rt.update(c.id, {"pids": {"limit": 50}}).ok
    assert c.view().cgroup_file("pids", "pids.max") == "50"
    events = rt.events(c.id)
    assert events.ok and events.events and events.events[0]["type"] == "stats", events
    assert rt.kill(c.id, "KILL").ok
    c.wait_status("stopped")
    assert rt.delete(c.id).ok
    assert not rt.state(c.id).ok


def readme_example() -> str:
    """The test file of the README's section on the plugin, as written there."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Testing any runtime", 1)[1]
    return re.search(r"cat > test_my_bundle.py <<'EOF'\n(.*?)\nEOF\n", section, re.S).group(1) + "\n"


@pytest.mark.root
def test_readme_plugin_example_outside_the_repository(rt, tmp_path):
    """A project elsewhere writes a bundle test with the fixtures; pytest finds the plugin by its entry point."""
    (tmp_path / "test_my_bundle.py").write_text(readme_example())
    pytest_exe = Path(sys.executable).parent / "pytest"
    r = subprocess.run([str(pytest_exe), "-q", "-p", "no:cacheprovider", "--runtime", rt.exe, "test_my_bundle.py"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                       env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"})
    assert r.returncode == 0 and " passed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def conformance(rt, *args, timeout=600):
    return subprocess.run([str(REPO / ".venv/bin/pyrunc"), "conformance", "--runtime", rt.exe, *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.root
def test_conformance_table_and_report(rt, tmp_path):
    r = conformance(rt, "-k", "test_state_returned or test_new_time_namespace", "--report", tmp_path / "r.html")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "runtime.md#runtimeQueryState" in r.stdout and "PASSED   test_state_returned" in r.stdout, r.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    cases = {c["name"]: c for c in doc["cases"]}
    assert set(cases) == {"test_state_returned", "test_new_time_namespace"}
    assert cases["test_state_returned"]["requirement"]["level"] == "MUST"
    html = (tmp_path / "r.html").read_text()
    assert "This operation MUST return the state of a container as specified in the State section." in html
    assert "<script" not in html and "http" not in html.split("<body>")[0].replace("charset", "")


# A sample of controls, one per kind of fault: with the broken runtime, each case must fail.
CONTROLS = ["test_state_returned", "test_kill_sends_the_signal", "test_hostname", "test_mounts_in_order",
            "test_lifecycle_config_changes_after_create_ignored", "test_dev_symlinks", "test_only_stdio_open",
            "test_error_leaves_no_trace", "test_lifecycle_program_not_run_at_create", "test_seccomp_listener"]


@pytest.mark.root
def test_controls_sample(rt):
    r = conformance(rt, "--controls", "-k", " or ".join(CONTROLS))
    caught = re.findall(r"control caught\s+(\S+)", r.stdout)
    assert sorted(caught) == sorted(CONTROLS), r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, r.stdout[-4000:]


def test_conformance_list():
    """--list needs no runtime: every case under its section, with its level and sentence, and the counts."""
    r = subprocess.run([str(REPO / ".venv/bin/pyrunc"), "conformance", "--list", "-k", "hugepage or listener"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "config-linux.md#configLinuxHugePageLimits (1)" in r.stdout, r.stdout
    assert "MUST      test_seccomp_listener: listenerPath (string, OPTIONAL)" in r.stdout, r.stdout
    assert r.stdout.rstrip().endswith("config-linux.md (Linux Container Configuration) 2; 2 cases"), r.stdout


def test_bundle_fixture_writes_a_bundle(bundle):
    bundle.config.args("echo", "hi").set("hostname", "b")
    path = bundle.write()
    written = json.loads((path / "config.json").read_text())
    assert written["process"]["args"] == ["echo", "hi"] and written["hostname"] == "b"
    assert (bundle.rootfs / "bin/busybox").is_file()
