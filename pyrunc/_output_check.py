# Generated from schema/*.json by `python -m pyrunc.schemagen`: do not edit, regenerate.
# ruff: noqa: E501

"""schema/*.json compiled ahead of time into plain Python checks, for the hot path.

Each public function returns whether a document is valid under its root schema, agreeing with
jsonschema's Draft4Validator, without importing anything (pyrunc.validate asks jsonschema for the
message only when one returns False):

- state(): schema/state-schema.json
- features(): schema/features-schema.json
"""

from pyrunc._config_check import (
    _defs_ArrayOfStrings,
    _defs_linux_NamespaceType,
    _pattern,
)
from pyrunc._config_check_rare import (
    _defs_linux_SeccompAction,
    _defs_linux_SeccompArch,
    _defs_linux_SeccompFlag,
    _defs_linux_SeccompOperators,
    _defs_mapStringString,
)

_STATE_SCHEMA_STATUS_ENUM = frozenset(("creating", "created", "running", "stopped"))
# ^CAP_[A-Z_]+$
_PATTERN_7 = (True, True, ("CAP_", ("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", False, 1, None)))


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


def _features_linux_linux_capabilities(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _features_linux_linux_capabilities_items(v):
            return False
    return True


def _features_linux_linux_capabilities_items(v):
    return isinstance(v, str) and _pattern(v, _PATTERN_7)


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


def _features_linux_linux_seccomp_operators(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompOperators(v):
            return False
    return True


def _features_linux_linux_seccomp_archs(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompArch(v):
            return False
    return True


def _features_linux_linux_seccomp_knownFlags(x):
    if not isinstance(x, list):
        return False
    for v in x:
        if not _defs_linux_SeccompFlag(v):
            return False
    return True


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
