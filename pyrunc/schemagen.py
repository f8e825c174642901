"""Compiles schema/*.json ahead of time into pyrunc/_config_check.py: plain nested Python checks.

Why: `pyrunc run` validates config.json on every start. Importing jsonschema costs ~59 ms and `re` ~5 ms,
whereas the generated module imports nothing and checks runc's default config in tens of microseconds.
The generated functions only answer valid or not; pyrunc.validate asks jsonschema for the message when
one says no. So they must agree with jsonschema's Draft4Validator on every document (the unit tests
cross-check that): unsupported keywords stop the generation rather than being skipped.

Run `python -m pyrunc.schemagen` after editing schema/ (arguments: [OUTPUT [SCHEMA_DIR]]).
"""

import json
import os
import posixpath
import re
import string
import sys

# Public function name in the generated modules -> root schema file.
ROOTS = {"config": "config-schema.json", "state": "state-schema.json", "features": "features-schema.json"}
# The generated modules and their roots: config.json's check, which every `create` and `run` loads, apart
# from the checks of the documents pyrunc writes itself (state, features), which they never use.
MODULES = {"_config_check": ("config",), "_output_check": ("state", "features")}
# Where the config check's functions go that checking pyrunc's own default configs (`pyrunc spec`, rootful
# and rootless) never calls: the sections those lack (resource limits, seccomp, hooks, scheduling, other
# platforms...). _config_check imports it the first time a config has one.
RARE = "_config_check_rare"

# E501 is waived in case a future schema yields a condition too long to wrap at an operator.
HEADER = (
    "# Generated from schema/*.json by `python -m pyrunc.schemagen`: do not edit, regenerate.\n"
    "# ruff: noqa: E501\n"
)
LINE_LENGTH = 110

# Keywords with no effect on validity under jsonschema's Draft4Validator (format is only checked with a
# format_checker, which pyrunc does not pass).
_ANNOTATIONS = frozenset({"$schema", "description", "title", "default", "definitions", "format"})
_OBJECT = (
    "required", "properties", "patternProperties", "additionalProperties", "minProperties", "maxProperties",
)
_ARRAY = ("items", "additionalItems", "minItems", "maxItems", "uniqueItems")
_STRING = ("minLength", "maxLength", "pattern")
_NUMBER = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_GENERIC = ("type", "enum", "allOf", "anyOf", "oneOf", "not", "$ref")
_SUPPORTED = _ANNOTATIONS | set(_OBJECT) | set(_ARRAY) | set(_STRING) | set(_NUMBER) | set(_GENERIC)
# Keywords an inline expression can check; the others need a function of their own.
_SIMPLE = _ANNOTATIONS | set(_STRING) | set(_NUMBER) | {
    "type", "enum", "minItems", "maxItems", "minProperties", "maxProperties",
}

_TYPES = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "integer": "isinstance({v}, int) and not isinstance({v}, bool)",
    "number": "isinstance({v}, (int, float)) and not isinstance({v}, bool)",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
}
# The instance types each keyword group applies to (jsonschema skips a keyword for other types).
_GROUP_TYPES = {
    "object": ("object",), "array": ("array",), "string": ("string",), "number": ("integer", "number"),
}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_LITERAL_ESCAPES = frozenset(string.punctuation + " ")
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_DIGITS = frozenset(string.digits)
_MAX_RANGE = 256
_PLACEHOLDER = "\0"  # stands for the checked value until it is known whether it is named once

# Runtime helpers copied into the generated module when used.
_HELPERS = {
    "_pattern": '''
def _pattern(s, pattern):
    """re.search() for a pattern schemagen translated into literal and character-class runs."""
    anchored, dollar, atoms = pattern
    n = len(s)
    ends = ((n, n - 1) if s.endswith("\\n") else (n,)) if dollar else None
    for i in range(1 if anchored else n + 1):
        if _runs(s, i, atoms, 0, ends):
            return True
    return False


def _runs(s, i, atoms, k, ends):
    """Whether atoms[k:] match s from index i on (ending at one of `ends` when `$` anchors them)."""
    if k == len(atoms):
        return ends is None or i in ends
    atom = atoms[k]
    if atom.__class__ is str:
        return s.startswith(atom, i) and _runs(s, i + len(atom), atoms, k + 1, ends)
    chars, negated, least, most = atom
    stop = len(s) if most is None else min(len(s), i + most)
    j = i
    while j < stop and (s[j] in chars) is not negated:
        j += 1
    while j >= i + least:
        if _runs(s, j, atoms, k + 1, ends):
            return True
        j -= 1
    return False
''',
    "_search": '''
def _search(pattern, s):
    """re.search() for the patterns schemagen cannot translate: `re` loads only when one is checked."""
    import re

    return re.search(pattern, s) is not None
''',
    "_equal": '''
def _equal(one, two):
    """jsonschema's equality: 1 == 1.0 but True != 1, containers compared item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return one == two


def _in_enum(v, values):
    """The enum keyword for values that are not all strings."""
    return any(_equal(v, each) for each in values)


def _unique(items):
    """The uniqueItems keyword, with jsonschema's notion of equality."""
    return all(not _equal(a, b) for i, a in enumerate(items) for b in items[i + 1:])
''',
}
_HELPER_BLOCKS = {"_in_enum": "_equal", "_unique": "_equal"}  # helper -> the _HELPERS entry defining it


class GenerationError(Exception):
    """The schemas use something the generator cannot translate faithfully."""


class _Untranslatable(Exception):
    """A regex outside the subset translate_pattern() handles."""


def translate_pattern(pattern: str) -> tuple | None:
    """`re.search(pattern, s)` as (anchored, dollar, atoms) for the generated _pattern(), or None.

    The subset: optional `^`, then literals, escapes of punctuation and of \\n \\t \\r \\f \\v \\a,
    `.` and `[...]` classes, each with an optional greedy `*`, `+`, `?` or `{m,n}`, then optional `$`.
    Atoms are literal strings or (sorted class chars, negated, least, most-or-None).
    """
    try:
        return _parse_pattern(pattern)
    except _Untranslatable:
        return None


def _parse_pattern(p: str) -> tuple:
    anchored = p.startswith("^")
    i = 1 if anchored else 0
    dollar = False
    atoms: list = []
    while i < len(p):
        c = p[i]
        if c == "$" and i == len(p) - 1:
            dollar = True
            break
        if c == "[":
            chars, negated, i = _parse_class(p, i + 1)
        elif c == ".":
            chars, negated, i = frozenset("\n"), True, i + 1
        elif c == "\\":
            ch, i = _parse_escape(p, i + 1)
            chars, negated = frozenset(ch), False
        elif c in _REGEX_SPECIAL:
            raise _Untranslatable
        else:
            chars, negated, i = frozenset(c), False, i + 1
        least, most, i = _parse_quantifier(p, i)
        atoms.append(("".join(sorted(chars)), negated, least, most))
    merged: list = []
    for atom in atoms:
        chars, negated, least, most = atom
        if len(chars) == 1 and not negated and least == most == 1:
            if merged and isinstance(merged[-1], str):
                merged[-1] += chars
            else:
                merged.append(chars)
        else:
            merged.append(atom)
    return anchored, dollar, tuple(merged)


def _parse_escape(p: str, i: int) -> tuple[str, int]:
    if i >= len(p):
        raise _Untranslatable
    c = p[i]
    if c in _ESCAPES:
        return _ESCAPES[c], i + 1
    if c in _LITERAL_ESCAPES:
        return c, i + 1
    raise _Untranslatable  # \d \w \s \b \x.. \u.. \1 ...: classes, assertions, codes, backreferences


def _parse_class(p: str, i: int) -> tuple[frozenset, bool, int]:
    negated = p.startswith("^", i)
    if negated:
        i += 1
    chars: set[str] = set()
    first = True
    while True:
        if i >= len(p) or p[i] == "[" or p.startswith(("--", "&&", "~~", "||"), i):
            raise _Untranslatable  # unterminated, or syntax Python warns may change meaning
        c = p[i]
        if c == "]" and not first:
            return frozenset(chars), negated, i + 1
        first = False
        if c == "\\":
            low, i = _parse_escape(p, i + 1)
        else:
            low, i = c, i + 1
        if p.startswith("-", i) and i + 1 < len(p) and p[i + 1] != "]":
            if p[i + 1] == "\\":
                high, i = _parse_escape(p, i + 2)
            elif p[i + 1] == "[":
                raise _Untranslatable
            else:
                high, i = p[i + 1], i + 2
            if not 0 <= ord(high) - ord(low) <= _MAX_RANGE:
                raise _Untranslatable
            chars.update(chr(k) for k in range(ord(low), ord(high) + 1))
        else:
            chars.add(low)


def _parse_quantifier(p: str, i: int) -> tuple[int, int | None, int]:
    c = p[i] if i < len(p) else ""
    if c == "*":
        least, most, i = 0, None, i + 1
    elif c == "+":
        least, most, i = 1, None, i + 1
    elif c == "?":
        least, most, i = 0, 1, i + 1
    elif c == "{":
        close = p.find("}", i)
        low, comma, high = p[i + 1 : close].partition(",")
        if close < 0 or not set(low + high) <= _DIGITS or not (low or high):
            raise _Untranslatable
        least = int(low) if low else 0
        most = (int(high) if high else None) if comma else least
        if most is not None and most < least:
            raise _Untranslatable
        i = close + 1
    else:
        return 1, 1, i
    if i < len(p) and p[i] in "*+?{":
        raise _Untranslatable  # lazy, possessive or repeated quantifiers
    return least, most, i


def _scan(expr: str):
    """(index, char, bracket depth) of each character of expr outside string literals."""
    depth, quote, escaped = 0, "", False
    for i, c in enumerate(expr):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
            continue
        if c in "'\"":
            quote = c
            continue
        if c in ")]}":
            depth -= 1
        yield i, c, depth
        if c in "([{":
            depth += 1


def _wrapped(expr: str) -> bool:
    """Whether expr is one parenthesised group, so it needs no more parentheses."""
    if not expr.startswith("("):
        return False
    return next(i for i, c, depth in _scan(expr) if c == ")" and depth == 0) == len(expr) - 1


def _atom(expr: str) -> str:
    """expr made safe as an operand of any operator: a call or a parenthesised group."""
    if _wrapped(expr):
        return expr
    head, _, _ = expr.partition("(")
    if head.isidentifier() and _wrapped(expr[len(head):]):
        return expr
    return f"({expr})"


def _paren(expr: str) -> str:
    compound = " and " in expr or " or " in expr or expr.startswith("not ")
    return f"({expr})" if compound and not _wrapped(expr) else expr


def _conj(parts: list[str]) -> str:
    parts = [p for p in parts if p != "True"]
    if not parts:
        return "True"
    return " and ".join(_paren(p) if " or " in p else p for p in parts)


def _disj(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " or ".join(_paren(p) for p in parts) + ")"


def _negate(expr: str) -> str:
    return f"not {_paren(expr)}"


def _identifier(text: str) -> str:
    out = "".join(c if c.isalnum() and c.isascii() or c == "_" else "_" for c in text)
    return out if out[:1].isalpha() or out[:1] == "_" else "_" + out


class _Compiler:
    """Turns schema nodes into inline expressions (simple nodes) or named functions (the rest)."""

    def __init__(self, documents: dict[str, dict]) -> None:
        self.documents = documents
        self.functions: dict[tuple[str, str], str] = {}  # (file, canonical schema) -> name
        self.bodies: list[list[str]] = []
        self.constants: dict[str, tuple[str, str]] = {}  # key -> (name, source)
        self.helpers: set[str] = set()
        self.names: set[str] = set()

    def _name(self, base: str) -> str:
        name = base
        n = 2
        while name in self.names:
            name = f"{base}_{n}"
            n += 1
        self.names.add(name)
        return name

    def _location_name(self, file: str, pointer: str) -> str:
        stem = file.removesuffix(".json")
        segments = [s for s in pointer.split("/")[1:] if s not in ("properties", "definitions")]
        return _identifier("_" + "_".join([stem, *segments]))

    def resolve(self, file: str, ref: str) -> tuple[str, str, object]:
        """The (file, pointer, node) a $ref written in `file` points at, like jsonschema's resolver."""
        target, _, fragment = ref.partition("#")
        if target:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(file), target))
        else:
            target = file
        if fragment and not fragment.startswith("/"):
            raise GenerationError(f"{file}: $ref {ref!r}: only JSON-pointer fragments are supported")
        if target not in self.documents:
            raise GenerationError(f"{file}: $ref {ref!r}: no {target} in schema/")
        node: object = self.documents[target]
        for segment in fragment.split("/")[1:]:
            segment = segment.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(segment)] if isinstance(node, list) else node[segment]  # type: ignore[index]
            except (KeyError, IndexError, ValueError, TypeError):
                raise GenerationError(f"{file}: $ref {ref!r} points at nothing") from None
        return target, fragment, node

    def _check_keywords(self, schema: dict, file: str, pointer: str) -> None:
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise GenerationError(f"{file}#{pointer}: unsupported keywords {sorted(unknown)}")

    def is_simple(self, schema: object, file: str, pointer: str) -> bool:
        if not isinstance(schema, dict):
            raise GenerationError(f"{file}#{pointer}: a schema must be an object")
        self._check_keywords(schema, file, pointer)
        if "$ref" in schema:
            target, fragment, node = self.resolve(file, schema["$ref"])
            return self.is_simple(node, target, fragment)
        return set(schema) <= _SIMPLE

    def expr(self, schema: dict, file: str, pointer: str, var: str) -> str:
        """A boolean expression over `var` that holds when the value is valid under the schema."""
        if "$ref" in schema:  # draft-04: $ref replaces its siblings
            target, fragment, node = self.resolve(file, schema["$ref"])
            return self.expr(node, target, fragment, var)  # type: ignore[arg-type]
        if self.is_simple(schema, file, pointer):
            return self._simple_expr(schema, file, pointer, var)
        return f"{self.function(file, pointer, schema)}({var})"

    def _simple_expr(self, schema: dict, file: str, pointer: str, var: str) -> str:
        """The conditions inline when they name the value once (`isinstance(x["cwd"], str)`), else a call
        to a one-line function shared by all identical checks (`_defs_uint32(x["uid"])`): inlining those
        too makes the module larger, and unmarshalling it is most of the cost of importing it."""
        e = _conj(self._simple_conditions(schema, file, pointer, _PLACEHOLDER))
        if e.count(_PLACEHOLDER) <= 1:
            return e.replace(_PLACEHOLDER, var)
        key = (file, "expr:" + e)
        if key not in self.functions:
            name = self._name(self._location_name(file, pointer))
            self.functions[key] = name
            self.bodies.append([f"def {name}(v):", *_return_lines(e.replace(_PLACEHOLDER, "v"))])
        return f"{self.functions[key]}({var})"

    def function(self, file: str, pointer: str, schema: dict, name: str | None = None) -> str:
        """The name of the generated function checking the node at file#pointer (made once)."""
        # Identical subschemas of one file (say uidMappings and gidMappings) share a function.
        key = (file, json.dumps(schema, sort_keys=True))
        if key in self.functions:
            return self.functions[key]
        name = self._name(name or self._location_name(file, pointer))
        self.functions[key] = name
        body: list[str] = []
        self.bodies.append(body)
        body.extend(self._function_body(name, schema, file, pointer))
        return name

    # -- keyword translation

    def _types(self, schema: dict) -> list[str]:
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        if "type" in schema and not types:
            raise GenerationError("an empty type list")  # jsonschema: nothing is valid
        for t in types:
            if t not in _TYPES:
                raise GenerationError(f"unsupported type {t!r}")
        return types

    def _type_condition(self, types: list[str], var: str) -> str:
        return _disj([_TYPES[t].format(v=var) for t in types]) if types else "True"

    def _guard(self, types: list[str], group: str, var: str) -> str | None:
        """None when `type` already ensures the group applies, else the condition under which it does."""
        if types and set(types) <= set(_GROUP_TYPES[group]):
            return None
        applies = _GROUP_TYPES[group]
        return _TYPES["number" if group == "number" else applies[0]].format(v=var)

    def _constant(self, key: str, base: str, head: str, items: list, tail: str) -> str:
        """A module-level constant `NAME = head items... tail`, made once per key."""
        if key not in self.constants:
            name = self._name(base)
            self.constants[key] = (name, _constant_lines(f"{name} = {head}", [_py(i) for i in items], tail))
        return self.constants[key][0]

    def _enum_condition(self, schema: dict, types: list[str], file: str, pointer: str, var: str) -> str:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise GenerationError(f"{file}#{pointer}: enum must be a non-empty array")
        base = self._location_name(file, pointer).upper().lstrip("_")
        if all(isinstance(v, str) for v in values):
            name = self._constant("enum:" + json.dumps(values), f"_{base}_ENUM", "frozenset((", values, "))")
            cond = f"{var} in {name}"
            return cond if types == ["string"] else f"{_TYPES['string'].format(v=var)} and {cond}"
        self.helpers.add("_in_enum")
        name = self._constant("values:" + json.dumps(values), f"_{base}_ENUM", "(", values, ")")
        return f"_in_enum({var}, {name})"

    def _pattern_condition(self, pattern: str, var: str) -> str:
        translated = translate_pattern(pattern)
        if translated is None:
            self.helpers.add("_search")
            return f"_search({_py(pattern)}, {var})"
        self.helpers.add("_pattern")
        key = "pattern:" + pattern
        if key not in self.constants:
            number = sum(k.startswith("pattern:") for k in self.constants) + 1
            name = self._name(f"_PATTERN_{number}")
            anchored, dollar, atoms = translated
            source = _constant_lines(f"{name} = ({anchored}, {dollar}, (", [_py(a) for a in atoms], "))")
            shown = pattern if pattern.isprintable() else _py(pattern)
            self.constants[key] = (name, f"# {shown}\n{source}")
        name = self.constants[key][0]
        return f"_pattern({var}, {name})"

    def _group_conditions(self, schema: dict, group: str, var: str) -> list[str]:
        """Keywords of a group that are expressions (lengths, bounds, patterns)."""
        conds: list[str] = []
        if group == "number":
            low = self._bound(schema, "minimum", "exclusiveMinimum")
            high = self._bound(schema, "maximum", "exclusiveMaximum")
            if low and high:
                conds.append(f"{low[0]} {low[1]} {var} {high[1]} {high[0]}")
            elif low:
                conds.append(f"{var} {'>' if low[1] == '<' else '>='} {low[0]}")
            elif high:
                conds.append(f"{var} {high[1]} {high[0]}")
        elif group == "string":
            if "minLength" in schema:
                conds.append(f"len({var}) >= {int(schema['minLength'])}")
            if "maxLength" in schema:
                conds.append(f"len({var}) <= {int(schema['maxLength'])}")
            if "pattern" in schema:
                conds.append(self._pattern_condition(schema["pattern"], var))
        elif group == "array":
            if "minItems" in schema:
                conds.append(f"len({var}) >= {int(schema['minItems'])}")
            if "maxItems" in schema:
                conds.append(f"len({var}) <= {int(schema['maxItems'])}")
        elif group == "object":
            if "minProperties" in schema:
                conds.append(f"len({var}) >= {int(schema['minProperties'])}")
            if "maxProperties" in schema:
                conds.append(f"len({var}) <= {int(schema['maxProperties'])}")
        return conds

    def _bound(self, schema: dict, key: str, exclusive: str) -> tuple[str, str] | None:
        """(bound source, comparison operator written `bound op value` or `value op bound`)."""
        if key not in schema:
            return None
        bound = schema[key]
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise GenerationError(f"{key} must be a number")
        return repr(bound), "<" if schema.get(exclusive, False) else "<="

    def _simple_conditions(self, schema: dict, file: str, pointer: str, var: str) -> list[str]:
        types = self._types(schema)
        conds = [self._type_condition(types, var)]
        if "enum" in schema:
            conds.append(self._enum_condition(schema, types, file, pointer, var))
        for group in ("number", "string", "array", "object"):
            group_conds = self._group_conditions(schema, group, var)
            if not group_conds:
                continue
            guard = self._guard(types, group, var)
            if guard is None:
                conds.extend(group_conds)
            else:
                conds.append(_disj([_negate(guard), _conj(group_conds)]))
        return conds

    def _function_body(self, name: str, schema: dict, file: str, pointer: str) -> list[str]:
        self._check_keywords(schema, file, pointer)
        lines = [f"def {name}(x):"]
        if "$ref" in schema:
            lines.append(f"    return {self.expr(schema, file, pointer, 'x')}")
            return lines
        types = self._types(schema)
        if types:
            lines += _fail_unless(self._type_condition(types, "x"), 1)
        if "enum" in schema:
            lines += _fail_unless(self._enum_condition(schema, types, file, pointer, "x"), 1)
        for group in ("number", "string", "array", "object"):
            guard = self._guard(types, group, "x")
            level = 1 if guard is None else 2
            stmts = _fail_unless(_conj(self._group_conditions(schema, group, "x")), level)
            if group == "array":
                stmts += self._array_statements(schema, file, pointer, level)
            elif group == "object":
                stmts += self._object_statements(schema, file, pointer, level)
            if stmts and guard is not None:
                lines.append(f"    if {guard}:")
            lines += stmts
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword not in schema:
                continue
            subs = schema[keyword]
            if not isinstance(subs, list) or not subs:
                raise GenerationError(f"{file}#{pointer}: {keyword} must be a non-empty array")
            exprs = [self.expr(s, file, f"{pointer}/{keyword}/{i}", "x") for i, s in enumerate(subs)]
            if keyword == "allOf":
                for e in exprs:
                    lines += _fail_unless(e, 1)
            elif keyword == "anyOf":
                lines += _fail_unless(_disj(exprs), 1)
            else:
                lines += _fail_if(" + ".join(_atom(e) for e in exprs) + " != 1", 1)
        if "not" in schema:
            lines += _fail_if(self.expr(schema["not"], file, pointer + "/not", "x"), 1)
        lines.append("    return True")
        return lines

    def _array_statements(self, schema: dict, file: str, pointer: str, level: int) -> list[str]:
        indent = "    " * level
        stmts: list[str] = []
        items = schema.get("items", {})
        if isinstance(items, dict):
            e = self.expr(items, file, pointer + "/items", "v")
            if e != "True":
                stmts += [f"{indent}for v in x:", *_fail_unless(e, level + 1)]
        else:
            for i, sub in enumerate(items):
                e = self.expr(sub, file, f"{pointer}/items/{i}", "v")
                if e != "True":
                    stmts += [f"{indent}if len(x) > {i}:", f"{indent}    v = x[{i}]"]
                    stmts += _fail_unless(e, level + 1)
            extra = schema.get("additionalItems", True)
            if extra is False:
                stmts += _fail_if(f"len(x) > {len(items)}", level)
            elif isinstance(extra, dict):
                e = self.expr(extra, file, pointer + "/additionalItems", "v")
                if e != "True":
                    stmts += [f"{indent}for v in x[{len(items)}:]:", *_fail_unless(e, level + 1)]
        if schema.get("uniqueItems", False):
            self.helpers.add("_unique")
            stmts += _fail_unless("_unique(x)", level)
        return stmts

    def _object_statements(self, schema: dict, file: str, pointer: str, level: int) -> list[str]:
        indent = "    " * level
        stmts: list[str] = []
        required = schema.get("required", [])
        if required:
            stmts += _fail_if(" or ".join(f"{_py(k)} not in x" for k in required), level)
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            child = f"{pointer}/properties/{key.replace('~', '~0').replace('/', '~1')}"
            k = _py(key)
            e = self.expr(sub, file, child, f"x[{k}]")  # the value is named once: no local needed
            if e == "True":
                continue
            present = "" if key in required else f"{k} in x and "  # required: checked above
            stmts += _fail_if(f"{present}{_negate(e)}", level)
        patterns = schema.get("patternProperties", {})
        for pattern, sub in patterns.items():
            e = self.expr(sub, file, f"{pointer}/patternProperties/{pattern}", "v")
            if e != "True":
                match = self._pattern_condition(pattern, "k")
                stmts += [f"{indent}for k, v in x.items():"]
                stmts += _fail_if(f"{_negate(e)} and {match}", level + 1)  # the value test is the cheaper
        extra = schema.get("additionalProperties", True)
        if extra is True or extra == {}:
            return stmts
        conds = []
        if properties:
            base = "_" + self._location_name(file, pointer).upper().lstrip("_") + "_PROPERTIES"
            keys = list(properties)
            known = self._constant("props:" + json.dumps(keys), base, "frozenset((", keys, "))")
            conds.append(f"k not in {known}")
        conds += [_negate(self._pattern_condition(p, "k")) for p in patterns]
        if extra is False:
            if conds:
                stmts += [f"{indent}for k in x:", *_fail_if(_conj(conds), level + 1)]
            else:
                stmts += _fail_if("x", level)
            return stmts
        if not isinstance(extra, dict):
            raise GenerationError(f"{file}#{pointer}: additionalProperties must be a boolean or a schema")
        e = self.expr(extra, file, pointer + "/additionalProperties", "v")
        if e == "True":
            return stmts
        if conds:
            stmts += [f"{indent}for k, v in x.items():", *_fail_if(_conj([*conds, _negate(e)]), level + 1)]
        else:
            stmts += [f"{indent}for v in x.values():", *_fail_unless(e, level + 1)]
        return stmts


def _constant_lines(head: str, items: list[str], tail: str) -> str:
    """`head item, item tail` on one line if it fits, else one item per line."""
    one_line = head + ", ".join(items) + ("," if len(items) == 1 else "") + tail
    if len(one_line) <= LINE_LENGTH:
        return one_line
    return "\n".join([head, *[f"    {item}," for item in items], tail])


def _tuple_source(values: list | tuple) -> str:
    return "(" + ", ".join(_py(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def _py(value: object) -> str:
    """Python source for a constant, strings in double quotes like the rest of the code base."""
    if isinstance(value, tuple):
        return _tuple_source(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    source = repr(value)
    if isinstance(value, str) and source.startswith("'") and '"' not in value:
        source = '"' + source[1:-1] + '"'
    return source


def _if_lines(cond: str, level: int) -> list[str]:
    indent = "    " * level
    line = f"{indent}if {cond}:"
    if len(line) <= LINE_LENGTH:
        return [line, f"{indent}    return False"]
    return [*_split_condition(cond, level), f"{indent}    return False"]


def _split_condition(cond: str, level: int) -> list[str]:
    """An over-long `if` as one operand per line, the way ruff-format would lay it out."""
    indent = "    " * level
    prefix, inner = "", cond
    if inner.startswith("not ") and _wrapped(inner[4:]):
        prefix, inner = "not ", inner[4:]
    if _wrapped(inner):
        inner = inner[1:-1]
    operands = _split_top(inner)
    lines = [f"{indent}if {prefix}("]
    for i, (op, operand) in enumerate(operands):
        lines.append(f"{indent}    {'' if i == 0 else op + ' '}{operand}")
    lines.append(f"{indent}):")
    return lines


def _split_top(expr: str) -> list[tuple[str, str]]:
    """expr cut at its top-level `and`/`or` operators, as (operator before, operand) pairs."""
    parts: list[tuple[str, str]] = []
    start, op = 0, ""
    for i, c, depth in _scan(expr):
        if c == " " and depth == 0 and i >= start:
            word = "and" if expr.startswith(" and ", i) else "or" if expr.startswith(" or ", i) else ""
            if word:
                parts.append((op, expr[start:i]))
                op, start = word, i + len(word) + 2
    parts.append((op, expr[start:]))
    return parts


def _return_lines(expr: str) -> list[str]:
    if _wrapped(expr):
        expr = expr[1:-1]
    line = f"    return {expr}"
    if len(line) <= LINE_LENGTH:
        return [line]
    operands = _split_top(expr)
    return ["    return (", *[f"        {op + ' ' if op else ''}{o}" for op, o in operands], "    )"]


def _fail_if(cond: str, level: int) -> list[str]:
    return _if_lines(cond, level)


def _fail_unless(cond: str, level: int) -> list[str]:
    return [] if cond == "True" else _if_lines(_negate(cond), level)


def load_documents(schema_dir: str) -> dict[str, dict]:
    """Every schema file in schema_dir by file name (the names the relative $refs use)."""
    documents = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".json"):
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                documents[name] = json.load(f)
    return documents


def _compile(documents: dict[str, dict], roots: dict[str, str]) -> "_Compiler":
    compiler = _Compiler(documents)
    for public, file in roots.items():
        if file not in documents:
            raise GenerationError(f"no {file} in schema/")
        compiler.function(file, "", documents[file], name=public)
    return compiler


def _head(roots: dict[str, str], elsewhere: dict[str, str] | None) -> list[str]:
    return [
        '"""schema/*.json compiled ahead of time into plain Python checks, for the hot path.',
        "",
        "Each public function returns whether a document is valid under its root schema, agreeing with",
        "jsonschema's Draft4Validator, without importing anything (pyrunc.validate asks jsonschema for the",
        "message only when one returns False):",
        "",
        *[f"- {public}(): schema/{file}" for public, file in roots.items()],
        *([""] + [f"- {public}(): pyrunc.{module}" for public, module in elsewhere.items()] if elsewhere else []),
        '"""',
        "",
    ]


def _assemble(head: list[str], constants: list[str], helpers: list[str], bodies: list[list[str]],
              tail: list[str]) -> str:
    out = [HEADER, *head]
    if constants:
        out.append("")
        out += constants
    for h in helpers:
        out += ["", _HELPERS[h].rstrip("\n")]
    for body in bodies:
        out += ["", "", *body]
    if tail:
        out += ["", "", *tail]
    return "\n".join(out) + "\n"


def _helper_blocks(compiler: "_Compiler") -> list[str]:
    return sorted({_HELPER_BLOCKS.get(h, h) for h in compiler.helpers})


def render(documents: dict[str, dict], roots: dict[str, str] | None = None) -> str:
    """The source of one module checking `roots` (all of ROOTS by default), one public function per
    root, `name(document) -> bool`: what render_modules splits, whole (the compiler's tests use it)."""
    roots = ROOTS if roots is None else roots
    compiler = _compile(documents, roots)
    return _assemble(_head(roots, None), [source for _, source in compiler.constants.values()],
                     _helper_blocks(compiler), compiler.bodies, [])


def _called(source: str, samples: list[tuple[str, dict]]) -> set[str]:
    """The names of the generated functions that checking the sample documents calls."""
    namespace: dict = {}
    code = compile(source, "<schemagen>", "exec")
    exec(code, namespace)  # noqa: S102 - the module just generated, to see which of its functions run
    called: set[str] = set()

    def profile(frame, event, arg) -> None:
        if event == "call" and frame.f_code.co_filename == "<schemagen>":
            called.add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        for public, document in samples:
            if namespace[public](document) is not True:
                raise GenerationError(f"a sample document is invalid under {public}()")
    finally:
        sys.setprofile(None)
    return called


def _names(lines: list[str] | str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(lines) if isinstance(lines, list) else lines))


def render_modules(documents: dict[str, dict], samples: list[tuple[str, dict]]) -> dict[str, str]:
    """The sources of MODULES and RARE from one compilation of every root, so that a check two roots
    share (defs.json's) is generated once: in the first module, the functions checking the samples
    calls; in RARE, the rest the config check can reach, which the first imports (through _rare()) the
    first time a document needs one; in each other module, its roots' remaining functions. A constant,
    helper or function lives in the first of these modules that uses it; later ones import it."""
    compiler = _compile(documents, ROOTS)
    helpers = _helper_blocks(compiler)
    bodies = {_def_name(b): b for b in compiler.bodies}
    used = _called(_assemble([], [source for _, source in compiler.constants.values()], helpers,
                             compiler.bodies, []), samples)
    (first, *others) = MODULES
    placed = {first: [n for n in bodies if n in used]}
    taken = set(used)
    for module, publics in ((RARE, MODULES[first]), *((m, MODULES[m]) for m in others)):
        reach = _reachable(bodies, publics)
        placed[module] = [n for n in bodies if n in reach and n not in taken]
        taken |= reach
    text = {m: [bodies[n] for n in names] for m, names in placed.items()}
    if placed[RARE]:  # the first module calls a rare function through _rare(), which imports RARE
        call = re.compile(r"\b(" + "|".join(sorted(placed[RARE], key=len, reverse=True)) + r")\(")
        text[first] = [[call.sub(lambda m: f'_rare("{m.group(1)}")(', line) for line in b] for b in text[first]]
    # Each shared piece: (the names it defines, its source, whether it is a helper block).
    pieces = [*(({name}, source, False) for name, source in compiler.constants.values()),
              *((_helper_defs(h), h, True) for h in helpers)]
    home: dict[str, str] = {}  # a defined name -> the module that defines it
    parts = {m: {"constants": [], "helpers": [], "imports": {}} for m in placed}
    for module, names in placed.items():
        home.update((n, module) for n in names)
        refs = _names([line for body in text[module] for line in body])
        for defs, source, is_helper in pieces:
            if refs & defs and not defs & home.keys():
                home.update((d, module) for d in defs)
                parts[module]["helpers" if is_helper else "constants"].append(source)
        for name in sorted(refs & home.keys()):
            if home[name] != module:
                parts[module]["imports"].setdefault(home[name], []).append(name)
    elsewhere = {public: m for m in others for public in MODULES[m]}
    tail = _rare_loader(RARE) if placed[RARE] else []
    if elsewhere:
        tail += [*([""] * 2 if tail else []), *_forwarder(elsewhere)]
    heads = {
        first: _head({p: ROOTS[p] for p in MODULES[first]}, elsewhere),
        RARE: [f'"""The functions of pyrunc.{first} that checking pyrunc\'s own default configs (`pyrunc spec`) never',
               "calls: the sections those lack. Generated with it; imported by it the first time a config has one.",
               '"""'],
        **{m: _head({p: ROOTS[p] for p in MODULES[m]}, None)[:-1] for m in others},
    }
    return {m: _assemble([*heads[m], *_import_lines(parts[m]["imports"])], parts[m]["constants"],
                         parts[m]["helpers"], text[m], tail if m == first else []) for m in placed}


def _reachable(bodies: dict[str, list[str]], roots: tuple[str, ...]) -> set[str]:
    """The generated functions `roots` call, directly or not, themselves included."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [n for n in _names(bodies[name]) if n in bodies and n not in seen]
    return seen


def _import_lines(imports: dict[str, list[str]]) -> list[str]:
    lines = [""] if imports else []
    for module, names in imports.items():
        lines += [f"from pyrunc.{module} import (", *[f"    {n}," for n in names], ")"]
    return lines


def _def_name(body: list[str]) -> str:
    return body[0][len("def "):body[0].index("(")]


def _helper_defs(block: str) -> set[str]:
    return set(re.findall(r"^def (\w+)", _HELPERS[block], re.M))


def _rare_loader(rare: str) -> list[str]:
    return [
        "def _rare(name):",
        f'    """A check of a section the default configs lack: pyrunc.{rare}, imported on first use."""',
        f"    from pyrunc import {rare}",
        "",
        f"    return getattr({rare}, name)",
    ]


def _forwarder(elsewhere: dict[str, str]) -> list[str]:
    """Module __getattr__ (PEP 562) importing the sibling that holds a root only when it is asked for."""
    lines = ["def __getattr__(name):", '    """The roots generated into a sibling module, imported on first use."""']
    for module in sorted(set(elsewhere.values())):
        names = tuple(public for public, m in elsewhere.items() if m == module)
        lines += [f"    if name in {_py(names)}:", f"        from pyrunc import {module}", "",
                  f"        return getattr({module}, name)"]
    return [*lines, "    raise AttributeError(f\"module {__name__!r} has no attribute {name!r}\")"]


def default_paths() -> tuple[str, str]:
    """(schema/ directory, pyrunc/_config_check.py): the source tree's schema/ next to pyrunc/, or the
    installed pyrunc/schema (found without pyrunc.validate, which needs the module being generated)."""
    here = os.path.dirname(os.path.abspath(__file__))
    schema_dir = os.path.join(os.path.dirname(here), "schema")
    if not os.path.isfile(os.path.join(schema_dir, ROOTS["config"])):
        schema_dir = os.path.join(here, "schema")
    return schema_dir, os.path.join(here, "_config_check.py")


def main(argv: list[str] | None = None) -> int:
    """`[OUTPUT [SCHEMA_DIR]]`: write the generated modules, by default over pyrunc/_config_check.py; each
    other module of MODULES goes next to OUTPUT, under its own name."""
    args = sys.argv[1:] if argv is None else argv
    schema_dir, output = default_paths()
    if args:
        output = args[0]
    if len(args) > 1:
        schema_dir = args[1]
    documents = load_documents(schema_dir)
    from pyrunc import specgen

    samples = [("config", specgen.default_config()), ("config", specgen.default_config(rootless=True))]
    first = next(iter(MODULES))
    sources = render_modules(documents, samples)
    for module, source in sources.items():
        path = output if module == first else os.path.join(os.path.dirname(output), module + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
