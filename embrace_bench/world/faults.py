"""Test-only fault injection for the embedded engine server; never set in a normal run.

`EMBRACE_BENCH_TEST_FAULT="<kind>@<n>[:<once_file>]"` makes `python -m embrace_bench.world.serve` misbehave
when it is about to answer its n-th request (counted over all connections, the launcher's readiness probe
included). Kinds:

  kill      the engine SIGKILLs itself (a crash, as `kill -9`)
  stop      the engine SIGSTOPs itself (it stops answering, as a hung engine does)
  badmagic  the reply frame carries a wrong magic number
  garbage   bytes that are not UnrealCV framing at all
  hugelen   a frame header announcing a 4 GiB payload
  badid     the reply echoes another request id
  close     the connection is closed without a reply

With a `once_file`, only the first engine to create that file (O_CREAT|O_EXCL) injects the fault, so the
engine the runner relaunches in its place behaves. The fault tests in tests/test_faults.py use this.
"""
from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass

from embrace_bench.unrealcv.protocol import HEADER, MAGIC, encode_frame, encode_message, split_message

ENV_VAR = "EMBRACE_BENCH_TEST_FAULT"
KINDS = ("kill", "stop", "badmagic", "garbage", "hugelen", "badid", "close")


@dataclass
class Fault:
    kind: str
    at_request: int
    once_file: str | None = None

    @staticmethod
    def parse(spec: str) -> "Fault":
        head, _, once = spec.partition(":")
        kind, _, n = head.partition("@")
        if kind not in KINDS or not n.isdigit() or int(n) < 1:
            raise ValueError(f"{ENV_VAR}={spec!r}: expected <kind>@<n>[:<file>] with kind in {', '.join(KINDS)}")
        return Fault(kind, int(n), once or None)

    def due(self, n: int) -> bool:
        if n != self.at_request:
            return False
        if self.once_file is None:
            return True
        try:
            os.close(os.open(self.once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False  # another engine of this run already injected it
        return True

    def inject(self, conn: socket.socket, payload: bytes) -> bool:
        """Misbehave on `conn` instead of answering `payload`; True when the connection must be dropped."""
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
            return True  # if someone sends SIGCONT, the client has given up on this connection anyway
        if self.kind == "close":
            return True
        msg_id, _ = split_message(payload)
        wire = {"badmagic": HEADER.pack(MAGIC ^ 0xFFFF, 2) + b"ok",
                "garbage": b"HTTP/1.1 500 nonsense\r\n\r\n" + bytes(range(256)),
                "hugelen": HEADER.pack(MAGIC, 0xFFFFFFF0),
                "badid": encode_frame(encode_message(msg_id + 7, "ok"))}[self.kind]
        conn.sendall(wire)
        return False


def from_environ() -> Fault | None:
    spec = os.environ.get(ENV_VAR)
    return Fault.parse(spec) if spec else None
