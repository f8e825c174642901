"""linux.mountLabel, process.selinuxLabel, process.apparmorProfile: applied where the host has the
module, a clear error where it has not (runc ignores them silently there)."""

import pytest

from pyrunc import lsm

from .test_rootfs_mounts import applets, run_ok

pytestmark = pytest.mark.root

SELINUX_LABEL = "system_u:system_r:container_t:s0:c1,c2"
MOUNT_LABEL = "system_u:object_r:container_file_t:s0:c1,c2"
FIELDS = {
    "linux.mountLabel": ("selinux", lambda c: c.config["linux"].update(mountLabel=MOUNT_LABEL)),
    "process.selinuxLabel": ("selinux", lambda c: c.config["process"].update(selinuxLabel=SELINUX_LABEL)),
    "process.apparmorProfile": ("apparmor", lambda c: c.config["process"].update(apparmorProfile="unconfined")),
}
ENABLED = {"selinux": lsm.selinux_enabled(), "apparmor": lsm.apparmor_enabled()}


def test_mount_label(container):
    if not ENABLED["selinux"]:
        pytest.skip("this host has no SELinux (/sys/fs/selinux)")
    c = container("sh", "-c", "grep ' /dev/shm ' /proc/self/mountinfo")
    FIELDS["linux.mountLabel"][1](c)
    assert "context=" in run_ok(c)


def test_selinux_label(container):
    if not ENABLED["selinux"]:
        pytest.skip("this host has no SELinux (/sys/fs/selinux)")
    c = container("cat", "/proc/self/attr/current")
    FIELDS["process.selinuxLabel"][1](c)
    assert run_ok(c).strip("\0\n") == SELINUX_LABEL


def test_apparmor_profile(container):
    if not ENABLED["apparmor"]:
        pytest.skip("this host has no AppArmor (/sys/kernel/security/apparmor)")
    c = container("cat", "/proc/self/attr/current")
    applets(c, "cat")
    FIELDS["process.apparmorProfile"][1](c)
    assert "unconfined" in run_ok(c)


@pytest.mark.parametrize("field", FIELDS)
def test_refused_without_the_module(container, rt, field):
    rt.only_pyrunc("refusing security labels a host cannot apply")
    module, change = FIELDS[field]
    if ENABLED[module]:
        pytest.skip(f"this host has {module}")
    c = container()
    change(c)
    r = c.create()
    c.assert_refused(r, one_line=True)
    assert field in r.err and "not enabled on this host" in r.err, r
