"""Child processes the harness owns (engines, a vLLM server): a free loopback port, the tail of a process's
log, and stopping a process group. Shared by env/ and models/, so neither imports the other for it."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log_tail(path: Path | None, n: int) -> list[str]:
    """The last `n` non-blank lines of a process's log (none when there is no log yet): why it failed."""
    if not path or not path.exists():
        return []
    return [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()][-n:]


def stop_process_group(p: subprocess.Popen | None, grace_s: float) -> None:
    """End a process started in its own session, with everything it started: SIGTERM to the group, SIGKILL
    after `grace_s`. Tolerates a process that already exited."""
    if p is None or p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):  # the group may have ended since the poll
        os.killpg(p.pid, signal.SIGTERM)
        os.killpg(p.pid, signal.SIGCONT)  # a stopped (SIGSTOP) process handles the SIGTERM only once it runs
    try:
        p.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(grace_s)
