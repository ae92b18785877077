"""The harness's own UnrealCV client.

Differences from the `unrealcv` package that matter for long benchmark runs:
bounded connect (including the greeting), per-request timeouts, reply ids
checked against request ids, and after ANY timeout/protocol error/disconnect
the socket is dropped so the next request starts on a fresh connection and
can never read a reply meant for an earlier request. Requests are never
retried automatically (commands such as `vset` are not idempotent).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Sequence

from embrace_bench.unrealcv.protocol import (
    MAX_PAYLOAD,
    EngineDisconnected,
    EngineError,
    EngineTimeout,
    ProtocolError,
    encode_frame,
    encode_message,
    is_binary_command,
    is_error_reply,
    parse_greeting,
    read_frame,
    split_message,
    unix_socket_path,
    wait_readable,
)

__all__ = ["UnrealCVClient", "EngineError", "EngineTimeout", "EngineDisconnected",
           "ProtocolError", "is_error_reply"]

log = logging.getLogger(__name__)

_TRANSPORTS = ("tcp", "unix", "auto")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Real UnrealCV servers parse requests with the regex (\d{1,8}):(.*), so ids must stay < 1e8.
_ID_MODULUS = 10**8


class UnrealCVClient:
    """Blocking UnrealCV client; one per worker thread (calls are serialised by a lock).

    transport: "tcp"; "unix" (`unix_socket`, default `/tmp/unrealcv_<port>.socket`);
    "auto": the Unix socket when the server is local and its file exists, else
    (or when that socket is stale) TCP. UnrealCV on UE 4.27/5.x Linux creates the
    file only once its first TCP client has left and greets no TCP client after
    that (UnrealZoo UE5.6 relies on it), so an existing file means "use it".
    Default: "unix" if `unix_socket` is given, else "auto" (plain TCP for a
    server without a Unix socket, such as the embedded world).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, *,
                 unix_socket: str | None = None, transport: str | None = None,
                 connect_timeout: float = 5.0, timeout: float = 10.0,
                 max_payload: int = MAX_PAYLOAD) -> None:
        transport = transport or ("unix" if unix_socket else "auto")
        if transport not in _TRANSPORTS:
            raise ValueError(f"transport must be one of {_TRANSPORTS}, got {transport!r}")
        self.host, self.port = host, int(port)
        self.unix_socket = unix_socket or unix_socket_path(self.port)
        self.transport = transport
        self.connect_timeout = float(connect_timeout)
        self.timeout = float(timeout)
        self.max_payload = max_payload
        self.server_name: str | None = None  # from the greeting
        self.endpoint: str | None = None  # "tcp:host:port" / "unix:/path" while connected
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()
        self._next_id = 0  # not reset on reconnect; wraps at _ID_MODULUS

    # ---------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> "UnrealCVClient":
        """(Re)connect and wait for the greeting, all within `connect_timeout`."""
        with self._lock:
            self._drop()
            deadline = time.monotonic() + self.connect_timeout
            last: EngineError | None = None
            candidates: list[tuple[str, Any]] = self._candidates()  # addr: a socket path or (host, port)
            while candidates:
                kind, addr = candidates.pop(0)
                try:
                    sock = self._open(kind, addr, deadline)
                except EngineTimeout:
                    raise
                except EngineError as exc:
                    last = exc  # try the next candidate (auto: unix -> tcp)
                    continue
                if kind == "tcp" and self._unix_appeared_before_greeting(sock, deadline):
                    sock.close()  # the server switched to its Unix socket while we waited on TCP
                    candidates = [("unix", self.unix_socket)]
                    continue
                try:
                    name = parse_greeting(read_frame(sock, max_payload=self.max_payload,
                                                     deadline=deadline))
                except EngineTimeout as exc:
                    sock.close()
                    raise EngineTimeout(f"{kind}:{addr}: no greeting within {self.connect_timeout:g}s "
                                        "(server busy with another client, or not an UnrealCV server)") from exc
                except EngineError:
                    sock.close()
                    raise
                except OSError as exc:
                    sock.close()
                    raise EngineDisconnected(f"{kind}:{addr}: connection error during greeting: {exc}") from exc
                self._sock, self.server_name = sock, name
                self.endpoint = f"{kind}:{addr if kind == 'unix' else '%s:%d' % addr}"
                log.debug("connected to %r via %s", name, self.endpoint)
                return self
            raise last or EngineDisconnected("no endpoint to connect to")

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> "UnrealCVClient":
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    # ---------------------------------------------------------------- requests
    def request(self, cmd: str, *, timeout: float | None = None) -> "str | bytes":
        """Send one command and return its reply (bytes for `... png|npy|bmp|exr`, else str).

        In-band failures come back as a reply starting with "error" (see is_error_reply)."""
        return self.request_many([cmd], timeout=timeout)[0]

    def request_many(self, cmds: Sequence[str], *, timeout: float | None = None) -> list:
        """Pipeline `cmds` in one write and return the replies in order.

        `timeout` (default self.timeout) bounds the wait for EACH reply, so a long
        batch is fine as long as the server keeps answering."""
        if isinstance(cmds, str):
            raise TypeError("request_many takes a list of commands, not a str")
        if not cmds:
            return []
        for c in cmds:  # real servers match (.*) per request, which stops at a newline
            if "\n" in c or "\r" in c:
                raise ValueError(f"UnrealCV commands cannot contain newlines: {c!r}")
        timeout = self.timeout if timeout is None else float(timeout)
        with self._lock:
            self._ensure_connected()
            sock = self._sock
            assert sock is not None
            ids = [(self._next_id + i) % _ID_MODULUS for i in range(len(cmds))]
            self._next_id = (self._next_id + len(cmds)) % _ID_MODULUS
            wire = b"".join(encode_frame(encode_message(i, c)) for i, c in zip(ids, cmds))
            replies: list = []
            try:
                self._send(sock, wire, time.monotonic() + timeout)
                for i, cmd in enumerate(cmds):
                    payload = read_frame(sock, max_payload=self.max_payload,
                                         deadline=time.monotonic() + timeout)
                    msg_id, body = split_message(payload)
                    if msg_id != ids[i]:
                        raise ProtocolError(f"reply id {msg_id} does not match request id {ids[i]}"
                                            f" ({cmd!r}); stream out of sync")
                    replies.append(body if is_binary_command(cmd) else body.decode("utf-8", "replace"))
                return replies
            except EngineError as exc:
                # Late or garbled replies would otherwise be read by the next request.
                self._drop()
                if isinstance(exc, EngineTimeout):
                    raise EngineTimeout(f"no reply to {cmds[len(replies)]!r} within {timeout:g}s") from exc
                raise
            except OSError as exc:
                self._drop()
                raise EngineDisconnected(f"connection error: {exc}") from exc

    # ---------------------------------------------------------------- internals
    def _candidates(self) -> list[tuple[str, object]]:
        tcp = ("tcp", (self.host, self.port))
        unix = ("unix", self.unix_socket)
        if self.transport == "tcp":
            return [tcp]
        if self.transport == "unix":
            return [unix]
        if self.host in _LOOPBACK and os.path.exists(self.unix_socket):
            return [unix, tcp]
        return [tcp]

    def _unix_appeared_before_greeting(self, sock: socket.socket, deadline: float) -> bool:
        """auto, local server: wait for the TCP greeting, watching for the Unix socket file. UnrealCV creates
        it when its TCP client leaves (e.g. a readiness probe that just disconnected) and never greets a later
        TCP client, so a file that appears meanwhile is where the server now listens."""
        if self.transport != "auto" or self.host not in _LOOPBACK:
            return False
        while time.monotonic() < deadline:
            try:
                if wait_readable([sock], min(0.05, max(deadline - time.monotonic(), 0))):
                    return False  # the greeting (or EOF) is there: read it as usual
            except (OSError, ValueError):
                return False
            if os.path.exists(self.unix_socket):
                return True
        return False

    def _open(self, kind: str, addr, deadline: float) -> socket.socket:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EngineTimeout(f"connect to {kind}:{addr} timed out")
        try:
            if kind == "tcp":
                sock = socket.create_connection(addr, timeout=remaining)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(remaining)
                sock.connect(addr)
            except BaseException:
                sock.close()
                raise
            return sock
        except socket.timeout as exc:
            raise EngineTimeout(f"connect to {kind}:{addr} timed out") from exc
        except OSError as exc:  # refused, no such file, unreachable...
            raise EngineDisconnected(f"cannot connect to {kind}:{addr}: {exc}") from exc

    def _ensure_connected(self) -> None:
        if self._sock is not None and not self._idle_ok(self._sock):
            self._drop()
        if self._sock is None:
            self.connect()

    @staticmethod
    def _idle_ok(sock: socket.socket) -> bool:
        """Between requests nothing may be readable: readable means EOF (server died or
        restarted) or unsolicited bytes. Either way the connection is unusable, and
        since nothing is in flight we can safely reconnect before sending."""
        try:
            readable = wait_readable([sock], 0)
        except (OSError, ValueError):
            return False
        if readable:
            log.info("connection became unusable while idle (server closed it or sent stray data); reconnecting")
        return not readable

    @staticmethod
    def _send(sock: socket.socket, data: bytes, deadline: float) -> None:
        sock.settimeout(max(deadline - time.monotonic(), 1e-3))
        try:
            sock.sendall(data)
        except socket.timeout as exc:
            raise EngineTimeout("send timed out") from exc
        except OSError as exc:
            raise EngineDisconnected(f"send failed: {exc}") from exc

    def _drop(self) -> None:
        sock, self._sock, self.endpoint = self._sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def __repr__(self) -> str:
        state = self.endpoint or "disconnected"
        return f"UnrealCVClient({self.host!r}, {self.port}, transport={self.transport!r}, {state})"
