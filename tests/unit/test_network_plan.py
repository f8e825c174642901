"""The network's planning (pyrunc/network.py), without root: where its steps go, and refusals."""

import subprocess
import sys

import pytest

from pyrunc import lifecycle
from pyrunc.errors import PyruncError
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config

BRIDGE = {"org.pyrunc.network": "bridge"}


def plan_of(cfg: dict, **opts):
    plan, _ = build(cfg, "/bundle/rootfs", Options(container_id="c1", **opts), {})
    return plan


def ops(plan, phase: str) -> list[str]:
    return [s.op for s in plan.phases[phase]]


def test_bridge_host_side_before_clone_container_side_while_the_init_is_held():
    cfg = default_config()
    cfg["annotations"] = BRIDGE | {"org.pyrunc.network.publish": "8080:80"}
    plan = plan_of(cfg, publish=("5353:53/udp",))
    runtime = ops(plan, "runtime")
    assert runtime[runtime.index("net_allocate"):runtime.index("net_allocate") + 3] == [
        "net_allocate", "net_bridge", "net_nat"]
    assert ops(plan, "parent")[-5:] == ["net_open", "net_veth", "net_configure", "net_publish", "release_init"]
    (allocate,) = [s for s in plan.phases["runtime"] if s.op == "net_allocate"]
    assert allocate.args == ("pyrunc0", "10.87.0.0/24", allocate.args[2], ((8080, 80, "tcp"), (5353, 53, "udp")))
    assert allocate.args[2].startswith("pv") and len(allocate.args[2]) == 10
    assert not any(s.op.startswith("net_") for s in plan.phases["namespaces"])


def test_net_devices_checked_then_moved_in_order():
    cfg = default_config()
    cfg["linux"]["netDevices"] = {"eth1": {"name": "ctr%d"}, "eth2": {}}
    plan = plan_of(cfg, network="")
    assert ops(plan, "parent")[-5:] == ["net_open", "net_check_devices", "net_move_device", "net_move_device",
                                        "release_init"]
    moves = [s.args for s in plan.phases["parent"] if s.op == "net_move_device"]
    assert moves == [("eth1", "ctr%d"), ("eth2", "eth2")]
    assert not any(s.op.startswith("net_") for s in plan.phases["runtime"])


def test_a_network_namespace_unshared_after_joins_is_set_up_when_the_init_asks():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "uts"] + [
        {"type": "uts", "path": "/proc/1/ns/uts"}]
    cfg.pop("hostname", None)
    plan = plan_of(cfg, network="bridge")
    names = ops(plan, "namespaces")
    assert names[names.index("unshare") + 1] == "request_network"
    assert [s.op for s in plan.on("parent", "network")] == ["net_open", "net_veth", "net_configure"]
    assert not [s for s in plan.on("parent", "") if s.op.startswith("net_")]


def test_an_ipv6_subnet_adds_its_arguments_and_a_nat6_step():
    cfg = default_config()
    cfg["annotations"] = BRIDGE | {"org.pyrunc.network.subnet6": "fd87::/64"}
    plan = plan_of(cfg)
    args = {s.op: s.args for _, s in plan.steps() if s.op.startswith("net_")}
    assert args["net_allocate"][4:] == ("fd87::/64",) and args["net_bridge"][2:] == ("fd87::1/64",)
    assert args["net_nat6"] == ("pyrunc0", "fd87::/64") and args["net_configure"] == ("10.87.0.1/24", "fd87::1/64")
    runtime = ops(plan, "runtime")
    assert runtime.index("net_bridge") < runtime.index("net_nat6") < runtime.index("net_nat")  # net_nat unlocks


def test_no_network_no_steps():
    plan = plan_of(default_config())
    assert not any(s.op.startswith("net_") for _, s in plan.steps())


@pytest.mark.parametrize(("change", "opts", "message"), [
    (lambda c: c.update(default_config(rootless=True), annotations=BRIDGE) or c["linux"]["namespaces"].append(
        {"type": "network"}), {"rootless": True}, "needs CAP_NET_ADMIN"),
    (lambda c: c["linux"].update(namespaces=[{"type": "mount"}]), {"network": "bridge"},
     "needs a network namespace"),
    (lambda c: c["linux"].update(namespaces=[{"type": "mount"}, {"type": "network", "path": "/run/netns/x"}]),
     {"network": "bridge"}, "needs a new network namespace"),
    (lambda c: None, {"network": "overlay"}, "--network: unknown network 'overlay'"),
    (lambda c: None, {"publish": ("80:80",)}, "--publish: needs --network bridge"),
    (lambda c: None, {"network": "bridge", "publish": ("80",)}, "is not HOST:CONTAINER"),
    (lambda c: None, {"network": "bridge", "publish": ("80:80/sctp",)}, "is not HOST:CONTAINER"),
    (lambda c: None, {"network": "bridge", "publish": ("80:80", "80:81")}, "published twice"),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.subnet": "10.0.0.0/31"}), {}, "has no room"),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.subnet6": "fd87::/121"}), {},
     "subnet6: fd87::/121 is smaller than 10.87.0.0/24"),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.subnet6": "10.0.0.0/8"}), {}, "subnet6: "),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.subnet": "10.0.0.1/24"}), {},
     "has host bits set"),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.bridge": "a-name-far-too-long"}), {},
     "is not a valid interface name"),
    (lambda c: c["linux"].update(netDevices={"eth1": {"name": "x/y"}}), {}, "is not a valid interface name"),
    (lambda c: c["linux"].update(netDevices={"eth1": {"name": "a b"}}), {}, "is not a valid interface name"),
    (lambda c: c.update(annotations=BRIDGE | {"org.pyrunc.network.bridge": 'br"x'}), {},
     "network.bridge: 'br\"x' is not a valid interface name"),
])
def test_refusals(change, opts, message):
    cfg = default_config()
    change(cfg)
    with pytest.raises(PyruncError, match=message):
        plan_of(cfg, **opts)


def test_delete_releases_the_bridge_share():
    record = {"network": {"bridge": "pyrunc0", "veth": "pv00000000", "subnet": "10.87.0.0/24"}}
    steps = [s.op for s in lifecycle.plan_teardown(record).phases["delete"]]
    assert steps == ["net_release", "remove_state"]
    assert "net_release" not in [s.op for s in lifecycle.plan_teardown({}).phases["delete"]]


def _imports(annotations: dict) -> set[str]:
    """The modules a create's planning and a delete's load for this config, under -X importtime."""
    code = (
        "import sys\n"
        "from pyrunc import cli, create, lifecycle\n"
        "from pyrunc.plan import Options, build\n"
        "from pyrunc.specgen import default_config\n"
        f"cfg = default_config() | {{'annotations': {annotations!r}}}\n"
        "plan, _ = build(cfg, '/r', Options(container_id='c'), {})\n"
        "record = {'network': {'bridge': 'b', 'veth': 'v'}} if plan.has('net_allocate') else {}\n"
        "lifecycle.plan_teardown(record)\n"
    )
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True,
                       cwd="/")  # the installed package, not the source tree
    return {line.rpartition("|")[2].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}


def test_a_plain_container_never_imports_the_network_and_a_networked_one_only_plans_without_pyroute2():
    """pyroute2 costs more than a whole run: only the steps of a container with networking load it."""
    plain = _imports({})
    assert "pyrunc.create" in plain and "pyrunc.network" not in plain and not any("pyroute2" in m for m in plain)
    networked = _imports(BRIDGE)
    assert "pyrunc.network" in networked and not any("pyroute2" in m for m in networked)


def test_name_files_the_image_lacks_are_written_then_bind_mounted():
    cfg = default_config()
    plan = plan_of(cfg, network="bridge", etc_missing=("hosts", "resolv.conf"), state_dir="/run/pyrunc/c1")
    (write,) = [s for s in plan.phases["runtime"] if s.op == "net_etc_files"]
    assert write.args == (("hosts", "resolv.conf"), "pyrunc")
    runtime = ops(plan, "runtime")
    assert runtime.index("net_nat") < runtime.index("net_etc_files")
    binds = [s for s in plan.phases["rootfs"] if s.source == "annotations.org.pyrunc.network"]
    assert [s.args[0] for s in binds] == ["/run/pyrunc/c1/hosts", "/run/pyrunc/c1/resolv.conf"]
    assert [s.args[2] for s in binds] == ["/etc/hosts", "/etc/resolv.conf"]
    assert not [s for _, s in plan_of(cfg, etc_missing=("hosts",)).steps() if s.op == "net_etc_files"]
