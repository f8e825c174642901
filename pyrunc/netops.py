"""Performs network.py's steps: netlink through pyroute2, NAT through nftables.

pyroute2 costs more to import (about 170 ms here) than a whole `pyrunc run`, so it is imported by
the first step that needs it, never by a container without networking. A netlink socket belongs
to the namespace it was made in: the container's is made after setns into it, then the runtime
goes back (only this thread changes namespace; the init is held meanwhile).

NAT is nftables, through Debian's `nft` (the nftables package): one table per bridge, `ip
pyrunc_<bridge>`, holding the masquerade rule and a map of the published ports, so a container's
ports are map elements added and deleted by key and the last container drops the whole table.
iptables on Debian 12 is nftables underneath (iptables-nft) and would add a second tool and rule
set for no gain; pyroute2's nftables module has no masquerade or NAT-map expressions, so rules
written through it would be netlink messages assembled by hand.

The addresses of a bridge are allocated in <root>/@network/<bridge>.json, under a lock on
<root>/@network/<bridge>.lock held from allocation until the bridge and NAT exist (and by delete
while it removes them), so that the last container's delete and a new container's create cannot
interleave.
"""

import errno
import os
import socket
import subprocess

from pyrunc import jsonio, native, procfs, uapi
from pyrunc.errors import PyruncError

FORWARD = "sys/net/ipv4/ip_forward"
FORWARD6 = "sys/net/ipv6/conf/all/forwarding"
IFA_F_NODAD = 0x02  # an address of ours: no duplicate detection to wait for
OWN_NETNS = "/proc/self/ns/net"
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0


def _iproute():
    from pyroute2 import IPRoute

    return IPRoute()


def _nft(script: str, what: str) -> None:
    try:
        r = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    except FileNotFoundError:
        raise PyruncError(f"{what}: nft not found (Debian's nftables package)") from None
    if r.returncode != 0:
        raise PyruncError(f"{what}: nft: {' '.join(r.stderr.split())}")


def nat_table(bridge: str, subnet: str) -> str:
    """The bridge's table: masquerade what leaves the subnet by another link; DNAT the published
    ports, for traffic coming in (prerouting) and from the host itself (output), 127.0.0.1
    included: such a packet leaves by the bridge from 127.0.0.1 (allowed by route_localnet on the
    bridge, net_nat) and is masqueraded to the bridge's address, so that the container's answer
    comes back to the host. `guard` drops, before conntrack's NAT, what a container sends to or
    from 127.0.0.0/8: route_localnet would otherwise let it reach the host's loopback services."""
    dnat = "fib daddr type local dnat ip to meta l4proto . th dport map @publish"
    dev = f'"{bridge}"'
    return (f"table ip pyrunc_{bridge} {{\n"
            "  map publish { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
            "  chain guard { type filter hook prerouting priority raw; policy accept; "
            f"iifname {dev} ip daddr 127.0.0.0/8 drop; iifname {dev} ip saddr 127.0.0.0/8 drop; }}\n"
            f"  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; {dnat}; }}\n"
            f"  chain output {{ type nat hook output priority -100; policy accept; {dnat}; }}\n"
            "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; "
            f"ip saddr {subnet} oifname != {dev} masquerade; ip saddr 127.0.0.0/8 oifname {dev} masquerade; }}\n}}\n")


def nat6_table(bridge: str, subnet6: str) -> str:
    """The IPv6 twin of nat_table, without the 127.0.0.1 part (IPv6 has no route_localnet: ports
    published on ::1 do not answer)."""
    dnat = "fib daddr type local dnat ip6 to meta l4proto . th dport map @publish"
    return (f"table ip6 pyrunc_{bridge} {{\n"
            "  map publish { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
            f"  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; {dnat}; }}\n"
            f"  chain output {{ type nat hook output priority -100; policy accept; {dnat}; }}\n"
            "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; "
            f"ip6 saddr {subnet6} oifname != \"{bridge}\" masquerade; }}\n}}\n")


def _localnet(bridge: str) -> str:
    return f"sys/net/ipv4/conf/{bridge}/route_localnet"


class Allocation:
    """<root>/@network/<bridge>.json: the subnet, each container's address, and what the first
    container made (bridge, NAT, the former ip_forward) for the last one to undo."""

    def __init__(self, root: str, bridge: str) -> None:
        self.dir = os.path.join(root, "@network")  # `@` is in no container id (state.validate_id)
        self.path = os.path.join(self.dir, f"{bridge}.json")
        self.lock_path = os.path.join(self.dir, f"{bridge}.lock")
        self.fd = -1
        self.data: dict = {}

    def lock(self) -> "Allocation":
        """The last container's delete removes the lock file and the directory: a lock taken on a
        file no longer at its path is taken again."""
        while True:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                continue
            os.lockf(fd, os.F_LOCK, 0)
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self.fd = fd
        try:
            with open(self.path, encoding="utf-8") as f:
                self.data = jsonio.loads(f.read())
        except FileNotFoundError:
            self.data = {"containers": {}}
        return self

    def save(self) -> None:
        """Atomically; with no container left, the files and the directory go."""
        if not self.data["containers"]:
            for path in (self.path, self.lock_path):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            try:
                os.rmdir(self.dir)
            except OSError:
                pass  # another bridge's files
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(jsonio.dumps(self.data))
        os.replace(tmp, self.path)

    def unlock(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class NetOps:
    """The network's steps, for the runtime (create) and for delete. `record` is the container's
    state record (its "network" entry is what delete undoes); `save` writes it at once."""

    def __init__(self, root: str, cid: str, record: dict, save=lambda: None, pid=lambda: 0) -> None:
        self.root = root
        self.cid = cid
        self.record = record
        self.save = save
        self.pid = pid  # the init's pid, once cloned
        self.alloc: Allocation | None = None
        self._host = None
        self._inside = None
        self._nsfd = -1

    def perform(self, op: str):
        """The method of step `op`, with pyroute2's errors as the OSError the executor reports."""
        method = getattr(self, op)

        def call(*args) -> None:
            from pyroute2.netlink.exceptions import NetlinkError

            try:
                method(*args)
            except NetlinkError as e:
                raise OSError(e.code, os.strerror(e.code)) from None

        return call

    def host(self):
        if self._host is None:
            self._host = _iproute()
        return self._host

    def close(self) -> None:
        """Once the container is set up: a netlink socket and an fd in its namespace would keep the
        namespace (and the devices in it) alive after the container, until the runtime exits."""
        for ipr in (self._inside, self._host):
            if ipr is not None:
                ipr.close()
        self._inside = self._host = None
        if self._nsfd >= 0:
            os.close(self._nsfd)
            self._nsfd = -1

    # -- the bridge, before clone ---------------------------------------------------------------
    def net_allocate(self, bridge: str, subnet: str, veth: str, publish: tuple, subnet6: str = "") -> None:
        import ipaddress

        self.alloc = a = Allocation(self.root, bridge).lock()
        d = a.data
        for key, value in (("subnet", subnet), ("subnet6", subnet6)):
            if d.setdefault(key, value) != value:
                raise PyruncError(f"annotations.org.pyrunc.network.{key}: bridge {bridge} is in use with {key} "
                                  f"{d[key] or 'none'}, not {value or 'none'}")
        net = ipaddress.IPv4Network(subnet)
        used = set(d["containers"].values())
        hosts = net.hosts()
        next(hosts)  # the bridge's
        free = next((str(h) for h in hosts if str(h) not in used), None)
        if free is None:
            raise PyruncError(f"annotations.org.pyrunc.network.subnet: {subnet} is exhausted: no free address for "
                              f"a container on bridge {bridge}")
        self.record["network"] = {"bridge": bridge, "subnet": subnet, "veth": veth, "netns": os.readlink(OWN_NETNS),
                                  "address": f"{free}/{net.prefixlen}", "publish": [list(p) for p in publish]}
        if subnet6:
            net6 = ipaddress.IPv6Network(subnet6)
            host = int(ipaddress.IPv4Address(free)) - int(net.network_address)
            self.record["network"]["address6"] = f"{net6.network_address + host}/{net6.prefixlen}"
        self.save()  # first the container's record, so that delete frees what is taken next
        d["containers"][self.cid] = free
        a.save()

    def net_bridge(self, bridge: str, gateway: str, gateway6: str = "") -> None:
        ipr = self.host()
        found = ipr.link_lookup(ifname=bridge)
        if found:
            kind = _kind(ipr.get_links(found[0])[0])
            if kind != "bridge":
                raise PyruncError(f"annotations.org.pyrunc.network.bridge: {bridge} is taken by a link that is "
                                  f"not a bridge ({kind or 'no kind'})")
            index = found[0]
        else:  # recorded first (as all that follows), so that a runtime killed right after leaves it to delete
            self.alloc.data["bridge_made"] = True
            self.alloc.save()
            ipr.link("add", ifname=bridge, kind="bridge")
            (index,) = ipr.link_lookup(ifname=bridge)
        address, _, prefix = gateway.partition("/")
        if not ipr.get_addr(index=index, address=address):  # a bridge of the host's: the last container removes it
            self.alloc.data.setdefault("gateway_added", gateway)
            self.alloc.save()
            ipr.addr("add", index=index, address=address, prefixlen=int(prefix))
        address6, _, prefix6 = gateway6.partition("/")
        if gateway6 and not ipr.get_addr(index=index, address=address6):
            self.alloc.data.setdefault("gateway6_added", gateway6)
            self.alloc.save()
            ipr.addr("add", index=index, address=address6, prefixlen=int(prefix6), flags=IFA_F_NODAD)
        ipr.link("set", index=index, state="up")

    def _turn_on(self, key: str, path: str) -> None:
        """Write 1 to the sysctl `path`, its former value recorded first under `key` (once, by the
        bridge's first container) so that the last one to leave restores it."""
        d = self.alloc.data
        if key not in d:
            procfs.open_handle()
            d[key] = procfs.read(path).strip()
            self.alloc.save()
            procfs.write(path, "1")

    def _make_table(self, key: str, table: str, name: str) -> None:
        """The nft table, recorded under `key` before it is made (a crash leaves delete the record)."""
        if not self.alloc.data.get(key):
            self.alloc.data[key] = True
            self.alloc.save()
            _nft(table, name)

    def net_nat6(self, bridge: str, subnet6: str) -> None:
        self._turn_on("forward6", FORWARD6)
        self._make_table("nat6_made", nat6_table(bridge, subnet6), f"table ip6 pyrunc_{bridge}")

    def net_nat(self, bridge: str, subnet: str) -> None:
        self._turn_on("forward", FORWARD)
        self._turn_on("localnet", _localnet(bridge))  # published ports on 127.0.0.1 (nat_table); the bridge's only
        self._make_table("nat_made", nat_table(bridge, subnet), f"table ip pyrunc_{bridge}")
        self.alloc.unlock()

    def net_etc_files(self, names: tuple, hostname: str) -> None:
        """In the state directory, for the init to bind-mount (network.etc_mounts)."""
        address = self.record["network"]["address"].partition("/")[0]
        net = self.record["network"]
        six = f"{net['address6'].partition('/')[0]}\t{hostname}\n" if net.get("address6") else ""
        texts = {"hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{address}\t{hostname}\n"
                 + six,
                 "hostname": f"{hostname}\n", "resolv.conf": _resolv_conf()}
        for name in names:
            with open(os.path.join(self.root, self.cid, name), "w", encoding="utf-8") as f:
                f.write(texts[name])

    # -- the container's namespace, from outside ---------------------------------------------------
    def net_open(self, target: str) -> None:
        self._nsfd = os.open(target or f"/proc/{self.pid()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.host()
        own = os.open(OWN_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            native.setns(self._nsfd, uapi.CLONE_NEWNET)
            try:
                self._inside = _iproute()
            finally:
                native.setns(own, uapi.CLONE_NEWNET)
        finally:
            os.close(own)

    def net_check_devices(self, names: tuple) -> None:
        """Before anything moves: every device exists, and no name is taken (a %d template lets
        the kernel choose)."""
        for host, name in names:
            if not self.host().link_lookup(ifname=host):
                raise PyruncError(f"linux.netDevices.{host}: no such network device on the host")
            if "%d" not in name and self._inside.link_lookup(ifname=name):
                raise PyruncError(f"linux.netDevices.{host}.name: {name} exists in the container's network "
                                  "namespace")

    def net_move_device(self, host: str, name: str) -> None:
        """The kernel drops a device's addresses when it changes namespace: its permanent global
        ones (config-linux.md) are read first and added back inside."""
        ipr, inside = self.host(), self._inside
        (index,) = ipr.link_lookup(ifname=host)
        keep = [(m["family"], m.get("IFA_ADDRESS") or m.get("IFA_LOCAL"), m["prefixlen"], m.get("IFA_BROADCAST"))
                for m in ipr.get_addr(index=index)
                if (m.get("IFA_FLAGS") or m["flags"]) & IFA_F_PERMANENT and m["scope"] == RT_SCOPE_UNIVERSE]
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            ipr.link("set", index=index, net_ns_fd=self._nsfd)
        except NetlinkError as e:
            if e.code != errno.EINVAL:
                raise
            raise PyruncError(f"linux.netDevices.{host}: the kernel refuses to move it to another network namespace "
                              "(a device local to its namespace, such as a bridge)") from None
        (index,) = inside.link_lookup(ifname=host)
        if name != host:
            inside.link("set", index=index, ifname=name)
        for family, address, prefix, broadcast in keep:
            extra = {"broadcast": broadcast} if broadcast else {}
            inside.addr("add", index=index, family=family, address=address, prefixlen=prefix, **extra)
        inside.link("set", index=index, state="up")

    def net_veth(self, bridge: str, veth: str) -> None:
        ipr = self.host()
        ipr.link("add", ifname=veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": self._nsfd})
        (index,) = ipr.link_lookup(ifname=veth)
        (master,) = ipr.link_lookup(ifname=bridge)
        ipr.link("set", index=index, master=master, state="up")

    def net_configure(self, gateway: str, gateway6: str = "") -> None:
        inside = self._inside
        (index,) = inside.link_lookup(ifname="eth0")
        address, _, prefix = self.record["network"]["address"].partition("/")
        inside.addr("add", index=index, address=address, prefixlen=int(prefix))
        if gateway6:
            address6, _, prefix6 = self.record["network"]["address6"].partition("/")
            inside.addr("add", index=index, address=address6, prefixlen=int(prefix6), flags=IFA_F_NODAD)
        inside.link("set", index=index, state="up")
        inside.route("add", dst="0.0.0.0/0", gateway=gateway.partition("/")[0])
        if gateway6:
            inside.route("add", dst="::/0", gateway=gateway6.partition("/")[0], family=socket.AF_INET6)

    def net_publish(self, bridge: str) -> None:
        net = self.record["network"]
        address = net["address"].partition("/")[0]
        elements = ", ".join(f"{proto} . {host} : {address} . {inside}" for host, inside, proto in net["publish"])
        script = f"add element ip pyrunc_{bridge} publish {{ {elements} }}\n"
        if net.get("address6"):
            address6 = net["address6"].partition("/")[0]
            elements = ", ".join(f"{proto} . {host} : {address6} . {inside}" for host, inside, proto in net["publish"])
            script += f"add element ip6 pyrunc_{bridge} publish {{ {elements} }}\n"
        _nft(script, "org.pyrunc.network.publish")

    # -- delete ---------------------------------------------------------------------------------
    def net_release(self) -> None:
        """Undo the container's share, whatever of it exists (after a crash, part of it may not);
        the last container of the bridge undoes what the first made."""
        net = self.record.get("network")
        if not net:
            return
        bridge = net["bridge"]
        if net.get("netns", "") != os.readlink(OWN_NETNS):  # its bridge, NAT and ip_forward are not here
            raise PyruncError(f"the container's network was made in network namespace {net.get('netns')}, not "
                              f"this {os.readlink(OWN_NETNS)}: delete it from there")
        a = Allocation(self.root, bridge).lock()
        try:
            keys = ", ".join(f"{proto} . {host}" for host, _, proto in net.get("publish") or ())
            for family, made in (("ip", "nat_made"), ("ip6", "nat6_made")):
                if keys and a.data.get(made):
                    try:
                        _nft(f"delete element {family} pyrunc_{bridge} publish {{ {keys} }}\n",
                             "org.pyrunc.network.publish")
                    except PyruncError:
                        pass  # not added yet when create failed or crashed before net_publish
            ipr = self.host()
            for index in ipr.link_lookup(ifname=net["veth"]):
                _ignore_missing(ipr.link, "del", index=index)
            a.data["containers"].pop(self.cid, None)
            if not a.data["containers"]:
                self._last(a.data, bridge)
            a.save()
        finally:
            a.unlock()

    def _last(self, d: dict, bridge: str) -> None:
        for family, made in (("ip", "nat_made"), ("ip6", "nat6_made")):
            if d.get(made):
                try:
                    _nft(f"delete table {family} pyrunc_{bridge}\n", f"table {family} pyrunc_{bridge}")
                except PyruncError as e:
                    if "No such file or directory" not in e.message:  # never made: killed before, or nft failed
                        raise
        for key, path in (("forward", FORWARD), ("forward6", FORWARD6)):
            if key in d and d[key] != "1":
                procfs.open_handle()
                procfs.write(path, d[key])
        ipr = self.host()
        for index in ipr.link_lookup(ifname=bridge):
            if d.get("localnet", "1") != "1" and not d.get("bridge_made"):  # a bridge of the host's
                procfs.open_handle()
                procfs.write(_localnet(bridge), d["localnet"])
            if d.get("bridge_made"):
                _ignore_missing(ipr.link, "del", index=index)
            else:
                for key in ("gateway_added", "gateway6_added"):
                    if d.get(key):
                        address, _, prefix = d[key].partition("/")
                        _ignore_missing(ipr.addr, "del", index=index, address=address, prefixlen=int(prefix))


def _resolv_conf() -> str:
    """The host's, without the nameservers on its loopback (a local resolver the container, in its
    own network namespace, cannot reach)."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if not (line.split()[:1] == ["nameserver"] and len(line.split()) > 1
                                           and line.split()[1].startswith(("127.", "::1")))]
    return "".join(line + "\n" for line in kept)


def _kind(link) -> str:
    info = link.get("IFLA_LINKINFO")
    return (info.get("IFLA_INFO_KIND") if info else "") or ""


def _ignore_missing(call, *args, **kwargs) -> None:
    """A veth goes with its peer: the namespace's end may have taken it already."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        call(*args, **kwargs)
    except (OSError, NetlinkError) as e:
        if (e.code if isinstance(e, NetlinkError) else e.errno) not in (errno.ENODEV, errno.ENOENT,
                                                                        errno.EADDRNOTAVAIL):
            raise
