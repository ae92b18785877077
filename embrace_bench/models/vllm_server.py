"""`model.launch=true`: the harness starts `vllm serve` for the run, waits for its health endpoint, points
the OpenAI adapter at it and stops it at the end (also on Ctrl-C or an error).

vLLM is never imported: it runs as its own process (often in its own environment, with its own torch)
and is reached only over its OpenAI-compatible HTTP API.
"""
from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from embrace_bench.config_schema import VllmModelSchema, with_defaults
from embrace_bench.interrupts import sigterm_as_interrupt
from embrace_bench.procs import free_port, log_tail, stop_process_group
from embrace_bench.run_dir import RunDir


class VLLMStartError(RuntimeError):
    pass


def check_launch(cfg: dict) -> str | None:
    """One line saying what stops `vllm serve` from being launched, or None."""
    cfg = with_defaults(VllmModelSchema, cfg)
    exe = str(cfg["vllm_executable"])
    if shutil.which(exe) is None:
        return (f"model.launch=true needs the `{exe}` command: pip install vllm (the [vllm] extra; any "
                f"environment will do) or set model.vllm_executable=/path/to/vllm")
    port = cfg.get("launch_port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        return f"model.launch_port must be a TCP port number or null, not {port!r}"
    host = cfg.get("launch_host")
    if host is not None and (not isinstance(host, str) or not host.strip()):
        return f"model.launch_host must be an address this machine has, or null, not {host!r}"
    args = cfg["launch_args"] or []
    if isinstance(args, str) or not all(isinstance(a, (str, int, float)) for a in args):
        return f"model.launch_args must be a list of command-line arguments, not {args!r}"
    return None


def _tail(path: Path, n: int = 15) -> str:
    return "\n".join(log_tail(path, n))


class VLLMServer:
    """One `vllm serve` process on `host` (loopback unless workers on other nodes need it), logging to
    `log_path`."""

    def __init__(self, model: str, *, served_name: str | None = None, port: int | None = None,
                 args: list | tuple = (), executable: str = "vllm", log_path: Path,
                 ready_timeout_s: float = 900.0, host: str = "127.0.0.1") -> None:
        self.model, self.served_name = model, served_name
        self.host, self.port = host, port or free_port(host)
        self.args = [str(a) for a in args]
        self.executable, self.log_path = executable, Path(log_path)
        self.ready_timeout_s = float(ready_timeout_s)
        self.proc: subprocess.Popen | None = None
        # The health check must not go through an HTTP proxy from the environment.
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        cmd = [self.executable, "serve", self.model, "--host", self.host, "--port", str(self.port)]
        if self.served_name and self.served_name != self.model:
            cmd += ["--served-model-name", self.served_name]
        return cmd + self.args

    def start(self) -> "VLLMServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {shlex.join(self.command())}\n".encode())
            log.flush()
            # Its own session: stopping it takes its worker processes down with it, and only it.
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:  # a failed start, a timeout or Ctrl-C while waiting: never leave it running
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        try:
            with self._http.open(f"http://{self.host}:{self.port}/health", timeout=2.0) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait_healthy(self) -> None:
        assert self.proc is not None, "started before waiting"
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            code = self.proc.poll()
            if code is not None:
                raise VLLMStartError(f"vllm serve exited with code {code} before it was ready; the end of "
                                     f"{self.log_path}:\n{_tail(self.log_path)}")
            if self._healthy():
                return
            if time.monotonic() > deadline:
                raise VLLMStartError(f"vllm serve was not healthy within {self.ready_timeout_s:g} s "
                                     f"(model.launch_timeout_s); the end of {self.log_path}:\n{_tail(self.log_path)}")
            time.sleep(0.5)

    def stop(self, grace_s: float = 20.0) -> None:
        p, self.proc = self.proc, None
        stop_process_group(p, grace_s)  # vLLM shuts its engine processes down on SIGTERM

    def __enter__(self) -> "VLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def serve_model(model_cfg: dict, run_dir: Path, console=None, host: str = "127.0.0.1"):
    """Around a run: with model.launch=true, a `vllm serve` for it on `host` (model.launch_host when set: an
    address every worker can reach), and model_cfg's base_url set to it."""
    if not model_cfg.get("launch"):
        yield model_cfg
        return
    c = with_defaults(VllmModelSchema, model_cfg)
    server = VLLMServer(str(c["path"] or c["name"]), served_name=c["name"], port=c["launch_port"],
                        args=c["launch_args"] or [], executable=str(c["vllm_executable"]),
                        log_path=RunDir(run_dir).vllm_log, ready_timeout_s=float(c["launch_timeout_s"]),
                        host=str(c["launch_host"] or host))
    if console is not None:
        console.print(f"starting: {shlex.join(server.command())}  (log: {server.log_path})")
    t0 = time.monotonic()
    with sigterm_as_interrupt(), server:  # the handler first: a SIGTERM while it loads stops it too
        if console is not None:
            console.print(f"vllm serve ready at {server.base_url} after {time.monotonic() - t0:.0f} s")
        model_cfg["base_url"] = server.base_url
        yield model_cfg
