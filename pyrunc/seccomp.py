"""linux.seccomp: check the object (pure), compile it to classic BPF with libseccomp (in the
runtime, before the init exists), and hand a SCMP_ACT_NOTIFY listener to the seccomp agent.

Why libseccomp through a cffi module of pyrunc's own (pyrunc._seccomp, linked with -lseccomp):
PyPI has no maintained binding (libseccomp's own Python binding is not published there;
`pyseccomp` is a ctypes wrapper last released in 2021, and importing ctypes alone costs more
than the compile), the syscall tables per architecture and the argument comparisons on 32-bit
ABIs are what libseccomp is for, and cffi is already how pyrunc reaches C. The module is
imported only when a config has linux.seccomp. The init never calls libseccomp: it loads the
exported bytes with seccomp(2) (pyr_seccomp_load / pyr_exec_seccomp in the main shim).

Semantics follow runc: unknown syscall names are skipped (profiles name syscalls newer than the
host's libseccomp), a rule whose action equals the default action is dropped (libseccomp refuses
it), conditions on the same argument index become separate rules (docker's profile relies on it).
Unless the default action lets calls through (allow, log, trace), a syscall newer than every one
the profile names returns ENOSYS instead of the default action (runc's patchbpf): libc then falls
back to an older call, as it does on an older kernel, where the default errno (EPERM) would be
taken for a refusal. Requested flags are probed against the kernel; a flag it lacks is an error.
"""

from pyrunc.errors import PyruncError

EPERM = 1
# The kernel's SECCOMP_RET_* values, which libseccomp's SCMP_ACT_* macros expand to.
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
ARCHS = {
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_PARISC": "parisc", "SCMP_ARCH_PARISC64": "parisc64", "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_LOONGARCH64": "loongarch64", "SCMP_ARCH_M68K": "m68k", "SCMP_ARCH_SH": "sh",
    "SCMP_ARCH_SHEB": "sheb",
}
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
FLAG_NEW_LISTENER = 8
FLAG_TSYNC_ESRCH = 16
ENOSYS = 38
LISTENER_TIMEOUT = 5.0  # seconds to connect to listenerPath and send the fd
# Default actions under which an unknown syscall already goes through: no ENOSYS stub then.
LETS_THROUGH = (ACTIONS["SCMP_ACT_ALLOW"], ACTIONS["SCMP_ACT_LOG"], ACTIONS["SCMP_ACT_TRACE"])
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000  # x32 calls come as x86_64 ones with this bit: left to the filter
SCMP_ARCH_X32 = 0x4000003E  # libseccomp's token for x32 (no audit arch of its own)
# struct seccomp_data offsets, and the classic BPF opcodes of the stub
DATA_NR, DATA_ARCH = 0, 4
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGT_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x25, 0x45, 0x06
# Syscalls the runtime itself makes between loading the filter and handing the listener fd to
# the agent: a SCMP_ACT_NOTIFY on them would wait for an agent that has no fd yet.
NOT_NOTIFIABLE = ("sendmsg",)


class Rule:
    """One seccomp_rule_add: syscall name, kernel action value, conditions (index, op, a, b)."""

    __slots__ = ("name", "action", "conditions", "where")

    def __init__(self, name: str, action: int, conditions: tuple, where: str) -> None:
        self.name = name
        self.action = action
        self.conditions = conditions
        self.where = where


class Filter:
    """A checked linux.seccomp: the rules to compile, and after compile() the BPF bytes."""

    def __init__(self, default: int, archs: list[str], flags: int, rules: list[Rule], notify: bool,
                 listener_path: str, metadata: str) -> None:
        self.default = default
        self.archs = archs
        self.flags = flags
        self.rules = rules
        self.notify = notify
        self.listener_path = listener_path
        self.metadata = metadata
        self.bpf = b""
        self.skipped: list[str] = []
        self.names: list[str] = [rule.name for rule in rules]  # every name in the profile (check() sets it)
        self.newest: list[tuple[int, int]] = []  # (audit arch, highest syscall number named) for the stub

    def describe(self) -> str:
        parts = [f"default {action_text(self.default)}", f"{len(self.rules)} rules"]
        if self.bpf:
            parts.append(f"{len(self.bpf) // 8} BPF instructions")
        if self.skipped:
            parts.append(f"unknown to libseccomp, skipped: {','.join(sorted(set(self.skipped)))}")
        for arch, nr in self.newest:
            parts.append(f"syscalls above {nr} (audit arch {arch:#x}) return ENOSYS")
        if self.notify:
            parts.append(f"listener fd to {self.listener_path}")
        return "; ".join(parts)


def action_text(value: int) -> str:
    """errno(1), allow, kill, ... for explain."""
    names = {v: k for k, v in ACTIONS.items() if k not in ("SCMP_ACT_KILL_THREAD", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")}
    base = value & 0xFFFF0000
    if base == 0x00050000:
        return f"errno({value & 0xFFFF})"
    if base == 0x7FF00000:
        return f"trace({value & 0xFFFF})"
    return names.get(value, hex(value)).removeprefix("SCMP_ACT_").lower()


def _action(name: object, errno_ret: object, where: str, errno_where: str) -> int:
    if name not in ACTIONS:
        raise PyruncError(f"{where}: unknown seccomp action {name!r}")
    value = ACTIONS[name]
    if name in WITH_ERRNO:
        errno = EPERM if errno_ret is None else errno_ret
        if not isinstance(errno, int) or isinstance(errno, bool) or not 0 <= errno <= 0xFFFF:
            raise PyruncError(f"{errno_where}: {errno!r} is not an errno value (0-65535)")
        return value | errno
    if errno_ret is not None:
        raise PyruncError(f"{errno_where}: the action {name} takes no errno")
    return value


def check(sc: dict, where: str = "linux.seccomp") -> Filter:
    """Validate linux.seccomp and turn it into rules; no libseccomp needed."""
    if not isinstance(sc, dict):
        raise PyruncError(f"{where}: must be an object")
    if sc.get("defaultAction") == "SCMP_ACT_NOTIFY":
        raise PyruncError(f"{where}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
    default = _action(sc.get("defaultAction"), sc.get("defaultErrnoRet"), f"{where}.defaultAction",
                      f"{where}.defaultErrnoRet")
    archs = []
    for i, arch in enumerate(sc.get("architectures") or []):
        if arch not in ARCHS:
            raise PyruncError(f"{where}.architectures[{i}]: unknown architecture {arch!r}")
        archs.append(ARCHS[arch])
    flags = 0
    for i, flag in enumerate(sc.get("flags") or []):
        if flag not in FLAGS:
            raise PyruncError(f"{where}.flags[{i}]: unknown seccomp flag {flag!r}")
        flags |= FLAGS[flag]
    rules: list[Rule] = []
    names_seen: list[str] = []
    notify = False
    for i, call in enumerate(sc.get("syscalls") or []):
        w = f"{where}.syscalls[{i}]"
        if not isinstance(call, dict):
            raise PyruncError(f"{w}: must be an object")
        names = call.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise PyruncError(f"{w}.names: needs at least one syscall name")
        action = _action(call.get("action"), call.get("errnoRet"), f"{w}.action", f"{w}.errnoRet")
        if call.get("action") == "SCMP_ACT_NOTIFY":
            notify = True
            for name in names:
                if name in NOT_NOTIFIABLE:
                    raise PyruncError(f"{w}: SCMP_ACT_NOTIFY cannot be used for {name}: the runtime needs "
                                      "it to hand the listener to the agent")
        conditions = []
        for j, arg in enumerate(call.get("args") or []):
            aw = f"{w}.args[{j}]"
            if not isinstance(arg, dict):
                raise PyruncError(f"{aw}: must be an object")
            index, op = arg.get("index"), arg.get("op")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
                raise PyruncError(f"{aw}.index: {index!r} is not a syscall argument index (0-5)")
            if op not in OPERATORS:
                raise PyruncError(f"{aw}.op: unknown seccomp operator {op!r}")
            values = []
            for key, required in (("value", True), ("valueTwo", False)):
                v = arg.get(key, None if required else 0)
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 64:
                    raise PyruncError(f"{aw}.{key}: {v!r} is not a uint64")
                values.append(v)
            conditions.append((index, OPERATORS[op], values[0], values[1]))
        names_seen.extend(names)
        if action == default:
            continue  # redundant, and libseccomp refuses it
        indexes = [c[0] for c in conditions]
        groups = [(c,) for c in conditions] if len(set(indexes)) < len(indexes) else [tuple(conditions)]
        for name in names:
            for group in groups:
                rules.append(Rule(name, action, group, w))
    listener = sc.get("listenerPath") or ""
    if notify:
        if not listener:
            raise PyruncError(f"{where}.listenerPath: SCMP_ACT_NOTIFY needs a listener socket path")
        if not listener.startswith("/"):
            raise PyruncError(f"{where}.listenerPath: {listener} is not an absolute path")
        flags |= FLAG_NEW_LISTENER
        if flags & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
            flags |= FLAG_TSYNC_ESRCH  # the kernel refuses TSYNC with a listener otherwise
    if sc.get("listenerMetadata") and not sc.get("listenerPath"):
        raise PyruncError(f"{where}.listenerMetadata: needs listenerPath")
    filt = Filter(default, archs, flags, rules, notify, listener, sc.get("listenerMetadata") or "")
    filt.names = names_seen
    return filt


def compile(sc: dict, where: str = "linux.seccomp") -> Filter:  # noqa: A001 - what it does
    """check(), then libseccomp: the filter as the bytes of its struct sock_filter array."""
    import posix

    from pyrunc import uapi

    filt = check(sc, where)
    _probe_flags(sc, where)
    try:
        from pyrunc._seccomp import ffi, lib
    except ImportError as e:
        raise PyruncError(f"{where}: pyrunc was built without libseccomp: {e}") from None
    ctx = lib.seccomp_init(filt.default)
    if ctx == ffi.NULL:
        raise PyruncError(f"{where}: libseccomp refused the default action")
    try:
        for arch in filt.archs:
            token = lib.seccomp_arch_resolve_name(arch.encode())
            if token == 0:
                v = lib.seccomp_version()
                raise PyruncError(f"{where}.architectures: {arch} is not supported by libseccomp "
                                  f"{v.major}.{v.minor}.{v.micro}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -17:  # EEXIST: the native one is there already
                raise PyruncError(f"{where}.architectures: adding {arch}: {posix.strerror(-rc).lower()}")
        for rule in filt.rules:
            nr = lib.seccomp_syscall_resolve_name(rule.name.encode())
            if nr == -1:  # __NR_SCMP_ERROR
                filt.skipped.append(rule.name)
                continue
            conds = ffi.new("struct scmp_arg_cmp[]", max(len(rule.conditions), 1))
            for k, (index, op, a, b) in enumerate(rule.conditions):
                conds[k].arg, conds[k].op, conds[k].datum_a, conds[k].datum_b = index, op, a, b
            rc = lib.seccomp_rule_add_array(ctx, rule.action, nr, len(rule.conditions), conds)
            if rc < 0:
                raise PyruncError(f"{rule.where}: libseccomp refused the rule for {rule.name}: "
                                  f"{posix.strerror(-rc).lower()}")
        if filt.default not in LETS_THROUGH:
            filt.newest = _newest(lib, filt)
        fd = posix.memfd_create("seccomp-bpf", posix.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise PyruncError(f"{where}: exporting the filter: {posix.strerror(-rc).lower()}")
            size = posix.lseek(fd, 0, uapi.SEEK_CUR)
            filt.bpf = posix.pread(fd, size, 0)
        finally:
            posix.close(fd)
    finally:
        lib.seccomp_release(ctx)
    filt.bpf = enosys_stub(filt.newest) + filt.bpf
    if not filt.bpf or len(filt.bpf) % 8 or len(filt.bpf) // 8 > 0xFFFF:
        raise PyruncError(f"{where}: the compiled filter has {len(filt.bpf) // 8} instructions (at most 65535)")
    return filt


def _probe_flags(sc: dict, where: str) -> None:
    """Each requested flag, as the kernel would take it (WAIT_KILLABLE_RECV only with a listener)."""
    from pyrunc import native

    for i, flag in enumerate(sc.get("flags") or []):
        bits = FLAGS[flag] | (FLAG_NEW_LISTENER if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" else 0)
        if not native.seccomp_flags_supported(bits):
            raise PyruncError(f"{where}.flags[{i}]: {flag} is not supported by this kernel")


def supported_flags() -> list[str]:
    """The known flags this kernel takes, for `pyrunc features` (seccomp.supportedFlags)."""
    from pyrunc import native

    return sorted(flag for flag, bit in FLAGS.items()
                  if native.seccomp_flags_supported(
                      bit | (FLAG_NEW_LISTENER if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" else 0)))


def _newest(lib, filt: Filter) -> list[tuple[int, int]]:
    """(audit arch, highest syscall number the profile names on it) for the filter's architectures."""
    tokens = [lib.seccomp_arch_native()] + [lib.seccomp_arch_resolve_name(a.encode()) for a in filt.archs]
    newest = []
    for token in dict.fromkeys(tokens):
        if token in (0, SCMP_ARCH_X32):
            continue
        numbers = [lib.seccomp_syscall_resolve_name_arch(token, name.encode()) for name in set(filt.names)]
        numbers = [nr for nr in numbers if 0 <= nr < X32_SYSCALL_BIT]
        if numbers:
            newest.append((token, max(numbers)))
    return newest


def enosys_stub(newest: list[tuple[int, int]]) -> bytes:
    """Classic BPF to run before the filter: on each (audit arch, nr), a syscall numbered above nr
    returns ENOSYS; anything else falls through to the filter (which loads the arch again)."""
    import struct

    def insn(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    out = b""
    for arch, nr in newest:
        tail = [insn(BPF_LD_W_ABS, 0, 0, DATA_NR)]
        if arch == AUDIT_ARCH_X86_64:
            tail.append(insn(BPF_JSET_K, 2, 0, X32_SYSCALL_BIT))  # an x32 call: past the block
        tail += [insn(BPF_JGT_K, 0, 1, nr), insn(BPF_RET_K, 0, 0, ACTIONS["SCMP_ACT_ERRNO"] | ENOSYS)]
        out += insn(BPF_LD_W_ABS, 0, 0, DATA_ARCH) + insn(BPF_JEQ_K, 0, len(tail), arch) + b"".join(tail)
    return out


def process_state(filt: Filter, pid: int, state: dict) -> bytes:
    """The container process state of config-linux.md, sent with the listener fd."""
    from pyrunc import OCI_VERSION, jsonio

    doc = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": pid, "state": state}
    if filt.metadata:
        doc["metadata"] = filt.metadata
    return jsonio.dumps(doc).encode()


def send_listener(path: str, fd: int, message: bytes) -> None:
    """One connection per state: connect, one sendmsg with the fd, close (config-linux.md)."""
    import _socket

    from pyrunc.console import fds_message

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(LISTENER_TIMEOUT)  # a listener that accepts nothing must not hang create or start
    try:
        _connect(sock, path)
        sock.sendmsg([message], fds_message([fd]))
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e)).lower()
        raise PyruncError(f"linux.seccomp.listenerPath: sending the seccomp fd to {path}: {why}") from None
    finally:
        sock.close()


def _connect(sock, path: str) -> None:
    """connect(), retried while the listener's backlog is full (a unix socket with a timeout says
    EAGAIN at once rather than wait), for at most LISTENER_TIMEOUT seconds."""
    import time

    deadline = time.monotonic() + LISTENER_TIMEOUT
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError from None
            time.sleep(0.05)


def handover(sc: dict, fd: int, pid: int, state: dict) -> None:
    """The runtime's part when the init sends `seccomp` + fd: on to the agent. No libseccomp."""
    filt = check(sc)
    try:
        send_listener(filt.listener_path, fd, process_state(filt, pid, state))
    finally:
        import posix

        posix.close(fd)
