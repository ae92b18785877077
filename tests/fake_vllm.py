"""A stand-in for the `vllm` command: `vllm serve MODEL --host H --port P ...` serves GET /health and the
OpenAI chat-completions route (tests/fakeapi.py) on that port, as a real process over real HTTP.

FAKE_VLLM_MODE: ok (healthy after FAKE_VLLM_DELAY s, default 0.5) | die (logs an error and exits 1) |
hang (never healthy). FAKE_VLLM_RECORD: a JSON-lines file getting {"argv", "pid"} at start, each request
body, and {"stopped": signal} when it is told to stop. FAKE_VLLM_REPLY_S: seconds each reply takes.
"""
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fakeapi import FakeAPI

RECORD = os.environ.get("FAKE_VLLM_RECORD")
_lock = threading.Lock()


def record(obj) -> None:
    if RECORD:
        with _lock, open(RECORD, "a") as f:
            f.write(json.dumps(obj) + "\n")


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "serve":
        print("usage: vllm serve MODEL [options]", file=sys.stderr)
        return 2
    opts = dict(zip(argv[2::2], argv[3::2]))
    record({"argv": argv, "pid": os.getpid()})
    mode = os.environ.get("FAKE_VLLM_MODE", "ok")
    print(f"INFO: loading {argv[1]}", flush=True)
    if mode == "die":
        time.sleep(0.3)
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        return 1
    reply_s = float(os.environ.get("FAKE_VLLM_REPLY_S", "0"))
    script = [("slow", reply_s)] * 10_000 if reply_s else []
    api = FakeAPI(port=int(opts["--port"]), host=opts["--host"],
                  on_request=lambda route, body: record({"route": route, "body": body}))
    api.queue("openai", *script)
    api.healthy = False
    stop = threading.Event()

    def on_signal(signum, frame):
        record({"stopped": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ready_at = time.monotonic() + float(os.environ.get("FAKE_VLLM_DELAY", "0.5"))
    while not stop.is_set():
        if mode == "ok" and time.monotonic() >= ready_at and not api.healthy:
            api.healthy = True
            print("INFO: Application startup complete.", flush=True)
        stop.wait(0.05)
    api.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
