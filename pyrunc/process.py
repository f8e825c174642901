"""The container process: limits, identity, capabilities, then exec.

Order follows runc's finalizeNamespace: bounding set first (still privileged), user switch
with PR_SET_KEEPCAPS, capability sets, ambient set, no_new_privs; the executable is looked
up at create time so a missing program fails `create`, not `start`.
"""

from pyrunc import capabilities
from pyrunc.errors import PyruncError
from pyrunc.steps import Plan

RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_value(env: list[str], name: str) -> str | None:
    prefix = name + "="
    for e in reversed(env):
        if e.startswith(prefix):
            return e[len(prefix):]
    return None


def plan_process(plan: Plan, cfg: dict, preserve_fds: int) -> None:
    proc = cfg.get("process")
    if not proc:
        raise PyruncError("config.json: process is required to start a container")
    args = proc.get("args") or []
    if not args:
        raise PyruncError("config.json: process.args must not be empty")
    plan.add("process", "set_dumpable", (0,), "prctl(PR_SET_DUMPABLE, 0) while the init waits for start")
    for i, rl in enumerate(proc.get("rlimits") or []):
        where = f"process.rlimits[{i}]"
        res = RLIMITS.get(rl.get("type"))
        if res is None:
            raise PyruncError(f"{where}.type: unknown rlimit {rl.get('type')!r}")
        if rl["soft"] > rl["hard"]:
            raise PyruncError(f"{where}: soft limit {rl['soft']} is above the hard limit {rl['hard']}")
        plan.add("process", "setrlimit", (res, rl["soft"], rl["hard"]),
                 f"setrlimit({rl['type']}, {rl['soft']}, {rl['hard']})", where)
    if "oomScoreAdj" in proc:
        plan.add("process", "write_file", ("/proc/self/oom_score_adj", str(proc["oomScoreAdj"])),
                 f"write /proc/self/oom_score_adj {proc['oomScoreAdj']}", "process.oomScoreAdj")
    caps = proc.get("capabilities")
    top = capabilities.last_cap()
    sets = capabilities.masks(caps, top) if caps is not None else None
    if sets is not None:
        drop = ((1 << (top + 1)) - 1) & ~sets["bounding"]
        plan.add("process", "drop_bounding", (drop, top),
                 f"drop from the bounding set all but: {capabilities.names(sets['bounding'])}",
                 "process.capabilities.bounding")
    user = proc.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    groups = tuple(user.get("additionalGids") or ())
    plan.add("process", "set_user", (uid, gid, groups, sets is not None),
             f"setgroups({list(groups)}), setresgid({gid}), setresuid({uid})", "process.user")
    if sets is not None:
        plan.add("process", "capset", (sets["effective"], sets["permitted"], sets["inheritable"]),
                 f"capset(effective={capabilities.names(sets['effective'])}, "
                 f"permitted={capabilities.names(sets['permitted'])}, "
                 f"inheritable={capabilities.names(sets['inheritable'])})", "process.capabilities")
        # The kernel keeps an ambient capability only while it is permitted and inheritable;
        # runc skips the others silently, and so does pyrunc (explain shows them).
        ambient = sets["ambient"] & sets["permitted"] & sets["inheritable"]
        skipped = sets["ambient"] & ~ambient
        if sets["ambient"]:
            plan.add("process", "raise_ambient", (ambient, top),
                     f"raise ambient: {capabilities.names(ambient)}"
                     + (f" (skipped, not inheritable: {capabilities.names(skipped)})" if skipped else ""),
                     "process.capabilities.ambient")
    if "umask" in user:
        plan.add("process", "umask", (user["umask"],), f"umask({user['umask']:04o})", "process.user.umask")
    cwd = proc.get("cwd") or "/"
    plan.add("process", "chdir", (cwd,), f"chdir({cwd})", "process.cwd")
    if proc.get("noNewPrivileges"):
        plan.add("process", "no_new_privs", (), "prctl(PR_SET_NO_NEW_PRIVS, 1)", "process.noNewPrivileges")
    env = list(proc.get("env") or [])
    path = env_value(env, "PATH") or DEFAULT_PATH
    plan.add("process", "lookup", (args[0], path), f"look up {args[0]} in PATH", "process.args[0]")
    plan.add("start", "execve", (args, env, 3 + preserve_fds),
             f"execve({args[0]}, {args}) with fds 0-{2 + preserve_fds} kept", "process.args")
