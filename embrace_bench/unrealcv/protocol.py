"""The UnrealCV wire format: the one definition shared by our server and client.

Frame  = uint32 LE magic 0x9E2B83C1, uint32 LE payload length, payload.
Payload = b"<id>:<body>"; the server greets each client with b"connected to <name>"
(no id) and answers every request exactly once, in order, echoing the id.
"""

from __future__ import annotations

import math
import select
import socket
import struct
import time

MAGIC = 0x9E2B83C1
HEADER = struct.Struct("<II")
MAX_PAYLOAD = 256 * 1024 * 1024  # a garbage length must not make us allocate GiBs
GREETING_PREFIX = b"connected"
# Commands whose last token is one of these get raw bytes back (UnrealCV image/array formats).
BINARY_FORMATS = frozenset({"png", "npy", "bmp", "exr"})

__all__ = [
    "MAGIC", "HEADER", "MAX_PAYLOAD", "BINARY_FORMATS",
    "EngineError", "EngineTimeout", "EngineDisconnected", "ProtocolError",
    "encode_frame", "decode_header", "recv_exact", "read_frame",
    "encode_message", "split_message", "is_binary_command", "is_error_reply",
    "greeting", "parse_greeting", "unix_socket_path", "wait_readable",
]


class EngineError(Exception):
    """Base class for everything that can go wrong talking to an engine."""


class EngineTimeout(EngineError, TimeoutError):
    """No (complete) answer within the allotted time."""


class EngineDisconnected(EngineError, ConnectionError):
    """The peer is gone (EOF, reset, refused) or could not be reached."""


class ProtocolError(EngineError):
    """Bytes on the wire do not follow the framing/id contract."""


def encode_frame(payload: bytes) -> bytes:
    """Wrap one payload in a frame header."""
    payload = bytes(payload)
    if len(payload) > 0xFFFFFFFF:
        raise ProtocolError(f"payload of {len(payload)} bytes does not fit a uint32 length")
    return HEADER.pack(MAGIC, len(payload)) + payload


def decode_header(header: bytes, max_payload: int = MAX_PAYLOAD) -> int:
    """Validate an 8-byte header and return the payload length."""
    if len(header) != HEADER.size:
        raise ProtocolError(f"short frame header ({len(header)} bytes)")
    magic, size = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic 0x{magic:08x} (header bytes {header!r}); stream is not UnrealCV framing")
    if size > max_payload:
        raise ProtocolError(f"frame announces {size} bytes, over the {max_payload}-byte limit")
    return size


def recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    """Read exactly n bytes. EOF -> EngineDisconnected; past `deadline` (monotonic) -> EngineTimeout.

    Without a deadline the socket's own timeout mode applies (blocking for the server).
    """
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EngineTimeout(f"timed out with {got}/{n} bytes read")
            sock.settimeout(remaining)
        try:
            k = sock.recv_into(view[got:], n - got)
        except socket.timeout as exc:  # also raised by a socket-level timeout
            raise EngineTimeout(f"timed out with {got}/{n} bytes read") from exc
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            raise EngineDisconnected(f"connection reset by peer: {exc}") from exc
        if k == 0:
            raise EngineDisconnected("peer closed the connection")
        got += k
    return bytes(buf)


def read_frame(sock: socket.socket, *, max_payload: int = MAX_PAYLOAD,
               deadline: float | None = None) -> bytes:
    """Read one frame and return its payload (validates magic and size)."""
    size = decode_header(recv_exact(sock, HEADER.size, deadline), max_payload)
    return recv_exact(sock, size, deadline) if size else b""


def encode_message(msg_id: int, body: str | bytes) -> bytes:
    """Build the b"<id>:<body>" payload (not yet framed)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return b"%d:%s" % (msg_id, bytes(body))


def split_message(payload: bytes) -> tuple[int, bytes]:
    """Split b"<id>:<body>" into (id, body); the body may itself contain ':'."""
    head, sep, body = payload.partition(b":")
    if not sep or not head or not head.isdigit() or len(head) > 20:
        raise ProtocolError(f"payload does not start with '<id>:' ({payload[:40]!r})")
    return int(head), body


def is_binary_command(command: str) -> bool:
    """True when UnrealCV answers `command` with raw bytes (`... png`, `... npy`, ...)."""
    parts = command.rsplit(None, 1)
    return len(parts) == 2 and parts[1].lower() in BINARY_FORMATS


def is_error_reply(reply: str | bytes) -> bool:
    """UnrealCV signals failure in-band with a reply starting with 'error'."""
    head = reply[:5]
    if not isinstance(head, str):
        head = bytes(head).decode("latin-1")
    return head.lower() == "error"


def greeting(name: str) -> bytes:
    return b"connected to " + name.encode("utf-8")


def parse_greeting(payload: bytes) -> str:
    """Return the server name from a greeting, or raise ProtocolError."""
    if not payload.startswith(GREETING_PREFIX):
        raise ProtocolError(f"expected a 'connected to ...' greeting, got {payload[:40]!r}")
    text = payload.decode("utf-8", errors="replace")
    return text[len("connected to "):] if text.startswith("connected to ") else text


def unix_socket_path(port: int) -> str:
    """Where UnrealCV (UE 4.27/5.x on Linux) puts its Unix socket for a given port."""
    return f"/tmp/unrealcv_{port}.socket"


def wait_readable(socks: list, timeout: float) -> list:
    """The sockets of `socks` that are readable (or hung up) within `timeout` seconds.

    Uses poll() where available: select() breaks on fds >= 1024, which a
    long-running harness with many open files can reach."""
    if not hasattr(select, "poll"):
        return select.select(socks, [], [], timeout)[0]
    poller = select.poll()
    by_fd = {}
    for s in socks:
        by_fd[s.fileno()] = s
        poller.register(s, select.POLLIN | select.POLLPRI)
    return [by_fd[fd] for fd, _ in poller.poll(max(0, math.ceil(timeout * 1000)))]
