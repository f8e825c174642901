"""The D-Bus conversation with systemd's manager that runc's systemd cgroup driver has (go-systemd
over godbus), through jeepney: pure Python, loaded only with --systemd-cgroup.

The system bus is the one sd-bus and godbus use: DBUS_SYSTEM_BUS_ADDRESS, else
/var/run/dbus/system_bus_socket. Jobs are waited for as go-systemd does: a match on the manager's
JobRemoved signal is added before the call, and the job's own signal carries its result, which
must be "done".
"""

from pyrunc.errors import PyruncError

DEST = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
JOB_TIMEOUT = 30.0  # runc's


class Manager:
    """One connection to the system bus, with the JobRemoved match in place."""

    def __init__(self) -> None:
        from jeepney import DBusAddress, MatchRule, message_bus
        from jeepney.io.blocking import open_dbus_connection

        try:
            self.conn = open_dbus_connection(bus="SYSTEM")
        except (OSError, ValueError) as e:
            raise PyruncError(f"failed to connect to dbus: {e}") from None
        self.addr = DBusAddress(PATH, bus_name=DEST, interface=MANAGER)
        self.rule = MatchRule(type="signal", interface=MANAGER, member="JobRemoved", path=PATH)
        self._call(message_bus.AddMatch(self.rule))
        self._version: int | None = None

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
