"""The D-Bus conversation with systemd's manager that runc's systemd cgroup driver has (go-systemd
over godbus), through jeepney: pure Python, loaded only with --systemd-cgroup.

The system bus is the one sd-bus and godbus use: DBUS_SYSTEM_BUS_ADDRESS, else
/var/run/dbus/system_bus_socket. An unprivileged runtime asks the caller's own systemd instance on
its session bus instead, as runc's newUserSystemdDbus does (systemd.user_bus() finds it). runc asks
`busctl --user status` for the bus's owner only inside a user namespace; pyrunc checks, before
saying anything, that the bus daemon (SO_PEERCRED) and the owner of org.freedesktop.systemd1 both
run as the caller, so that a session address pointing at someone else's bus is refused.

Jobs are waited for as go-systemd does: a match on the manager's JobRemoved signal is added
before the call, and the job's own signal carries its result, which must be "done".
"""

from pyrunc.errors import PyruncError

DEST = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
JOB_TIMEOUT = 30.0  # runc's


class Manager:
    """One connection to the system bus (or, `user`, to the caller's session bus), with the
    JobRemoved match in place."""

    def __init__(self, user: bool = False) -> None:
        from jeepney import DBusAddress, MatchRule, message_bus
        from jeepney.io.blocking import open_dbus_connection

        bus = "SYSTEM"
        if user:
            from pyrunc.cgroups.systemd import no_user_bus, user_bus

            bus = user_bus()
            if bus is None:
                raise PyruncError(no_user_bus())
        try:
            self.conn = open_dbus_connection(bus=bus)
        except (OSError, ValueError) as e:
            where = f" (the user's session bus, {bus})" if user else ""
            raise PyruncError(f"failed to connect to dbus{where}: {e}") from None
        self.addr = DBusAddress(PATH, bus_name=DEST, interface=MANAGER)
        if user:
            self._check_owner(bus)
        self.rule = MatchRule(type="signal", interface=MANAGER, member="JobRemoved", path=PATH)
        self._call(message_bus.AddMatch(self.rule))
        self._version: int | None = None

    def _check_owner(self, bus: str) -> None:
        """The session bus and the systemd instance on it are the caller's own."""
        import os
        import socket
        import struct

        from jeepney import message_bus

        uid = os.getuid()
        creds = self.conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        daemon = struct.unpack("3i", creds)[1]
        if daemon != uid:
            self.close()
            raise PyruncError(f"the session bus {bus} is run by uid {daemon}, not by the caller (uid {uid}): "
                              "refusing to ask its systemd instance")
        try:
            (owner,) = self._call(message_bus.GetConnectionUnixUser(DEST))
        except PyruncError as e:
            self.close()
            raise PyruncError(f"no systemd instance on the user's session bus {bus}: {e.message}") from None
        if owner != uid:
            self.close()
            raise PyruncError(f"{DEST} on the session bus {bus} runs as uid {owner}, not as the caller "
                              f"(uid {uid}): refusing to ask it")

    def close(self) -> None:
        self.conn.close()

    def _call(self, msg):
        from jeepney import DBusErrorResponse
        from jeepney.wrappers import unwrap_msg

        try:
            return unwrap_msg(self.conn.send_and_get_reply(msg, timeout=JOB_TIMEOUT))
        except DBusErrorResponse as e:
            raise PyruncError(f"{e.name}: {e.data[0] if e.data else ''}".rstrip(": ")) from None
        except (OSError, TimeoutError) as e:
            raise PyruncError(f"dbus: {e}") from None

    def _job(self, method: str, signature: str, args: tuple, unit: str) -> str:
        """Call a job-starting method and wait for the job's JobRemoved; its result."""
        from jeepney import new_method_call

        with self.conn.filter(self.rule) as signals:
            (job,) = self._call(new_method_call(self.addr, method, signature, args))
            while True:
                try:
                    msg = self.conn.recv_until_filtered(signals, timeout=JOB_TIMEOUT)
                except TimeoutError:
                    raise PyruncError(f"Timeout waiting for systemd to {method[:-4].lower()} {unit}") from None
                _id, path, _unit, result = msg.body
                if path == job:
                    return result

    def version(self) -> int:
        """systemd's version, as runc's systemdVersionAtoi reads the manager's Version ("252.1" -> 252)."""
        if self._version is None:
            from jeepney import Properties

            (value,) = self._call(Properties(self.addr).get("Version"))
            digits = str(value[1]).lstrip('"v')
            n = len(digits) - len(digits.lstrip("0123456789"))
            self._version = int(digits[:n]) if n else -1
        return self._version

    def control_group(self) -> str:
        """The manager's own cgroup (runc's getManagerProperty "ControlGroup"): a user instance's
        units live below it, "/user.slice/user-<uid>.slice/user@<uid>.service" under a login manager."""
        from jeepney import Properties

        (value,) = self._call(Properties(self.addr).get("ControlGroup"))
        return str(value[1])

    def start_transient_unit(self, name: str, properties: list) -> None:
        """runc's startUnit: mode "replace", no auxiliary units; an existing unit (a leftover failed
        one) is reset and the start tried once more."""
        props = [(n, (sig, v)) for n, sig, v, _ in properties]
        for retry in (True, False):
            try:
                result = self._job("StartTransientUnit", "ssa(sv)a(sa(sv))", (name, "replace", props, []), name)
                break
            except PyruncError as e:
                if not (retry and "org.freedesktop.systemd1.UnitExists" in e.message):
                    raise
                self.reset_failed_unit(name)
        if result != "done":
            self.reset_failed_unit(name)
            raise PyruncError(f"error creating systemd unit `{name}`: got `{result}`")

    def set_unit_properties(self, name: str, properties: list) -> None:
        """runtime=true, as runc's Set; a property the running systemd is too old for is left out
        (runc then only writes cgroupfs)."""
        from jeepney import new_method_call

        props = [(n, (sig, v)) for n, sig, v, since in properties if not since or self.version() >= since]
        if props:
            self._call(new_method_call(self.addr, "SetUnitProperties", "sba(sv)", (name, True, props)))

    def stop_unit(self, name: str, warn=None) -> None:
        """runc's stopUnit: a unit that is already gone is fine; a job result other than "done"
        only warns; then ResetFailedUnit, whose error is ignored."""
        try:
            result = self._job("StopUnit", "ss", (name, "replace"), name)
            if result != "done" and warn is not None:
                warn(f"error removing unit `{name}`: got `{result}`. Continuing...")
        except PyruncError as e:
            if "org.freedesktop.systemd1.NoSuchUnit" not in e.message:
                raise
        try:
            self.reset_failed_unit(name)
        except PyruncError:
            pass

    def reset_failed_unit(self, name: str) -> None:
        from jeepney import new_method_call

        self._call(new_method_call(self.addr, "ResetFailedUnit", "s", (name,)))


def user_manager_cgroup() -> str:
    """The ControlGroup of the caller's systemd instance, a host fact planning needs."""
    manager = Manager(user=True)
    try:
        return manager.control_group()
    finally:
        manager.close()
