"""A stand-in for systemd's manager on a private bus:
`python systemd_standin.py ADDRESS RECORD [--control-group CG] MOUNT...`.

It owns org.freedesktop.systemd1 and answers what runc's systemd driver and pyrunc's ask: the
manager's Version, StartTransientUnit, SetUnitProperties, StopUnit and ResetFailedUnit. Each call
is appended to RECORD as a JSON line (member and arguments, variants as [signature, value]). As
systemd does, starting a scope makes its cgroup in each MOUNT (the named hierarchy, the cgroup2
one and the v1 controllers systemd accounts for), below the Slice's path, and moves its PIDs
there; with --control-group (a user's instance, run as that user), its ControlGroup property is CG
and the scopes are made below it; stopping it kills what is left and removes those directories. A unit whose name holds
"-failing" is not made: its start job ends "failed". Job results come as
JobRemoved signals, after the reply carrying the job's path.
"""

import json
import os
import signal
import sys
import time

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
VERSION = "252.36-1~deb12u1"


def slice_path(name: str) -> str:
    """systemd's own rule: a-b.slice lives at /a.slice/a-b.slice; -.slice is the root."""
    stem = name[: -len(".slice")]
    if stem == "-":
        return ""
    parts = stem.split("-")
    return "".join("/" + "-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def plain(value):
    """Variants and bytes as JSON can hold them."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0].isascii():
        return [value[0], plain(value[1])]
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Manager:
    def __init__(self, conn, record: str, mounts: list[str], control_group: str = "") -> None:
        self.conn = conn
        self.control_group = control_group.rstrip("/")
        self.record = record
        self.mounts = mounts
        self.units: dict[str, list[str]] = {}
        self.jobs = 0
        self.signals = DBusAddress(PATH, interface=MANAGER)

    def log(self, member: str, args) -> None:
        with open(self.record, "a") as f:
            f.write(json.dumps({"member": member, "args": plain(args)}) + "\n")

    def job(self, msg, unit: str, result: str = "done") -> None:
        self.jobs += 1
        path = f"{PATH}/job/{self.jobs}"
        self.conn.send(new_method_return(msg, "o", (path,)))
        self.conn.send(new_signal(self.signals, "JobRemoved", "uoss", (self.jobs, path, unit, result)))

    def start(self, msg, name: str, props: list) -> None:
        if name in self.units:
            error = "org.freedesktop.systemd1.UnitExists"
            self.conn.send(new_error(msg, error, "s", (f"Unit {name} already exists.",)))
            return
        if "-failing" in name:  # a start job that fails, as when systemd cannot move the PIDs
            self.job(msg, name, "failed")
            return
        values = dict(props)
        parent = self.control_group + (slice_path(values["Slice"][1]) if "Slice" in values else "")
        made = []
        for mount in self.mounts:
            d = f"{mount}{parent}/{name}"
            os.makedirs(d, exist_ok=True)
            made.append(d)
            for pid in values.get("PIDs", ("au", []))[1]:
                with open(f"{d}/cgroup.procs", "w") as f:
                    f.write(str(pid))
        self.units[name] = made
        self.job(msg, name)

    def stop(self, msg, name: str) -> None:
        made = self.units.pop(name, None)
        if made is None:
            self.conn.send(new_error(msg, "org.freedesktop.systemd1.NoSuchUnit", "s", (f"Unit {name} not loaded.",)))
            return
        for d in reversed(made):
            for _ in range(200):
                try:
                    with open(f"{d}/cgroup.procs") as f:
                        pids = [int(p) for p in f.read().split()]
                except FileNotFoundError:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        self.job(msg, name)

    def handle(self, msg) -> None:
        member = msg.header.fields.get(3)  # HeaderFields.member
        interface = msg.header.fields.get(2)
        self.log(member, msg.body)
        if interface == "org.freedesktop.DBus.Properties" and member == "Get" and msg.body[1] == "Version":
            self.conn.send(new_method_return(msg, "v", (("s", VERSION),)))
        elif interface == "org.freedesktop.DBus.Properties" and member == "Get" and msg.body[1] == "ControlGroup":
            self.conn.send(new_method_return(msg, "v", (("s", self.control_group or "/"),)))
        elif member == "StartTransientUnit":
            self.start(msg, msg.body[0], msg.body[2])
        elif member == "StopUnit":
            self.stop(msg, msg.body[0])
        elif member in ("SetUnitProperties", "ResetFailedUnit"):
            self.conn.send(new_method_return(msg))
        else:
            self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no {member} here",)))


def main() -> None:
    address, record, *mounts = sys.argv[1:]
    control_group = ""
    if mounts[:1] == ["--control-group"]:
        control_group, mounts = mounts[1], mounts[2:]
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    conn = open_dbus_connection(bus="SYSTEM")
    (reply,) = conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.systemd1")).body
    if reply != 1:
        sys.exit(f"could not own org.freedesktop.systemd1: {reply}")
    print("ready", flush=True)
    manager = Manager(conn, record, mounts, control_group)
    while True:
        msg = conn.receive()
        if msg.header.message_type == MessageType.method_call:
            manager.handle(msg)


if __name__ == "__main__":
    main()
