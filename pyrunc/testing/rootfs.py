"""Root filesystems built in code: busybox-static with applet links, or host binaries with the shared
libraries they load copied beside them (the chroot labs' recipe: ldd, then copy every path it names)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

BUSYBOX = "/bin/busybox"
APPLETS = ("cat chmod echo env grep hostname id kill ls mkdir printf pwd readlink sh sleep sort stat tail test "
           "touch true uname").split()
DIRS = ("bin", "proc", "sys", "dev", "tmp", "etc", "root")


def skeleton(rootfs: Path) -> None:
    """The usual top-level directories and a root user in /etc/passwd and /etc/group."""
    for d in DIRS:
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")


def make_rootfs(rootfs, applets=APPLETS):
    """busybox-static with a symlink per applet the tests use, and the usual top-level directories."""
    rootfs = Path(rootfs)
    skeleton(rootfs)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    for applet in applets:
        (rootfs / "bin" / applet).symlink_to("busybox")


_LDD_PATH = re.compile(r"(/\S+)")


def shared_libraries(binary) -> list[str]:
    """Absolute paths of what the dynamic loader maps for `binary` (its interpreter included), from ldd;
    nothing for a static binary."""
    r = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if r.returncode != 0:  # "not a dynamic executable"
        return []
    found = []
    for line in r.stdout.splitlines():
        target = line.split("=>", 1)[-1]
        if (m := _LDD_PATH.search(target)) and os.path.exists(m.group(1)):
            found.append(m.group(1))
    return found


def copy_into(rootfs: Path, path: str) -> None:
    """Copy a host file to the same path in the rootfs, following symlinks (the library a soname link
    names), and keep the link itself when the path is one."""
    dest = rootfs / path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copy2(os.path.realpath(path), dest)


def host_rootfs(rootfs, binaries, skeleton_dirs=True) -> Path:
    """A rootfs holding these host binaries (names on PATH or absolute paths) at their host paths, with
    every shared library each one loads. Returns the rootfs."""
    rootfs = Path(rootfs)
    if skeleton_dirs:
        skeleton(rootfs)
    for name in binaries:
        path = name if os.path.isabs(name) else shutil.which(name)
        if not path:
            raise FileNotFoundError(f"{name}: not found on PATH")
        for needed in (path, *shared_libraries(path)):
            copy_into(rootfs, needed)
    return rootfs
