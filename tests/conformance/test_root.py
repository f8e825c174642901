"""root.path and root.readonly."""

import pytest

from pyrunc.testing.bundle import mountinfo

pytestmark = pytest.mark.root


@pytest.mark.parametrize("readonly", [True, False])
def test_root_readonly(container, readonly):
    c = container("sh", "-c", "touch /probe && echo wrote; cat /proc/self/mountinfo")
    c.config["root"]["readonly"] = readonly
    r = c.run()
    assert r.rc == 0, r
    assert ("wrote\n" in r.out) is not readonly
    assert (c.rootfs / "probe").exists() is not readonly
    assert ("ro" in mountinfo(r.out)["/"][1]) is readonly


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_root_path(container, where):
    c = container("cat", "/marker")
    other = c.bundle / "images/one"
    other.parent.mkdir()
    c.rootfs.rename(other)
    (other / "marker").write_text("this rootfs\n")
    c.config["root"]["path"] = "images/one" if where == "relative" else str(other)
    r = c.run()
    assert (r.rc, r.out) == (0, "this rootfs\n"), r


def test_missing_rootfs(container):
    c = container()
    c.config["root"]["path"] = "missing"
    c.assert_refused(c.create())
