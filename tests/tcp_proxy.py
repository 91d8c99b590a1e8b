"""A TCP proxy in front of PostgreSQL that a test can break: cut every connection when the
client sends a statement, lose the server's reply to one, or refuse new connections."""

import contextlib
import socket
import threading


class DatabaseProxy:
    """Forward 127.0.0.1:<port> to the database, byte for byte, until told otherwise.

    `cut_at(b"INSERT")`: the first client packet holding those bytes is not forwarded and
    every connection closes, as when the database's host goes away mid-request.
    `lose_reply_to(b"COMMIT")`: that packet is forwarded, so the server does it, but its
    reply never reaches the client, whose connection then closes.
    `refuse()`: open connections close and new ones are refused.
    """

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._cut: bytes | None = None
        self._lose: bytes | None = None
        self.tripped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_at(self, marker: bytes) -> None:
        self._cut = marker

    def lose_reply_to(self, marker: bytes) -> None:
        self._lose = marker

    def refuse(self) -> None:
        # Closing alone leaves an accept() already waiting in its thread to take one more
        # connection; shutting the socket down wakes it and stops the listening at once.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        self._close_all()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._pairs.append((client, server))
            state = {"silent": False}
            threading.Thread(
                target=self._pump, args=(client, server, True, state), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, False, state), daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket, outgoing: bool, state) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if outgoing and self._cut and self._cut in data:
                self.tripped.set()
                self._close_all()
                return
            if outgoing and self._lose and self._lose in data:
                state["silent"] = True
                self.tripped.set()
            if not outgoing and state["silent"]:
                # The server did it and answered; the client never hears.
                break
            try:
                target.sendall(data)
            except OSError:
                break
        for end in (source, target):
            # Shut down first: a close alone would not wake the other pump's recv.
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()

    def _close_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    end.close()
