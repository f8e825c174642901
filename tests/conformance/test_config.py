"""config.md's extensibility rule through the command line: unknown properties are ignored (and named
by pyrunc's --debug), known ones a runtime cannot apply are an error."""

import json


def test_unknown_properties_are_ignored(container, rt):
    c = container("sh", "-c", "echo ran")
    c.config["org.example.future"] = {"anything": [1, 2]}
    c.config["process"]["futureField"] = "x"
    c.config["linux"]["namespaces"][0]["futureFlag"] = True
    c.config["mounts"][0]["futureOption"] = 1
    c.config["linux"]["resources"]["memory"] = {"futureLimit": 5}
    log = container.dir / "debug.log"
    c.write()
    r = rt("--debug", "--log", log, "--log-format", "json", "run", "--bundle", c.bundle, c.id)
    assert r.rc == 0 and r.out == "ran\n", r
    if rt.name == "pyrunc":
        named = {json.loads(line)["msg"] for line in log.read_text().splitlines()}
        for path in ("org.example.future", "process.futureField", "linux.namespaces[0].futureFlag",
                     "mounts[0].futureOption", "linux.resources.memory.futureLimit"):
            assert f"config: ignoring unknown property {path}" in named, named


def test_defined_but_unapplicable_is_refused(container, rt):
    """linux.intelRdt needs resctrl, which this kind of host does not mount."""
    c = container("true")
    c.config["linux"]["intelRdt"] = {"closID": "pyrunc-test", "l3CacheSchema": "L3:0=f"}
    r = c.run()
    c.assert_refused(r)
    if rt.name == "pyrunc":
        assert r.err.strip() == "pyrunc: unsupported: linux.intelRdt", r
