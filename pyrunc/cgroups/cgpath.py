"""linux.cgroupsPath -> the container's cgroup, as a path inside each hierarchy.

Absolute values are taken from the hierarchy root, relative ones from the runtime's own cgroup,
and an absent one is /pyrunc/<id>. With --systemd-cgroup the value is runc's "slice:prefix:name":
systemd.py.
"""


from pyrunc.errors import PyruncError

DEFAULT_PARENT = "/pyrunc"


def _components(path: str, what: str) -> list[str]:
    """Split on '/', dropping empty and '.' parts; '..' would climb out of the hierarchy: refused."""
    if "\0" in path:
        raise PyruncError(f"{what}: {path!r} contains a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PyruncError(f"{what}: {path!r} must not contain '..'")
    return parts


def resolve(value: str | None, container_id: str) -> tuple[bool, str]:
    """(absolute, "/a/b") — absolute=False means relative to the runtime's own cgroup."""
    if value is None or value == "":
        if "/" in container_id or container_id in (".", "..") or not container_id:
            raise PyruncError(f"invalid container id {container_id!r}")
        return True, f"{DEFAULT_PARENT}/{container_id}"
    if not isinstance(value, str):
        raise PyruncError("linux.cgroupsPath: must be a string")
    parts = _components(value, "linux.cgroupsPath")
    if not parts:
        raise PyruncError(f"linux.cgroupsPath: {value!r} names no cgroup of the container's own")
    return value.startswith("/"), "/" + "/".join(parts)
