"""Peers of a runtime's unix sockets: --console-socket (the pty master) and a seccomp listener."""

import json
import os
import socket
import threading
from pathlib import Path


def close_every_console(path: Path) -> threading.Thread:
    """A --console-socket peer that takes the pty master and closes it (the shell then exits)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        _, ancdata, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(4))
        for _, _, data in ancdata:
            os.close(int.from_bytes(data[:4], "little"))
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


class SocketPeer(threading.Thread):
    """The other end of a runtime's unix socket (--console-socket, linux.seccomp.listenerPath):
    accepts one connection and hands it to serve(); whatever serve() raises is kept for the test."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.server.settimeout(30)
        self.error = None

    def run(self):
        try:
            conn, _ = self.server.accept()
            with conn:
                self.serve(conn)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.server.close()

    def serve(self, conn):
        raise NotImplementedError


def receive_state(conn):
    """A seccomp listener's message: the container process state and the fds that came with it. The
    JSON is read until whole (runc 1.1.5 keeps the connection open)."""
    data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
    while True:
        try:
            return json.loads(data), fds
        except ValueError:
            data += conn.recv(65536)


class ConsoleReader(SocketPeer):
    """Takes the pty master from --console-socket and reads what the container writes until EOF."""

    def __init__(self, path):
        super().__init__(path)
        self.out = b""
        self.start()

    def serve(self, conn):
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        while True:
            try:
                chunk = os.read(fds[0], 4096)
            except OSError:  # EIO: the last slave closed
                break
            if not chunk:
                break
            self.out += chunk
        os.close(fds[0])

    def text(self):
        self.join(20)
        assert self.error is None, self.error
        return self.out.decode().replace("\r\n", "\n")
