"""Start an engine process on a free loopback port, wait until it answers, stop it cleanly."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from embrace_bench.config_schema import embedded_env
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.procs import free_port, log_tail, stop_process_group
from embrace_bench.redact import scrubbed_environ
from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.unrealcv.protocol import EngineError, is_error_reply
from embrace_bench.world.launch import serve_command


class EngineStartError(RuntimeError):
    pass


def probe(host: str, port: int, deadline_s: float, proc: subprocess.Popen | None = None) -> float:
    """Poll `vget /unrealcv/status` until it answers; seconds waited. Bounded by deadline_s."""
    t0 = time.monotonic()
    while True:
        if proc is not None and proc.poll() is not None:
            raise EngineStartError(f"engine exited with code {proc.returncode} before it was ready")
        try:
            with UnrealCVClient(host, port, connect_timeout=1.0, timeout=2.0) as c:
                reply = c.request("vget /unrealcv/status")
                if isinstance(reply, str) and not is_error_reply(reply):
                    return time.monotonic() - t0
        except (EngineError, OSError):
            pass
        if time.monotonic() - t0 > deadline_s:
            raise EngineStartError(f"engine on {host}:{port} not ready after {deadline_s:.0f} s")
        time.sleep(0.1)


class EngineProcess:
    """An engine process this harness starts and owns: its log, liveness and shutdown (its whole process group,
    so a launcher script and the engine it starts go together)."""

    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    host: str  # set by each subclass
    ready_timeout_s: float
    _port: int | None = None  # the port asked for, or None: start() picks a free one

    @property
    def port(self) -> int:
        """The port the engine serves (known once start() has picked it)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} has no port before start()")
        return self._port

    def start(self) -> "EngineProcess":
        raise NotImplementedError

    def _popen(self, cmd: list[str], cwd: Path | None = None) -> None:
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            # Own session: a Ctrl-C in the terminal reaches the runner, which stops engines itself. No API keys:
            # an engine never calls a model, so it is not given them.
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=cwd, start_new_session=True, env=scrubbed_environ())
        except OSError as exc:
            raise EngineStartError(f"cannot start {cmd[0]}: {exc.strerror or exc}") from None
        finally:
            if not isinstance(log, int):  # subprocess.DEVNULL is an int
                log.close()

    def _await_ready(self, port: int, label: str = "") -> None:
        """Bounded readiness probe; on failure the process is stopped and the error ends with its log's tail."""
        try:
            probe(self.host, port, self.ready_timeout_s, self.proc)
        except EngineStartError as exc:
            self.stop()
            raise EngineStartError(f"{label}{exc}{self._log_tail()}") from None

    def _log_tail(self) -> str:
        lines = log_tail(self.log_path, 1)
        return f" (engine log {self.log_path}: {lines[0][:200]})" if lines else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 3.0) -> None:
        p, self.proc = self.proc, None
        stop_process_group(p, grace_s)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_EMBEDDED = embedded_env()  # env=embedded's values (conf/env/embedded.yaml): the defaults of a process built by hand


class EmbeddedEngineProcess(EngineProcess):
    """`python -m embrace_bench.world.serve` in its own process, logging to `log_path`."""

    def __init__(self, *, renderer: str = _EMBEDDED.renderer, width: int = _EMBEDDED.width,
                 height: int = _EMBEDDED.height, fov: float = _EMBEDDED.fov, host: str = "127.0.0.1",
                 port: int | None = None, log_path: Path | None = None,
                 ready_timeout_s: float = _EMBEDDED.ready_timeout_s, extra_args: tuple[str, ...] = (),
                 maps_dir: Path = EMBEDDED_MAPS_DIR) -> None:
        self.renderer, self.size, self.fov = renderer, (width, height), fov
        self.maps_dir = Path(maps_dir)  # the levels the world serves (tasks/maps.py)
        self.extra_args = tuple(extra_args)  # e.g. ("--unrealzoo",): the world with UnrealZoo's semantics
        self.host, self._port = host, port
        self.log_path = Path(log_path) if log_path else None
        self.ready_timeout_s = ready_timeout_s
        self.proc = None

    def start(self) -> "EmbeddedEngineProcess":
        port = self._port or free_port(self.host)
        self._popen(serve_command(port=port, host=self.host, renderer=self.renderer, width=self.size[0],
                                  height=self.size[1], fov=self.fov, maps_dir=self.maps_dir,
                                  extra_args=self.extra_args))
        self._port = port
        self._await_ready(port)
        return self
