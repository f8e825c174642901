# Generated from schema/*.json by `python -m pyrunc.schemagen`: do not edit, regenerate.
# ruff: noqa: E501

"""schema/*.json compiled ahead of time into plain Python checks, for the hot path.

Each public function returns whether a document is valid under its root schema, agreeing with
jsonschema's Draft4Validator, without importing anything (pyrunc.validate asks jsonschema for the
message only when one returns False):

- state(): schema/state-schema.json
- features(): schema/features-schema.json
"""


_STATE_SCHEMA_STATUS_ENUM = frozenset(("creating", "created", "running", "stopped"))
# .{1,}
_PATTERN_1 = (False, False, (("\n", True, 1, None),))
_DEFS_LINUX_NAMESPACETYPE_ENUM = frozenset((
    "mount",
    "pid",
    "network",
    "uts",
    "ipc",
    "user",
    "cgroup",
    "time",
))
# ^CAP_[A-Z_]+$
_PATTERN_2 = (True, True, ("CAP_", ("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", False, 1, None)))
_DEFS_LINUX_SECCOMPACTION_ENUM = frozenset((
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
))
_DEFS_LINUX_SECCOMPOPERATORS_ENUM = frozenset((
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
))
_DEFS_LINUX_SECCOMPARCH_ENUM = frozenset((
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
))
_DEFS_LINUX_SECCOMPFLAG_ENUM = frozenset((
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
))


def _pattern(s, pattern):
    """re.search() for a pattern schemagen translated into literal and character-class runs."""
    anchored, dollar, atoms = pattern
    n = len(s)
    ends = ((n, n - 1) if s.endswith("\n") else (n,)) if dollar else None
    for i in range(1 if anchored else n + 1):
        if _runs(s, i, atoms, 0, ends):
            return True
    return False


def _runs(s, i, atoms, k, ends):
    """Whether atoms[k:] match s from index i on (ending at one of `ends` when `$` anchors them)."""
    if k == len(atoms):
        return ends is None or i in ends
    atom = atoms[k]
    if atom.__class__ is str:
        return s.startswith(atom, i) and _runs(s, i + len(atom), atoms, k + 1, ends)
    chars, negated, least, most = atom
    stop = len(s) if most is None else min(len(s), i + most)
    j = i
    while j < stop and (s[j] in chars) is not negated:
        j += 1
    while j >= i + least:
        if _runs(s, j, atoms, k + 1, ends):
            return True
        j -= 1
    return False


def state(x):
    if not isinstance(x, dict):
        return False
    if "ociVersion" not in x or "id" not in x or "status" not in x or "bundle" not in x:
        return False
    if not isinstance(x["ociVersion"], str):
        return False
    if not isinstance(x["id"], str):
        return False
    if not _state_schema_status(x["status"]):
        return False
    if "pid" in x and not _state_schema_pid(x["pid"]):
        return False
    if not isinstance(x["bundle"], str):
        return False
    if "annotations" in x and not _defs_mapStringString(x["annotations"]):
        return False
    return True


def _state_schema_status(v):
    return isinstance(v, str) and v in _STATE_SCHEMA_STATUS_ENUM


def _state_schema_pid(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _defs_mapStringString(x):
    if not isinstance(x, dict):
        return False
    for k, v in x.items():
        if not isinstance(v, str) and _pattern(k, _PATTERN_1):
            return False
    return True


def features(x):
    if not isinstance(x, dict):
        return False
    if "ociVersionMin" not in x or "ociVersionMax" not in x:
        return False
    if not isinstance(x["ociVersionMin"], str):
        return False
    if not isinstance(x["ociVersionMax"], str):
        return False
    if "hooks" in x and not _defs_ArrayOfStrings(x["hooks"]):
        return False
    if "mountOptions" in x and not _defs_ArrayOfStrings(x["mountOptions"]):
        return False
    if "annotations" in x and not _defs_mapStringString(x["annotations"]):
        return False
    if (
        "potentiallyUnsafeConfigAnnotations" in x
        and not _defs_ArrayOfStrings(x["potentiallyUnsafeConfigAnnotations"])
    ):
        return False
    if "linux" in x and not _features_linux_linux(x["linux"]):
        return False
    return True


def _defs_ArrayOfStrings(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not isinstance(v, str):
            return False
    return True


def _features_linux_linux(x):
    if not isinstance(x, dict):
        return False
    if "namespaces" in x and not _features_linux_linux_namespaces(x["namespaces"]):
        return False
    if "capabilities" in x and not _features_linux_linux_capabilities(x["capabilities"]):
        return False
    if "cgroup" in x and not _features_linux_linux_cgroup(x["cgroup"]):
        return False
    if "seccomp" in x and not _features_linux_linux_seccomp(x["seccomp"]):
        return False
    if "apparmor" in x and not _features_linux_linux_apparmor(x["apparmor"]):
        return False
    if "selinux" in x and not _features_linux_linux_apparmor(x["selinux"]):
        return False
    if "intelRdt" in x and not _features_linux_linux_apparmor(x["intelRdt"]):
        return False
    if "mountExtensions" in x and not _features_linux_linux_mountExtensions(x["mountExtensions"]):
        return False
    if "netDevices" in x and not _features_linux_linux_apparmor(x["netDevices"]):
        return False
    return True


def _features_linux_linux_namespaces(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_NamespaceType(v):
            return False
    return True


def _defs_linux_NamespaceType(v):
    return isinstance(v, str) and v in _DEFS_LINUX_NAMESPACETYPE_ENUM


def _features_linux_linux_capabilities(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _features_linux_linux_capabilities_items(v):
            return False
    return True


def _features_linux_linux_capabilities_items(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_2)


def _features_linux_linux_cgroup(x):
    if not isinstance(x, dict):
        return False
    if "v1" in x and not isinstance(x["v1"], bool):
        return False
    if "v2" in x and not isinstance(x["v2"], bool):
        return False
    if "systemd" in x and not isinstance(x["systemd"], bool):
        return False
    if "systemdUser" in x and not isinstance(x["systemdUser"], bool):
        return False
    if "rdma" in x and not isinstance(x["rdma"], bool):
        return False
    return True


def _features_linux_linux_seccomp(x):
    if not isinstance(x, dict):
        return False
    if "enabled" in x and not isinstance(x["enabled"], bool):
        return False
    if "actions" in x and not _features_linux_linux_seccomp_actions(x["actions"]):
        return False
    if "operators" in x and not _features_linux_linux_seccomp_operators(x["operators"]):
        return False
    if "archs" in x and not _features_linux_linux_seccomp_archs(x["archs"]):
        return False
    if "knownFlags" in x and not _features_linux_linux_seccomp_knownFlags(x["knownFlags"]):
        return False
    if "supportedFlags" in x and not _features_linux_linux_seccomp_knownFlags(x["supportedFlags"]):
        return False
    return True


def _features_linux_linux_seccomp_actions(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompAction(v):
            return False
    return True


def _defs_linux_SeccompAction(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPACTION_ENUM


def _features_linux_linux_seccomp_operators(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompOperators(v):
            return False
    return True


def _defs_linux_SeccompOperators(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPOPERATORS_ENUM


def _features_linux_linux_seccomp_archs(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompArch(v):
            return False
    return True


def _defs_linux_SeccompArch(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPARCH_ENUM


def _features_linux_linux_seccomp_knownFlags(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompFlag(v):
            return False
    return True


def _defs_linux_SeccompFlag(v):
    return isinstance(v, str) and v in _DEFS_LINUX_SECCOMPFLAG_ENUM


def _features_linux_linux_apparmor(x):
    if not isinstance(x, dict):
        return False
    if "enabled" in x and not isinstance(x["enabled"], bool):
        return False
    return True


def _features_linux_linux_mountExtensions(x):
    if not isinstance(x, dict):
        return False
    if "idmap" in x and not _features_linux_linux_apparmor(x["idmap"]):
        return False
    return True
