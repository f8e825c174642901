"""Planning a container's network beyond `lo`: linux.netDevices and pyrunc's bridge network.

Pure: a config and the command line in, steps out. The steps are performed by netops.NetOps,
the only module that imports pyroute2; a container that asks for none of this loads neither
(plan.wants_network).

The bridge network is chosen by the annotation `org.pyrunc.network: bridge` or `--network bridge`;
`org.pyrunc.network.bridge` names the host bridge (default pyrunc0), `org.pyrunc.network.subnet`
its IPv4 subnet (default 10.87.0.0/24; the bridge holds the first address),
`org.pyrunc.network.subnet6` an IPv6 subnet besides (none by default; a container's address in it has
the host part of its IPv4 address) and
`org.pyrunc.network.publish` the published ports, `HOST:CONTAINER[/tcp|udp]` separated by commas
(`--publish`, repeatable, adds to them).
"""

from pyrunc.errors import PyruncError
from pyrunc.namespaces import Namespaces
from pyrunc.steps import Plan, Step

KEY = "org.pyrunc.network"
DEFAULT_BRIDGE = "pyrunc0"
DEFAULT_SUBNET = "10.87.0.0/24"
IFNAMSIZ = 16  # with its NUL: names are at most 15 bytes


class Bridge:
    """The bridge network's settings for one container."""

    def __init__(self, bridge: str, subnet: str, publish: tuple[tuple[int, int, str], ...], cid: str,
                 subnet6: str = "") -> None:
        import ipaddress
        import zlib

        check_ifname(bridge, f"annotations.{KEY}.bridge", strict=True)
        try:
            net = ipaddress.IPv4Network(subnet)
        except ValueError as e:
            raise PyruncError(f"annotations.{KEY}.subnet: {e}") from None
        if net.num_addresses < 4:
            raise PyruncError(f"annotations.{KEY}.subnet: {subnet} has no room for the bridge and a container")
        self.bridge = bridge
        self.subnet = str(net)
        self.gateway = f"{net.network_address + 1}/{net.prefixlen}"
        self.subnet6 = self.gateway6 = ""
        if subnet6:
            try:
                net6 = ipaddress.IPv6Network(subnet6)
            except ValueError as e:
                raise PyruncError(f"annotations.{KEY}.subnet6: {e}") from None
            if net6.num_addresses < net.num_addresses:
                raise PyruncError(f"annotations.{KEY}.subnet6: {subnet6} is smaller than {subnet}")
            self.subnet6 = str(net6)
            self.gateway6 = f"{net6.network_address + 1}/{net6.prefixlen}"
        self.publish = publish
        self.veth = f"pv{zlib.crc32(cid.encode()):08x}"  # the host's end; a container id may be longer


def check_ifname(name: str, where: str, strict: bool = False) -> None:
    """The kernel's rule (at most 15 bytes, no `/` or white space, not `.` or `..`); `strict`, for
    the bridge, whose name is also part of an nftables table name: letters, digits, `_`, `-`, `.`."""
    bad = not name or len(name.encode()) >= IFNAMSIZ or name in (".", "..") or any(
        c == "/" or c.isspace() for c in name)
    if bad or (strict and not all(c.isascii() and (c.isalnum() or c in "_-.") for c in name)):
        raise PyruncError(f"{where}: {name!r} is not a valid interface name")


def parse_publish(text: str, where: str) -> tuple[int, int, str]:
    """HOST:CONTAINER[/tcp|udp] -> (host port, container port, protocol)."""
    ports, _, proto = text.strip().partition("/")
    proto = proto or "tcp"
    host, sep, inside = ports.partition(":")
    if not sep or proto not in ("tcp", "udp") or not host.isdigit() or not inside.isdigit() \
            or not (0 < int(host) < 65536 and 0 < int(inside) < 65536):
        raise PyruncError(f"{where}: {text!r} is not HOST:CONTAINER[/tcp|udp]")
    return int(host), int(inside), proto


def bridge_settings(annotations: dict, network: str, publish: list[str], cid: str) -> Bridge | None:
    """The command line's --network/--publish over the config's annotations; None without the bridge."""
    kind = network or annotations.get(KEY, "")
    if kind in ("", "none"):
        if publish:
            raise PyruncError("--publish: needs --network bridge")
        return None
    if kind != "bridge":
        raise PyruncError(f"{'--network' if network else 'annotations.' + KEY}: unknown network {kind!r} "
                          "(pyrunc has `bridge` and `none`)")
    published = [parse_publish(p, f"annotations.{KEY}.publish")
                 for p in (annotations.get(f"{KEY}.publish") or "").split(",") if p.strip()]
    published += [parse_publish(p, "--publish") for p in publish]
    seen = set()
    for host, _, proto in published:
        if (host, proto) in seen:
            raise PyruncError(f"--publish: host port {host}/{proto} is published twice")
        seen.add((host, proto))
    return Bridge(annotations.get(f"{KEY}.bridge") or DEFAULT_BRIDGE, annotations.get(f"{KEY}.subnet")
                  or DEFAULT_SUBNET, tuple(published), cid, annotations.get(f"{KEY}.subnet6") or "")


ETC_FILES = ("hosts", "hostname", "resolv.conf")


def etc_mounts(bridge: Bridge | None, missing: tuple[str, ...], state_dir: str) -> list[tuple[dict, str]]:
    """With the bridge network, the name files the image lacks (or has empty: the mount point a
    previous run left), bind-mounted read-only from the state directory: nothing is written into
    the image but, where it has no such file, the empty mount point (as for any file bind mount)."""
    if bridge is None:
        return []
    return [({"destination": f"/etc/{name}", "type": "bind", "source": f"{state_dir}/{name}",
              "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}, f"annotations.{KEY}")
            for name in ETC_FILES if name in missing]


def plan(plan: Plan, linux: dict, ns: Namespaces, bridge: Bridge | None, rootless: bool,
         etc: tuple[str, ...] = (), hostname: str = "") -> list[Step]:
    """netDevices, then the bridge network: host-side steps before clone (added to `plan`), and
    the container's side, returned: the runtime performs them from outside while the init is
    held (plan.plan_parent), so that the network is there before the container's program runs."""
    devices = linux.get("netDevices") or {}
    if not devices and bridge is None:
        return []
    what = "linux.netDevices" if devices else f"annotations.{KEY}"
    if rootless:
        raise PyruncError(f"{what}: needs CAP_NET_ADMIN in the host's network namespace (rootless)")
    if "network" in ns.joined:
        target = ns.joined["network"]
    elif ns.new & 0x40000000:  # CLONE_NEWNET, made by clone or unshared after the joins: /proc/<pid>/ns/net
        target = ""
    else:
        raise PyruncError(f"{what}: needs a network namespace (linux.namespaces)")
    if bridge is not None and target:
        raise PyruncError(f"annotations.{KEY}: the bridge network needs a new network namespace, not a joined one")
    where = target or "/proc/<pid>/ns/net"
    parent: list[Step] = []
    # A namespace unshared by the init after its joins exists only once it asks (request_network).
    on = "network" if not target and not ns.single_clone else ""

    def add(op: str, args: tuple, text: str, source: str) -> None:
        parent.append(Step("parent", op, args, text, source, on=on))

    if bridge is not None:
        b = bridge
        v6 = (b.subnet6,) if b.subnet6 else ()  # an IPv6 subnet too: its steps take one argument more
        plan.add("runtime", "net_allocate", (b.bridge, b.subnet, b.veth, b.publish, *v6),
                 f"lock <root>/@network/{b.bridge}.json and take a free address of {b.subnet} for the container "
                 + (f"(and the same host part in {b.subnet6}) " if v6 else "") + "(recorded in its state)",
                 f"annotations.{KEY}")
        plan.add("runtime", "net_bridge", (b.bridge, b.gateway, *(b.gateway6,) * bool(v6)),
                 f"unless bridge {b.bridge} exists: ip link add {b.bridge} type bridge; ip addr add {b.gateway} "
                 f"dev {b.bridge}; " + (f"ip addr add {b.gateway6} dev {b.bridge} nodad; " if v6 else "")
                 + f"ip link set {b.bridge} up", f"annotations.{KEY}.bridge")
        if v6:
            plan.add("runtime", "net_nat6", (b.bridge, b.subnet6),
                     "sysctl net.ipv6.conf.all.forwarding=1 (former value kept for the last container's delete); "
                     f"nft: table ip6 pyrunc_{b.bridge} masquerades {b.subnet6} and forwards the published ports",
                     f"annotations.{KEY}.subnet6")
        plan.add("runtime", "net_nat", (b.bridge, b.subnet),
                 f"sysctl net.ipv4.ip_forward=1 net.ipv4.conf.{b.bridge}.route_localnet=1 (former values kept for "
                 f"the last container's delete); nft: table ip pyrunc_{b.bridge} masquerades {b.subnet} and "
                 "forwards the published ports (also on 127.0.0.1), dropping 127.0.0.0/8 from the bridge",
                 f"annotations.{KEY}.subnet")
        if etc:
            plan.add("runtime", "net_etc_files", (etc, hostname), f"write {', '.join(etc)} in the state directory "
                     f"(the container's address as {hostname!r}; the host's resolv.conf without loopback "
                     "nameservers), for the bind mounts below", f"annotations.{KEY}")
    add("net_open", (target,), f"open {where} and a netlink socket in it (pyroute2)", "linux.namespaces")
    if devices:
        names = []
        for host, spec in devices.items():
            check_ifname(host, f"linux.netDevices.{host}")
            name = (spec or {}).get("name") or host
            check_ifname(name.replace("%d", "0"), f"linux.netDevices.{host}.name")
            names.append((host, name))
        add("net_check_devices", (tuple(names),), f"check that the host has {', '.join(h for h, _ in names)} "
            f"and that their names are free in {where}", "linux.netDevices")
        for host, name in names:
            rename = f"; ip link set {host} name {name}" if name != host else ""
            add("net_move_device", (host, name), f"ip link set {host} netns {where}{rename}; add back its "
                f"permanent global addresses; ip link set {name} up", f"linux.netDevices.{host}")
    if bridge is not None:
        b = bridge
        add("net_veth", (b.bridge, b.veth), f"ip link add {b.veth} type veth peer name eth0 netns {where}; "
            f"ip link set {b.veth} master {b.bridge} up", f"annotations.{KEY}")
        add("net_configure", (b.gateway, *(b.gateway6,) * bool(b.subnet6)), "in the container: ip addr add "
            "<address> dev eth0; " + ("ip addr add <address6> dev eth0 nodad; " if b.subnet6 else "")
            + "ip link set eth0 up; ip route add default via " + b.gateway.partition('/')[0]
            + (f"; ip -6 route add default via {b.gateway6.partition('/')[0]}" if b.subnet6 else ""),
            f"annotations.{KEY}")
        if b.publish:
            ports = ", ".join(f"{h}->{c}/{p}" for h, c, p in b.publish)
            add("net_publish", (b.bridge,), f"nft: forward host ports {ports} to the container",
                f"annotations.{KEY}.publish")
    if on:
        steps = plan.phases["namespaces"]
        at = next(i for i, s in enumerate(steps) if s.op in ("unshare", "unshare_user")) + 1
        steps.insert(at, Step("namespaces", "request_network", (), "ask the runtime to set up the new network "
                              "namespace from outside, and wait until it has", ns.source("network")))
    return parent


def plan_teardown(plan: Plan, record: dict) -> None:
    """delete: the bridge network's share of the host; netDevices need nothing (the spec: the
    namespace's end returns physical devices and destroys virtual ones)."""
    net = record.get("network")
    if net:
        plan.add("delete", "net_release", (), f"ip link del {net['veth']}; nft: remove its published ports; "
                 f"free its address in <root>/@network/{net['bridge']}.json; the last container removes bridge "
                 f"{net['bridge']}, table ip pyrunc_{net['bridge']} and restores net.ipv4.ip_forward (and the bridge's "
                 "route_localnet if the bridge is the host's)",
                 f"annotations.{KEY}")
