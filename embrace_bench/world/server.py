"""UnrealCV-compatible server for the embedded world engine.

Mirrors real UnrealCV servers: one client at a time (later ones wait in the
listen backlog, un-greeted), greeting `connected to <name>`, replies in order
with the request id, up to `batch_size` requests served per pass, optional
Unix socket (`/tmp/unrealcv_<port>.socket` style) next to TCP, or, like
UnrealCV on UE 4.27/5.x Linux (`unix_after_tcp`), a switch to that socket once
the first TCP client has left (later TCP connections are never greeted).
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
from typing import Callable, Protocol, Union, cast

from embrace_bench.unrealcv.protocol import (
    MAX_PAYLOAD,
    EngineDisconnected,
    ProtocolError,
    encode_frame,
    encode_message,
    greeting,
    read_frame,
    split_message,
    unix_socket_path,
    wait_readable,
)

log = logging.getLogger(__name__)

Reply = Union[str, bytes]


class Handler(Protocol):
    def handle(self, command: str) -> Reply: ...


class UnrealCVServer:
    """Serve `handler.handle(command) -> str | bytes` over the UnrealCV protocol.

    Sockets are bound and listening once the constructor returns (so `.port` is
    known); call `start()` (background thread), `serve_forever()` (this thread),
    or use it as a context manager (starts in the background, shuts down on exit).
    `handler.handle` is only ever called from the serving thread, one call at a time.
    `unix_socket=True` means `/tmp/unrealcv_<bound port>.socket`.
    """

    def __init__(self, handler: Handler | Callable[[str], Reply], host: str = "127.0.0.1",
                 port: int = 9000, *, unix_socket: str | bool | None = None,
                 name: str = "embrace_bench", batch_size: int = 32,
                 max_payload: int = MAX_PAYLOAD, backlog: int = 8,
                 poll_interval: float = 0.1, unix_after_tcp: bool = False, fault=None) -> None:
        self._handle = cast(Callable[[str], Reply], getattr(handler, "handle", handler))
        if not callable(self._handle):
            raise TypeError("handler must have a handle(command) method or be callable")
        self.name = name
        self.batch_size = max(1, int(batch_size))
        self.max_payload = max_payload
        self._backlog = backlog
        self._poll = poll_interval
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()  # guards _conn / _thread / _running
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._serving_ident: int | None = None
        self._running = False
        self._fault = fault  # test-only misbehaviour (world/faults.py); None in normal runs
        self._served = 0  # requests answered, over all connections

        self._tcp = socket.create_server((host, port), backlog=backlog)
        self.host, self.port = self._tcp.getsockname()[:2]
        self.unix_socket: str | None = None
        self._unix: socket.socket | None = None
        self._unix_ino: int | None = None
        self._tcp_open = True  # False once a unix_after_tcp server has switched to its Unix socket
        self._unix_after_tcp = unix_after_tcp
        if unix_after_tcp:
            unix_socket = unix_socket or True
        if unix_socket:
            self.unix_socket = unix_socket_path(self.port) if unix_socket is True else str(unix_socket)
        if unix_socket and not unix_after_tcp:
            try:
                self._bind_unix()
            except BaseException:
                self._tcp.close()
                raise
        log.info("UnrealCV server %r listening on %s:%d%s", name, self.host, self.port,
                 f" and {self.unix_socket}" if self.unix_socket else "")

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "UnrealCVServer":
        """Serve in a daemon thread; returns self."""
        with self._lock:
            if self._running or self._stop.is_set():
                return self
            self._running = True
            self._thread = threading.Thread(target=self._run, name=f"unrealcv-server:{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until shutdown() (or wait, if start() already runs it)."""
        with self._lock:
            already = self._running
            self._running = True
        if already:
            self._done.wait()
            return
        self._run()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop serving, drop the current client, close the listeners, remove the Unix socket."""
        self._stop.set()
        with self._lock:
            conn, running = self._conn, self._running
        if conn is not None:  # unblocks a recv() in the serving thread; the client sees EOF
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # Called from the serving thread itself (e.g. a signal handler): the loop exits on its own.
        if running and self._serving_ident != threading.get_ident():
            self._done.wait(timeout)
        if not running:
            self._close_listeners()

    close = shutdown

    def __enter__(self) -> "UnrealCVServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    # ---------------------------------------------------------------- internals
    def _bind_unix(self) -> None:
        path = self.unix_socket
        assert path is not None
        if os.path.exists(path):
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                raise FileExistsError(f"{path} exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:  # a live server there is an error; a stale file from a dead one is removed
                probe.settimeout(0.5)
                probe.connect(path)
            except OSError:
                os.unlink(path)
            else:
                raise OSError(f"another server is listening on {path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            sock.listen(self._backlog)
        except BaseException:
            sock.close()
            raise
        self._unix, self._unix_ino = sock, os.stat(path).st_ino

    def _switch_to_unix(self) -> None:
        """Stop greeting TCP clients and listen on the Unix socket instead (UnrealCV 4.27/5.x on Linux)."""
        self._tcp_open = False
        if self._unix is None:
            try:
                self._bind_unix()
                log.info("first TCP client left: serving on Unix socket %s from now on", self.unix_socket)
            except OSError as exc:
                log.warning("could not create Unix socket %s: %s", self.unix_socket, exc)

    def _restore_unix(self) -> None:
        # Real servers (re)create the socket file once a client leaves (UnrealZoo: "after the
        # first TCP touch"); clients such as UnrealCv_API(mode='unix') delete it and wait for it.
        if self.unix_socket is None or self._unix is None or os.path.exists(self.unix_socket):
            return
        if self._unix is not None:
            self._unix.close()
            self._unix = None
        try:
            self._bind_unix()
            log.info("re-created Unix socket %s", self.unix_socket)
        except OSError as exc:
            log.warning("could not re-create Unix socket %s: %s", self.unix_socket, exc)

    def _close_listeners(self) -> None:
        self._tcp.close()
        if self._unix is not None:
            self._unix.close()
            self._unix = None
            try:  # only remove the file if it is still ours
                if self.unix_socket and os.stat(self.unix_socket).st_ino == self._unix_ino:
                    os.unlink(self.unix_socket)
            except OSError:
                pass

    def _run(self) -> None:
        self._serving_ident = threading.get_ident()
        try:
            while not self._stop.is_set():
                listeners = [s for s in (self._tcp if self._tcp_open else None, self._unix) if s is not None]
                try:
                    if not listeners:  # switched, but the Unix socket could not be created
                        self._stop.wait(self._poll)
                        continue
                    ready = wait_readable(listeners, self._poll)
                except (OSError, ValueError):
                    if self._stop.is_set():
                        break
                    raise
                if not ready:
                    continue
                try:
                    conn, peer = ready[0].accept()
                except OSError as exc:
                    log.warning("accept failed: %s", exc)
                    continue
                self._serve_client(conn, peer or "unix")
                if self._unix_after_tcp and ready[0] is self._tcp:
                    self._switch_to_unix()
                self._restore_unix()
        except Exception:
            log.exception("UnrealCV server loop crashed")
            raise
        finally:
            self._close_listeners()
            with self._lock:
                self._running = False
            self._done.set()
            log.info("UnrealCV server on port %d stopped", self.port)

    def _serve_client(self, conn: socket.socket, peer) -> None:
        conn.setblocking(True)
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._conn = conn
        log.info("client connected from %s", peer)
        try:
            if self._stop.is_set():
                return
            conn.sendall(encode_frame(greeting(self.name)))
            while not self._stop.is_set():
                batch = [read_frame(conn, max_payload=self.max_payload)]
                # Drain what is already queued (up to batch_size), like one engine tick.
                while len(batch) < self.batch_size and wait_readable([conn], 0):
                    batch.append(read_frame(conn, max_payload=self.max_payload))
                if not self._answer_batch(conn, batch):
                    return
        except EngineDisconnected:
            log.info("client %s disconnected", peer)
        except ProtocolError as exc:
            log.warning("dropping client %s: %s", peer, exc)
        except OSError as exc:
            log.info("client %s connection error: %s", peer, exc)
        finally:
            with self._lock:
                self._conn = None
            try:
                conn.close()
            except OSError:
                pass

    def _answer_batch(self, conn: socket.socket, batch: list[bytes]) -> bool:
        """Answer a batch in one write; False when the connection is to be dropped (an injected fault)."""
        frames: list[bytes] = []
        for p in batch:
            self._served += 1
            if self._fault is not None and self._fault.due(self._served):
                conn.sendall(b"".join(frames))
                if self._fault.inject(conn, p):
                    return False
                frames = []
                continue
            frames.append(encode_frame(self._answer(p)))
        conn.sendall(b"".join(frames))
        return True

    def _answer(self, payload: bytes) -> bytes:
        msg_id, body = split_message(payload)  # ProtocolError drops the client
        try:
            command = body.decode("utf-8")
        except UnicodeDecodeError:
            return encode_message(msg_id, "error command is not valid utf-8")
        try:
            reply = self._handle(command)
        except Exception as exc:  # a handler bug must not take the server down
            log.exception("handler raised on %r", command)
            reply = f"error {str(exc) or type(exc).__name__}"
        if isinstance(reply, (bytearray, memoryview)):
            reply = bytes(reply)
        if not isinstance(reply, (str, bytes)):
            log.error("handler returned %s for %r; expected str or bytes", type(reply).__name__, command)
            reply = f"error handler returned {type(reply).__name__}"
        return encode_message(msg_id, reply)
