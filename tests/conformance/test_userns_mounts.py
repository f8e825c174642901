"""Bind mounts in a user namespace: the runtime reaches the source with the host's credentials before the
init enters its user namespace (runc's mount source fds), so a source below a directory only the host's
root can enter still mounts; the container sees its content but gains no access beyond it."""

import pytest

pytestmark = pytest.mark.root


def private_source(container):
    """<dir>/private (0700, the host's root) / data (0755) / file."""
    private = container.dir / "private"
    data = private / "data"
    data.mkdir(parents=True)
    private.chmod(0o700)
    data.chmod(0o755)
    (data / "file").write_text("reached\n")
    return private, data


@pytest.mark.parametrize("options", [(), ("ro",), ("rbind",)])
def test_bind_source_the_containers_root_cannot_reach(container, options):
    private, data = private_source(container)
    c = container("sh", "-c", "cat /data/file; grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1")
    c.user_namespace()
    c.mount("/data", "bind", data, ["bind", *options] if "rbind" not in options else list(options))
    r = c.run()
    assert r.rc == 0, r
    assert r.out == "reached\n" + ("ro\n" if "ro" in options else "rw\n"), r


def test_bind_a_file_the_containers_root_cannot_reach(container):
    private, data = private_source(container)
    c = container("cat", "/etc/motd-host")
    c.user_namespace()
    (c.rootfs / "etc/motd-host").touch()
    c.mount("/data", "tmpfs", "tmpfs")  # a mount before it, as images have
    c.config["mounts"].append({"destination": "/etc/motd-host", "type": "bind", "source": str(data / "file"),
                               "options": ["bind", "ro"]})
    r = c.run()
    assert r.rc == 0 and r.out == "reached\n", r


def test_without_user_namespace_unchanged(container):
    private, data = private_source(container)
    c = container("cat", "/data/file")
    c.mount("/data", "bind", data, ["bind", "ro"])
    r = c.run()
    assert r.rc == 0 and r.out == "reached\n", r
