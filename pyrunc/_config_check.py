# Generated from schema/*.json by `python -m pyrunc.schemagen`: do not edit, regenerate.
# ruff: noqa: E501

"""schema/*.json compiled ahead of time into plain Python checks, for the hot path.

Each public function returns whether a document is valid under its root schema, agreeing with
jsonschema's Draft4Validator, without importing anything (pyrunc.validate asks jsonschema for the
message only when one returns False):

- config(): schema/config-schema.json

- state(): pyrunc._output_check
- features(): pyrunc._output_check
"""


# ^RLIMIT_[A-Z]+$
_PATTERN_2 = (True, True, ("RLIMIT_", ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", False, 1, None)))
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


def config(x):
    if not isinstance(x, dict):
        return False
    if "ociVersion" not in x:
        return False
    if not isinstance(x["ociVersion"], str):
        return False
    if "hooks" in x and not _rare("_config_schema_hooks")(x["hooks"]):
        return False
    if "annotations" in x and not _rare("_defs_mapStringString")(x["annotations"]):
        return False
    if "hostname" in x and not isinstance(x["hostname"], str):
        return False
    if "domainname" in x and not isinstance(x["domainname"], str):
        return False
    if "mounts" in x and not _config_schema_mounts(x["mounts"]):
        return False
    if "root" in x and not _config_schema_root(x["root"]):
        return False
    if "process" in x and not _config_schema_process(x["process"]):
        return False
    if "linux" in x and not _config_linux_linux(x["linux"]):
        return False
    return True


def _defs_ArrayOfStrings(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not isinstance(v, str):
            return False
    return True


def _config_schema_mounts(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_Mount(v):
            return False
    return True


def _defs_Mount(x):
    if not isinstance(x, dict):
        return False
    if "destination" not in x:
        return False
    if "source" in x and not isinstance(x["source"], str):
        return False
    if not isinstance(x["destination"], str):
        return False
    if "options" in x and not _defs_ArrayOfStrings(x["options"]):
        return False
    if "type" in x and not isinstance(x["type"], str):
        return False
    if "uidMappings" in x and not _rare("_defs_Mount_uidMappings")(x["uidMappings"]):
        return False
    if "gidMappings" in x and not _rare("_defs_Mount_uidMappings")(x["gidMappings"]):
        return False
    return True


def _defs_IDMapping(x):
    if not isinstance(x, dict):
        return False
    if "containerID" not in x or "hostID" not in x or "size" not in x:
        return False
    if not _defs_uint32(x["containerID"]):
        return False
    if not _defs_uint32(x["hostID"]):
        return False
    if not _defs_uint32(x["size"]):
        return False
    return True


def _defs_uint32(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 4294967295


def _config_schema_root(x):
    if not isinstance(x, dict):
        return False
    if "path" not in x:
        return False
    if not isinstance(x["path"], str):
        return False
    if "readonly" in x and not isinstance(x["readonly"], bool):
        return False
    return True


def _config_schema_process(x):
    if not isinstance(x, dict):
        return False
    if "cwd" not in x:
        return False
    if "args" in x and not _defs_ArrayOfStrings(x["args"]):
        return False
    if "commandLine" in x and not isinstance(x["commandLine"], str):
        return False
    if "consoleSize" in x and not _rare("_config_schema_process_consoleSize")(x["consoleSize"]):
        return False
    if not isinstance(x["cwd"], str):
        return False
    if "env" in x and not _defs_ArrayOfStrings(x["env"]):
        return False
    if "terminal" in x and not isinstance(x["terminal"], bool):
        return False
    if "user" in x and not _config_schema_process_user(x["user"]):
        return False
    if "capabilities" in x and not _config_schema_process_capabilities(x["capabilities"]):
        return False
    if "apparmorProfile" in x and not isinstance(x["apparmorProfile"], str):
        return False
    if "oomScoreAdj" in x and not _rare("_config_schema_process_oomScoreAdj")(x["oomScoreAdj"]):
        return False
    if "selinuxLabel" in x and not isinstance(x["selinuxLabel"], str):
        return False
    if "ioPriority" in x and not _rare("_config_schema_process_ioPriority")(x["ioPriority"]):
        return False
    if "noNewPrivileges" in x and not isinstance(x["noNewPrivileges"], bool):
        return False
    if "scheduler" in x and not _rare("_config_schema_process_scheduler")(x["scheduler"]):
        return False
    if "rlimits" in x and not _config_schema_process_rlimits(x["rlimits"]):
        return False
    if "execCPUAffinity" in x and not _rare("_config_schema_process_execCPUAffinity")(x["execCPUAffinity"]):
        return False
    return True


def _defs_uint64(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 18446744073709551615


def _config_schema_process_user(x):
    if not isinstance(x, dict):
        return False
    if "uid" in x and not _defs_uint32(x["uid"]):
        return False
    if "gid" in x and not _defs_uint32(x["gid"]):
        return False
    if "umask" in x and not _defs_uint32(x["umask"]):
        return False
    if "additionalGids" in x and not _rare("_defs_ArrayOfGIDs")(x["additionalGids"]):
        return False
    if "username" in x and not isinstance(x["username"], str):
        return False
    return True


def _config_schema_process_capabilities(x):
    if not isinstance(x, dict):
        return False
    if "bounding" in x and not _defs_ArrayOfStrings(x["bounding"]):
        return False
    if "permitted" in x and not _defs_ArrayOfStrings(x["permitted"]):
        return False
    if "effective" in x and not _defs_ArrayOfStrings(x["effective"]):
        return False
    if "inheritable" in x and not _defs_ArrayOfStrings(x["inheritable"]):
        return False
    if "ambient" in x and not _defs_ArrayOfStrings(x["ambient"]):
        return False
    return True


def _config_schema_process_rlimits(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _config_schema_process_rlimits_items(v):
            return False
    return True


def _config_schema_process_rlimits_items(x):
    if not isinstance(x, dict):
        return False
    if "type" not in x or "soft" not in x or "hard" not in x:
        return False
    if not _defs_uint64(x["hard"]):
        return False
    if not _defs_uint64(x["soft"]):
        return False
    if not _config_schema_process_rlimits_items_type(x["type"]):
        return False
    return True


def _config_schema_process_rlimits_items_type(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_2)


def _config_linux_linux(x):
    if not isinstance(x, dict):
        return False
    if "devices" in x and not _rare("_config_linux_linux_devices")(x["devices"]):
        return False
    if "netDevices" in x and not _rare("_config_linux_linux_netDevices")(x["netDevices"]):
        return False
    if "uidMappings" in x and not _config_linux_linux_uidMappings(x["uidMappings"]):
        return False
    if "gidMappings" in x and not _config_linux_linux_uidMappings(x["gidMappings"]):
        return False
    if "namespaces" in x and not _config_linux_linux_namespaces(x["namespaces"]):
        return False
    if "resources" in x and not _config_linux_linux_resources(x["resources"]):
        return False
    if "cgroupsPath" in x and not isinstance(x["cgroupsPath"], str):
        return False
    if "rootfsPropagation" in x and not _rare("_defs_linux_RootfsPropagation")(x["rootfsPropagation"]):
        return False
    if "seccomp" in x and not _rare("_config_linux_linux_seccomp")(x["seccomp"]):
        return False
    if "sysctl" in x and not _rare("_defs_mapStringString")(x["sysctl"]):
        return False
    if "maskedPaths" in x and not _defs_ArrayOfStrings(x["maskedPaths"]):
        return False
    if "readonlyPaths" in x and not _defs_ArrayOfStrings(x["readonlyPaths"]):
        return False
    if "mountLabel" in x and not isinstance(x["mountLabel"], str):
        return False
    if "intelRdt" in x and not _rare("_config_linux_linux_intelRdt")(x["intelRdt"]):
        return False
    if "memoryPolicy" in x and not _rare("_config_linux_linux_memoryPolicy")(x["memoryPolicy"]):
        return False
    if "personality" in x and not _rare("_defs_linux_Personality")(x["personality"]):
        return False
    if "timeOffsets" in x and not _rare("_config_linux_linux_timeOffsets")(x["timeOffsets"]):
        return False
    return True


def _config_linux_linux_uidMappings(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_IDMapping(v):
            return False
    return True


def _config_linux_linux_namespaces(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _config_linux_linux_namespaces_items(v):
            return False
    return True


def _config_linux_linux_namespaces_items(x):
    if not _defs_linux_NamespaceReference(x):
        return False
    return True


def _defs_linux_NamespaceReference(x):
    if not isinstance(x, dict):
        return False
    if "type" not in x:
        return False
    if not _defs_linux_NamespaceType(x["type"]):
        return False
    if "path" in x and not isinstance(x["path"], str):
        return False
    return True


def _defs_linux_NamespaceType(v):
    return isinstance(v, str) and v in _DEFS_LINUX_NAMESPACETYPE_ENUM


def _config_linux_linux_resources(x):
    if not isinstance(x, dict):
        return False
    if "unified" in x and not _rare("_defs_mapStringString")(x["unified"]):
        return False
    if "devices" in x and not _config_linux_linux_resources_devices(x["devices"]):
        return False
    if "pids" in x and not _rare("_config_linux_linux_resources_pids")(x["pids"]):
        return False
    if "blockIO" in x and not _rare("_config_linux_linux_resources_blockIO")(x["blockIO"]):
        return False
    if "cpu" in x and not _rare("_config_linux_linux_resources_cpu")(x["cpu"]):
        return False
    if "hugepageLimits" in x and not _rare("_config_linux_linux_resources_hugepageLimits")(x["hugepageLimits"]):
        return False
    if "memory" in x and not _rare("_config_linux_linux_resources_memory")(x["memory"]):
        return False
    if "network" in x and not _rare("_config_linux_linux_resources_network")(x["network"]):
        return False
    if "rdma" in x and not _rare("_config_linux_linux_resources_rdma")(x["rdma"]):
        return False
    return True


def _config_linux_linux_resources_devices(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_DeviceCgroup(v):
            return False
    return True


def _defs_linux_DeviceCgroup(x):
    if not isinstance(x, dict):
        return False
    if "allow" not in x:
        return False
    if not isinstance(x["allow"], bool):
        return False
    if "type" in x and not isinstance(x["type"], str):
        return False
    if "major" in x and not _rare("_defs_int64")(x["major"]):
        return False
    if "minor" in x and not _rare("_defs_int64")(x["minor"]):
        return False
    if "access" in x and not isinstance(x["access"], str):
        return False
    return True


def _rare(name):
    """A check of a section the default configs lack: pyrunc._config_check_rare, imported on first use."""
    from pyrunc import _config_check_rare

    return getattr(_config_check_rare, name)


def __getattr__(name):
    """The roots generated into a sibling module, imported on first use."""
    if name in ("state", "features"):
        from pyrunc import _output_check

        return getattr(_output_check, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
