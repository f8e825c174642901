"""What the runtime prints for `state` and `features` conforms to the spec's schemas (the
project's copies in schema/, checked against the official fixtures in tests/unit)."""

import json

import pytest

from pyrunc import validate
from pyrunc.errors import PyruncError


@pytest.mark.root
def test_state_documents_follow_the_state_schema(container, rt):
    c = container("sleep", "30")
    c.config["annotations"] = {"org.example.purpose": "schema"}
    assert c.create().rc == 0
    created = c.state()
    validate.check_state(created)
    assert created["status"] == "created" and created["annotations"] == {"org.example.purpose": "schema"}
    assert c.start().rc == 0
    validate.check_state(c.wait_status("running"))
    assert c.kill("KILL").rc == 0
    stopped = c.wait_status("stopped")
    validate.check_state(stopped)
    assert stopped["pid"] == 0


def test_features_document_follows_the_features_schema(rt):
    r = rt("features")
    if r.rc != 0:
        pytest.skip(f"{rt.name} has no features command: {r.err.strip()}")
    doc = json.loads(r.out)
    try:
        validate.check_features(doc)
    except PyruncError as e:
        pytest.fail(str(e))
    assert doc["ociVersionMin"] <= doc["ociVersionMax"]
