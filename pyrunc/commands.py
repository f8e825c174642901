"""One function per command: turn parsed arguments into a lifecycle operation."""

import sys

from pyrunc.errors import PyruncError
from pyrunc.state import Container, state_root

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
           "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
           "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24,
           "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31}


class Context:
    """Global options of the command line, for the lifecycle's operations. Here, not in lifecycle:
    create and run load pyrunc.lifecycle only once the init is cloned (create.create)."""

    def __init__(self, root: str, log=None, systemd_cgroup: bool = False, warn=None) -> None:
        self.root = root
        self.log = log
        self.warn = warn  # runc's level=warning lines (Logger.warn), to stderr or --log
        self.systemd_cgroup = systemd_cgroup
        self.grace_pidfd = -1  # the task started by cgroups.grace (a child), reaped before the cgroups are made


def _ctx(g, logger) -> Context:
    return Context(state_root(g.root), logger.step if logger.debug else None, bool(g.systemd_cgroup), logger.warn)


def _one_id(args, what: str = "container id") -> str:
    if not args.positional:
        raise PyruncError(f"{what} cannot be empty")
    return args.positional[0]


def _options(args):
    from pyrunc.plan import Options
    from pyrunc.posixfs import abspath

    try:
        preserve = int(args.preserve_fds or 0)
    except ValueError:
        raise PyruncError(f"invalid --preserve-fds: {args.preserve_fds}") from None
    socket = abspath(args.console_socket) if args.console_socket else None
    from pyrunc.process import check_kept_fds, listen_fds_from_env

    listen = listen_fds_from_env()
    check_kept_fds(max(preserve, listen))
    return Options(no_pivot=bool(args.no_pivot), preserve_fds=preserve, console_socket=socket, listen_fds=listen,
                   no_new_keyring=bool(args.no_new_keyring), subreaper=not getattr(args, "no_subreaper", False),
                   network=args.network or "", publish=tuple(args.publish or ()))


def _bundle_and_id(args) -> tuple[str, str]:
    """runc's form (id, bundle from -b or the cwd), or `run DIR`: the bundle directory, id its name."""
    from pyrunc.posixfs import abspath, basename, exists, isfile, join

    if args.bundle:
        return args.bundle, _one_id(args)
    if not exists("config.json") and len(args.positional) == 1:
        candidate = args.positional[0]
        if isfile(join(candidate, "config.json")):
            return candidate, basename(abspath(candidate))
    return ".", _one_id(args)


def create(g, args, logger) -> int:
    from pyrunc.cgroups import grace

    ctx = _ctx(g, logger)
    ctx.grace_pidfd = grace.start()  # first, before the imports: see cgroups/grace.py
    try:
        from pyrunc import create as creating

        bundle, cid = _bundle_and_id(args)
        creating.create(ctx, cid, bundle, _options(args), args.pid_file)
    finally:
        grace.finish(ctx.grace_pidfd, wait=False)
    return 0


def run(g, args, logger) -> int:
    from pyrunc.cgroups import grace

    ctx = _ctx(g, logger)
    ctx.grace_pidfd = grace.start()
    try:
        from pyrunc import create as creating

        bundle, cid = _bundle_and_id(args)
        return creating.run(ctx, cid, bundle, _options(args), args.pid_file, bool(args.detach), bool(args.keep))
    finally:
        grace.finish(ctx.grace_pidfd, wait=False)


def start(g, args, logger) -> int:
    from pyrunc import lifecycle

    lifecycle.start(_ctx(g, logger), _one_id(args))
    return 0


def _existing(g, cid: str) -> Container:
    c = Container(state_root(g.root), cid)
    if not c.exists():
        raise PyruncError(f"container {cid} does not exist")
    return c.read()


def state(g, args, logger) -> int:
    from pyrunc import jsonio

    c = _existing(g, _one_id(args))
    sys.stdout.write(jsonio.dumps(c.oci_state(), indent=2) + "\n")
    return 0


def parse_signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise PyruncError(f"unknown signal {text!r}")
    return SIGNALS[name]


def kill(g, args, logger) -> int:
    c = _existing(g, _one_id(args))
    sig = parse_signal(args.positional[1]) if len(args.positional) > 1 else 15
    from pyrunc import lifecycle

    lifecycle.kill(c, sig, bool(args.all), logger.step if logger.debug else None)
    return 0


def pause(g, args, logger) -> int:
    from pyrunc import lifecycle

    lifecycle.pause(_existing(g, _one_id(args)), True)
    return 0


def resume(g, args, logger) -> int:
    from pyrunc import lifecycle

    lifecycle.pause(_existing(g, _one_id(args)), False)
    return 0


def delete(g, args, logger) -> int:
    from pyrunc import lifecycle

    lifecycle.delete(_ctx(g, logger), _one_id(args), bool(args.force))
    return 0


def list(g, args, logger) -> int:  # noqa: A001 - the command's name
    from pyrunc import listing

    return listing.run(state_root(g.root), args.format, bool(args.quiet))


def spec(g, args, logger) -> int:
    from pyrunc import specgen

    specgen.write(args.bundle or ".", rootless=bool(args.rootless))
    return 0


def features(g, args, logger) -> int:
    from pyrunc import features as feats
    from pyrunc import jsonio

    sys.stdout.write(jsonio.dumps(feats.features(), indent=2) + "\n")
    return 0


def explain(g, args, logger) -> int:
    from pyrunc import explain as ex
    from pyrunc.plan import Options

    if args.format not in (None, "text", "json"):
        raise PyruncError(f"invalid format option: {args.format}")
    titles = ex.PHASE_TITLES
    if args.exec:  # the steps `exec <container-id> [command...]` would perform
        from pyrunc import exec as executing
        from pyrunc import exeseal

        grace = "launcher" if exeseal.sealed() else "runtime"  # as exec starts it (cgroups/grace.py)
        plan = executing.prepare(state_root(g.root), _one_id(args), executing.Request(args), grace)[2]
        titles = ex.EXEC_TITLES
    else:
        bundle = args.bundle or (args.positional[0] if args.positional else ".")
        plan = ex.plan_only(_ctx(g, logger), bundle, Options())
    sys.stdout.write(ex.as_json(plan, titles) if args.format == "json" else ex.as_text(plan, titles))
    return 0


def exec(g, args, logger) -> int:  # noqa: A001 - the command's name
    from pyrunc import exec as executing

    cid = _one_id(args)
    return executing.run(state_root(g.root), cid, args, logger.step if logger.debug else None)


def ps(g, args, logger) -> int:
    from pyrunc import ps as listing

    cid = _one_id(args)
    return listing.run(state_root(g.root), cid, args.format, args.positional[1:])


def update(g, args, logger) -> int:
    from pyrunc import update as updating

    if len(args.positional) != 1:
        raise PyruncError(f"update: \"{' '.join(args.positional)}\" requires exactly 1 argument(s)"
                          if args.positional else "container id cannot be empty")
    return updating.run(state_root(g.root), args.positional[0], args, logger)


def events(g, args, logger) -> int:
    from pyrunc import events as watching

    return watching.run(state_root(g.root), _one_id(args), args, logger)


def conformance(g, args, logger) -> int:
    from pyrunc.testing import conformance as suite

    argv = [f"--{name}={value}" for name, value in (("runtime", args.runtime), ("report", args.report)) if value]
    argv += ["-k", args.pattern] if args.pattern else []
    return suite.main(argv + (["--controls"] if args.controls else []) + (["--list"] if args.list else []))
