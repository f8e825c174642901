"""Reading a bundle's config.json: parse, validate, and refuse what pyrunc does not apply.

A field the spec defines that pyrunc does not implement fails with `unsupported: <json path>`;
it is never silently ignored. A property the spec does not define is ignored, as config.md
requires, and `--debug` names it. SUPPORTED lists every field that is applied: a dict maps keys
to their own tables, a one-element list applies its table to every item, True accepts the value
whole, and "*" in a dict accepts any key.
"""

import os

from pyrunc import jsonio
from pyrunc.errors import PyruncError, unsupported

_HOOK = [{"path": True, "args": True, "env": True, "timeout": True}]
_ID_MAP = [{"containerID": True, "hostID": True, "size": True}]

SUPPORTED: dict = {
    "ociVersion": True,
    "hostname": True,
    "domainname": True,
    "annotations": True,
    "root": {"path": True, "readonly": True},
    "mounts": [{"destination": True, "type": True, "source": True, "options": True, "uidMappings": _ID_MAP,
                "gidMappings": _ID_MAP}],  # pyrunc/mounts.py, idmapped: pyrunc/idmap.py
    "process": {
        "terminal": True,
        "consoleSize": {"height": True, "width": True},
        "args": True,
        "env": True,
        "cwd": True,
        "user": {"uid": True, "gid": True, "umask": True, "additionalGids": True},
        "capabilities": {k: True for k in ("bounding", "effective", "permitted", "inheritable", "ambient")},
        "rlimits": [{"type": True, "soft": True, "hard": True}],
        "noNewPrivileges": True,
        "oomScoreAdj": True,
        "scheduler": {k: True for k in ("policy", "nice", "priority", "flags", "runtime", "deadline", "period")},
        "ioPriority": {"class": True, "priority": True},
        "execCPUAffinity": {"initial": True, "final": True},  # for `exec` only (config.md)
        "selinuxLabel": True,  # pyrunc/lsm.py: an error on a host without SELinux
        "apparmorProfile": True,  # pyrunc/lsm.py: an error on a host without AppArmor
    },
    "hooks": {k: _HOOK for k in ("prestart", "createRuntime", "createContainer", "startContainer",
                                 "poststart", "poststop")},
    "linux": {
        "namespaces": [{"type": True, "path": True}],
        "uidMappings": _ID_MAP,
        "gidMappings": _ID_MAP,
        "timeOffsets": {"*": {"secs": True, "nanosecs": True}},
        "cgroupsPath": True,
        "resources": True,  # checked field by field by the cgroups planner
        "rootfsPropagation": True,
        "maskedPaths": True,
        "readonlyPaths": True,
        "devices": [{k: True for k in ("type", "path", "major", "minor", "fileMode", "uid", "gid")}],  # devices.py
        "mountLabel": True,  # pyrunc/lsm.py: an error on a host without SELinux
        "sysctl": True,
        "seccomp": {k: True for k in ("defaultAction", "defaultErrnoRet", "architectures", "flags",
                                      "listenerPath", "listenerMetadata", "syscalls")},  # pyrunc/seccomp.py
        "personality": {"domain": True, "flags": True},
        "netDevices": {"*": {"name": True}},  # pyrunc/network.py
    },
}


ignored: list[str] = []  # unknown properties met by this process, for --debug


def unknown(path: str) -> None:
    """A field pyrunc does not apply: `unsupported: <path>` when the spec defines it (the schema,
    read only on this path, says so); else an unknown property, ignored and remembered."""
    from pyrunc import validate

    if validate.spec_defines(path):
        raise unsupported(path)
    ignored.append(path)


def check_supported(value: object, table: object = SUPPORTED, path: str = "") -> None:
    """unknown() for every field that SUPPORTED does not list."""
    if table is True:
        return
    if isinstance(table, list) and isinstance(value, list):
        for i, item in enumerate(value):
            check_supported(item, table[0], f"{path}[{i}]")
    elif isinstance(table, dict) and isinstance(value, dict):
        for key, item in value.items():
            sub = table.get(key, table.get("*"))
            where = f"{path}.{key}" if path else key
            if sub is None:
                unknown(where)
            else:
                check_supported(item, sub, where)


def load(bundle: str) -> dict:
    """Read, parse and validate `<bundle>/config.json`; one-line errors for every failure."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PyruncError(f"open {path}: no such file or directory") from None
    except OSError as e:
        raise PyruncError(f"open {path}: {(e.strerror or '').lower()}") from None
    try:
        cfg = jsonio.loads(text)
    except ValueError as e:
        raise PyruncError(f"config.json: invalid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise PyruncError("config.json: the top level must be a JSON object")
    from pyrunc import validate

    validate.check_config(cfg)
    check_supported(cfg)
    return cfg


def rootfs_path(bundle: str, cfg: dict) -> str:
    """The root filesystem on the host: root.path, relative to the bundle unless absolute."""
    root = cfg.get("root")
    if not root or not root.get("path"):
        raise PyruncError("config.json: root.path is required on Linux")
    path = os.path.join(bundle, root["path"])
    if not os.path.isdir(path):
        raise PyruncError(f"rootfs ({path}) does not exist")
    return os.path.realpath(path)
