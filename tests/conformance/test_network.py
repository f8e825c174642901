"""The network beyond `lo`: linux.netDevices and pyrunc's bridge network, with real containers.

The runtime never runs in the host's network namespace here: each test makes one that stands in for
the host (the bridge, ip_forward and the nftables ruleset are per namespace) and runs the runtime in it
through nsenter, and a third that plays "the outside", joined to the stand-in by a veth pair
(192.0.2.1 on the stand-in, 192.0.2.2 outside). No traffic leaves the namespaces the test made. The
real host's links, ip_forward and ruleset are compared before and after. All of that is the kit's
`net_host` fixture (pyrunc.testing.netns), shared with the net lab's test."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.test_explain_steps import steps_by_process
from pyrunc.steps import REQUESTS
from pyrunc.testing.bundle import wait_for
from pyrunc.testing.netns import HOST, HOST6, OUTSIDE, OUTSIDE6, Namespace

pytestmark = pytest.mark.root

GATEWAY = "10.87.0.1"
BB = "/bin/busybox"


class Lab:
    """The stand-in host (the `net_host` fixture) and the containers whose runtime runs in it."""

    def __init__(self, net_host, container):
        self.net, self.factory = net_host, container
        self.host, self.outside, self.rt = net_host.host, net_host.outside, net_host.rt

    def container(self, *args, network=True, annotations=None):
        """A container whose runtime calls run in the stand-in host; NET_RAW for ping."""
        c = self.net.adopt(self.factory(*args))
        for caps in c.config["process"]["capabilities"].values():
            caps.append("CAP_NET_RAW")
        if network or annotations:
            c.config["annotations"] = {"org.pyrunc.network": "bridge"} if network else {}
            c.config["annotations"] |= annotations or {}
        return c

    def exec(self, c, *cmd):
        return self.rt("exec", c.id, BB, *cmd)

    def leftovers(self):
        return self.net.leftovers()


@pytest.fixture
def lab(rt, net_host, container):
    rt.only_pyrunc("the bridge network (org.pyrunc.network)")
    return Lab(net_host, container)


def _tree(top: Path) -> dict:
    """Every entry under top: its type, size and content (for files), for an unchanged-image check."""
    return {str(p.relative_to(top)): (p.is_symlink(), p.is_file() and p.read_bytes()) for p in top.rglob("*")}


def seen_outside(lab, c, address: str, family: str = "AF_INET") -> list[str]:
    """[source address, text] as a listener in the outside namespace sees the container's `hi` to
    address:9000."""
    listener = subprocess.Popen(["nsenter", f"--net={lab.outside.path}", sys.executable, "-c",
                                 f"import socket; s = socket.socket(socket.{family}); s.bind(('', 9000)); s.listen(); "
                                 "print('ready', flush=True); c, a = s.accept(); print(a[0], c.recv(10).decode())"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        r = lab.rt("exec", c.id, BB, "sh", "-c", f"echo hi | {BB} nc -w 3 {address} 9000")
        assert r.rc == 0, r
        out, _ = listener.communicate(timeout=10)
    finally:
        listener.kill()
    return out.split()


def test_bridge_container_and_host_reach_each_other_and_the_outside(lab):
    c = lab.container(BB, "sleep", "60")
    image = _tree(c.rootfs)
    c.started()
    assert lab.host.forward() == "1"
    r = lab.exec(c, "ip", "-4", "-o", "addr", "show", "eth0")
    assert "10.87.0.2/24" in r.out, r
    r = lab.exec(c, "ip", "route")
    assert f"default via {GATEWAY}" in r.out, r
    r = lab.exec(c, "ping", "-c1", "-W3", GATEWAY)
    assert r.rc == 0, r
    assert lab.host.sh(f"{BB} ping -c1 -W3 10.87.0.2", check=False).returncode == 0
    # the outside sees the stand-in host's address as the source (masquerade)
    assert seen_outside(lab, c, OUTSIDE) == [HOST, "hi"]
    # name resolution: the image has no /etc/hosts, hostname or resolv.conf; the state directory's are mounted
    assert lab.exec(c, "cat", "/etc/hosts").out.splitlines()[-1] == "10.87.0.2\trunc"
    assert lab.exec(c, "cat", "/etc/hostname").out == "runc\n"
    assert lab.exec(c, "cat", "/etc/resolv.conf").rc == 0
    r = c.delete("--force")
    assert r.rc == 0, r
    assert lab.leftovers() == []
    # nothing written into the image: the only change is the empty mount points of the name files
    assert _tree(c.rootfs) == image | {f"etc/{name}": (False, b"") for name in ("hosts", "hostname", "resolv.conf")}


def test_ipv6_on_the_bridge(lab):
    """org.pyrunc.network.subnet6: the container's address has its IPv4 host part; pings both ways,
    the outside reached through the masquerade, a published port from the outside."""
    c = lab.container(BB, "httpd", "-f", "-p", "80", "-h", "/etc",
                      annotations={"org.pyrunc.network.subnet6": "fd87::/64", "org.pyrunc.network.publish": "8080:80"})
    c.started()
    assert lab.host.sh("cat /proc/sys/net/ipv6/conf/all/forwarding").stdout == "1\n"
    assert "fd87::2/64" in lab.exec(c, "ip", "-6", "-o", "addr", "show", "eth0").out
    assert "default via fd87::1" in lab.exec(c, "ip", "-6", "route").out
    r = lab.exec(c, "ping6", "-c1", "-W3", "fd87::1")
    assert r.rc == 0, r
    assert lab.host.sh(f"{BB} ping6 -c1 -W3 fd87::2", check=False).returncode == 0
    assert lab.exec(c, "cat", "/etc/hosts").out.splitlines()[-1] == "fd87::2\trunc"
    assert seen_outside(lab, c, OUTSIDE6, "AF_INET6") == [HOST6, "hi"]  # masqueraded
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://[{HOST6}]:8080/passwd', timeout=3).read())"
    r = subprocess.run(["nsenter", f"--net={lab.outside.path}", sys.executable, "-c", fetch], capture_output=True,
                       text=True)
    assert "root:x:0:0" in r.stdout, r
    assert c.delete("--force").rc == 0
    assert lab.leftovers() == []


def test_image_name_files_are_kept_and_run_takes_network_bridge(lab):
    c = lab.container("sh", "-c", "cat /etc/hosts /etc/hostname; ip -4 -o addr show eth0", network=False)
    (c.rootfs / "etc/hosts").write_text("10.1.1.1 mine\n")
    (c.rootfs / "etc/hostname").write_text("mine\n")
    r = c.run("--network", "bridge")
    assert r.rc == 0 and r.out.startswith("10.1.1.1 mine\nmine\n") and "10.87.0.2/24" in r.out, r
    assert lab.leftovers() == []  # run deletes the container, and its network with it


def test_two_containers_on_the_bridge_reach_each_other(lab):
    a, b = lab.container(BB, "sleep", "60"), lab.container(BB, "sleep", "60")
    a.started()
    b.started()
    assert "10.87.0.3/24" in lab.exec(b, "ip", "-4", "-o", "addr", "show", "eth0").out
    r = lab.exec(a, "ping", "-c1", "-W3", "10.87.0.3")
    assert r.rc == 0, r
    r = lab.exec(b, "ping", "-c1", "-W3", "10.87.0.2")
    assert r.rc == 0, r
    allocation = json.loads((lab.rt.root / "@network" / "pyrunc0.json").read_text())
    assert allocation["containers"] == {a.id: "10.87.0.2", b.id: "10.87.0.3"}
    assert a.delete("--force").rc == 0
    # the bridge and NAT stay for b; a's veth and address go
    assert "pyrunc0" in lab.host.links() and len(lab.host.links()) == 4  # lo, vout, pyrunc0, b's veth
    allocation = json.loads((lab.rt.root / "@network" / "pyrunc0.json").read_text())
    assert allocation["containers"] == {b.id: "10.87.0.3"}
    assert lab.exec(b, "ping", "-c1", "-W3", GATEWAY).rc == 0
    assert b.delete("--force").rc == 0
    assert lab.leftovers() == []


def test_containers_created_at_once_get_distinct_addresses(lab):
    """The allocation file's lock: four creates at the same time, four addresses."""
    import concurrent.futures

    cs = [lab.container(BB, "sleep", "60") for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: c.create(), cs))
    assert all(r.rc == 0 for r in results), results
    allocation = json.loads((lab.rt.root / "@network" / "pyrunc0.json").read_text())["containers"]
    assert sorted(allocation.values()) == [f"10.87.0.{i}" for i in range(2, 6)] and set(allocation) == {
        c.id for c in cs}
    for c in cs:
        address = allocation[c.id]
        assert f"{address}/24" in lab.exec(c, "ip", "-4", "-o", "addr", "show", "eth0").out
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(r.rc == 0 for r in pool.map(lambda c: c.delete("--force"), cs))
    assert lab.leftovers() == []


def test_published_port_answers_from_the_outside(lab):
    c = lab.container(BB, "httpd", "-f", "-p", "80", "-h", "/etc",
                      annotations={"org.pyrunc.network.publish": "5353:53/udp"})
    r = c.create("--network", "bridge", "--publish", "8080:80")
    assert r.rc == 0, r
    assert c.start().rc == 0
    assert "tcp . 8080 : 10.87.0.2 . 80" in lab.host.nft()
    assert "udp . 5353 : 10.87.0.2 . 53" in lab.host.nft()
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://{HOST}:8080/passwd', timeout=3).read())"
    deadline = time.monotonic() + 10
    while True:
        r = subprocess.run(["nsenter", f"--net={lab.outside.path}", sys.executable, "-c", fetch],
                           capture_output=True, text=True)
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "root:x:0:0" in r.stdout, r
    # from the host itself (the output chain), to its own address and to 127.0.0.1 (route_localnet on the bridge)
    assert "root:x:0:0" in lab.host.sh(f"{BB} wget -qO- http://{HOST}:8080/passwd").stdout
    assert "root:x:0:0" in lab.host.sh(f"{BB} wget -qO- http://127.0.0.1:8080/passwd").stdout
    assert lab.host.sh("cat /proc/sys/net/ipv4/conf/pyrunc0/route_localnet").stdout == "1\n"
    assert lab.host.sh("cat /proc/sys/net/ipv4/conf/vout/route_localnet").stdout == "0\n"  # the bridge's only
    # UDP: busybox's nc has no -u; an echo server in the container's network namespace answers on 10.87.0.2:53
    echo = subprocess.Popen(["nsenter", f"--net=/proc/{c.state()['pid']}/ns/net", sys.executable, "-c",
                             "import socket; s = socket.socket(type=socket.SOCK_DGRAM); s.bind(('10.87.0.2', 53)); "
                             "print('ready', flush=True); s.settimeout(10)\n"
                             "while True: d, a = s.recvfrom(100); s.sendto(d.upper() + a[0].encode(), a)"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout.readline().strip() == "ready"
        ask = ("import socket; s = socket.socket(type=socket.SOCK_DGRAM); s.settimeout(3); "
               "s.connect(('{0}', 5353)); s.send(b'hi'); print(s.recv(100).decode())")
        r = subprocess.run(["nsenter", f"--net={lab.outside.path}", sys.executable, "-c", ask.format(HOST)],
                           capture_output=True, text=True, timeout=10)
        assert r.stdout == f"HI{OUTSIDE}\n", r  # the outside's address kept: published ports are not masqueraded
        r = lab.host.sh(f"{sys.executable} -c \"{ask.format('127.0.0.1')}\"")
        assert r.stdout == f"HI{GATEWAY}\n", r  # from 127.0.0.1, masqueraded to the bridge's address
    finally:
        echo.kill()
        echo.wait()
    assert c.delete("--force").rc == 0
    assert lab.leftovers() == []


def test_route_localnet_does_not_open_the_hosts_loopback_to_a_container(lab):
    """route_localnet on the bridge lets packets to and from 127.0.0.0/8 through it; the table's
    guard chain drops those a container sends. Attack: a container with CAP_NET_ADMIN routes
    127.0.0.1 to the bridge and sends a datagram (busybox tftp) to a service of the host's bound
    to 127.0.0.1. Control: the same, with the guard chain flushed, reaches it."""
    listener = subprocess.Popen(["nsenter", f"--net={lab.host.path}", sys.executable, "-c",
                                 "import socket; s = socket.socket(type=socket.SOCK_DGRAM); "
                                 "s.bind(('127.0.0.1', 9100)); print('ready', flush=True)\n"
                                 "while True: print(s.recvfrom(100)[1][0], flush=True)"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        c = lab.container(BB, "sleep", "60", annotations={"org.pyrunc.network.publish": "8080:80"})
        for caps in c.config["process"]["capabilities"].values():
            caps.append("CAP_NET_ADMIN")
        c.started()
        r = lab.exec(c, "sh", "-c", f"{BB} ip route del local 127.0.0.0/8 dev lo table local && {BB} ip route "
                     f"del local 127.0.0.1 dev lo table local && {BB} ip route add 127.0.0.1 via {GATEWAY} dev eth0")
        assert r.rc == 0, r
        attack = ("timeout", "1", BB, "tftp", "-g", "-r", "x", "-l", "/dev/null", "127.0.0.1", "9100")
        lab.exec(c, *attack)
        mark = "import socket; socket.socket(type=socket.SOCK_DGRAM).sendto(b'mark', ('127.0.0.1', 9100))"
        lab.host.sh(f'{sys.executable} -c "{mark}"')  # what arrives before it is the attack's
        lab.host.sh("nft flush chain ip pyrunc_pyrunc0 guard")
        lab.exec(c, *attack)  # the control: without the guard the attack works
        assert c.delete("--force").rc == 0
    finally:
        listener.kill()
    got = listener.communicate()[0].split()
    assert got[0] == "127.0.0.1" and set(got[1:]) == {"10.87.0.2"}, got  # the mark, then the control's
    assert lab.leftovers() == []


def test_bridge_name_taken_by_another_link_is_refused(lab):
    lab.host.sh("ip link add pyrunc0 type veth peer name pyrunc0p")
    c = lab.container("true")
    r = c.run()
    c.assert_refused(r, one_line=True)
    assert "pyrunc0 is taken by a link that is not a bridge (veth)" in r.err, r
    assert "pyrunc0" in lab.host.links()  # not ours to remove
    lab.host.sh("ip link del pyrunc0")
    assert lab.leftovers() == []


def test_a_bridge_of_the_host_is_used_and_kept(lab):
    lab.host.sh("ip link add brhost type bridge; ip link set brhost up")
    c = lab.container(BB, "sleep", "60", annotations={"org.pyrunc.network.bridge": "brhost",
                                                      "org.pyrunc.network.subnet6": "fd87::/64"})
    c.started()
    assert lab.exec(c, "ping", "-c1", "-W3", GATEWAY).rc == 0
    assert c.delete("--force").rc == 0
    assert "brhost" in lab.host.links()
    assert "inet " not in lab.host.sh("ip -4 addr show brhost").stdout  # the gateway address pyrunc added
    assert "fd87::1" not in lab.host.sh("ip -6 addr show brhost").stdout  # and its IPv6 one
    assert lab.host.sh("cat /proc/sys/net/ipv4/conf/brhost/route_localnet").stdout == "0\n"  # restored
    lab.host.sh("ip link del brhost")
    assert lab.leftovers() == []


def test_exhausted_subnet_is_refused(lab):
    subnet = {"org.pyrunc.network.subnet": "10.87.0.0/30"}  # the bridge .1, one container .2
    a = lab.container(BB, "sleep", "60", annotations=subnet)
    a.started()
    b = lab.container(BB, "sleep", "60", annotations=subnet)
    r = b.create()
    b.assert_refused(r, one_line=True)
    assert "10.87.0.0/30 is exhausted" in r.err, r
    assert len(lab.host.links()) == 4  # lo, vout, the bridge, a's veth
    assert lab.exec(a, "ping", "-c1", "-W3", GATEWAY).rc == 0


def test_runtime_killed_after_the_veth_then_delete_force_cleans_all(lab, rt):
    c = lab.container(BB, "sleep", "60", annotations={"org.pyrunc.network.publish": "8080:80"})
    r = c.create(env={**os.environ, "PYRUNC_CRASH_AT": "after:net_veth"})
    assert r.rc != 0, r
    assert lab.host.forward() == "1" and lab.host.nft().strip()  # made, then the runtime died
    assert "pyrunc0" in lab.host.links()
    r = c.delete("--force")
    assert r.rc == 0, r
    assert c.state_dir_gone()
    assert lab.leftovers() == []


# -- linux.netDevices (config-linux.md "Network Devices") ----------------------------------------------


@pytest.fixture
def stand_in(rt, net_host, container):
    """The stand-in host alone, with a veth pair nd0/nd1 (this kernel has no dummy module)."""
    rt.lacks("linux.netDevices")
    net_host.host.sh("ip link add nd0 type veth peer name nd1; ip addr add 198.51.100.5/24 dev nd0; "
                     "ip addr add 2001:db8::5/64 dev nd0 nodad")
    try:
        yield Lab(net_host, container)
    finally:
        net_host.delete_adopted()
        net_host.host.sh("ip link del nd0", check=False)
        net_host.host.sh("ip link del nd1", check=False)


def test_net_device_moves_renamed_with_its_addresses_and_up(stand_in):
    c = stand_in.container(BB, "sleep", "60", network=False)
    c.config["linux"]["netDevices"] = {"nd0": {"name": "ctr%d"}}
    stand_in.host.sh("ip link set nd0 mtu 1400 address 02:00:00:00:00:05")
    c.started()
    r = stand_in.exec(c, "ip", "-o", "addr", "show", "ctr0")
    assert "198.51.100.5/24" in r.out and "2001:db8::5/64" in r.out, r
    r = stand_in.exec(c, "ip", "-o", "link", "show", "ctr0")
    assert ",UP" in r.out and "mtu 1400" in r.out and "02:00:00:00:00:05" in r.out, r  # its attributes kept
    assert "nd0" not in stand_in.host.links()
    # the namespace's end destroys a virtual device, and its peer with it; nothing is moved back
    assert c.delete("--force").rc == 0
    wait_for(lambda: "nd1" not in stand_in.host.links(), what="the veth stand-in destroyed")
    assert "nd0" not in stand_in.host.links()
    assert stand_in.leftovers() == []


def test_net_device_keeps_its_name_and_a_taken_name_is_refused(stand_in):
    c = stand_in.container(BB, "sleep", "60", network=False)
    c.config["linux"]["netDevices"] = {"nd1": {}}
    c.started()
    assert "nd1" in stand_in.exec(c, "ip", "-o", "link", "show", "nd1").out
    taken = stand_in.container("true", network=False)
    taken.config["linux"]["netDevices"] = {"nd0": {"name": "lo"}}
    r = taken.run()
    taken.assert_refused(r, one_line=True)
    assert "linux.netDevices.nd0.name: lo exists in the container's network namespace" in r.err, r
    assert "nd0" in stand_in.host.links()  # checked before anything moved


def test_missing_net_device_is_an_error_before_start(stand_in):
    c = stand_in.container("true", network=False)
    c.config["linux"]["netDevices"] = {"nosuch0": {}}
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert "linux.netDevices.nosuch0: no such network device on the host" in r.err, r


def test_net_device_that_cannot_move_is_an_error_before_start(stand_in):
    """A bridge is local to its network namespace (NETIF_F_NETNS_LOCAL): the kernel refuses the move."""
    stand_in.host.sh("ip link add brlocal type bridge")
    c = stand_in.container("true", network=False)
    c.config["linux"]["netDevices"] = {"brlocal": {}}
    r = c.run()
    c.assert_refused(r, one_line=True)
    assert "linux.netDevices.brlocal: the kernel refuses to move it to another network namespace" in r.err, r
    assert "brlocal" in stand_in.host.links()
    stand_in.host.sh("ip link del brlocal")


def test_features_lists_net_devices(rt):
    rt.lacks("linux.netDevices")
    r = rt("features")
    assert json.loads(r.out)["linux"]["netDevices"] == {"enabled": True}


@pytest.mark.parametrize("point", ["after:net_allocate", "after:net_bridge", "after:net_nat6", "after:net_nat",
                                   "after:net_publish"])
def test_runtime_killed_at_any_network_step_is_cleaned_by_delete_force(lab, point):
    c = lab.container(BB, "sleep", "60", annotations={"org.pyrunc.network.publish": "8080:80",
                                                      "org.pyrunc.network.subnet6": "fd87::/64"})
    r = c.create(env={**os.environ, "PYRUNC_CRASH_AT": point})
    assert r.rc != 0, r
    r = c.delete("--force")
    assert r.rc == 0, r
    assert c.state_dir_gone()
    assert lab.leftovers() == []


def test_the_web_bundle_serves_its_page_and_debug_shows_explains_steps(lab, tmp_path):
    """bundles/web, as the README runs it: its page through the published port, and every step its
    create, start and delete log with --debug is one of `explain`'s, in order (test_explain_steps.py
    for the other bundles, which need no stand-in host)."""
    bundle = Path(__file__).resolve().parents[2] / "bundles" / "web"
    if not (bundle / "rootfs/bin/busybox").exists():
        pytest.skip("web: rootfs not built (make bundles)")
    explained = json.loads(lab.rt("explain", "--format", "json", bundle).out)["steps"]
    expected = steps_by_process([(s["phase"], (f"{REQUESTS[s['on']]}: " if s["on"] else "") + s["action"]
                                  + (f"  [{s['source']}]" if s["source"] else "")) for s in explained])
    log = tmp_path / "debug.log"
    debug = ("--debug", "--log", log, "--log-format", "json")
    try:  # the id is the bundle's name, as explain takes it (the veth's name derives from it)
        assert lab.rt(*debug, "create", "--bundle", bundle, "web").rc == 0
        assert lab.rt("start", "web").rc == 0
        fetch = f"import urllib.request; print(urllib.request.urlopen('http://{HOST}:8080/', timeout=3).read())"
        deadline = time.monotonic() + 10
        while (r := subprocess.run(["nsenter", f"--net={lab.outside.path}", sys.executable, "-c", fetch],
                                   capture_output=True, text=True)).returncode and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "hello from a pyrunc container" in r.stdout, r
        assert lab.rt("kill", "web", "KILL").rc == 0
        wait_for(lambda: json.loads(lab.rt("state", "web").out or "{}").get("status") == "stopped", 10, "stopped")
        assert lab.rt(*debug, "delete", "web").rc == 0
    finally:
        lab.rt("delete", "--force", "web")
    logged = []
    for line in log.read_text().splitlines():
        phase, _, text = json.loads(line)["msg"].partition(": ")
        logged.append((phase, text.replace(str(lab.rt.root), "<root>")))
    expected = {k: [line.replace(str(lab.rt.root), "<root>") for line in v] for k, v in expected.items()}
    assert steps_by_process(logged) == expected
    assert lab.leftovers() == []
    for name in ("hosts", "hostname", "resolv.conf"):
        point = bundle / "rootfs/etc" / name
        if point.exists() and point.stat().st_size == 0:  # the empty mount points
            point.unlink()


def test_net_device_moves_into_a_joined_namespace_and_stays_there(stand_in):
    joined = Namespace()
    try:
        c = stand_in.container(BB, "ip", "-o", "addr", "show", "nd0", network=False)
        c.namespace("network", joined.path)
        c.config["linux"]["netDevices"] = {"nd0": {}}
        r = c.run()
        assert r.rc == 0 and "198.51.100.5/24" in r.out, r
        assert "nd0" in joined.links() and "nd0" not in stand_in.host.links()  # not moved back by delete
    finally:
        joined.close()
    wait_for(lambda: "nd1" not in stand_in.host.links(), what="the veth stand-in destroyed with the namespace")


def test_new_network_namespace_unshared_after_joins_gets_the_bridge(lab):
    """Joining another namespace makes the init unshare its network namespace after the joins
    (not at clone): it asks the runtime, which sets the namespace up by /proc/<pid>/ns/net."""
    holder = subprocess.Popen(["unshare", "--uts", "sleep", "600"])
    try:
        wait_for(lambda: os.stat(f"/proc/{holder.pid}/ns/uts").st_ino != os.stat("/proc/self/ns/uts").st_ino,
                 what="a new uts namespace")
        c = lab.container(BB, "sleep", "60")
        c.namespace("uts", f"/proc/{holder.pid}/ns/uts")
        c.config.pop("hostname", None)  # the joined namespace's own
        pid = c.started()
        assert os.readlink(f"/proc/{pid}/ns/uts") == os.readlink(f"/proc/{holder.pid}/ns/uts")
        assert "10.87.0.2/24" in lab.exec(c, "ip", "-4", "-o", "addr", "show", "eth0").out
        r = lab.exec(c, "ping", "-c1", "-W3", GATEWAY)
        assert r.rc == 0, r
        assert c.delete("--force").rc == 0
        assert lab.leftovers() == []
    finally:
        holder.kill()
        holder.wait()
