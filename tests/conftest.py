"""Shared fixtures: tiny worlds and an in-process embedded server, so tests stay fast and offline."""
from __future__ import annotations

import signal

import pytest

from embrace_bench.tasks.maps import EMBEDDED_MAPS_DIR
from embrace_bench.world.engine import EmbeddedEngine
from embrace_bench.world.server import UnrealCVServer

# A shell starts background jobs with SIGINT ignored, and a Python child keeps an inherited SIG_IGN: the tests
# that Ctrl-C a CLI run would then see it ignore the signal. A Python handler here is reset to the default in
# each child, which then raises KeyboardInterrupt as a terminal's Ctrl-C would.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def engine_server():
    """An embedded engine served on a free loopback port for the whole test session (numpy renderer at
    a small size keeps it fast; the GL path has its own tests)."""
    engine = EmbeddedEngine("numpy", maps_dir=EMBEDDED_MAPS_DIR, width=160, height=120)
    with UnrealCVServer(engine, "127.0.0.1", 0, name="test-engine") as srv:
        engine.port = srv.port
        yield srv


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    """An undisturbed serial run (tests/runs.py settings) that the fault, resume and parallel tests must match:
    (run dir, records by task without timing fields)."""
    from runs import REPLAY, TIMING, by_task, lines, run_quiet, spec

    run_dir = tmp_path_factory.mktemp("reference")
    run_quiet(spec(run_dir))
    return run_dir, by_task(lines(run_dir), TIMING + REPLAY)
