"""Bad mounts and devices: a one-line error naming the field, a non-zero exit, no container and nothing
mounted on the host. Some are refused by pyrunc only (runc 1.1.5 accepts them and does something else)."""

import pytest

from .test_rootfs_mounts import host_mounts, mount_table, run_ok

pytestmark = pytest.mark.root


def bind_source(c):
    src = c.dir / "src"
    src.mkdir(exist_ok=True)
    return str(src)


# name -> (change to the config, text pyrunc's message has, what runc 1.1.5 lacks or None if it refuses too)
CASES = {
    "unknown type": (lambda c: c.config["mounts"].append({"destination": "/mnt", "type": "nofs", "source": "x"}),
                     "[mounts[7]]: unknown filesystem type 'nofs'", None),
    "unknown tmpfs option": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "bogus"]}),
        "mounts[7].options[1]: unknown mount option 'bogus'", None),
    "missing source": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": "/nonexistent", "options": ["rbind"]}),
        "[mounts[7]]: no such file or directory", None),
    "unknown bind option": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": bind_source(c), "options": ["rbind", "bogus"]}),
        "mounts[7].options[1]: unknown mount option 'bogus' for a bind mount", "checks of bind mount options"),
    "filesystem flag on a bind": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": bind_source(c), "options": ["rbind", "sync"]}),
        "mounts[7].options: sync would change the whole filesystem", "checks of bind mount options"),
    "bind without source": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "options": ["rbind"]}),
        "mounts[7].source: a bind mount needs a source", "a check of bind mount sources"),
    "no type": (lambda c: c.config["mounts"].append({"destination": "/mnt", "source": "tmpfs"}),
                "mounts[7].type: missing", None),
    "empty destination": (lambda c: c.config["mounts"].append({"destination": "", "type": "tmpfs", "source": "t"}),
                          "mounts[7].destination: missing", "a one-line error for an empty destination"),
    "idmap on tmpfs": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
        "mounts[7].options: idmap is only implemented for bind mounts", "idmapped mounts"),
    "uidMappings alone": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": bind_source(c), "options": ["rbind"],
         "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
        "mounts[7]: uidMappings and gidMappings must be given together", "idmapped mounts"),
    "tmpcopyup on proc": (lambda c: c.config["mounts"].append(
        {"destination": "/mnt", "type": "proc", "source": "proc", "options": ["tmpcopyup"]}),
        "mounts[7].options: tmpcopyup is for tmpfs mounts", "a check of tmpcopyup"),
    "negative major": (lambda c: c.config["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": -1,
                                                                   "minor": 3}]),
                       "linux.devices[0].major: -1 is not a device number", None),
    "major too big": (lambda c: c.config["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": 4096,
                                                                  "minor": 3}]),
                      "linux.devices[0].major: 4096 is not a device number", "device number checks (it truncates)"),
    "minor too big": (lambda c: c.config["linux"].update(devices=[{"path": "/dev/x", "type": "b", "major": 8,
                                                                  "minor": 1 << 20}]),
                      "linux.devices[0].minor", "device number checks (it truncates)"),
    "no major": (lambda c: c.config["linux"].update(devices=[{"path": "/dev/x", "type": "c"}]),
                 "linux.devices[0].major: required", "a check of missing device numbers (it makes 0:0)"),
    "relative device path": (lambda c: c.config["linux"].update(devices=[{"path": "dev/x", "type": "c",
                                                                          "major": 1, "minor": 3}]),
                             "linux.devices[0].path", "a check of relative device paths"),
    "unknown device type": (lambda c: c.config["linux"].update(devices=[{"path": "/dev/x", "type": "x",
                                                                         "major": 1, "minor": 3}]),
                            "devices", None),
}


@pytest.mark.parametrize("case", CASES)
def test_refused(container, rt, case):
    change, message, runc_lacks = CASES[case]
    if runc_lacks:
        rt.lacks(runc_lacks)
    c = container()
    change(c)
    before = host_mounts(c.dir, c.rootfs)
    r = c.create()
    c.assert_refused(r, one_line=True)
    if rt.name == "pyrunc":
        assert message in r.err, r
    assert host_mounts(c.dir, c.rootfs) == before


def test_relative_destination_is_relative_to_root(container):
    """Deprecated but valid (config.md, Mounts): interpreted relative to /."""
    c = container("cat", "/proc/self/mountinfo")
    c.config["mounts"].append({"destination": "mnt/rel", "type": "tmpfs", "source": "tmpfs"})
    assert mount_table(run_ok(c))["/mnt/rel"].fstype == "tmpfs"
