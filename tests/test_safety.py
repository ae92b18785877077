"""Keys never reach a written file; engines get no keys and listen on loopback only."""
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from fakeapi import FakeAPI

from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.redact import MASK, RedactingFilter, redact, scrubbed_environ

ROOT = Path(__file__).resolve().parent.parent


def test_redaction_and_scrubbed_environment(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "k-123456789")
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghij")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to blank ordinary text with
    assert redact("a k-123456789 b hf_abcdefghij abc") == f"a {MASK} b {MASK} abc"
    env = scrubbed_environ()
    assert "SOME_SERVICE_API_KEY" not in env and "HF_TOKEN" not in env and "PATH" in env
    rec = logging.LogRecord("x", logging.WARNING, __file__, 1, "failed with %s", ("key k-123456789",), None)
    RedactingFilter().filter(rec)
    assert rec.getMessage() == f"failed with key {MASK}"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":  # 0A = LISTEN
                found.add(addr)
    return found


def test_engine_listens_on_loopback_only_and_gets_no_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-engine-must-not-see-this")
    with EmbeddedEngineProcess(renderer="numpy", width=32, height=24, log_path=tmp_path / "e.log") as e:
        assert _listening_addresses(e.port) == {"0100007F"}  # 127.0.0.1, and nothing else
        environ = Path(f"/proc/{e.proc.pid}/environ").read_bytes()
        assert b"sk-engine-must-not-see-this" not in environ and b"OPENAI_API_KEY" not in environ


def test_planted_api_key_never_appears_in_any_written_file(tmp_path):
    pytest.importorskip("openai")
    key = "sk-planted-" + secrets.token_hex(16)
    fake = FakeAPI()
    try:
        fake.queue("openai", ("echo_auth", None))  # the first call is refused with the key quoted back
        run_dir = tmp_path / "run"
        env = dict(os.environ, OPENAI_API_KEY=key)
        p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=gpt4o", f"model.base_url={fake.url}/v1",
                            "suite.limit=2", "runner.max_steps=2", "env.renderer=numpy", "env.width=64",
                            "env.height=48", f"hydra.run.dir={run_dir}"], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        sent = [{k.lower(): v for k, v in h.items()}["authorization"] for _, _, h, _ in fake.requests]
        assert sent and all(a == f"Bearer {key}" for a in sent)  # the key was really used
    finally:
        fake.close()
    recs = [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert recs[0]["status"] == "error" and f"Bearer {MASK}" in recs[0]["error"]  # quoted, then blanked
    assert recs[1]["status"] == "timeout"
    score = subprocess.run([sys.executable, "-m", "embrace_bench", "score", str(run_dir), "--json"],
                           capture_output=True, text=True, cwd=ROOT, env=env)
    assert score.returncode == 0 and key not in score.stdout + score.stderr
    assert key not in p.stdout + p.stderr
    files = [f for f in run_dir.rglob("*") if f.is_file()]
    from embrace_bench.__main__ import SUBCOMMANDS

    if "leaderboard" in SUBCOMMANDS:  # tables made from this run must not carry the key either
        lb = subprocess.run([sys.executable, "-m", "embrace_bench", "leaderboard", str(run_dir), "--out",
                             str(tmp_path / "lb")], capture_output=True, text=True, cwd=ROOT, env=env)
        assert lb.returncode == 0, lb.stderr[-2000:]
        files += [f for f in (tmp_path / "lb").rglob("*") if f.is_file()]
    assert {"manifest.json", "episodes.jsonl", "cache.sqlite", "embrace_bench.log", "config.yaml"} <= \
        {f.name for f in files}
    assert "invalid credentials" in (run_dir / "embrace_bench.log").read_text()  # the log has the error...
    for f in files:
        assert key.encode() not in f.read_bytes(), f"the API key was written to {f}"  # ...never the key
