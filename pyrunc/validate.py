"""Schema checks of config.json, state and features documents, failing with a one-line message.

Why two stages: `pyrunc run` checks every config, and importing jsonschema costs ~59 ms (`json`'s `re`
another ~5 ms), more than a whole `runc run`. pyrunc._config_check, generated from schema/ by
pyrunc.schemagen, says valid or not in plain Python and imports nothing (pyrunc._output_check does the
same for state and features, documents `run` never checks). Only when it says no does
jsonschema run over the real schema/ files, to find the error and word it; should jsonschema find
nothing wrong after all, the document is accepted, so the fast check can never be the stricter one.
"""

from pyrunc import _config_check
from pyrunc.errors import PyruncError

# kind -> (root schema in schema/, the document's name in messages)
DOCUMENTS = {
    "config": ("config-schema.json", "config.json"),
    "state": ("state-schema.json", "state.json"),
    "features": ("features-schema.json", "features.json"),
}

_validators: dict = {}
_schemas: dict = {}  # schema/'s documents by file name, once loaded


def check_config(cfg: dict) -> None:
    """Raise PyruncError(`config.json: <json path>: <rule>`) unless cfg is valid under the config schema."""
    if not _config_check.config(cfg):
        _raise_schema_error("config", cfg)


def check_state(obj: dict) -> None:
    """Raise PyruncError(`state.json: <json path>: <rule>`) unless obj is a valid state document."""
    from pyrunc import _output_check

    if not _output_check.state(obj):
        _raise_schema_error("state", obj)


def check_features(obj: dict) -> None:
    """Raise PyruncError(`features.json: <json path>: <rule>`) unless obj is a valid features document."""
    from pyrunc import _output_check

    if not _output_check.features(obj):
        _raise_schema_error("features", obj)


def _raise_schema_error(kind: str, obj: object) -> None:
    message = schema_error(kind, obj)
    if message is not None:
        raise PyruncError(message)


def schema_error(kind: str, obj: object) -> str | None:
    """jsonschema's verdict as `<document>: <json path>: <rule>`, or None if obj is valid (the slow path).

    Only called once the fast check said no: without jsonschema, that verdict stands, with no details.
    """
    try:
        from jsonschema.exceptions import best_match
    except ImportError as e:  # the fast check's verdict stands, unexplained
        document, schema = DOCUMENTS[kind][1], DOCUMENTS[kind][0]
        return f"{document}: does not match schema/{schema} (no jsonschema to say where: {e})"

    error = best_match(_validator(kind).iter_errors(obj))
    if error is None:
        return None
    rule = " ".join(error.message.splitlines())
    return f"{DOCUMENTS[kind][1]}: {json_path(error.absolute_path)}: {rule}"


def json_path(parts: object) -> str:
    """`linux.namespaces[2].type` for the path parts ["linux", "namespaces", 2, "type"]; `(root)` for none.

    Keys that are not identifiers are quoted (`annotations["org.example.key"]`) so the path stays unambiguous.
    """
    import json

    out = ""
    for part in parts:  # type: ignore[attr-defined]
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(root)"


def schema_dir() -> str:
    """schema/ as installed (the pyrunc.schema package), else the source tree's, next to pyrunc/."""
    import os

    import pyrunc

    package = os.path.dirname(os.path.abspath(pyrunc.__file__))
    for candidate in (os.path.join(package, "schema"), os.path.join(os.path.dirname(package), "schema")):
        if os.path.isfile(os.path.join(candidate, "config-schema.json")):
            return candidate
    raise PyruncError(f"schema files not found in {os.path.join(package, 'schema')}")


def _documents() -> dict:
    """Every schema in schema/, by file name, loaded once."""
    if not _schemas:
        import json
        import os

        directory = schema_dir()
        for name in sorted(os.listdir(directory)):
            if name.endswith(".json"):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    _schemas[name] = json.load(f)
    return _schemas


def spec_defines(json_path: str) -> bool:
    """Does the config schema define the field at `json_path` (`linux.resources.memory.kernel`)?
    The slow path of config.unknown: only a field pyrunc does not apply gets here."""
    import re

    documents = _documents()

    def expand(node: dict, doc: str) -> list[tuple[dict, str]]:
        """The node with its $ref followed and its allOf/anyOf/oneOf branches."""
        while isinstance(node, dict) and "$ref" in node:
            name, _, pointer = node["$ref"].partition("#")
            doc = name or doc
            node = documents[doc]
            for part in filter(None, pointer.split("/")):
                node = node[part]
        if not isinstance(node, dict):
            return []
        out = [(node, doc)]
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(key) or []:
                out += expand(branch, doc)
        return out

    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", json_path)]
    nodes = expand(documents[DOCUMENTS["config"][0]], DOCUMENTS["config"][0])
    for part in parts:
        found: list[tuple[dict, str]] = []
        for node, doc in nodes:
            if isinstance(part, int):
                subs = [node["items"]] if isinstance(node.get("items"), dict) else []
            else:
                subs = [node["properties"][part]] if part in (node.get("properties") or {}) else []
                subs += [v for k, v in (node.get("patternProperties") or {}).items() if re.search(k, part)]
                if not subs and isinstance(node.get("additionalProperties"), dict):
                    subs = [node["additionalProperties"]]
            for sub in subs:
                found += expand(sub, doc)
        if not found:
            return False
        nodes = found
    return True


def _validator(kind: str) -> object:
    """A jsonschema validator for a root schema, its relative $refs resolved within schema/ (no network)."""
    if kind in _validators:
        return _validators[kind]
    import jsonschema

    documents = _documents()
    directory = schema_dir()
    root = documents[DOCUMENTS[kind][0]]
    cls = jsonschema.validators.validator_for(root)
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
    except ImportError:  # jsonschema < 4.18 resolves $refs itself
        base = "file://" + directory + "/"
        store = {base + name: doc for name, doc in documents.items()}
        resolver = jsonschema.RefResolver(base + DOCUMENTS[kind][0], root, store=store)
        validator = cls(root, resolver=resolver)
    else:
        # The schemas have no ids: the root's base URI is empty, so "defs.json#/..." resolves to "defs.json".
        registry = Registry().with_resources(
            (name, Resource.from_contents(document, default_specification=DRAFT4))
            for name, document in documents.items()
        )
        validator = cls(root, registry=registry)
    _validators[kind] = validator
    return validator
