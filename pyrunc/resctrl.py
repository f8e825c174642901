"""Intel RDT through resctrl: a container's group is <resctrl>/<id>, as runc makes it.

Only `update --l3-cache-schema/--mem-bw-schema` uses it: the group is made (the init joins it)
if the container has none, then its schemata file gets the schema lines.
"""

import os

from pyrunc.errors import PyruncError
from pyrunc.steps import Step

ROOT = "/sys/fs/resctrl"


def plan(root: str, cid: str, pid: int, l3: str | None, mb: str | None, group: str | None) -> tuple[str, list[Step]]:
    """(the group's path, the steps) for new schemata; refuses what the host does not offer, with
    runc's wording and the file it looked for."""
    for value, feature, info, name in ((l3, "CAT", "L3", "l3 cache schema"), (mb, "MBA", "MB",
                                                                              "memory bandwidth schema")):
        if value and not os.path.isdir(os.path.join(root, "info", info)):
            raise PyruncError(f"Intel RDT/{feature}: {name} is not enabled ({root}/info/{info} does not exist)")
    path = group or os.path.join(root, cid)
    steps = []
    if group is None:
        steps.append(Step("update", "rdt_join", (path, pid), f"mkdir -p {path}; echo {pid} > {path}/tasks",
                          "linux.intelRdt"))
    schema = "\n".join(v for v in (l3, mb) if v)
    steps.append(Step("update", "write_file", (path, "schemata", schema), f"echo {schema!r} > {path}/schemata",
                      "linux.intelRdt.l3CacheSchema" if l3 else "linux.intelRdt.memBwSchema"))
    return path, steps


def remove(path: str) -> None:
    """delete: the group goes with the container (its tasks are gone)."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
