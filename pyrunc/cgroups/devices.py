"""The device allow-list: linux.resources.devices plus runc's defaults, reduced to what the kernel sees.

Rules are applied in order through an emulator of the v1 devices controller (runc's
devices.Emulator), so v1 (devices.allow/deny writes) and v2 (an eBPF program) give the same
result, and a deny that would punch a hole in a wildcard allow, which v1 silently ignores,
is refused instead.
"""


from pyrunc.errors import PyruncError

WILDCARD = -1

# (allow, type, major, minor, access) — a rule as the emulator takes it.
Rule = tuple[bool, str, int, int, str]

# runc's specconv.AllowedDevices, appended after the config's rules (runc 1.2.4+ and 1.1 alike).
# The container's /dev/console is a bind-mounted pty, so the pts rule covers it; c 5:1 would be
# the host's console and is not allowed, as in runc.
DEFAULT_RULES: tuple[tuple[str | None, Rule], ...] = (
    (None, (True, "c", WILDCARD, WILDCARD, "m")),
    (None, (True, "b", WILDCARD, WILDCARD, "m")),
    ("/dev/null", (True, "c", 1, 3, "rwm")),
    ("/dev/random", (True, "c", 1, 8, "rwm")),
    ("/dev/full", (True, "c", 1, 7, "rwm")),
    ("/dev/tty", (True, "c", 5, 0, "rwm")),
    ("/dev/zero", (True, "c", 1, 5, "rwm")),
    ("/dev/urandom", (True, "c", 1, 9, "rwm")),
    (None, (True, "c", 136, WILDCARD, "rwm")),  # /dev/pts/*
    (None, (True, "c", 5, 2, "rwm")),  # /dev/ptmx
    (None, (True, "c", 10, 200, "rwm")),  # /dev/net/tun
)


def _access(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PyruncError(f"{where}.access: cannot be empty")
    if set(value) - set("rwm"):
        raise PyruncError(f"{where}.access: {value!r} is not a combination of r, w and m")
    return "".join(c for c in "rwm" if c in value)


def _number(entry: dict, field: str, where: str) -> int:
    value = entry.get(field)
    if value is None:
        return WILDCARD
    if type(value) is not int or value < -1 or value > 0xFFFFFFFF:
        raise PyruncError(f"{where}.{field}: {value!r} is not a device number")
    return value


def config_rules(linux: dict) -> list[Rule]:
    """The config's rules in order, then the defaults a linux.devices entry does not replace."""
    rules: list[Rule] = []
    entries = ((linux.get("resources") or {}).get("devices")) or []
    if not isinstance(entries, list):
        raise PyruncError("linux.resources.devices: must be an array")
    for i, entry in enumerate(entries):
        where = f"linux.resources.devices[{i}]"
        if not isinstance(entry, dict) or type(entry.get("allow")) is not bool:
            raise PyruncError(f"{where}.allow: required, true or false")
        unknown = set(entry) - {"allow", "type", "major", "minor", "access"}
        if unknown:
            raise PyruncError(f"unsupported: {where}.{sorted(unknown)[0]}")
        kind = entry.get("type") or "a"
        if kind not in ("a", "c", "b"):
            raise PyruncError(f"{where}.type: {kind!r} is not a, c or b")
        rules.append((entry["allow"], kind, _number(entry, "major", where), _number(entry, "minor", where),
                      _access(entry.get("access"), where)))
    own_paths = {d.get("path") for d in (linux.get("devices") or []) if isinstance(d, dict)}
    rules.extend(rule for path, rule in DEFAULT_RULES if path is None or path not in own_paths)
    return rules


class Emulator:
    """The v1 devices controller's state machine: a default and a list of exceptions to it."""

    __slots__ = ("default_allow", "exceptions")

    def __init__(self) -> None:
        self.default_allow = False
        self.exceptions: dict[tuple[str, int, int], str] = {}

    def apply(self, rule: Rule) -> None:
        allow, kind, major, minor, access = rule
        if kind == "a":
            self.default_allow = allow
            self.exceptions = {}
            return
        meta = (kind, major, minor)
        if allow == self.default_allow:
            self._remove(meta, access)
        else:
            old = self.exceptions.get(meta, "")
            self.exceptions[meta] = "".join(c for c in "rwm" if c in old or c in access)

    def _remove(self, meta: tuple[str, int, int], access: str) -> None:
        kind, major, minor = meta
        for partial in ((kind, WILDCARD, minor), (kind, major, WILDCARD), (kind, WILDCARD, WILDCARD)):
            if partial == meta:
                continue
            overlap = set(self.exceptions.get(partial, "")) & set(access)
            if overlap:
                raise PyruncError(
                    f"linux.resources.devices: rule {format_rule(meta, access)} cannot punch a hole in "
                    f"the wildcard rule {format_rule(partial, self.exceptions[partial])}"
                )
        left = "".join(c for c in self.exceptions.get(meta, "") if c not in access)
        if left:
            self.exceptions[meta] = left
        else:
            self.exceptions.pop(meta, None)


def format_rule(meta: tuple[str, int, int], access: str) -> str:
    """The v1 file syntax: "c 1:3 rwm", "*" for a wildcard number."""
    kind, major, minor = meta
    return f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access}"


def reduce(rules: list[Rule]) -> tuple[bool, list[tuple[tuple[str, int, int], str]]]:
    """(default_allow, exceptions): the smallest ruleset equal to applying `rules` in order."""
    emu = Emulator()
    for rule in rules:
        emu.apply(rule)
    return emu.default_allow, list(emu.exceptions.items())


def v1_writes(default_allow: bool, exceptions: list[tuple[tuple[str, int, int], str]],
              ) -> list[tuple[str, str]]:
    """(file, value) for a v1 devices cgroup: reset to the default, then the exceptions."""
    writes = [("devices.allow" if default_allow else "devices.deny", "a")]
    target = "devices.deny" if default_allow else "devices.allow"
    writes.extend((target, format_rule(meta, access)) for meta, access in exceptions)
    return writes


def parse_list(text: str) -> tuple[bool, dict[tuple[str, int, int], str]]:
    """A v1 devices.list as (default_allow, exceptions): "a *:* rwm" alone is allow-all (its deny
    exceptions are not listed, so they are unknown); anything else is deny-all plus these allows."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if any(parts[0] == "a" for parts in lines):
        return True, {}
    rules: dict[tuple[str, int, int], str] = {}
    for kind, numbers, access in lines:
        major, _, minor = numbers.partition(":")
        meta = (kind, WILDCARD if major == "*" else int(major), WILDCARD if minor == "*" else int(minor))
        old = rules.get(meta, "")
        rules[meta] = "".join(c for c in "rwm" if c in old or c in access)
    return False, rules


def transition(current: str, default_allow: bool, exceptions: list[tuple[tuple[str, int, int], str]],
               ) -> list[tuple[str, str]]:
    """runc's Emulator.Transition: the fewest v1 writes from `current` (devices.list text) to the target.
    Only a change of default, or an allow-all source whose denies are unknown, resets with "a";
    otherwise dropped permissions are removed first and gained ones added, so an access allowed
    before and after is never denied in between."""
    source_allow, old = parse_list(current)
    target = dict(exceptions)
    writes: list[tuple[str, str]] = []
    grant = "devices.deny" if default_allow else "devices.allow"
    revoke = "devices.allow" if default_allow else "devices.deny"
    if source_allow or source_allow != default_allow:
        writes.append(("devices.allow" if default_allow else "devices.deny", "a *:* rwm"))
        old = {}
    for meta in sorted(old):
        dropped = "".join(c for c in old[meta] if c not in target.get(meta, ""))
        if dropped:
            writes.append((revoke, format_rule(meta, dropped)))
    for meta in sorted(target):
        gained = "".join(c for c in target[meta] if c not in old.get(meta, ""))
        if gained:
            writes.append((grant, format_rule(meta, gained)))
    return writes
