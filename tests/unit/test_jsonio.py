"""pyrunc.jsonio against the stdlib json on a corpus of configs, including hostile ones: the same
values in, the same text out, and only valid JSON either way (no NaN, no infinities)."""

import json
from pathlib import Path

import pytest

from pyrunc import jsonio, specgen

REPO = Path(__file__).resolve().parents[2]


def corpus() -> list[str]:
    texts = [p.read_text() for p in sorted(REPO.glob("bundles/*/config.json"))]
    texts.append(json.dumps(specgen.default_config()))
    texts += [
        '{"a": "\\u00e9\\u0000\\ud83d\\ude00", "b": "\\ud800", "c": "tab\\there", "\\u2028": 1}',
        '{"n": [0, -0, 1.5, -2.25e-7, 1e308, 18446744073709551615, 123456789012345678901234567890]}',
        '{"dup": 1, "dup": 2}',
        '  \n {"ws": [ ] , "o": { } }\t\n',
        '"just a string"', "123", "true", "null", "[]",
        '{"deep": ' + "[" * 200 + "]" * 200 + "}",
        '{"annotations": {"org.example/ключ": "значение", "emoji": "\\ud83d\\udc33"}}',
    ]
    return texts


INVALID = ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}', '[-1e999]', '{"a": 1,}',
           "[1 2]", '{"a"}', "", "   ", '{"a": 1} x', "'single'", '{"a": "\x01"}', "[" * 100000 + "]" * 100000,
           '{"a": 01}', '{"a": .5}', '{"a": tru}']


@pytest.mark.parametrize("text", corpus())
def test_loads_and_dumps_agree_with_json(text):
    value = jsonio.loads(text)
    assert value == json.loads(text)
    assert jsonio.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert jsonio.dumps(value, indent=2) == json.dumps(value, indent=2)
    assert jsonio.loads(jsonio.dumps(value)) == value


@pytest.mark.parametrize("text", INVALID)
def test_invalid_json_is_refused(text):
    with pytest.raises(ValueError):
        jsonio.loads(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), {"a": [1, float("nan")]}])
def test_nan_and_infinities_are_not_written(value):
    with pytest.raises(ValueError, match="not JSON compliant"):
        jsonio.dumps(value)
    with pytest.raises(ValueError):
        json.dumps(value, allow_nan=False)


def test_keys_are_written_as_json_writes_them():
    value = {7: "a", 2.5: "b", True: "c", None: "d", "s": "e"}
    assert jsonio.dumps(value) == json.dumps(value, separators=(",", ":"))
