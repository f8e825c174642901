"""The namespace labs' bundles (bundles/labs) without running them: each config.json is valid and asks
for exactly the namespaces its lab needs, and the driver's parsing and layout. No root needed."""

import importlib.util
import json
from pathlib import Path

import pytest

from pyrunc import validate

LABS = Path(__file__).resolve().parents[2] / "bundles/labs"
NEEDS = {  # every pyrunc container has a mount namespace; pid where /proc must be the container's own
    "pid": {"pid", "mount"}, "mount": {"mount", "pid"}, "uts": {"uts", "mount"}, "ipc": {"ipc", "mount"},
    "net": {"network", "mount"}, "user": {"user", "mount", "pid"}, "time": {"time", "mount"},
    "cgroup": {"cgroup", "mount"},
}
_spec = importlib.util.spec_from_file_location("lab", LABS / "lab.py")
lab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_lab_config_asks_for_its_namespaces(name):
    config = json.loads((LABS / name / "config.json").read_text())
    validate.check_config(config)
    assert {ns["type"] for ns in config["linux"]["namespaces"]} == NEEDS[name]
    assert config["process"]["args"] == ["/bin/sh", "/lab.sh"]
    assert ("hostname" in config) == (name == "uts")
    assert (LABS / name / "lab.sh").is_file() and (LABS / name / "README.md").is_file()


def test_every_lab_has_a_driver_and_a_readme_line():
    assert sorted(lab.LAB_RUNS) == sorted(NEEDS) == sorted(p.parent.name for p in LABS.glob("*/config.json"))
    index = (LABS / "README.md").read_text()
    assert all(f"[{name}]({name}/README.md)" in index for name in NEEDS)


def test_parse_and_side_by_side():
    inside = lab.parse(["pid lab, inside the container:\n", "  my pid: 1\n", "  pids I see: 1 2\n"])
    assert inside == {"my pid": "1", "pids I see": "1 2"}
    assert lab.address({"addresses": "lo=127.0.0.1/8 eth0=10.88.0.2/16"}) == "10.88.0.2"
    assert lab.address({"addresses": "lo=127.0.0.1/8"}) is None
    table = lab.side_by_side("pid", [("my pid", "1", "4242")]).splitlines()
    assert table[0] == (LABS / "pid/README.md").read_text().splitlines()[0].lstrip("# ")
    assert table[1:] == ["          inside the container  outside (the host)",
                         "  my pid  1                     4242"]
