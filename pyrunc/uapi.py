"""The kernel's numbers: flags, ioctls and magic values of the Linux user-space API.

The one low module that planning (plan.py and its planners, explain) and doing (native.py,
kernel.py, mountops.py, procfs.py) both import: it imports nothing, so building a plan never
loads the native shim. Values are those of linux/*.h on x86-64 and every other architecture
pyrunc builds for (none of these differ between them).
"""

# errno values the short commands test for (the errno module's import costs them 0.08 ms)
ENOENT = 2
ENODEV = 19  # a removed v1 cgroup's files, still open
EBUSY = 16
ENOTEMPTY = 39

# clone(2), unshare(2), setns(2)
CLONE_FILES = 0x00000400
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# openat2(2) how.resolve
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
O_PATH = 0o10000000
SEEK_CUR = 1  # lseek(2): os has it, posix does not

# *at(2) flags, open_tree(2), move_mount(2), fsopen(2) and friends
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6

# mount(2) flags and umount2(2)
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 0x2
MS_MOVE = 0x2000

# mount_setattr(2) MOUNT_ATTR_* (the prefix ATTR_ here)
ATTR_RDONLY = 0x1
ATTR_NOSUID = 0x2
ATTR_NODEV = 0x4
ATTR_NOEXEC = 0x8
ATTR_ATIME = 0x70
ATTR_RELATIME = 0x0
ATTR_NOATIME = 0x10
ATTR_STRICTATIME = 0x20
ATTR_NODIRATIME = 0x80
ATTR_IDMAP = 0x100000
ATTR_NOSYMFOLLOW = 0x200000

# file systems (statfs f_type) and procfs
PROC_SUPER_MAGIC = 0x9FA0
PROC_ROOT_INO = 1
OVERLAYFS_SUPER_MAGIC = 0x794C7630

# keyctl(2) permission bits, ioctls, prctl(2)
KEY_USR_SEARCH = 0x00080000  # a key's permission bits (keyctl(2) KEYCTL_SETPERM)
KEY_OTH_SEARCH = 0x00000008
TIOCGPTPEER = 0x5441
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
SIGKILL = 9  # not signal.SIGKILL: importing signal costs an enum import on the hot path
