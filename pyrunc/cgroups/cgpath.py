"""linux.cgroupsPath -> the container's cgroup, as a path inside each hierarchy.

Absolute values are taken from the hierarchy root, relative ones from the runtime's own cgroup,
and an absent one is /pyrunc/<id>. With --systemd-cgroup the value is runc's "slice:prefix:name";
there is no systemd to ask here, so it maps to the directory systemd would have made
(<slice as a path>/<prefix>-<name>.scope), as runc's cgroupfs fallback does; no unit is created.
"""


from pyrunc.errors import PyruncError

DEFAULT_PARENT = "/pyrunc"
SYSTEMD_PREFIX = "pyrunc"


def _components(path: str, what: str) -> list[str]:
    """Split on '/', dropping empty and '.' parts; '..' would climb out of the hierarchy: refused."""
    if "\0" in path:
        raise PyruncError(f"{what}: {path!r} contains a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PyruncError(f"{what}: {path!r} must not contain '..'")
    return parts


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root."""
    what = "linux.cgroupsPath"
    if not slice_name.endswith(".slice") or "/" in slice_name:
        raise PyruncError(f"{what}: invalid slice name {slice_name!r}")
    if slice_name == "-.slice":
        return ""
    stem = slice_name[: -len(".slice")]
    if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
        raise PyruncError(f"{what}: invalid slice name {slice_name!r}")
    out, prefix = [], ""
    for part in stem.split("-"):
        prefix = f"{prefix}-{part}" if prefix else part
        out.append(f"/{prefix}.slice")
    return "".join(out)


def systemd_path(value: str | None, container_id: str) -> str:
    """runc's "slice:prefix:name" -> "/<slice path>/<prefix>-<name>.scope" (or the slice named by `name`)."""
    if not value:
        value = f"system.slice:{SYSTEMD_PREFIX}:{container_id}"
    parts = value.split(":")
    if len(parts) != 3:
        raise PyruncError(f'linux.cgroupsPath: systemd cgroups need "slice:prefix:name", got {value!r}')
    slice_name, prefix, name = parts
    if not name or "/" in name or "/" in prefix:
        raise PyruncError(f"linux.cgroupsPath: invalid systemd unit in {value!r}")
    unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return expand_slice(slice_name or "system.slice") + "/" + unit


def resolve(value: str | None, container_id: str, systemd: bool) -> tuple[bool, str]:
    """(absolute, "/a/b") — absolute=False means relative to the runtime's own cgroup."""
    if systemd:
        return True, "/" + "/".join(_components(systemd_path(value, container_id), "linux.cgroupsPath"))
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
