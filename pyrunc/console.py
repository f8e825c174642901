"""Terminals: the pty the init creates inside the container, and what the runtime does with
its master: send it to --console-socket (SCM_RIGHTS, as runc does) or, for `run` in the
foreground, relay it to its own stdio.
"""

import _socket
import errno
import posix

from pyrunc import native, paths, uapi
from pyrunc.errors import PyruncError
from pyrunc.sync import fds_message


def open_terminal(size: tuple[int, int] | None) -> tuple[int, int]:
    """In the init, after pivot_root: (master, slave) from the container's devpts. The slave is
    the master's own peer (TIOCGPTPEER), not whatever /dev/pts/N names by then."""
    master = posix.open("/dev/ptmx", posix.O_RDWR | posix.O_NOCTTY | posix.O_CLOEXEC)
    native.pty_unlock(master)
    slave = native.pty_peer(master, posix.O_RDWR | posix.O_NOCTTY | posix.O_CLOEXEC)
    if size:
        native.set_winsize(master, *size)
    return master, slave


def mount_console(slave: int) -> None:
    """/dev/console is the container's own terminal, never the host's: a detached bind mount of
    the slave's own fd (open_tree), moved onto the fd of /dev/console, which may not lead into
    procfs (CVE-2025-52565)."""
    tree = native.open_tree(slave, "", uapi.OPEN_TREE_CLONE | uapi.OPEN_TREE_CLOEXEC | uapi.AT_EMPTY_PATH)
    try:
        fd = paths.open_in_root("/", "/dev/console", create="file")
        try:
            if native.fstatfs_type(fd) == uapi.PROC_SUPER_MAGIC:
                raise OSError(errno.EPERM, "/dev/console leads into procfs: refused")
            native.move_mount(tree, fd)
        finally:
            posix.close(fd)
    finally:
        posix.close(tree)


def become_terminal_session(slave: int) -> None:
    """New session with the pty as controlling terminal and as stdin, stdout and stderr."""
    posix.setsid()
    native.set_ctty(slave)
    for target in (0, 1, 2):
        posix.dup2(slave, target)
    if slave > 2:
        posix.close(slave)


def send_to_socket(socket_path: str, master: int) -> None:
    """The --console-socket protocol: one message, payload a name, one fd in SCM_RIGHTS."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
        sock.sendmsg([b"/dev/ptmx"], fds_message([master]))
    except OSError as e:
        raise PyruncError(f"console socket {socket_path}: {(e.strerror or str(e)).lower()}") from None
    finally:
        sock.close()


def relay(master: int, child_alive) -> None:
    """`run` in the foreground: copy stdin to the pty and the pty to stdout until the
    container closes it; the caller's terminal is raw meanwhile and its size follows."""
    import select

    tty = posix.isatty(0)
    saved = None
    if tty:
        import termios
        import tty as ttymod

        saved = termios.tcgetattr(0)
        ttymod.setraw(0)
        native.set_winsize(master, *native.get_winsize(0))
    poller = select.poll()
    poller.register(master, select.POLLIN)
    stdin_open = True
    poller.register(0, select.POLLIN)
    try:
        while True:
            for fd, event in poller.poll(200):
                if fd == master:
                    try:
                        data = posix.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        return
                    posix.write(1, data)
                elif stdin_open:
                    data = posix.read(0, 65536) if event & (select.POLLIN | select.POLLHUP) else b""
                    if data:
                        posix.write(master, data)
                    else:
                        poller.unregister(0)
                        stdin_open = False
            if not child_alive():
                return
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def resize_from(fd: int, master: int) -> None:
    """SIGWINCH: the container's terminal takes the caller's size."""
    try:
        native.set_winsize(master, *native.get_winsize(fd))
    except OSError:
        pass
