"""`pyrunc list`: the containers of a state root, as runc prints them (a table, JSON or the ids).

Apart from commands.py, which every command loads, because only `list` needs it.
"""

import sys

from pyrunc.errors import PyruncError
from pyrunc.state import Container, list_ids


def run(root: str, format: str | None, quiet: bool) -> int:  # noqa: A002 - the flag's name
    states = [Container(root, cid).read().oci_state() for cid in list_ids(root)]
    if quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif format == "json":
        from pyrunc import jsonio

        sys.stdout.write(jsonio.dumps(states) + "\n")
    elif format in (None, "table"):
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]) for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    else:
        raise PyruncError(f"invalid format option: {format}")
    return 0
