"""JSON without the stdlib `json` package on the hot path.

`import json` pulls in `re` and costs about 6 ms, a quarter of a whole `runc run`; its C
accelerator `_json` costs 0.4 ms. Decoding uses `_json`'s scanner directly; compact encoding
its encoder (a state record in 15 us instead of 60), indented encoding a small writer over its
string escaper. Errors take the slow path through `json` to
report the line and column. Only JSON goes in or out: NaN and the infinities, which `json`
accepts and writes by default, are refused both ways (tests/unit/test_jsonio.py holds the two
to the same results on a corpus of configs).
"""

from _json import encode_basestring_ascii, make_encoder, make_scanner


class _Context:
    """The attributes `_json.make_scanner` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """A number too large for a double (1e400) would parse as an infinity, which JSON cannot carry."""
    value = float(text)
    if value - value != 0.0:
        raise ValueError(f"{text} is out of range")
    return value


_ctx = _Context()
_ctx.parse_constant = _reject_constant
_ctx.parse_float = _finite_float
_scan = make_scanner(_ctx)
_WS = " \t\n\r"


def loads(text: str) -> object:
    """Parse a JSON document; raises ValueError carrying `line N column M` on bad input."""
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    try:
        obj, end = _scan(text, i)
        while end < n and text[end] in _WS:
            end += 1
        if end == n:
            return obj
    except (StopIteration, ValueError, SystemError):
        pass  # _json raises SystemError when it cannot import json.decoder itself
    except RecursionError:
        raise ValueError(_too_deep()) from None
    finally:
        _ctx.memo.clear()
    import json  # the slow path only: for the precise error location

    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(_too_deep()) from None
    raise ValueError("invalid JSON")


def _too_deep() -> str:
    """The parser recurses once per array or object: Python's recursion limit bounds the nesting."""
    import sys

    return f"nested deeper than the parser's limit (about {sys.getrecursionlimit()} levels)"


def _unencodable(obj: object) -> object:
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


# json.encoder's c_make_encoder with json.dumps's compact separators, NaN refused (allow_nan False)
_encode = make_encoder(None, _unencodable, encode_basestring_ascii, None, ":", ",", False, False, False)


def dumps(obj: object, indent: int | None = None) -> str:
    """Serialise dicts, lists, strings, numbers, booleans and None (like json.dumps)."""
    if indent is None:
        return "".join(_encode(obj, 0))
    parts: list[str] = []
    _write(obj, parts, indent, 0)
    return "".join(parts)


def _write(obj: object, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(obj, str):
        out.append(encode_basestring_ascii(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj - obj != 0.0:
            raise ValueError(f"out of range float values are not JSON compliant: {obj!r}")
        out.append(float.__repr__(obj))
    elif isinstance(obj, dict | list | tuple):
        is_dict = isinstance(obj, dict)
        opening, closing = ("{", "}") if is_dict else ("[", "]")
        if not obj:
            out.append(opening + closing)
            return
        inner = "\n" + " " * (indent * (level + 1)) if indent is not None else ""
        out.append(opening)
        items = obj.items() if is_dict else enumerate(obj)
        for i, (k, v) in enumerate(items):
            out.append(("," if i else "") + inner)
            if is_dict:
                out.append(encode_basestring_ascii(_key(k)))
                out.append(": " if indent is not None else ":")
            _write(v, out, indent, level + 1)
        out.append(("\n" + " " * (indent * level) if indent is not None else "") + closing)
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _key(k: object) -> str:
    """Object keys as json writes them: strings as they are, true/false/null and numbers spelled."""
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, int | float):
        return dumps(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")
