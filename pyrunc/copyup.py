"""tmpcopyup: a new tmpfs starts with a copy of what the image has where it is mounted.

Imported by the planner only for a config that asks for it (the init finds it loaded).
"""

import os
import stat


def copy_tree(src: int, dst: int) -> None:
    """Copy the contents of directory fd `src` into directory fd `dst` (tmpcopyup), keeping
    modes and owners; nothing is followed, every name is opened relative to its directory."""
    for entry in os.scandir(src):
        name = entry.name
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            os.mkdir(name, 0o700, dir_fd=dst)
            sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            try:
                sub_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
                try:
                    copy_tree(sub_src, sub_dst)
                finally:
                    os.close(sub_dst)
            finally:
                os.close(sub_src)
        elif kind == stat.S_IFREG:
            fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            try:
                fout = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                               dir_fd=dst)
                try:
                    while os.sendfile(fout, fin, None, 1 << 20):
                        pass
                finally:
                    os.close(fout)
            finally:
                os.close(fin)
        elif kind == stat.S_IFLNK:
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        else:
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        if kind != stat.S_IFLNK:
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst, follow_symlinks=False)
