"""The root filesystem's plan, without root: mount options, bind mounts, idmapped mounts, sysfs,
devices, masks, propagation and labels, and the refusals with their JSON paths."""

import pytest

from pyrunc import config, devices, features, mounts, uapi
from pyrunc.errors import PyruncError
from pyrunc.plan import Options, build
from pyrunc.specgen import default_config

ROOTFS = "/bundle/rootfs"


def plan_of(cfg: dict, **opts):
    plan, _ = build(cfg, ROOTFS, Options(**opts), {})
    return plan


def with_mount(*entries: dict, **changes) -> dict:
    cfg = default_config()
    cfg["mounts"] += list(entries)
    cfg["linux"].update(changes)
    return cfg


def steps_for(plan, source: str, phase: str | None = None):
    return [s for p, s in plan.steps() if s.source == source and phase in (None, p)]


def ops(plan, phase: str | None = None) -> list[str]:
    return [s.op for p, s in plan.steps() if phase in (None, p)]


def test_parse_options_sorts_flags_propagation_recursive_and_data():
    o = mounts.parse_options(["ro", "nosuid", "rw", "noatime", "rslave", "shared", "rro", "rnoatime",
                              "size=1m", "newinstance", "ridmap", "tmpcopyup"])
    assert o.flags == uapi.MS_NOSUID | uapi.MS_NOATIME and o.atime
    assert o.propagation == [(uapi.MS_SLAVE | uapi.MS_REC, "rslave"), (uapi.MS_SHARED, "shared")]
    assert o.recursive() == (uapi.ATTR_RDONLY | uapi.ATTR_NOATIME, uapi.ATTR_ATIME)
    assert o.data == [(8, "size=1m"), (9, "newinstance")]
    assert o.idmap == "ridmap" and o.copyup


def test_recursive_clear_options_undo_earlier_ones():
    o = mounts.parse_options(["rro", "rnosuid", "rrw", "rdev"])
    assert o.recursive() == (uapi.ATTR_NOSUID, uapi.ATTR_RDONLY | uapi.ATTR_NODEV)
    # the atime options are one field: the kernel wants the whole of it cleared when one is set
    assert mounts.parse_options(["rstrictatime", "rrelatime"]).recursive() == (uapi.ATTR_RELATIME,
                                                                              uapi.ATTR_ATIME)


def test_every_spec_option_is_known():
    spec = ("async atime bind defaults dev diratime dirsync exec iversion lazytime loud mand noatime nodev "
            "nodiratime noexec noiversion nolazytime nomand norelatime nostrictatime nosuid nosymfollow private "
            "ratime rbind rdev rdiratime relatime remount rexec rnoatime rnodiratime rnoexec rnorelatime "
            "rnostrictatime rnosuid rnosymfollow ro rprivate rrelatime rro rrw rshared rslave rstrictatime rsuid "
            "rsymfollow runbindable rw shared silent slave strictatime suid symfollow sync tmpcopyup unbindable "
            "idmap ridmap").split()
    assert set(spec) <= set(mounts.all_options())
    assert features.features()["mountOptions"] == mounts.all_options()
    assert features.features()["linux"]["mountExtensions"]["idmap"]["enabled"]


def test_new_filesystem_mount_with_flags_and_data():
    plan = plan_of(with_mount({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "strictatime", "size=10m", "mode=1777", "inode64"]}))
    (step,) = steps_for(plan, "mounts[7]")
    assert step.op == "mount_at"
    assert step.args == ("tmpfs", ROOTFS, "/tmp", "tmpfs", uapi.MS_NOSUID | uapi.MS_NODEV | uapi.MS_STRICTATIME,
                         "size=10m,mode=1777,inode64")


def test_recursive_options_and_propagation_follow_the_mount():
    plan = plan_of(with_mount({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                               "options": ["rnoexec", "private", "unbindable"]}))
    steps = steps_for(plan, "mounts[7]")
    assert [s.op for s in steps] == ["mount_at", "setattr", "mount_at", "mount_at"]
    assert steps[1].args == (ROOTFS, "/t", True, uapi.ATTR_NOEXEC, 0)
    assert [s.args[4] for s in steps[2:]] == [uapi.MS_PRIVATE, uapi.MS_UNBINDABLE]


def test_bind_mount_is_one_step_with_its_attributes():
    plan = plan_of(with_mount({"destination": "/data", "type": "none", "source": "/srv",
                               "options": ["rbind", "ro", "nosuid", "noatime", "rnodev", "rslave"]}))
    bind, prop = steps_for(plan, "mounts[7]")
    assert bind.op == "bind_mount"
    flags = uapi.ATTR_RDONLY | uapi.ATTR_NOSUID | uapi.ATTR_NOATIME
    assert bind.args == ("/srv", ROOTFS, "/data", True, ((False, flags, uapi.ATTR_ATIME),
                                                        (True, uapi.ATTR_NODEV, 0)))
    assert prop.args[4] == uapi.MS_SLAVE | uapi.MS_REC


def test_bind_keeps_the_source_restrictions():
    """rw, suid... do not loosen a bind mount's copy of its source (as runc's remount does not)."""
    plan = plan_of(with_mount({"destination": "/data", "type": "bind", "source": "/srv", "options": ["bind", "rw"]}))
    (bind,) = steps_for(plan, "mounts[7]")
    assert bind.args == ("/srv", ROOTFS, "/data", False, ())


def test_relative_bind_source_is_in_the_bundle_and_destination_under_root():
    cfg = with_mount({"destination": "data", "type": "bind", "source": "shared", "options": ["rbind"]})
    (bind,) = steps_for(plan_of(cfg, bundle="/bundles/b"), "mounts[7]")
    assert bind.args[0] == "/bundles/b/shared" and bind.args[2] == "/data"


@pytest.mark.parametrize("entry,message", [
    ({"destination": "/m", "type": "tmpfs", "source": "t", "options": ["bogus"]},
     r"mounts\[7\].options\[0\]: unknown mount option 'bogus' for a tmpfs mount"),
    ({"destination": "/m", "type": "bind", "source": "/s", "options": ["rbind", "bogus"]},
     r"mounts\[7\].options\[1\]: unknown mount option 'bogus' for a bind mount"),
    ({"destination": "/m", "type": "bind", "source": "/s", "options": ["rbind", "sync"]},
     r"mounts\[7\].options: sync would change the whole filesystem"),
    ({"destination": "/m", "source": "/s", "options": ["rbind"], "uidMappings": []},
     r"mounts\[7\]: uidMappings and gidMappings must be given together"),
    ({"destination": "/m", "source": "/s", "options": ["rbind", "idmap"]},
     r"mounts\[7\]: idmap needs uidMappings and gidMappings"),
    ({"destination": "/m", "type": "tmpfs", "source": "t", "options": ["ridmap"]},
     r"mounts\[7\].options: ridmap is only implemented for bind mounts"),
    ({"destination": "/m", "type": "sysfs", "source": "s", "options": ["tmpcopyup"]},
     r"mounts\[7\].options: tmpcopyup is for tmpfs mounts"),
    ({"destination": "/m", "type": "bind", "options": ["bind"]}, r"mounts\[7\].source: a bind mount needs a source"),
    ({"destination": "/m", "source": "x"}, r"mounts\[7\].type: missing"),
    ({"destination": "", "type": "tmpfs"}, r"mounts\[7\].destination: missing"),
    ({"destination": "/m", "type": "devpts", "options": ["newinstances"]}, r"options\[0\]: unknown mount option"),
])
def test_refused_mounts(entry, message):
    with pytest.raises(PyruncError, match=message):
        plan_of(with_mount(entry))


def test_unknown_words_of_other_filesystems_are_their_data():
    plan = plan_of(with_mount({"destination": "/m", "type": "ext4", "source": "/dev/sdb1",
                               "options": ["noatime", "discard", "errors=remount-ro"]}))
    (step,) = steps_for(plan, "mounts[7]")
    assert step.args[3:] == ("ext4", uapi.MS_NOATIME, "discard,errors=remount-ro")


def test_sysfs_is_the_hosts_read_only_without_a_network_namespace():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    (step,) = steps_for(plan_of(cfg), "mounts[5]")
    assert step.op == "bind_mount" and step.args[0] == "/sys" and step.args[3] is True
    (recursive, attr_set, _), = step.args[4]
    assert recursive and attr_set & uapi.ATTR_RDONLY and attr_set & uapi.ATTR_NOEXEC
    cfg["linux"]["namespaces"].append({"type": "network", "path": "/var/run/netns/x"})
    assert steps_for(plan_of(cfg), "mounts[5]")[0].op == "bind_mount"
    assert steps_for(plan_of(default_config()), "mounts[5]")[0].op == "mount_at"


def test_idmapped_mount_is_prepared_by_the_runtime_and_attached_by_the_init():
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    plan = plan_of(with_mount({"destination": "/data", "type": "bind", "source": "/srv", "uidMappings": maps,
                               "gidMappings": maps, "options": ["rbind", "ridmap", "ro"]}))
    prepare, attach = steps_for(plan, "mounts[7]")
    assert (prepare.phase, prepare.op) == ("runtime", "prepare_idmapped_mount")
    assert prepare.args == ("mounts[7]", "/srv", True, True, ((False, uapi.ATTR_RDONLY, 0),),
                            "0 100000 65536\n", "0 100000 65536\n")
    assert (attach.phase, attach.op, attach.args) == ("rootfs", "attach_mount", ("mounts[7]", ROOTFS, "/data", "/srv"))


def test_idmap_takes_the_container_maps_in_a_user_namespace():
    cfg = with_mount({"destination": "/data", "type": "bind", "source": "/srv", "options": ["bind", "idmap"]})
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 10}]
    (prepare,) = steps_for(plan_of(cfg), "mounts[7]", "runtime")
    assert prepare.args[5:] == ("0 1000 10\n", "0 2000 10\n")


def test_root_propagation_is_set_after_pivot_root():
    plan = plan_of(with_mount(rootfsPropagation="shared"))
    pivot = plan.phases["pivot"]
    assert pivot[0].op == "pivot_root"
    (step,) = [s for s in pivot if s.source == "linux.rootfsPropagation"]
    assert step.args == (None, "/", None, uapi.MS_SHARED, None)
    with pytest.raises(PyruncError, match="linux.rootfsPropagation"):
        plan_of(with_mount(rootfsPropagation="sideways"))


def test_devices_defaults_spec_and_links():
    cfg = default_config()
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600,
                                "uid": 1, "gid": 2},
                               {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640},
                               {"path": "/run/fifo", "type": "p"}]
    plan = plan_of(cfg)
    nodes = [s.args for s in plan.phases["rootfs"] if s.op == "mknod"]
    assert [a[1] for a in nodes] == ["/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                                     "/dev/fuse", "/dev/null", "/run/fifo"]
    assert nodes[5][2:] == (devices.S_IFCHR, 10, 229, 0o600, 1, 2)
    assert nodes[6][5] == 0o640 and nodes[7][2:] == (devices.S_IFIFO, 0, 0, 0o666, 0, 0)
    assert ops(plan, "rootfs")[-6:] == ["symlink"] * 6


def test_devices_in_a_user_namespace_are_the_hosts_but_fifos():
    cfg = default_config()
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                               {"path": "/dev/fifo", "type": "p"}]
    plan = plan_of(cfg)
    assert [s.args[1] for s in plan.phases["rootfs"] if s.op == "bind_device"][-1] == "/dev/fuse"
    assert [s.args[1] for s in plan.phases["rootfs"] if s.op == "mknod"] == ["/dev/fifo"]


def test_bind_mounted_dev_gets_no_nodes_or_links():
    cfg = with_mount({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]})
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                               {"path": "/opt/null", "type": "c", "major": 1, "minor": 3}]
    plan = plan_of(cfg)
    rootfs_ops = [(s.op, s.args[1]) for s in plan.phases["rootfs"] if s.op in ("mknod", "check_device", "symlink")]
    assert rootfs_ops == [("check_device", "/dev/fuse"), ("mknod", "/opt/null")]


@pytest.mark.parametrize("device,message", [
    ({"path": "/dev/x", "type": "c", "major": -1, "minor": 0}, r"devices\[0\].major: -1 is not a device number"),
    ({"path": "/dev/x", "type": "c", "major": 4096, "minor": 0}, r"devices\[0\].major: 4096"),
    ({"path": "/dev/x", "type": "b", "major": 8, "minor": 1 << 20}, r"devices\[0\].minor"),
    ({"path": "/dev/x", "type": "c", "minor": 0}, r"devices\[0\].major: required"),
    ({"path": "dev/x", "type": "c", "major": 1, "minor": 3}, r"devices\[0\].path: 'dev/x' is not an absolute path"),
    ({"path": "/dev", "type": "c", "major": 1, "minor": 3}, r"devices\[0\].path: '/dev' cannot be a device node"),
    ({"path": "/dev/x", "type": "x", "major": 1, "minor": 3}, r"devices\[0\].type: unknown device type"),
    ({"path": "/dev/x", "type": "p", "fileMode": 0o10000}, r"devices\[0\].fileMode"),
])
def test_refused_devices(device, message):
    cfg = default_config()
    cfg["linux"]["devices"] = [device]
    with pytest.raises(PyruncError, match=message):
        plan_of(cfg)


def test_masks_carry_the_mount_label_and_labels_are_checked_first():
    cfg = with_mount(mountLabel="system_u:object_r:container_file_t:s0")
    cfg["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    cfg["process"]["apparmorProfile"] = "profile"
    plan = plan_of(cfg)
    rootfs = plan.phases["rootfs"]
    assert [s.args for s in rootfs[:2]] == [("selinux", "linux.mountLabel,process.selinuxLabel"),
                                             ("apparmor", "process.apparmorProfile")]
    shm = steps_for(plan, "mounts[3]")[0]
    assert shm.args[5].endswith(',context="system_u:object_r:container_file_t:s0"')
    assert 'context="' not in (steps_for(plan, "mounts[0]")[0].args[5] or "")  # proc takes none
    masks = [s for s in plan.phases["pivot"] if s.op == "mask_path"]
    assert all(s.args[1] == "system_u:object_r:container_file_t:s0" for s in masks)
    process = ops(plan, "process")
    assert process.index("set_exec_label") < process.index("set_user")
    assert [s.args[0] for s in plan.phases["process"] if s.op == "set_exec_label"] == ["apparmor", "selinux"]


def test_config_accepts_the_fields_implemented_here():
    cfg = with_mount({"destination": "/m", "source": "/s", "options": ["rbind", "idmap"],
                      "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                      "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]},
                     mountLabel="l", devices=[{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 438,
                                               "uid": 0, "gid": 0}])
    cfg["process"]["selinuxLabel"] = "l"
    cfg["process"]["apparmorProfile"] = "p"
    config.check_supported(cfg)


def test_read_only_dev_is_remounted_after_pivot():
    cfg = default_config()
    i = next(i for i, m in enumerate(cfg["mounts"]) if m["destination"] == "/dev")
    cfg["mounts"][i]["options"].append("ro")
    plan = plan_of(cfg)
    first, last = steps_for(plan, f"mounts[{i}]")
    assert first.phase == "rootfs" and not first.args[4] & uapi.MS_RDONLY
    remount_ro = uapi.MS_REMOUNT | uapi.MS_RDONLY
    assert last.phase == "pivot" and last.args[4] & remount_ro == remount_ro
    pivot = ops(plan, "pivot")
    assert pivot.index("pivot_root") < pivot.index("mount_at")
    other = with_mount({"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]})
    (step,) = steps_for(plan_of(other), f"mounts[{len(other['mounts']) - 1}]")
    assert step.args[4] & uapi.MS_RDONLY, "another read-only tmpfs is mounted read-only at once"
