"""vLLM: `model.launch=true` starts `vllm serve` (here a fake `vllm` executable first on PATH: a real
subprocess serving real HTTP), waits for /health, runs against it and stops it, also on failure and
Ctrl-C; and guided decoding reaches the server in the field current (or older) vLLM reads."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakeapi import FakeAPI
from fakes import history

from embrace_bench.actions import action_regex, parse_response
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.tasks.suite import load_embedded

pytest.importorskip("openai")

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["suite.limit=2", "runner.max_steps=2", "env.renderer=numpy", "env.width=64", "env.height=48"]


@pytest.fixture()
def fake_vllm(tmp_path):
    """(environment with a fake `vllm` first on PATH, the file it records to)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vllm"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fake_vllm.py"}" "$@"\n')
    exe.chmod(0o755)
    record = tmp_path / "vllm_record.jsonl"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_VLLM_RECORD=str(record))
    env.pop("OPENAI_API_KEY", None)  # a local server needs no key
    return env, record


def _cli(env, run_dir, *args, **kw):
    return subprocess.run([sys.executable, "-m", "embrace_bench", "model=qwen25vl_vllm", "model.launch=true",
                           *args, f"hydra.run.dir={run_dir}"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300, **kw)


def _log(record: Path) -> list[dict]:
    return [json.loads(ln) for ln in record.read_text().splitlines()] if record.exists() else []


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_launch_serves_the_run_with_guided_decoding_and_stops_it(fake_vllm, tmp_path):
    env, record = fake_vllm
    run_dir = tmp_path / "run"
    p = _cli(env, run_dir, "model.constrained=true", "model.launch_args=[--max-model-len,4096]", *SMALL)
    assert p.returncode == 0, p.stderr[-3000:]
    log = _log(record)
    start = log[0]
    port = start["argv"][start["argv"].index("--port") + 1]
    assert start["argv"] == ["serve", "Qwen/Qwen2.5-VL-7B-Instruct", "--host", "127.0.0.1", "--port", port,
                             "--max-model-len", "4096"]
    bodies = [e["body"] for e in log if "body" in e]
    assert len(bodies) == 4  # 2 episodes x 2 steps, all answered by the launched server
    assert all(b["structured_outputs"] == {"regex": action_regex()} for b in bodies)
    assert all(b["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" for b in bodies)
    assert log[-1] == {"stopped": signal.SIGTERM} and _gone(start["pid"])
    recs = [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert all(s["valid"] for r in recs for s in r["steps"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model"]["base_url"] == f"http://127.0.0.1:{port}/v1"
    assert "$ vllm serve Qwen/Qwen2.5-VL-7B-Instruct" in (run_dir / "logs" / "vllm.log").read_text()


def test_with_ray_the_server_listens_on_the_drivers_cluster_address(fake_vllm, tmp_path):
    # On a cluster each actor's 127.0.0.1 is its own node: the server must listen on the driver node's address
    # in the cluster. A local instance runs here as node 127.0.0.2 (still loopback), where nothing answers on
    # 127.0.0.1, so an actor sent to its own loopback would fail every request.
    pytest.importorskip("ray")
    env, record = fake_vllm
    run_dir = tmp_path / "run"
    p = _cli(env, run_dir, "runner.backend=ray", "ray.node_ip_address=127.0.0.2", "ray.local_num_cpus=2", *SMALL)
    assert p.returncode == 0, p.stderr[-3000:]
    log = _log(record)
    argv = log[0]["argv"]
    port = argv[argv.index("--port") + 1]
    assert argv[argv.index("--host") + 1] == "127.0.0.2"
    assert len([e for e in log if "body" in e]) == 4  # every step of both episodes answered, from the actor
    assert log[-1] == {"stopped": signal.SIGTERM} and _gone(log[0]["pid"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model"]["base_url"] == f"http://127.0.0.2:{port}/v1"
    recs = [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["timeout", "timeout"] and all(s["valid"] for r in recs for s in r["steps"])


def test_a_server_that_dies_is_reported_with_its_log_tail(fake_vllm, tmp_path):
    env, record = fake_vllm
    p = _cli(dict(env, FAKE_VLLM_MODE="die"), tmp_path / "run", *SMALL)
    assert p.returncode == 1
    assert "vllm serve exited with code 1 before it was ready" in p.stderr
    assert "CUDA out of memory" in p.stderr  # the log tail says why
    assert not (tmp_path / "run" / "episodes.jsonl").exists()


def test_a_server_that_never_gets_healthy_times_out_and_is_stopped(fake_vllm, tmp_path):
    env, record = fake_vllm
    t0 = time.monotonic()
    p = _cli(dict(env, FAKE_VLLM_MODE="hang"), tmp_path / "run", "model.launch_timeout_s=2", *SMALL)
    assert p.returncode == 1 and "was not healthy within 2 s" in p.stderr, p.stderr[-2000:]
    assert time.monotonic() - t0 < 60
    log = _log(record)
    assert log[-1] == {"stopped": signal.SIGTERM} and _gone(log[0]["pid"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_the_server(fake_vllm, tmp_path, sig):
    env, record = fake_vllm
    cmd = [sys.executable, "-m", "embrace_bench", "model=qwen25vl_vllm", "model.launch=true", "suite.limit=6",
           "runner.max_steps=20", "env.renderer=numpy", "env.width=64", "env.height=48",
           f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(env, FAKE_VLLM_REPLY_S="0.2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any("body" in e for e in _log(record)) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    log = _log(record)
    assert log[-1] == {"stopped": signal.SIGTERM} and _gone(log[0]["pid"])


def test_missing_vllm_command_is_one_line(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no vllm anywhere
    p = subprocess.run([sys.executable, "-m", "embrace_bench", "model=qwen25vl_vllm", "model.launch=true",
                        f"hydra.run.dir={tmp_path / 'r'}"], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=120)
    assert p.returncode == 2
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "model.launch=true needs the `vllm` command" in err[0], p.stderr


@pytest.mark.parametrize("form, think", [("structured_outputs", True), ("guided_regex", True),
                                         ("guided_regex", False), ("json_schema", True)])
def test_constrained_format_puts_the_action_space_in_the_request(form, think):
    from embrace_bench.models.openai_adapter import OpenAIAgent

    fake = FakeAPI()
    try:
        answer = "<think>x</think><action>TurnLeft</action>" if think else "<action>TurnLeft</action>"
        fake.queue("openai", ("text", answer if form != "json_schema" else
                              json.dumps({"think": "x", "action": "TurnLeft"})))
        agent = OpenAIAgent(dict(name="m", base_url=f"{fake.url}/v1", constrained=True, constrained_format=form),
                            prompt=PromptConfig(think=think))
        reply = agent.act(load_embedded(("id",)).tasks[0], history([__import__("numpy").zeros((8, 8, 3), "uint8")]))
        body = fake.bodies("openai")[-1]
    finally:
        fake.close()
    assert parse_response(reply.text).action == "TurnLeft"
    regex = action_regex(think)
    assert ("structured_outputs" in body) == (form == "structured_outputs")
    assert ("guided_regex" in body) == (form == "guided_regex")
    assert ("response_format" in body) == (form == "json_schema")
    if form == "structured_outputs":
        assert body["structured_outputs"] == {"regex": regex}
    elif form == "guided_regex":
        assert body["guided_regex"] == regex and regex.startswith("<think>") == think
    else:
        assert body["response_format"]["json_schema"]["schema"]["properties"]["action"]["enum"][0] == "MoveForward"


def test_bad_constrained_format_is_named():
    from embrace_bench.models.openai_adapter import OpenAIAgent

    assert "model.constrained_format must be one of json_schema, structured_outputs, guided_regex" in \
        OpenAIAgent.check_environment({"name": "m", "base_url": "http://x/v1", "constrained_format": "regex"})
