"""The command line, compatible with runc's: global flags, then a command and its flags.

argparse costs several milliseconds to import (it loads `re` and `gettext`), more than a
fifth of a whole `runc run`, so flags are parsed from the tables below. Each command's
module is imported only when that command runs.
"""

import posix  # not os, whose import costs 1.1 ms (posixfs.py)
import sys

from pyrunc import OCI_VERSION, __version__
from pyrunc.errors import PyruncError

# flag -> (destination, takes a value); short aliases map to the same destination.
GLOBAL_FLAGS = {
    "--root": ("root", True), "--log": ("log", True), "--log-format": ("log_format", True),
    "--debug": ("debug", False), "--systemd-cgroup": ("systemd_cgroup", False),
    "--rootless": ("rootless", "optional"), "--criu": ("criu", True),
    "--help": ("help", False), "-h": ("help", False), "--version": ("version", False), "-v": ("version", False),
}
_CREATE = {
    "--bundle": ("bundle", True), "-b": ("bundle", True), "--pid-file": ("pid_file", True),
    "--console-socket": ("console_socket", True), "--no-pivot": ("no_pivot", False),
    "--no-new-keyring": ("no_new_keyring", False), "--preserve-fds": ("preserve_fds", True),
    "--network": ("network", True), "--publish": ("publish", "list"),
}
COMMANDS = {  # name -> (usage, flags, help)
    "create": ("<container-id>", _CREATE, "create a container; its init waits for `start`"),
    "start": ("<container-id>", {}, "run the user program of a created container"),
    "run": ("[<container-id>] | <bundle-dir>", {**_CREATE, "--detach": ("detach", False), "-d": ("detach", False),
                                                 "--keep": ("keep", False), "--no-subreaper": ("no_subreaper", False)},
            "create and start a container, wait for it and delete it"),
    "state": ("<container-id>", {}, "print the state of a container as JSON"),
    "kill": ("<container-id> [signal]", {"--all": ("all", False), "-a": ("all", False)},
             "send a signal (default SIGTERM) to the container's init"),
    "pause": ("<container-id>", {}, "freeze every process of the container (runc's, not the spec's)"),
    "resume": ("<container-id>", {}, "thaw a paused container"),
    "delete": ("<container-id>", {"--force": ("force", False), "-f": ("force", False)},
               "delete a stopped container (--force: kill it first)"),
    "list": ("", {"--format": ("format", True), "-f": ("format", True), "--quiet": ("quiet", False),
                  "-q": ("quiet", False)}, "list containers"),
    "spec": ("", {"--bundle": ("bundle", True), "-b": ("bundle", True), "--rootless": ("rootless", False)},
             "write a default config.json"),
    "features": ("", {}, "print the features this runtime supports as JSON"),
    "explain": ("[<bundle-dir>] | --exec <container-id> [command...]",
                {"--bundle": ("bundle", True), "-b": ("bundle", True), "--format": ("format", True),
                 "-f": ("format", True), "--exec": ("exec", False)},
                "print the kernel steps create, start and delete (or exec) would perform, without doing them"),
    "exec": ("<container-id> <command> [args...]", {
        "--process": ("process", True), "-p": ("process", True), "--detach": ("detach", False),
        "-d": ("detach", False), "--tty": ("tty", False), "-t": ("tty", False), "--pid-file": ("pid_file", True),
        "--console-socket": ("console_socket", True), "--env": ("env", "list"), "-e": ("env", "list"),
        "--cwd": ("cwd", True), "--user": ("user", True), "-u": ("user", True),
        "--additional-gids": ("additional_gids", "list"), "-g": ("additional_gids", "list"),
        "--cap": ("cap", "list"), "-c": ("cap", "list"), "--no-new-privs": ("no_new_privs", False),
        "--preserve-fds": ("preserve_fds", True), "--apparmor": ("apparmor", True),
        "--process-label": ("process_label", True), "--cgroup": ("cgroup", "list"),
        "--ignore-paused": ("ignore_paused", False)}, "run another process in a running container"),
    "events": ("<container-id>", {}, "print stats (every --interval, or once with --stats) and OOM events as JSON"),
    "update": ("<container-id>", {}, "change a container's resources (cgroups, Intel RDT) live"),
    "ps": ("<container-id> [ps args...]", {"--format": ("format", True), "-f": ("format", True)},
           "list the processes of a container (table, or json: host pids)"),
    "conformance": ("--runtime PATH [-k PATTERN] [--report FILE] [--controls] | --list [-k PATTERN]", {
        "--runtime": ("runtime", True), "-k": ("pattern", True), "--report": ("report", True),
        "--controls": ("controls", False), "--list": ("list", False)},
        "run the packaged OCI conformance suite against a runtime (pytest), or list its cases"),
}
# update's and events' flags live with the command (pyrunc/update.py, events.py), loaded only when it runs.
_LAZY_FLAGS = {"update": "pyrunc.update", "events": "pyrunc.events"}
# Commands whose arguments after the container id belong to the program they run.
PASS_THROUGH = ("exec", "ps")
USAGE = """usage: pyrunc [global flags] <command> [flags] [arguments]

pyrunc {version}: an OCI runtime (spec {spec}), command-line compatible with runc.

commands:
{commands}
global flags:
  --root DIR            state directory (default /run/pyrunc)
  --log FILE            write errors (and --debug steps) to FILE
  --log-format text|json
  --debug               log every step as it is performed
  --systemd-cgroup      cgroupsPath is slice:prefix:name
  --rootless, --criu    accepted for compatibility
  -v, --version         print the version
  -h, --help            print this (`pyrunc help COMMAND` or `pyrunc COMMAND -h`: a command's flags)
"""


def usage() -> str:
    """USAGE filled in: only `help` and a missing command print it, so no other command formats it."""
    commands = "".join(f"  {name:<9} {help_}\n" for name, (_, _, help_) in COMMANDS.items())
    return USAGE.format(version=__version__, spec=OCI_VERSION, commands=commands)


class Args:
    """Parsed flags as attributes (None when absent) plus the positional arguments."""

    def __init__(self) -> None:
        self.positional: list[str] = []

    def __getattr__(self, name: str) -> None:
        return None


def parse_flags(argv: list[str], table: dict, args: Args, stop_at_positional: bool) -> list[str]:
    """Consume flags from argv into args; returns what is left after the first positional
    when stop_at_positional, else collects positionals into args.positional."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            args.positional.extend(argv[i + 1:])
            return []
        if not word.startswith("-") or word == "-":
            if stop_at_positional:
                return argv[i:]
            args.positional.append(word)
            i += 1
            continue
        name, eq, value = word.partition("=")
        if name not in table:
            raise PyruncError(f"flag provided but not defined: {name}")
        dest, takes = table[name]
        if takes in (True, "list") and not eq:
            i += 1
            if i >= len(argv):
                raise PyruncError(f"flag needs an argument: {name}")
            value = argv[i]
        if takes == "list":  # repeatable: every value, in order
            setattr(args, dest, (getattr(args, dest) or []) + [value])
        else:
            setattr(args, dest, value if (takes and (eq or takes is True)) else True)
        i += 1
    return []


class Logger:
    """--log and --log-format: one line per message, JSON or text."""

    def __init__(self, path: str | None, fmt: str, debug: bool) -> None:
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_CLOEXEC
        self.fd = posix.open(path, flags, 0o644) if path else -1
        self.json = fmt == "json"
        self.debug = debug

    def line(self, level: str, msg: str) -> bytes:
        from pyrunc.state import rfc3339_now

        if self.json:
            from pyrunc import jsonio

            return (jsonio.dumps({"level": level, "msg": msg, "time": rfc3339_now()}) + "\n").encode()
        quoted = msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # as logrus quotes it
        return f'time="{rfc3339_now()}" level={level} msg="{quoted}"\n'.encode()

    def write(self, level: str, msg: str) -> None:
        posix.write(self.fd if self.fd >= 0 else 2, self.line(level, msg))

    def step(self, msg: str) -> None:
        self.write("debug", msg)

    def warn(self, msg: str) -> None:
        self.write("warning", msg)

    def error(self, msg: str) -> None:
        if not msg.isprintable():  # one line, whatever the input quoted in it held (a newline, a surrogate)
            msg = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in msg)
        if self.fd >= 0:
            self.write("error", msg)
            posix.write(2, f"{msg}\n".encode())
        else:
            posix.write(2, f"pyrunc: {msg}\n".encode())


def command_flags(command: str) -> dict:
    if command not in COMMANDS:
        raise PyruncError(f"no such command: {command}")
    if command in _LAZY_FLAGS:
        return __import__(_LAZY_FLAGS[command], fromlist=["CLI_FLAGS"]).CLI_FLAGS
    return COMMANDS[command][1]


def command_usage(command: str) -> str:
    table = command_flags(command)
    usage, _, help_ = COMMANDS[command]
    flags = ", ".join(sorted(table)) or "none"
    return f"usage: pyrunc {command} [flags] {usage}\n\n{help_}\n\nflags: {flags}, -h, --help\n"


def version_text() -> str:
    """runc's lines (docker parses `version` and `commit:`), python in place of go, and the
    libseccomp pyrunc was built with, when it was."""
    lines = [f"pyrunc version {__version__}", f"commit: {__version__}", f"spec: {OCI_VERSION}",
             f"python: {sys.version.split()[0]}"]
    try:
        from pyrunc._seccomp import lib

        v = lib.seccomp_version()
        lines.append(f"libseccomp: {v.major}.{v.minor}.{v.micro}")
    except ImportError:
        pass
    return "".join(line + "\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    g = Args()
    logger = Logger(None, "text", False)
    try:
        rest = parse_flags(argv, GLOBAL_FLAGS, g, stop_at_positional=True)
        if g.log_format not in (None, "text", "json"):
            raise PyruncError(f"invalid log format: {g.log_format}")
        logger = Logger(g.log, g.log_format or "text", bool(g.debug))
        if g.version:
            sys.stdout.write(version_text())
            return 0
        if not rest or g.help:
            sys.stdout.write(usage())
            return 0 if g.help else 1
        command = rest[0]
        if command in ("help", "h"):  # runc's `help [COMMAND]`
            if len(rest) > 1:
                sys.stdout.write(command_usage(rest[1]))
            else:
                sys.stdout.write(usage())
            return 0
        table = command_flags(command)
        args = Args()
        left = parse_flags(rest[1:], {**table, "--help": ("help", False), "-h": ("help", False)}, args,
                           command in PASS_THROUGH or (command == "explain" and "--exec" in rest))
        args.positional.extend(left)
        if args.help:
            sys.stdout.write(command_usage(command))
            return 0
        from pyrunc import commands

        return getattr(commands, command)(g, args, logger) or 0
    except PyruncError as e:
        logger.error(e.message)
        return e.exit_code if e.exit_code != 0 else 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - a bug still gets one line; --debug shows where
        if g.debug:
            import traceback

            traceback.print_exc()
        logger.error(f"internal error: {type(e).__name__}: {e}")
        return 1


def run() -> None:
    """The command's entry point: main(), then exit without interpreter finalisation. (The
    launcher's program has raised the cycle collector's threshold first: launcher.BOOT.)"""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        posix._exit(code)
