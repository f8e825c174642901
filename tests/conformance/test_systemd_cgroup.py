"""--systemd-cgroup without a systemd on the host: runc's one-line errors, nothing made. The path
computation itself (runc's ExpandSlice, getUnitName, v1 and v2 paths) is tested in
tests/unit/test_cgroups.py against runc's own expectations."""

import os
from pathlib import Path

import pytest

CG = Path("/sys/fs/cgroup")
NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"

pytestmark = pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd runs on this host")


@pytest.mark.root
@pytest.mark.parametrize("command", ["create", "run"])
@pytest.mark.parametrize("cgroups_path", [None, "machine-pod.slice:runc-cgroups:x"])
def test_systemd_cgroup_without_systemd(container, rt, command, cgroups_path):
    c = container("true")
    if cgroups_path:
        c.config["linux"]["cgroupsPath"] = cgroups_path
    c.write()
    r = rt("--systemd-cgroup", command, "--bundle", c.bundle, c.id)
    assert NOT_RUNNING in r.err, r
    c.assert_refused(r, one_line=True)
    made = [*CG.glob("*/machine.slice"), *CG.glob("machine.slice"), *CG.glob(f"*/system.slice/runc-{c.id}.scope"),
            *CG.glob(f"system.slice/runc-{c.id}.scope")]
    assert not made, f"cgroups made: {made}"


@pytest.mark.root
def test_systemd_cgroup_path_format(container, rt):
    """The format is checked first (runc's specconv), with runc's wording."""
    c = container("true")
    c.config["linux"]["cgroupsPath"] = "/not/a/systemd/path"
    c.write()
    r = rt("--systemd-cgroup", "create", "--bundle", c.bundle, c.id)
    assert ('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
            'got "/not/a/systemd/path" instead') in r.err.replace('\\"', '"'), r  # runc's logrus escapes
    c.assert_refused(r, one_line=True)
