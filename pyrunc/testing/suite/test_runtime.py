"""runtime.md: the state, the lifecycle, errors, warnings and the five operations, one case per MUST."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from pyrunc.testing.host import Snapshot
from pyrunc.testing.requirement import cite
from pyrunc.testing.view import View, alive, ns_inode, wait_for

pytestmark = pytest.mark.root

SCOPE = "runtime.md#runtimeScopeContainer"
STATE = "runtime.md#runtimeState"
LIFECYCLE = "runtime.md#runtimeLifecycle"
ERRORS = "runtime.md#runtimeErrors"
WARNINGS = "runtime.md#runtimeWarnings"
OPERATIONS = "runtime.md#runtimeOperations"
QUERY = "runtime.md#runtimeQueryState"
CREATE = "runtime.md#runtimeCreate"
START = "runtime.md#runtimeStart"
KILL = "runtime.md#runtimeKill"
DELETE = "runtime.md#runtimeDelete"
SLEEP = ("sleep", "300")
TRAP = 'trap "echo USR1; exit 0" USR1; echo ready; while :; do sleep 0.1; done'
NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "user": "user",
            "cgroup": "cgroup", "time": "time"}


def refused(r):
    assert r.rc != 0, f"expected an error: {r}"


def created(c):
    r = c.create()
    assert r.rc == 0, r
    return c.state()


def stopped(c):
    """A container whose program has exited."""
    c.config["process"]["args"] = ["true"]
    created(c)
    assert c.start().rc == 0
    return c.wait_status("stopped")


# --- Scope of a container
@cite(SCOPE, "MUST", "The entity using a runtime to create a container MUST be able to use the operations defined "
      "in this specification against that same container.", control="fail:state")
def test_scope_same_entity_uses_every_operation(container, rt):
    c = container(*SLEEP)
    created(c)
    elsewhere = {"cwd": "/", "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}}
    for step in (("state", c.id), ("start", c.id), ("state", c.id), ("kill", c.id, "KILL")):
        r = rt(*step, **elsewhere)
        assert r.rc == 0, f"{step[0]}: {r}"
    c.wait_status("stopped")
    assert rt("delete", c.id, **elsewhere).rc == 0


# --- State
@cite(STATE, "MUST", "id (string, REQUIRED) is the container's ID. This MUST be unique across all containers on "
      "this host.", control="ok:create")
def test_state_id_unique(container, rt):
    a, b = container(*SLEEP), container(*SLEEP)
    created(a)
    b.id = a.id
    refused(b.create())
    st = a.state()
    assert (st["id"], st["bundle"]) == (a.id, str(a.bundle)), st


@cite(STATE, "MUST", "Additional values MAY be defined by the runtime, however, they MUST be used to represent "
      "new runtime states not defined above.", control='state:set=status="up"')
def test_state_status_values(container):
    c = container(*SLEEP)
    assert created(c)["status"] == "created"
    assert c.start().rc == 0
    assert c.state()["status"] == "running"
    c.kill("KILL")
    assert c.wait_status("stopped")["status"] == "stopped"


@cite(STATE, "MUST", "When serialized in JSON, the format MUST adhere to the JSON Schema "
      "schema/state-schema.json.", control="state:drop=bundle")
def test_state_schema(container):
    from pyrunc.validate import schema_error  # jsonschema over the spec's schema/ files

    c = container(*SLEEP)
    c.config["annotations"] = {"org.example": "v"}
    assert schema_error("state", created(c)) is None
    assert c.start().rc == 0
    assert schema_error("state", c.state()) is None


# --- Lifecycle
@cite(LIFECYCLE, "MUST", "2. The container's runtime environment MUST be created according to the configuration in "
      "config.json.", control="drop:linux.namespaces")
def test_lifecycle_environment_from_config(container):
    c = container(*SLEEP)
    pid = created(c)["pid"]
    for ns in c.config["linux"]["namespaces"]:
        name = NS_FILES[ns["type"]]
        assert ns_inode(pid, name) != ns_inode("self", name), f"{ns['type']} namespace is the host's"


@cite(LIFECYCLE, "MUST", "If the runtime is unable to create the environment specified in the config.json, it "
      "MUST generate an error.", control="ok:create")
def test_lifecycle_error_when_environment_impossible(container):
    c = container(*SLEEP)
    c.bind(container.dir / "no-such-source", "/mnt")
    refused(c.create())


@cite(LIFECYCLE, "MUST NOT", "While the resources requested in the config.json MUST be created, the user-specified "
      "program (from process) MUST NOT be run at this time.", control="then:create=start")
def test_lifecycle_program_not_run_at_create(container):
    c = container("echo", "ran")
    created(c)
    time.sleep(0.3)
    assert c.output() == "", "the program ran during create"
    assert c.start().rc == 0
    assert c.finish() == "ran\n"


@cite(LIFECYCLE, "MUST NOT", "Any updates to config.json after this step MUST NOT affect the container.",
      control="defer:create")
def test_lifecycle_config_changes_after_create_ignored(container):
    c = container("echo", "first")
    created(c)
    c.config["process"]["args"] = ["echo", "second"]
    c.write()
    assert c.start().rc == 0
    assert c.finish() == "first\n"


def _hook_runs(container, hook_log, kind):
    c = container("true")
    hook_log(c, kind)
    created(c)
    assert c.start().rc == 0
    c.wait_status("stopped")
    assert c.delete().rc == 0
    assert kind in hook_log.kinds(), f"the {kind} hook did not run ({hook_log.kinds()})"


@cite(LIFECYCLE, "MUST", "3. The prestart hooks MUST be invoked by the runtime.", control="drop:hooks.prestart",
      feature=("hooks", "prestart"))
def test_lifecycle_prestart_hooks(container, hook_log):
    _hook_runs(container, hook_log, "prestart")


@cite(LIFECYCLE, "MUST", "4. The createRuntime hooks MUST be invoked by the runtime.",
      control="drop:hooks.createRuntime", feature=("hooks", "createRuntime"))
def test_lifecycle_create_runtime_hooks(container, hook_log):
    _hook_runs(container, hook_log, "createRuntime")


@cite(LIFECYCLE, "MUST", "5. The createContainer hooks MUST be invoked by the runtime.",
      control="drop:hooks.createContainer", feature=("hooks", "createContainer"))
def test_lifecycle_create_container_hooks(container, hook_log):
    _hook_runs(container, hook_log, "createContainer")


@cite(LIFECYCLE, "MUST", "7. The startContainer hooks MUST be invoked by the runtime.",
      control="drop:hooks.startContainer", feature=("hooks", "startContainer"))
def test_lifecycle_start_container_hooks(container, hook_log):
    _hook_runs(container, hook_log, "startContainer")


@cite(LIFECYCLE, "MUST", "9. The poststart hooks MUST be invoked by the runtime.", control="drop:hooks.poststart",
      feature=("hooks", "poststart"))
def test_lifecycle_poststart_hooks(container, hook_log):
    _hook_runs(container, hook_log, "poststart")


@cite(LIFECYCLE, "MUST", "13. The poststop hooks MUST be invoked by the runtime.", control="drop:hooks.poststop",
      feature=("hooks", "poststop"))
def test_lifecycle_poststop_hooks(container, hook_log):
    _hook_runs(container, hook_log, "poststop")


def _create_hook_fails(container, hook_log, kind):
    c = container("echo", "ran")
    hook_log(c, kind, fail=True)
    refused(c.create())  # config.md: these hooks are called as part of the create operation
    time.sleep(0.2)
    assert c.output() == "", "the program ran although a hook failed"
    assert kind in hook_log.kinds()
    st = c.rt("state", c.id)
    assert st.rc != 0 or json.loads(st.out)["status"] == "stopped", f"the container was not stopped: {st}"


@cite(LIFECYCLE, "MUST", "If any prestart hook fails, the runtime MUST generate an error, stop the container, and "
      "continue the lifecycle at step 12.", control="ok:create", feature=("hooks", "prestart"))
def test_lifecycle_prestart_hook_fails(container, hook_log):
    _create_hook_fails(container, hook_log, "prestart")


@cite(LIFECYCLE, "MUST", "If any createRuntime hook fails, the runtime MUST generate an error, stop the container, "
      "and continue the lifecycle at step 12.", control="ok:create", feature=("hooks", "createRuntime"))
def test_lifecycle_create_runtime_hook_fails(container, hook_log):
    _create_hook_fails(container, hook_log, "createRuntime")


@cite(LIFECYCLE, "MUST", "If any createContainer hook fails, the runtime MUST generate an error, stop the "
      "container, and continue the lifecycle at step 12.", control="ok:create",
      feature=("hooks", "createContainer"))
def test_lifecycle_create_container_hook_fails(container, hook_log):
    _create_hook_fails(container, hook_log, "createContainer")


@cite(LIFECYCLE, "MUST", "If any startContainer hook fails, the runtime MUST generate an error, stop the "
      "container, and continue the lifecycle at step 12.", control="ok:start", feature=("hooks", "startContainer"))
def test_lifecycle_start_container_hook_fails(container, hook_log):
    c = container("echo", "ran")
    hook_log(c, "startContainer", fail=True)
    created(c)
    refused(c.start())
    time.sleep(0.2)
    assert c.output() == "", "the program ran although startContainer failed"
    st = c.rt("state", c.id)
    assert st.rc != 0 or json.loads(st.out)["status"] == "stopped", f"the container was not stopped: {st}"


@cite(LIFECYCLE, "MUST", "If any poststart hook fails, the runtime MUST generate an error, stop the container, and "
      "continue the lifecycle at step 12.", control="ok:create;ok:start", feature=("hooks", "poststart"))
def test_lifecycle_poststart_hook_fails(container, hook_log):
    c = container(*SLEEP)
    hook_log(c, "poststart", fail=True)
    r = c.create()
    if r.rc == 0:
        r = c.start()
    refused(r)
    st = c.rt("state", c.id)
    assert st.rc != 0 or json.loads(st.out)["status"] == "stopped", f"the container was not stopped: {st}"


@cite(LIFECYCLE, "MUST", "12. The container MUST be destroyed by undoing the steps performed during create phase "
      "(step 2).", control="noop:delete")
def test_lifecycle_destroyed_by_undoing_create(container):
    c = container(*SLEEP)
    pid = created(c)["pid"]
    cgroups = View(pid).cgroups
    c.kill("KILL")
    c.wait_status("stopped")
    assert c.delete().rc == 0
    assert c.state_dir_gone()
    left = [Path("/sys/fs/cgroup") / ctl / path.lstrip("/") for ctl, path in cgroups.items() if ctl and path != "/"]
    assert not [p for p in left if p.exists() and c.id in str(p)], f"cgroups left: {left}"
    again = container(*SLEEP)
    again.id = c.id
    assert again.create().rc == 0, "the id could not be used again"


@cite(LIFECYCLE, "MUST", "If any poststop hook fails, the runtime MUST log a warning, but the remaining hooks and "
      "lifecycle continue as if the hook had succeeded.", control="rc1:delete", feature=("hooks", "poststop"))
def test_lifecycle_poststop_hook_fails(container, hook_log):
    c = container("true")
    hook_log(c, "poststop", fail=True)
    c.hook("poststop", "/bin/sh", args=["sh", "-c", f"echo second >> {hook_log.dir}/log"])
    stopped(c)
    assert c.delete().rc == 0
    assert hook_log.kinds() == ["poststop", "second"]
    assert c.state_dir_gone()


# --- Errors and warnings
@cite(ERRORS, "MUST", "Unless otherwise stated, generating an error MUST leave the state of the environment as if "
      "the operation were never attempted - modulo any possible trivial ancillary changes such as logging.",
      control="leak:create")
def test_error_leaves_no_trace(container, rt):
    c = container(*SLEEP)
    c.mount("/data", "tmpfs", "tmpfs")
    c.bind(container.dir / "no-such-source", "/late")
    before = Snapshot.take(rt.base, rt.root)
    refused(c.create())
    assert c.state_dir_gone(), "a state entry is left"
    rt.tracked.add(c)
    found = before.leftovers(container.dir, rt.tracked)
    assert not found, found


@cite(WARNINGS, "MUST", "Unless otherwise stated, logging a warning does not change the flow of the operation; it "
      "MUST continue as if the warning had not been logged.", control="rc1:delete", feature=("hooks", "poststop"))
def test_warning_does_not_stop_the_operation(container, hook_log):
    c = container("true")
    hook_log(c, "poststop", fail=True)
    stopped(c)
    assert c.delete().rc == 0
    r = c.rt("state", c.id)
    assert r.rc != 0, f"the container is still there: {r}"


# --- Operations
@cite(OPERATIONS, "MUST", "Unless otherwise stated, runtimes MUST support the following operations.",
      control="fail:kill")
def test_operations_supported(container):
    c = container(*SLEEP)
    created(c)
    assert c.start().rc == 0
    r = c.kill("KILL")
    assert r.rc == 0, r
    c.wait_status("stopped")
    assert c.delete().rc == 0


@cite(QUERY, "MUST", "This operation MUST generate an error if it is not provided the ID of a container.",
      control="ok:state")
def test_state_needs_an_id(rt):
    refused(rt("state"))


@cite(QUERY, "MUST", "Attempting to query a container that does not exist MUST generate an error.",
      control="ok:state")
def test_state_of_unknown_container(rt):
    refused(rt("state", "no-such-container-of-the-suite"))


@cite(QUERY, "MUST", "This operation MUST return the state of a container as specified in the State section.",
      control="state:drop=pid")
def test_state_returned(container):
    c = container(*SLEEP)
    c.config["annotations"] = {"org.example.key": "value"}
    st = created(c)
    assert st["ociVersion"] and st["id"] == c.id and st["status"] == "created", st
    assert st["bundle"] == str(c.bundle) and os.path.isabs(st["bundle"]), st
    assert "pid" in st and alive(st["pid"]), st
    assert st.get("annotations", {}) == {"org.example.key": "value"}, st


@cite(CREATE, "MUST", "This operation MUST generate an error if it is not provided a path to the bundle and the "
      "container ID to associate with the container.", control="ok:create")
def test_create_needs_bundle_and_id(container, rt):
    c = container(*SLEEP)
    c.write()
    refused(rt("create", "--bundle", c.bundle))
    refused(rt("create", "--bundle", container.dir / "no-such-bundle", c.id))
    assert c.state_dir_gone()


@cite(CREATE, "MUST", "If the ID provided is not unique across all containers within the scope of the runtime, or "
      "is not valid in any other way, the implementation MUST generate an error and a new container MUST NOT be "
      "created.", control="ok:create")
def test_create_refuses_duplicate_and_invalid_ids(container, rt):
    a = container(*SLEEP)
    pid = created(a)["pid"]
    b = container(*SLEEP)
    b.id = a.id
    refused(b.create())
    assert a.state()["pid"] == pid
    bad = container(*SLEEP)
    bad.id = "../escape"
    refused(bad.create())
    assert not (rt.root.parent / "escape").exists()


@cite(CREATE, "MUST", "This operation MUST create a new container.", control="noop:create")
def test_create_creates(container):
    c = container(*SLEEP)
    st = created(c)
    assert st["status"] == "created" and alive(st["pid"]), st


@cite(CREATE, "MUST", "All of the properties configured in config.json except for process MUST be applied.",
      control="drop:mounts")
def test_create_applies_properties(container):
    c = container(*SLEEP)
    c.mount("/data", "tmpfs", "tmpfs", ["size=1m"])
    st = created(c)
    view = View(st["pid"])
    assert view.mounts.get("/data", ("",))[0] == "tmpfs", sorted(view.mounts)
    assert ns_inode(st["pid"], "uts") != ns_inode("self", "uts")


@cite(CREATE, "MUST NOT", "process.args MUST NOT be applied until triggered by the start operation.",
      control="then:create=start")
def test_create_does_not_apply_args(container):
    c = container("sh", "-c", "echo ran; exec sleep 300")
    st = created(c)
    time.sleep(0.3)
    assert View(st["pid"]).cmdline != c.config["process"]["args"]
    assert c.output() == ""


@cite(CREATE, "MUST", "If the runtime cannot apply a property as specified in the configuration, it MUST generate "
      "an error and a new container MUST NOT be created.", control="ok:create")
def test_create_refuses_what_it_cannot_apply(container):
    c = container(*SLEEP)
    c.namespace("network", "/proc/self/ns/no-such-namespace")
    r = c.create()
    refused(r)
    assert c.state_dir_gone()


@cite(START, "MUST", "This operation MUST generate an error if it is not provided the container ID.",
      control="ok:start")
def test_start_needs_an_id(rt):
    refused(rt("start"))


@cite(START, "MUST", "Attempting to start a container that is not created MUST have no effect on the container "
      "and MUST generate an error.", control="ok:start")
def test_start_only_created(container):
    c = container("sh", "-c", "echo ran; exec sleep 300")
    created(c)
    assert c.start().rc == 0
    wait_for(lambda: c.output() == "ran\n", what="the program")
    pid = c.state()["pid"]
    refused(c.start())
    assert c.state()["pid"] == pid and c.output() == "ran\n"
    c.kill("KILL")
    c.wait_status("stopped")
    refused(c.start())
    assert c.state()["status"] == "stopped"


@cite(START, "MUST", "This operation MUST run the user-specified program as specified by process.",
      control="noop:start")
def test_start_runs_the_program(container):
    c = container("sh", "-c", 'echo "$GREETING from $(pwd)"')
    c.config["process"]["env"].append("GREETING=hello")
    c.config["process"]["cwd"] = "/tmp"
    created(c)
    assert c.start().rc == 0
    assert c.finish() == "hello from /tmp\n"


@cite(START, "MUST", "This operation MUST generate an error if process was not set.", control="ok:create;ok:start")
def test_start_without_process(container):
    c = container(*SLEEP)
    del c.config["process"]
    created_anyway = c.create().rc == 0  # a runtime may refuse already at create
    refused(c.start())
    if not created_anyway:
        assert c.state_dir_gone()


@cite(KILL, "MUST", "This operation MUST generate an error if it is not provided the container ID.",
      control="ok:kill")
def test_kill_needs_an_id(rt):
    refused(rt("kill"))


@cite(KILL, "MUST", "Attempting to send a signal to a container that is neither created nor running MUST have no "
      "effect on the container and MUST generate an error.", control="ok:kill")
def test_kill_stopped_container(container):
    c = container("true")
    stopped(c)
    refused(c.kill("KILL"))
    assert c.state()["status"] == "stopped"


@cite(KILL, "MUST", "This operation MUST send the specified signal to the container process.", control="noop:kill")
def test_kill_sends_the_signal(container):
    c = container("sh", "-c", TRAP)
    created(c)
    assert c.start().rc == 0
    wait_for(lambda: "ready" in c.output(), what="the trap")
    assert c.kill("USR1").rc == 0
    wait_for(lambda: "USR1" in c.output(), what="the signal to arrive")


@cite(DELETE, "MUST", "This operation MUST generate an error if it is not provided the container ID.",
      control="ok:delete")
def test_delete_needs_an_id(rt):
    refused(rt("delete"))


@cite(DELETE, "MUST", "Attempting to delete a container that is not stopped MUST have no effect on the container "
      "and MUST generate an error.", control="ok:delete")
def test_delete_only_stopped(container):
    c = container(*SLEEP)
    pid = created(c)["pid"]
    refused(c.delete())
    assert c.state()["status"] == "created" and alive(pid)
    assert c.start().rc == 0
    refused(c.delete())
    assert c.state()["status"] == "running" and alive(pid)


@cite(DELETE, "MUST", "Deleting a container MUST delete the resources that were created during the create step.",
      control="noop:delete")
def test_delete_removes_what_create_made(container):
    c = container("true")
    pid = created(c)["pid"]
    assert c.start().rc == 0
    c.wait_status("stopped")
    assert c.delete().rc == 0
    assert c.state_dir_gone()
    assert not alive(pid)
    root = os.stat(c.rootfs)  # the rootfs directory outlives the container: its inode is not reused
    holders = [p for p in os.listdir("/proc") if p.isdigit() and _root(p) == (root.st_dev, root.st_ino)]
    assert not holders, f"processes still inside the container's root: {holders}"


def _root(pid):
    try:
        st = os.stat(f"/proc/{pid}/root")
    except OSError:
        return None
    return st.st_dev, st.st_ino


@cite(DELETE, "MUST NOT", "Note that resources associated with the container, but not created by this container, "
      "MUST NOT be deleted.", control="rmsources:delete")
def test_delete_keeps_what_it_did_not_create(container):
    netns = subprocess.Popen(["unshare", "--net", "sleep", "300"])
    try:
        wait_for(lambda: ns_inode(netns.pid, "net") != ns_inode("self", "net"), what="the helper's netns")
        shared = container.dir / "shared"
        shared.mkdir()
        (shared / "keep").write_text("data")
        c = container("true")
        c.namespace("network", f"/proc/{netns.pid}/ns/net")
        c.bind(shared, "/shared")
        stopped(c)
        assert c.delete().rc == 0
        assert netns.poll() is None, "the joined namespace's process was killed"
        assert (shared / "keep").read_text() == "data"
    finally:
        netns.kill()
        netns.wait()
