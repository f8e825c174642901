"""runtime-linux.md: the file descriptors a program starts with, and the /dev symbolic links."""

import pytest

from pyrunc.testing.requirement import cite

pytestmark = pytest.mark.root


@cite("runtime-linux.md#runtimeLinuxFileDescriptors", "statement", "By default, only the stdin, stdout and stderr "
      "file descriptors are kept open for the application by the runtime.", control="preserve:create")
def test_only_stdio_open(container):
    c = container("ls", "/proc/self/fd")
    assert c.create().rc == 0
    assert c.start().rc == 0
    fds = sorted(int(fd) for fd in c.finish().split())
    assert fds == [0, 1, 2, 3], f"open descriptors (3 is ls's own directory): {fds}"


@cite("runtime-linux.md#runtimeLinuxDevSymbolicLinks", "MUST", "While creating the container (step 2 in the "
      "lifecycle), runtimes MUST create the following symlinks if the source file exists after processing mounts: "
      "/proc/self/fd -> /dev/fd, /proc/self/fd/0 -> /dev/stdin, /proc/self/fd/1 -> /dev/stdout, /proc/self/fd/2 -> "
      "/dev/stderr", control="addhook:startContainer=/bin/busybox rm -f /dev/fd /dev/stdin /dev/stdout /dev/stderr")
def test_dev_symlinks(container):
    c = container("sh", "-c", "for f in /dev/fd /dev/stdin /dev/stdout /dev/stderr; do readlink $f; done")
    assert c.create().rc == 0
    assert c.start().rc == 0
    assert c.finish().split() == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"]
