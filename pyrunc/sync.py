"""Messages between the runtime and the container's init, over one SEQPACKET socketpair.

The protocol, in order (runtime -> init unless marked <-):
  go byte           one byte once the init is in its cgroups and, with a user namespace from
                    clone, its uid/gid maps are written (with that namespace read by the shim,
                    the init running nothing before it; else by await_release, after the init
                    has closed its inherited fds)
  <- M              (joined namespaces) the init unshared its user namespace: write the maps
  maps byte         one byte after those maps are written (read by the shim, not here)
  <- pid N          (joined/new pid namespace) stage one forked the real init, pid N
  <- pty + fd       (process.terminal) the master of the container's terminal
  <- hooks          run prestart and createRuntime now
  hooks-done        they succeeded
  <- rlimits        (a user namespace) set the init's rlimits from outside it now
  rlimits-done      they are set
  <- seccomp + fd   (SCMP_ACT_NOTIFY) the filter's listener, for the agent at listenerPath
  seccomp-done      the agent has it (also on the start socket and in `exec`)
  <- ready          the container is created; the init waits for start
  created | start   `create` has recorded the state (the init then waits on start.sock) |
                    `run` starts the program at once
  <- error MSG      any time: the init failed at MSG and exits
`start` connects to <state dir>/start.sock and sends `start`; the init answers `error MSG`
or nothing: the socket closes on exec (close-on-exec), which tells `start` the program runs.
Before that it may send `exec` and a socket (watch_exec), whose peer only a thread of the init
holds, which execve's point of no return ends: its close tells `start` some 1-1.5 ms sooner.
"""

import _socket
import posix  # not os: `start` loads this module, and os costs it 1.1 ms (posixfs.py)

from pyrunc import crashpoint, uapi
from pyrunc.errors import PyruncError
from pyrunc.state import START_SOCKET

SOL_SOCKET = 1
SCM_RIGHTS = 1


def fds_message(fds: list[int]) -> list[tuple[int, int, bytes]]:
    """The ancillary data of an SCM_RIGHTS message carrying `fds`."""
    return [(SOL_SOCKET, SCM_RIGHTS, b"".join(fd.to_bytes(4, "little") for fd in fds))]


def fds_received(ancdata: list) -> list[int]:
    fds = []
    for level, kind, data in ancdata:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            fds += [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data) - len(data) % 4, 4)]
    return fds


def socketpair() -> tuple["Channel", "Channel"]:
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    return Channel(a), Channel(b)


class Channel:
    """One end of the runtime/init socket; `reply` is where errors go after `start`."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.reply = sock
        self.fds: list[int] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, tag: str, payload: str = "") -> None:
        self.reply.send(f"{tag} {payload}".encode() if payload else tag.encode())

    def send_fds(self, tag: str, fds: list[int]) -> None:
        self.reply.sendmsg([tag.encode()], fds_message(fds))

    def send_byte(self) -> None:
        self.sock.send(b"\x01")

    def recv(self) -> tuple[str, str]:
        """The next message; ("", "") when the other end is gone. A peer that exited with our
        last message unread is reported once as ECONNRESET, before what it sent (its error)."""
        try:
            data, ancdata, _, _ = self.sock.recvmsg(65536, 64)
        except ConnectionResetError:
            data, ancdata, _, _ = self.sock.recvmsg(65536, 64)
        self.fds += fds_received(ancdata)
        tag, _, payload = data.decode(errors="replace").partition(" ")
        return tag, payload

    def pending_error(self) -> str | None:
        """The init's error message if it sent one before going away (read without waiting)."""
        self.sock.setblocking(False)
        try:
            while True:
                tag, payload = self.recv()
                if tag == "error":
                    return payload
                if tag == "":
                    return None
        except OSError:
            return None
        finally:
            self.sock.setblocking(True)

    def expect(self, tag: str) -> str:
        """Wait for `tag`; the init exits quietly when the runtime has gone away."""
        got, payload = self.recv()
        if got == tag:
            return payload
        if got == "":
            posix._exit(1)
        raise PyruncError(payload if got == "error" else f"sync: expected {tag}, got {got}")

    # -- the start socket ------------------------------------------------------------------
    def listen(self, state_dir: str):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        with _in_dir(state_dir) as prefix:
            sock.bind(prefix + START_SOCKET)
        sock.listen(1)
        return sock

    def expect_start(self, listener, unshare=None) -> None:
        """Block until the container may exec: `start` from run, or a `start` connection. With
        `unshare` (native.unshare), a thread for `start` to watch is made meanwhile (watch_exec)."""
        if listener is None:
            self.expect("start")
            return
        self.expect("created")
        self.sock.close()
        watched = watch_exec(unshare) if unshare is not None else -1
        while True:
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, listener._accept()[0])
            if conn.recv(64) == b"start":
                break
            conn.close()
        listener.close()
        if watched >= 0:
            try:
                conn.sendmsg([b"exec"], fds_message([watched]))
            except OSError:
                pass  # `start` is gone: the program starts all the same
            posix.close(watched)
        self.reply = conn


class _in_dir:
    """A path prefix for `directory` short enough for sun_path (via /proc/self/fd)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.fd = -1

    def __enter__(self) -> str:
        if len(self.directory) < 90:
            return self.directory + "/"
        self.fd = posix.open(self.directory, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        return f"/proc/self/fd/{self.fd}/"

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            posix.close(self.fd)


def watch_exec(unshare) -> int:
    """For `start`, while the created init waits for it: a thread with a file table of its own
    (`unshare`: native.unshare(CLONE_FILES)) that holds one end of a new socket pair and idles
    until execve's point of no return ends it (de_thread). Returns the other end, for `start`
    (expect_start sends it with `exec`), which reads it until it closes, instead of the start
    socket, which closes only after the kernel has freed the init's old memory (1-1.5 ms here).
    An error execve returns still reaches `start`: the thread lives until the init exits, after
    sending it. -1 without the thread (a pids limit): `start` then waits as before."""
    import _thread  # built in

    held, sent = (sock.detach() for sock in _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET))
    hold, ready = _thread.allocate_lock(), _thread.allocate_lock()
    hold.acquire()
    ready.acquire()
    own_table: list[bool] = []

    def idle() -> None:
        try:
            unshare(uapi.CLONE_FILES)
            own_table.append(True)
        except OSError:
            pass
        ready.release()
        hold.acquire()

    try:
        _thread.start_new_thread(idle, ())
        ready.acquire()
    except RuntimeError:
        pass
    posix.close(held)  # the thread's copy, if it has its own table, is then the last
    if not own_table:
        posix.close(sent)
        return -1
    return sent


def start(state_dir: str, on_seccomp=None, early: bool = True) -> str | None:
    """Release a created container's init; None once it has exec'd, else its error.
    `on_seccomp(fd)` takes the listener fd of a filter loaded right before execve. `early`:
    return once its execve is past the point of no return (watch_exec), not once it is done."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        with _in_dir(state_dir) as prefix:
            sock.connect(prefix + START_SOCKET)
        if crashpoint.AT:
            crashpoint.reached("at:start_connected")
        posix.unlink(f"{state_dir}/{START_SOCKET}")
        if crashpoint.AT:
            crashpoint.reached("at:start_socket_removed")
        sock.send(b"start")
        if crashpoint.AT:
            crashpoint.reached("at:start_sent")
        while True:
            data, ancdata, _, _ = sock.recvmsg(65536, 64)
            fds = fds_received(ancdata)
            if data == b"exec" and fds:
                if early:
                    posix.read(fds[0], 1)  # b"": the thread's end has closed (execve, or the init's exit)
                for fd in fds:
                    posix.close(fd)
                if not early:
                    continue
                try:  # an error sent before the init exited is read; an execve past its point of no return sent none
                    data, ancdata, _, _ = sock.recvmsg(65536, 64, _socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return None
                fds = fds_received(ancdata)
            if data != b"seccomp" or not fds or on_seccomp is None:
                for fd in fds:
                    posix.close(fd)
                break
            on_seccomp(fds[0])
            sock.send(b"seccomp-done")
    finally:
        sock.close()
    if not data:
        return None
    return data.decode(errors="replace").partition(" ")[2]
