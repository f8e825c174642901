"""hooks: order, the state on stdin, args and env, namespaces, timeouts and failures."""

import json
import os
from pathlib import Path

import pytest

from pyrunc.testing.bundle import HOOK_KINDS, alive, wait_for

pytestmark = pytest.mark.root

# One script for every hook: the host's /bin/sh runs it from the host path, the container's busybox sh
# from /hook.sh (startContainer's path resolves in the container). It records its name, stdin, args and env.
HOOK = """#!/bin/sh
echo "$1" >> "$2/order"
cat > "$2/$1.json"
echo "$@" > "$2/$1.args"
env > "$2/$1.env"
"""
IN_CONTAINER = {"createContainer", "startContainer"}  # executed in the container namespaces: pid 1 there
STATUS = {"prestart": {"creating", "created"}, "createRuntime": {"creating", "created"},
          "createContainer": {"creating", "created"}, "startContainer": {"created"},
          "poststart": {"running"}, "poststop": {"stopped"}}
LEAK = os.environ | {"CONFORMANCE_LEAK": "1"}  # the runtime's environment must not reach hooks


def logging_hooks(c, kinds):
    """Install the recording hook for each kind; returns the host directory the records go to."""
    script = c.rootfs / "hook.sh"
    script.write_text(HOOK)
    script.chmod(0o755)
    log = c.dir / "hooks"
    log.mkdir()
    c.bind(log, "/hooks")
    for kind in kinds:
        inside = kind == "startContainer"
        c.hook(kind, "/hook.sh" if inside else script, env=[f"HOOK_ENV={kind}"],
               args=["hook.sh", kind, "/hooks" if inside else log, "extra"])
    return log


def order(log):
    return (log / "order").read_text().split() if (log / "order").exists() else []


def check_record(log, kind, c, host_pid):
    state = json.loads((log / f"{kind}.json").read_text())
    assert (state["id"], state["bundle"]) == (c.id, str(c.bundle)), state
    assert state["ociVersion"] and state["status"] in STATUS[kind], state
    if kind != "poststop":
        assert state["pid"] == (1 if kind in IN_CONTAINER else host_pid), state
    log_arg = "/hooks" if kind == "startContainer" else str(log)
    assert (log / f"{kind}.args").read_text().split() == [kind, log_arg, "extra"]
    env = (log / f"{kind}.env").read_text().splitlines()
    assert f"HOOK_ENV={kind}" in env and not [e for e in env if e.startswith("CONFORMANCE_LEAK=")], env


def test_hooks_order_state_args_env(container):
    c = container("echo", "ran")
    kinds = [k for k in HOOK_KINDS if k != "poststart"]  # see test_poststart_hook
    log = logging_hooks(c, kinds)
    r = c.create(env=LEAK)
    assert r.rc == 0, r
    pid = c.state()["pid"]
    assert order(log) == kinds[:3]
    assert c.output() == ""
    assert c.start(env=LEAK).rc == 0
    assert order(log) == kinds[:4]
    c.wait_status("stopped")
    assert c.output() == "ran\n"
    assert c.delete(env=LEAK).rc == 0
    assert order(log) == kinds
    for kind in kinds:
        check_record(log, kind, c, pid)


def test_poststart_hook(container, rt):
    rt.lacks("poststart hooks run by start (it runs them during create)")
    c = container("sleep", "300")
    log = logging_hooks(c, ["startContainer", "poststart"])
    assert c.create(env=LEAK).rc == 0
    assert order(log) == []
    assert c.start(env=LEAK).rc == 0
    assert order(log) == ["startContainer", "poststart"]
    check_record(log, "poststart", c, c.state()["pid"])


def test_hook_timeout(container):
    c = container()
    pid_file = c.dir / "hook.pid"
    c.hook("createRuntime", "/bin/sh", ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"], timeout=1)
    c.assert_refused(c.create(timeout=30))  # the hook sleeps 60s: only its timeout lets create end early
    hook_pid = int(pid_file.read_text())
    wait_for(lambda: not alive(hook_pid), what="the timed-out hook to be killed")


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_hook_aborts_create(container, kind):
    c = container()
    seen = c.dir / "state.json"
    c.hook(kind, "/bin/sh", ["sh", "-c", f"cat > {seen}; exit 1"])
    c.assert_refused(c.create())
    if kind not in IN_CONTAINER:
        pid = json.loads(seen.read_text())["pid"]
        wait_for(lambda: not alive(pid), what="the container process to be gone")


def test_failing_poststop_hook_is_a_warning(container, rt):
    c = container()
    log = logging_hooks(c, ["poststop"])
    c.config["hooks"]["poststop"].insert(0, {"path": "/bin/false"})
    c.started()
    c.finish()  # asserts that delete succeeds
    assert c.state_dir_gone()
    rt.lacks("running the remaining poststop hooks after one fails")
    assert order(log) == ["poststop"]


@pytest.mark.parametrize("nnp", [True, False])
def test_start_container_hook_under_a_default_deny_profile(container, nnp):
    """startContainer hooks run in the container after start, next to the filter: under the validation
    suite's default profile (runtime-tools' generate: default errno, 315 allowed names, no close_range,
    clone3 or faccessat2), with or without noNewPrivileges, the hook runs with its state and the program
    after it."""
    c = container("sh", "-c", "cat /hooks/order; echo ran")
    c.config["process"]["noNewPrivileges"] = nnp
    c.config["linux"]["seccomp"] = json.loads((Path(__file__).parent / "data/runtime-tools-default-seccomp.json")
                                              .read_text())
    log = logging_hooks(c, ["startContainer"])
    c.config["hooks"]["startContainer"][0]["timeout"] = 10  # waited for without pidfd_open, not in the profile
    c.started()
    out = c.finish()
    assert out == "startContainer\nran\n", (out, c.stderr.read_text())
    check_record(log, "startContainer", c, None)


def test_create_container_hook_works_in_the_rootfs(container, rt):
    """runc's createContainer hooks (nvidia's and others' library injection): in the container's mount
    namespace before pivot_root, with the working directory at the rootfs, so `touch ./lib/x && mount
    --bind SRC ./lib/x` adds a file the container sees, and the host's own ./lib is untouched."""
    src = container.dir / "injected.so"
    src.write_text("injected by the hook\n")
    hook = container.dir / "inject.sh"
    hook.write_text(f"#!/bin/sh\nset -e\nmkdir -p ./lib\ntouch ./lib/libinjected.so\n"
                    f"mount --bind {src} ./lib/libinjected.so\n")
    hook.chmod(0o755)
    c = container("cat", "/lib/libinjected.so")
    c.hook("createContainer", hook)
    r = c.run()
    assert r.rc == 0 and r.out == "injected by the hook\n", r
    assert (c.rootfs / "lib/libinjected.so").exists(), "the hook's cwd was the rootfs"
    assert (c.rootfs / "lib/libinjected.so").read_text() == "", "the bind mount stayed in the container"
