"""One exception type for everything a user can get wrong, and how it is shown.

runc's callers read meaning from the text (podman maps "no such file or directory" to 127),
so messages keep runc's wording where one exists.
"""


class PyruncError(Exception):
    """A failure reported to the user as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


def unsupported(json_path: str) -> PyruncError:
    """A config field pyrunc does not apply yet: refused, never silently ignored."""
    return PyruncError(f"unsupported: {json_path}")


def refuse(json_path: str, why: str) -> PyruncError:
    """unsupported(json_path) with the reason this host or module cannot apply it."""
    return PyruncError(f"{unsupported(json_path).message}: {why}")


def os_error(what: str, err: OSError) -> PyruncError:
    """`what: strerror` in the lowercase form runc prints (`no such file or directory`)."""
    reason = (err.strerror or str(err)).lower()
    return PyruncError(f"{what}: {reason}")
