"""The container process: limits, scheduling, identity, capabilities, seccomp, then exec.

The same planner serves the init (create/run) and `exec`. Order follows runc's
finalizeNamespace: rlimits, oom_score_adj, scheduler, I/O priority and personality while still
privileged; seccomp there too when no_new_privs is off (loading a filter then needs
CAP_SYS_ADMIN); the bounding set; the user switch with PR_SET_KEEPCAPS; the capability sets;
the ambient set; no_new_privs; and with no_new_privs the filter last, in the same C call as
execve. The executable is looked up before `start`, so a missing program fails `create`.

No path back to the host: the init (and an exec'd process) is a copy of the runtime until
execve. It is non-dumpable and its /proc/self/exe cannot be opened for writing (the launcher's
sealed view of the interpreter, or a memfd: protect_exe); it closes every fd of the caller but
stdio, the preserved ones and LISTEN_FDS first, and marks its own close-on-exec before a seccomp
filter is loaded (which need not allow close_range); after chdir, the cwd must be inside the
root (CVE-2024-21626). It leaves the caller's session keyring for one of the container's.

Defaults as runc where the spec is silent: a missing cwd is made (inside the root), HOME comes
from the container's /etc/passwd when process.env has none. Where the spec speaks, it wins: an
unset process.user.umask leaves the caller's umask (config.md), where runc sets 0022.
"""

import posix  # not os, whose import costs 1.2 ms of exec (posixfs.py)

from pyrunc import capabilities, uapi
from pyrunc.errors import PyruncError
from pyrunc.posixfs import getenv
from pyrunc.steps import Plan

RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
# sysctl keys that belong to a namespace (runc's list), by the namespace they need.
IPC_SYSCTLS = frozenset(("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                         "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"))
UTS_SYSCTLS = frozenset(("kernel.hostname", "kernel.domainname"))


def env_value(env: list[str], name: str) -> str | None:
    prefix = name + "="
    for e in reversed(env):
        if e.startswith(prefix):
            return e[len(prefix):]
    return None


def listen_fds_from_env(environ: dict | None = None) -> int:
    """Socket activation (sd_listen_fds): LISTEN_FDS counts fds from 3 when LISTEN_PID is us."""
    get = getenv if environ is None else environ.get
    try:
        if int(get("LISTEN_PID") or "0") != posix.getpid():
            return 0
        return max(0, int(get("LISTEN_FDS") or "0"))
    except ValueError:
        return 0


def check_kept_fds(count: int) -> None:
    """fds 3..3+count-1 must be open: otherwise one of the runtime's own would take the number
    and reach the container."""
    for fd in range(3, 3 + count):
        try:
            posix.fstat(fd)
        except OSError:
            raise PyruncError(f"--preserve-fds/LISTEN_FDS: file descriptor {fd} is not open") from None


def first_cloexec(plan: Plan) -> int:
    """The first fd the container's program does not get (3 + preserved / LISTEN_FDS)."""
    return next((s.args[2] for s in plan.phases["start"] if s.op == "execve"), 3)


def exec_record(cfg: dict, no_new_keyring: bool = False) -> dict:
    """What `exec` needs from config.json and create's flags, kept in the state at create:
    later edits of the bundle's config must not change the container."""
    linux = cfg.get("linux") or {}
    record = {"process": cfg.get("process")}  # None without one: `start` refuses (lifecycle.start)
    for key in ("seccomp", "personality"):
        if key in linux:
            record[key] = linux[key]
    if no_new_keyring:
        record["noNewKeyring"] = True
    return record


def session_keyring_name(cid: str) -> str:
    """runc's name for a container's session keyring: `exec` joins the init's by it."""
    return f"_ses.{cid}"


def plan_keyring(plan: Plan, cid: str, own_user_ns: bool) -> None:
    """The init leaves the caller's session keyring (whose keys it would possess) for a new one
    of the container's, as runc's standard init does; `exec` joins it by name. It is made
    searchable by its owner's uid and, within a user namespace of the container's own (whose
    keyring names no one outside sees), by anyone: runc sets only the latter there, so its exec,
    by then root of the namespace and so the owner, cannot find it and makes a new one."""
    who = "its uid and others in the container's user namespace" if own_user_ns else "its uid"
    search = uapi.KEY_USR_SEARCH | (uapi.KEY_OTH_SEARCH if own_user_ns else 0)
    name = session_keyring_name(cid)
    plan.add("namespaces", "join_session_keyring", (name, search),
             f"keyctl(KEYCTL_JOIN_SESSION_KEYRING, {name!r}), searchable by {who}: not the caller's session keyring")


def passwd_home(passwd: bytes | None, uid: int) -> str:
    """The home directory of the first /etc/passwd entry with this uid, else "/" (runc's default
    when HOME is not in process.env)."""
    for line in (passwd or b"").decode(errors="replace").splitlines():
        fields = line.strip().split(":")
        if len(fields) >= 6 and fields[2].isdigit() and int(fields[2]) == uid:
            return fields[5] or "/"
    return "/"


def plan_cwd(plan: Plan, cfg: dict) -> None:
    """A missing process.cwd is made inside the root, before it can be made read-only (runc's
    MkdirAll in its jail, but never through a symlink or magic link leading out of it)."""
    cwd = (cfg.get("process") or {}).get("cwd") or "/"
    if cwd.startswith("/") and cwd.strip("/"):
        plan.add("pivot", "make_cwd", (cwd,), f"mkdir -p {cwd} inside the root (0755) when it is missing",
                 "process.cwd")


def plan_protect(plan: Plan, exe_sealed: bool, rootless: bool = False) -> None:
    """The runtime, before clone (as runc's nsexec): the init inherits it, so it never shows up
    in a namespace of the container as a dumpable copy of the host's interpreter, nor as one
    whose /proc/<pid>/exe could be opened for writing: an entrypoint of /proc/self/exe needs no
    ptrace to reach it (CVE-2019-5736). The launcher normally runs the interpreter from a sealed
    read-only view (exeseal.py); otherwise /proc/self/exe is detached here, at the price of
    copying the interpreter's mappings (~4 ms for a static libpython). Without privileges neither
    is possible, and an interpreter the caller cannot write is safe (exeseal.check_unprivileged)."""
    if rootless:  # its /proc/<pid>/uid_map must stay open to the runtime until the maps are written
        plan.add("runtime", "protect_exe", (False, True), exeseal_text(exe_sealed, rootless) + "; the init, "
                 "dumpable until its id maps are written (by this unprivileged runtime), then not, until execve")
        return
    plan.add("runtime", "protect_exe", (not exe_sealed,), "prctl(PR_SET_DUMPABLE, 0); "
             + exeseal_text(exe_sealed) + "; the init inherits it until execve")


def exeseal_text(exe_sealed: bool, rootless: bool = False) -> str:
    if exe_sealed:
        return "/proc/self/exe is the launcher's read-only overlayfs view of the interpreter"
    if rootless:
        return "/proc/self/exe is an interpreter the caller's uid (all the user namespace maps) cannot write"
    return "/proc/self/exe becomes a sealed, empty memfd, not the host's interpreter"


def plan_sysctl(plan: Plan, cfg: dict, has_ns, joined: dict) -> None:
    """linux.sysctl: only keys of a namespace the container does not share with the host.

    `has_ns(kind)` says whether linux.namespaces lists the kind; `joined` maps joined kinds to
    their paths (a joined namespace must not be the runtime's own)."""
    for key, value in ((cfg.get("linux") or {}).get("sysctl") or {}).items():
        where = f"linux.sysctl.{key}"
        parts = key.replace("/", ".").split(".")
        if not all(parts) or ".." in key or any(p in (".", "..") for p in parts):
            raise PyruncError(f"{where}: invalid sysctl name {key!r}")
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            kind, proc_name = "ipc", "ipc"
        elif key.startswith("net."):
            kind, proc_name = "network", "net"
        elif key in UTS_SYSCTLS:
            kind, proc_name = "uts", "uts"
            if key == "kernel.hostname" and cfg.get("hostname"):
                raise PyruncError(f"{where}: conflicts with the hostname field")
        else:
            raise PyruncError(f"{where}: sysctl {key!r} is not in a separate kernel namespace")
        if not has_ns(kind):
            raise PyruncError(f"{where}: sysctl {key!r} is not allowed in the host's {kind} namespace")
        if kind in joined and _same_namespace(joined[kind], f"/proc/self/ns/{proc_name}"):
            raise PyruncError(f"{where}: sysctl {key!r} is not allowed in the host's {kind} namespace")
        if not isinstance(value, str):
            raise PyruncError(f"{where}: the value must be a string")
        rel = "sys/" + key.replace(".", "/")
        plan.add("pivot", "write_proc", (rel, value), f"write /proc/{rel} {value!r}", where)


def _same_namespace(a: str, b: str) -> bool:
    try:
        sa, sb = posix.stat(a), posix.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def plan_rlimits(plan: Plan, proc: dict, how: str) -> None:
    """Where the process's rlimits are set. In a user namespace the process lacks CAP_SYS_RESOURCE
    where raising a hard limit needs it, in the host's namespace, so they are set from there:
    `runtime`, the init asks the runtime, which sets them with prlimit from outside (as runc
    does); `namespaces`, an exec'd process sets them before it joins the container's namespaces.
    `process`: the process sets its own, in its process phase (no user namespace: it holds the
    runtime's privileges then, and no round trip is needed)."""
    seen: set[str] = set()
    for i, rl in enumerate(proc.get("rlimits") or []):
        where = f"process.rlimits[{i}]"
        kind = rl.get("type")
        res = RLIMITS.get(kind)
        if res is None:
            raise PyruncError(f"{where}.type: unknown rlimit {kind!r}")
        if kind in seen:
            raise PyruncError(f"{where}.type: {kind} is listed twice")
        seen.add(kind)
        soft, hard = rl.get("soft"), rl.get("hard")
        for name, v in (("soft", soft), ("hard", hard)):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 64:
                raise PyruncError(f"{where}.{name}: {v!r} is not a uint64")
        if soft > hard:
            raise PyruncError(f"{where}: soft limit {soft} is above the hard limit {hard}")
        if how == "runtime":
            plan.add("parent", "prlimit", (res, soft, hard), f"prlimit(<pid>, {kind}, {soft}, {hard})", where,
                     on="rlimits")
        else:
            plan.add(how, "setrlimit", (res, soft, hard), f"setrlimit({kind}, {soft}, {hard})", where)
    if how == "runtime" and seen:
        plan.add("process", "request_rlimits", (), "ask the runtime to set the rlimits (prlimit from outside the "
                 "user namespace)", "process.rlimits")


def _plan_personality(plan: Plan, pers: dict) -> None:
    where = "linux.personality"
    domain = pers.get("domain")
    if domain not in PERSONALITY_DOMAINS:
        raise PyruncError(f"{where}.domain: unknown execution domain {domain!r}")
    if pers.get("flags"):
        raise PyruncError(f"{where}.flags: no personality flag is supported")
    plan.add("process", "personality", (PERSONALITY_DOMAINS[domain],), f"personality(PER_{domain})", where)


def plan_process(plan: Plan, cfg: dict, preserve_fds: int, listen_fds: int = 0, for_exec: bool = False,
                 in_userns: bool = False, rootless: bool = False) -> None:
    """The process phase and the exec step, for the init or (for_exec) for `pyrunc exec`. The
    init's oom_score_adj is written by the runtime (plan.plan_parent); with `in_userns` the
    rlimits are set from outside the user namespace (plan_rlimits; exec.plan_exec for exec)."""
    proc = cfg.get("process")
    if not proc:
        raise PyruncError("config.json: process is required to start a container")
    args = proc.get("args") or []
    if not args:
        raise PyruncError("config.json: process.args must not be empty")
    linux = cfg.get("linux") or {}
    env = list(proc.get("env") or [])
    user = proc.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    if not env_value(env, "HOME"):
        plan.add("process", "home_from_passwd", (uid,),
                 f"HOME is not set: uid {uid}'s home directory in the container's /etc/passwd, else /", "process.env")
    if not in_userns:
        plan_rlimits(plan, proc, "process")
    elif not for_exec:
        plan_rlimits(plan, proc, "runtime")
    if "oomScoreAdj" in proc and for_exec:
        plan.add("process", "write_proc", ("self/oom_score_adj", str(proc["oomScoreAdj"])),
                 f"write /proc/self/oom_score_adj {proc['oomScoreAdj']}", "process.oomScoreAdj")
    if proc.get("scheduler") or proc.get("ioPriority"):
        from pyrunc import scheduling

        if proc.get("scheduler"):
            scheduling.plan_scheduler(plan, proc["scheduler"])
        if proc.get("ioPriority"):
            scheduling.plan_ioprio(plan, proc["ioPriority"])
    if linux.get("personality"):
        _plan_personality(plan, linux["personality"])
    nnp = bool(proc.get("noNewPrivileges"))
    first_kept_out = 3 + max(preserve_fds, listen_fds)
    filt = None
    if linux.get("seccomp") is not None:
        from pyrunc import seccomp

        filt = seccomp.compile(linux["seccomp"])
        if not nnp:
            plan.add("process", "cloexec_from", (first_kept_out,),
                     f"close_range({first_kept_out}, ~0, CLOSE_RANGE_CLOEXEC) before the filter, which need not "
                     "allow it", "linux.seccomp")
            plan.add("process", "seccomp_load", (filt.bpf, filt.flags, filt.notify),
                     f"load the seccomp filter while CAP_SYS_ADMIN is held: {filt.describe()}", "linux.seccomp")
    caps = proc.get("capabilities")
    top = capabilities.last_cap()
    sets = capabilities.masks(caps, top) if caps is not None else None
    cap_names: dict[int, str] = {}  # each set's names, once per distinct mask (the default's four are two)
    if sets is not None:
        for bits in sets.values():
            if bits not in cap_names:
                cap_names[bits] = capabilities.names(bits)
        drop = ((1 << (top + 1)) - 1) & ~sets["bounding"]
        plan.add("process", "drop_bounding", (drop, top),
                 f"drop from the bounding set all but: {cap_names[sets['bounding']]}", "process.capabilities.bounding")
    cwd = proc.get("cwd") or "/"
    if not cwd.startswith("/"):
        raise PyruncError(f"process.cwd: {cwd} is not an absolute path")
    if proc.get("terminal") and uid != 0:
        plan.add("process", "chown_terminal", (uid,),
                 f"fchown(<pty>, {uid}, -1): the user's terminal, its group still the devpts gid (runc's "
                 "fixStdioPermissions, for the pty only)", "process.terminal,process.user.uid")
    plan.add("process", "chdir_before_user", (cwd,),
             f"chdir({cwd}) with the runtime's credentials; on a permission error again as the user", "process.cwd")
    groups: tuple | None = tuple(user.get("additionalGids") or ())
    if rootless:  # the runtime wrote setgroups `deny` to map the gid: runc's setupUser leaves them too
        if groups:
            raise PyruncError("process.user.additionalGids: an unprivileged runtime cannot set supplementary "
                              "groups (setgroups is denied in its user namespace)")
        groups = None
    text = f"setgroups({list(groups)}), " if groups is not None else ""
    plan.add("process", "set_user", (uid, gid, groups, sets is not None),
             f"{text}setresgid({gid}), setresuid({uid})", "process.user")
    if sets is not None:
        plan.add("process", "capset", (sets["effective"], sets["permitted"], sets["inheritable"]),
                 f"capset(effective={cap_names[sets['effective']]}, permitted={cap_names[sets['permitted']]}, "
                 f"inheritable={cap_names[sets['inheritable']]})", "process.capabilities")
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
    plan.add("process", "chdir", (cwd,), f"chdir({cwd}) unless done, then getcwd: it must be inside the root",
             "process.cwd")
    if nnp:
        plan.add("process", "no_new_privs", (), "prctl(PR_SET_NO_NEW_PRIVS, 1)", "process.noNewPrivileges")
    path = env_value(env, "PATH") or DEFAULT_PATH
    plan.add("process", "lookup", (args[0], path), f"look up {args[0]} in PATH", "process.args[0]")
    if for_exec:
        plan.add("process", "clear_pdeathsig", (), "prctl(PR_SET_PDEATHSIG, 0): the process outlives `exec -d`")
    text = f"execve({args[0]}, {args}) with fds 0-{first_kept_out - 1} kept"
    if listen_fds:
        text += f", LISTEN_FDS={listen_fds} LISTEN_PID=<its pid>"
    last_filter = None
    if filt is not None and nnp:
        last_filter = (filt.bpf, filt.flags, filt.notify)
        text = (f"close_range({first_kept_out}, ~0, CLOSE_RANGE_CLOEXEC), load the seccomp filter "
                f"({filt.describe()}), then {text}")
    marked = filt is not None and not nnp  # by cloexec_from, before the filter: execve must not try again
    plan.add("start", "execve", (args, env, first_kept_out, listen_fds, last_filter, marked), text,
             "process.args" + (",linux.seccomp" if last_filter else ""))
