"""Reading a bundle's config.json: parse, validate, and refuse what pyrunc does not apply.

A field the spec defines that pyrunc does not implement fails with `unsupported: <json path>`;
it is never silently ignored. A property the spec does not define is ignored, as config.md
requires, and `--debug` names it. SUPPORTED lists every field that is applied: a dict maps keys
to their own tables, a one-element list applies its table to every item, True accepts the value
whole, and "*" in a dict accepts any key.
"""

import posix

from pyrunc import jsonio
from pyrunc.errors import PyruncError, unsupported
from pyrunc.posixfs import isdir, join, realpath

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
    """unknown() for every field that SUPPORTED does not list. A field accepted whole (True)
    costs no call and no path string: most of a config is."""
    if table is True:
        return
    if isinstance(table, list) and isinstance(value, list):
        if table[0] is not True:
            for i, item in enumerate(value):
                check_supported(item, table[0], f"{path}[{i}]")
    elif isinstance(table, dict) and isinstance(value, dict):
        wildcard = table.get("*")
        for key, item in value.items():
            sub = table.get(key, wildcard)
            if sub is True:
                continue
            where = f"{path}.{key}" if path else key
            if sub is None:
                unknown(where)
            else:
                check_supported(item, sub, where)


def load(bundle: str) -> dict:
    """Read, parse and validate `<bundle>/config.json`; one-line errors for every failure."""
    path = join(bundle, "config.json")
    text = read_text(path)
    try:
        cfg = jsonio.loads(text)
    except ValueError as e:
        raise PyruncError(f"config.json: invalid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise PyruncError("config.json: the top level must be a JSON object")
    if "\\ud" in text or "\\uD" in text:  # an escaped surrogate: paired, or alone and unusable
        check_surrogates(cfg)
    from pyrunc import _config_check

    if not _config_check.config(cfg):  # pyrunc.validate words the error (jsonschema), or has the last word
        from pyrunc import validate

        validate.check_config(cfg)
    check_supported(cfg)
    return cfg


def read_text(path: str) -> str:
    """A JSON file's text. Opened without blocking and refused unless a regular file (a fifo or
    /dev/zero would hang or never end); a symlink is followed, as runc does: the caller could read
    its target anyway. JSON is UTF-8 (RFC 8259 8.1): anything else is named, not decoded."""
    from _stat import S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK, S_ISDIR, S_ISREG  # stat.py's C half

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC | posix.O_NONBLOCK)
    except FileNotFoundError:
        raise PyruncError(f"open {path}: no such file or directory") from None
    except OSError as e:
        raise PyruncError(f"open {path}: {(e.strerror or '').lower()}") from None
    try:
        st = posix.fstat(fd)
        mode = st.st_mode
        if S_ISDIR(mode):
            raise PyruncError(f"open {path}: is a directory")
        if not S_ISREG(mode):
            kind = {S_IFIFO: "a fifo", S_IFCHR: "a character device", S_IFBLK: "a block device",
                    S_IFSOCK: "a socket"}.get(S_IFMT(mode), "not a file")
            raise PyruncError(f"{path}: {kind}, not a regular file")
        chunks = []  # no file object: open() adds four calls and a buffer
        while chunk := posix.read(fd, st.st_size + 1 if not chunks else 65536):
            chunks.append(chunk)
        data = b"".join(chunks)
    finally:
        posix.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PyruncError(f"{path}: not UTF-8 ({_encoding_guess(data, e.start)}); JSON must be "
                          "UTF-8") from None
    if "\0" in text:
        raise PyruncError(f"{path}: not UTF-8 (it holds NUL bytes: UTF-16 or UTF-32?); JSON must be "
                          "UTF-8")
    return text


def _encoding_guess(data: bytes, offset: int) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it starts with a UTF-16 byte order mark"
    return f"byte 0x{data[offset]:02x} at offset {offset} is not valid UTF-8"


def check_surrogates(cfg: dict) -> None:
    """A `\\udXXX` escape with no partner decodes to a string no file, argument or hostname can
    hold: refused with its JSON path rather than failing later in the init."""
    todo: list[tuple[str, object]] = [("", cfg)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, str):
            items: list = [(where, value)]
        elif isinstance(value, dict):
            items = [(f"{where}.{k}" if where else k, k) for k in value]
            todo += [(f"{where}.{k}" if where else k, v) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(f"{where}[{i}]", v) for i, v in enumerate(value)]
            continue
        else:
            continue
        for at, text in items:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as e:
                    at = (at or "config.json").encode("utf-8", "backslashreplace").decode()
                    raise PyruncError(f"{at}: a lone surrogate \\u{ord(text[e.start]):04x} is "
                                      "not a character (an escaped UTF-16 half without its pair)") from None


def rootfs_path(bundle: str, cfg: dict) -> str:
    """The root filesystem on the host: root.path, relative to the bundle unless absolute."""
    root = cfg.get("root")
    if not root or not root.get("path"):
        raise PyruncError("config.json: root.path is required on Linux")
    path = join(bundle, root["path"])
    if not isdir(path):
        raise PyruncError(f"rootfs ({path}) does not exist")
    return realpath(path)
