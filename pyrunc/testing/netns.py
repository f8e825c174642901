"""A stand-in for the host's network: tests that make bridges, veths, nftables tables or flip ip_forward
do it in network namespaces of their own, never in the real host's.

    host = StandIn(rt, workdir)           # the stand-in host, the outside, and host.rt: rt run in the stand-in
    host.adopt(c)                         # c's runtime calls run in the stand-in
    host.host.sh("ping -c1 10.87.0.2")    # the host's side, from the stand-in
    found = host.close()                  # deletes what it adopted; what the network left in the stand-in

The stand-in is a network namespace held by a sleeping process; the runtime runs in it through an
`nsenter --net` wrapper, so the bridge, ip_forward and the ruleset it touches are the stand-in's (they
are per namespace). A third namespace plays "the outside", joined to the stand-in by a veth pair
(192.0.2.1 / fd00:2::1 on the stand-in, 192.0.2.2 / fd00:2::2 outside): no traffic leaves the namespaces
the test made. `host_facts()` is what must not change on the real host; the `net_host` fixture compares
it before and after.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .bundle import wait_for
from .runtime import Runtime

HOST, OUTSIDE = "192.0.2.1", "192.0.2.2"
HOST6, OUTSIDE6 = "fd00:2::1", "fd00:2::2"
SETTINGS = ("grep -r . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/route_localnet "
            "/proc/sys/net/ipv6/conf/all/forwarding")


def netns_inode(pid: int | str = "self") -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def host_facts() -> tuple[list[str], str, str]:
    """What must not change on the real host: its links, the settings the network touches
    (ip_forward, each link's route_localnet, IPv6 forwarding) and the nftables ruleset."""
    nft = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    settings = subprocess.run(["sh", "-c", SETTINGS], capture_output=True, text=True).stdout
    return (sorted(os.listdir("/sys/class/net")), settings, nft)


class Namespace:
    """A network namespace held by a sleeping process; commands run in it through nsenter."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        own = netns_inode()
        wait_for(lambda: netns_inode(self.proc.pid) != own, what="a new network namespace")
        self.path = f"/proc/{self.proc.pid}/ns/net"
        self.sh("ip link set lo up")

    def run(self, *cmd: str, **kwargs) -> subprocess.CompletedProcess:
        """cmd in this namespace (nsenter --net), its output captured as text."""
        return subprocess.run(["nsenter", f"--net={self.path}", *cmd], capture_output=True, text=True,
                              timeout=30, **kwargs)

    def sh(self, cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        r = self.run("sh", "-c", cmd)
        assert not check or r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r

    def links(self) -> list[str]:
        """By netlink: /sys/class/net shows the namespace of whoever mounted /sys (the real host)."""
        lines = self.sh("ip -o link").stdout.splitlines()
        return sorted(line.split(":")[1].strip().partition("@")[0] for line in lines)

    def nft(self) -> str:
        return self.sh("nft list ruleset").stdout

    def forward(self) -> str:
        return self.sh("cat /proc/sys/net/ipv4/ip_forward").stdout.strip()

    def settings(self) -> str:
        """ip_forward and every link's route_localnet, as /proc/sys/net shows them in this namespace."""
        return self.sh(SETTINGS).stdout

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class StandIn:
    """The stand-in host, the outside, and `rt`: the runtime under test run in the stand-in (its
    wrapper is workdir/bin/<the runtime's name>, so `rt.exe` can be handed to any driver)."""

    def __init__(self, rt: Runtime, workdir: Path):
        self.host, self.outside = Namespace(), Namespace()
        assert netns_inode(self.host.proc.pid) != netns_inode()  # never the real host's
        self.host.sh(f"ip link add vout type veth peer name vin netns {self.outside.proc.pid}; "
                     f"ip addr add {HOST}/24 dev vout; ip addr add {HOST6}/64 dev vout nodad; ip link set vout up")
        self.outside.sh(f"ip addr add {OUTSIDE}/24 dev vin; ip addr add {OUTSIDE6}/64 dev vin nodad; "
                        "ip link set vin up")
        wrapper = workdir / "bin" / Path(rt.exe).name
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(f"#!/bin/sh\nexec nsenter --net={self.host.path} {rt.exe} \"$@\"\n")
        wrapper.chmod(0o755)
        self.rt = Runtime(str(wrapper), rt.root, rt.base)
        self.made: list = []
        self.clean = (self.host.links(), self.host.settings())

    def adopt(self, c):
        """The container's runtime calls run in the stand-in, and close() deletes it there."""
        c.rt = self.rt
        self.made.append(c)
        return c

    def delete_adopted(self) -> None:
        for c in self.made:
            self.rt("delete", "--force", c.id)
        self.made.clear()

    def leftovers(self) -> list[str]:
        """What the network left in the stand-in host and the state root."""
        found = []
        if self.host.links() != self.clean[0]:
            found.append(f"links {self.host.links()}")
        if self.host.settings() != self.clean[1]:
            found.append(f"settings {self.host.settings()}")
        if self.host.nft().strip():
            found.append(f"ruleset {self.host.nft()}")
        if (self.rt.root / "@network").exists():
            found.append(f"allocations {os.listdir(self.rt.root / '@network')}")
        return found

    def close(self) -> list[str]:
        """Deletes the adopted containers; returns what was left in the stand-in, then drops it."""
        self.delete_adopted()
        found = self.leftovers()
        self.host.close()
        self.outside.close()
        return found
