"""What an unprivileged runtime cannot do, refused before anything is made (runc's
libcontainer/configs/validate/rootless.go, with the json path named)."""

from pyrunc.errors import PyruncError


def _mapped(value: int, maps: list) -> bool:
    return any(m.get("containerID", 0) <= value < m.get("containerID", 0) + m.get("size", 0) for m in maps)


def check(cfg: dict) -> None:
    """A user namespace with maps, and no uid=/gid= mount option naming an id the maps lack: the
    kernel would refuse that mount with a bare EINVAL (devpts' gid=5 in runc's default config)."""
    linux = cfg.get("linux") or {}
    if not any(n.get("type") == "user" for n in linux.get("namespaces") or []):
        raise PyruncError("linux.namespaces: rootless container requires user namespaces")
    for kind in ("uid", "gid"):
        if not linux.get(f"{kind}Mappings"):
            raise PyruncError(f"linux.{kind}Mappings: rootless containers requires at least one "
                              f"{kind.upper()} mapping")
    for i, m in enumerate(cfg.get("mounts") or []):
        for opt in m.get("options") or []:
            kind, _, value = opt.partition("=")
            if kind in ("uid", "gid") and value.isdigit() and not _mapped(int(value), linux[f"{kind}Mappings"]):
                raise PyruncError(f"mounts[{i}]: cannot specify {kind}= mount options for unmapped {kind} in "
                                  f"rootless containers ({opt} on {m.get('destination')}; spec --rootless drops it)")
