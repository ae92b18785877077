"""Engine handles for env=unrealzoo: launch a UnrealZoo Linux package off-screen, or attach to a running one.

Both have the runner's engine surface (`start() -> self`, `stop()`, `alive()`, `host`, `port`, `log_path`).

Launching follows how the EmbRACE authors start UnrealZoo (their scripts/run_ue_server.sh): write
`unrealcv.ini` (port, capture size, FOV) where the packaged UnrealCV plugin reads it, next to the game
executable in `<Project>/Binaries/Linux/`, then start the game with `-RenderOffScreen` on the chosen
GPU (`-graphicsadapter=N`) plus the release's flags, and probe `vget /unrealcv/status` until it answers.
Before that, `<Project>/Saved/Config/Linux` is replaced with the release's engine settings (env/engine_settings.py).
The plugin reads its ini once at start-up, so writing it and starting the game is serialised (a lock file
next to the ini) until that engine answers on its own port: several workers never mix up their ports.
"""
from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from embrace_bench.env.engine_settings import saved_config_dir, write_engine_settings
from embrace_bench.env.launcher import EngineProcess, EngineStartError, probe
from embrace_bench.procs import free_port
from embrace_bench.unrealcv.protocol import unix_socket_path


def unrealcv_ini_path(binary: Path) -> Path:
    """Where a packaged UnrealCV reads `unrealcv.ini` for this binary (or launcher script).

    `<Project>/Binaries/Linux/<Project>`: next to it. `<Project>.sh` (the launcher UE packages put at the
    top): in `<dir>/<Project>/Binaries/Linux/`, or the only `*/Binaries/Linux/` beside the script.
    """
    binary = Path(binary)
    if binary.parent.name == "Linux" and binary.parent.parent.name == "Binaries":
        return binary.parent / "unrealcv.ini"
    named = binary.parent / binary.stem / "Binaries" / "Linux"
    if named.is_dir():
        return named / "unrealcv.ini"
    found = sorted(p for p in binary.parent.glob("*/Binaries/Linux") if p.is_dir())
    if len(found) == 1:
        return found[0] / "unrealcv.ini"
    raise EngineStartError(f"cannot tell where UnrealCV reads its config for {binary} "
                           f"({len(found)} */Binaries/Linux folders beside it); set env.unrealcv_ini")


def unrealcv_ini(port: int, width: int, height: int, fov: float) -> str:
    """The UnrealCV plugin's config, as EmbRACE pins it (ue_config/unrealcv.ini)."""
    return (f"[UnrealCV.Core]\nPort={port}\nWidth={width}\nHeight={height}\nFOV={fov:.6f}\n"
            "EnableInput=True\nEnableRightEye=False\n")


def check_binary(binary) -> Path:
    if not binary:
        raise ValueError("env=unrealzoo needs env.binary=<the UnrealZoo package's launcher .sh or its "
                         "Binaries/Linux executable> or env.attach=host:port")
    path = Path(os.path.expanduser(str(binary))).resolve()
    if not path.is_file():
        raise ValueError(f"env.binary not found: {path}")
    if not os.access(path, os.X_OK):
        raise ValueError(f"env.binary is not executable: {path} (chmod u+x it)")
    return path


def parse_attach(spec: str) -> list[tuple[str, int]]:
    """'host:port[,host:port...]' -> [(host, port)], one engine per worker; ValueError names the problem."""
    out = []
    for item in str(spec).split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"env.attach must be host:port[,host:port...], not {spec!r}")
        out.append((host, int(port)))
    return out


class UnrealZooProcess(EngineProcess):
    """A UnrealZoo binary this harness starts, owns and stops."""

    def __init__(self, binary: Path, *, width: int = 640, height: int = 480, fov: float = 90.0, gpu: int = 0,
                 offscreen: bool = True, extra_args: list[str] | tuple = (), unrealcv_ini: Path | None = None,
                 host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None,
                 ready_timeout_s: float = 300.0, engine_config: bool = True) -> None:
        self.binary = check_binary(binary)
        self.engine_config = engine_config
        self.ini = Path(unrealcv_ini) if unrealcv_ini else unrealcv_ini_path(self.binary)
        self.size, self.fov, self.gpu, self.offscreen = (width, height), fov, gpu, offscreen
        self.extra_args = [str(a) for a in extra_args]
        self.host, self._port = host, port
        self.log_path = Path(log_path) if log_path else None
        self.ready_timeout_s = ready_timeout_s
        self.proc = None

    def command(self, port: int) -> list[str]:
        w, h = self.size
        args = [str(self.binary), f"-ResX={w}", f"-ResY={h}", f"-graphicsadapter={self.gpu}", *self.extra_args]
        return args + (["-RenderOffScreen"] if self.offscreen else [])

    def start(self) -> "UnrealZooProcess":
        port = self._port or free_port(self.host)
        self.ini.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ini.with_name(self.ini.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer of the ini until its engine has read it
            self.ini.write_text(unrealcv_ini(port, *self.size, self.fov))
            if self.engine_config:
                write_engine_settings(saved_config_dir(self.ini))
            self._popen(self.command(port), cwd=self.binary.parent)
            self._port = port
            self._await_ready(port, f"UnrealZoo {self.binary.name}: ")
        return self

    def stop(self, grace_s: float = 10.0) -> None:
        super().stop(grace_s)
        sock = unix_socket_path(self._port) if self._port else None
        try:  # a dead engine's socket file would send the next client to nobody
            if sock and stat.S_ISSOCK(os.stat(sock).st_mode):
                os.unlink(sock)
        except OSError:
            pass


class AttachedEngine:
    """An engine someone else started (env.attach=host:port): probed, never launched or stopped.

    Only a local engine is probed: UnrealCV on UE5 greets one TCP client per lifetime and then serves its
    Unix socket, which a remote client cannot reach, so a probe would use up the only connection there is.
    """

    def __init__(self, host: str, port: int, ready_timeout_s: float = 30.0) -> None:
        self.host, self.port, self.ready_timeout_s = host, port, ready_timeout_s
        self.log_path: Path | None = None

    def start(self) -> "AttachedEngine":
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            return self
        try:
            probe(self.host, self.port, self.ready_timeout_s)
        except EngineStartError as exc:
            raise EngineStartError(f"env.attach={self.host}:{self.port}: {exc}") from None
        return self

    def alive(self) -> bool:
        return True  # not ours to watch: a dead engine shows up as engine errors on the next request

    def stop(self) -> None:
        pass
