"""The core install (`pip install -e .`) runs the main job: it imports nothing from the extras, and every path
that needs an extra says so in one line naming the `pip install` that fixes it. The extras are hidden from a
subprocess by an import hook that does not find them and notes each look-up."""
import json
import os
import subprocess
import sys
from pathlib import Path

from runfixtures import outcomes_run

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("torch", "transformers", "accelerate", "ray", "openai", "anthropic", "google.genai", "huggingface_hub",
          "matplotlib", "unrealcv")
HIDE = f"""
import atexit, json, sys
tried = []
class Hide:  # wraps each finder: an extra is not found, by an import or by importlib.util.find_spec
    def __init__(self, inner):
        self.inner = inner
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in {EXTRAS!r}):
            tried.append(name)
            return None
        return self.inner.find_spec(name, path, target)
sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
atexit.register(lambda: print("TRIED " + json.dumps(sorted(set(tried)))))
from embrace_bench.__main__ import main
sys.argv[0] = "embrace-bench"
sys.exit(main(sys.argv[1:]))
"""


def _core_only(*args, cwd=ROOT, env=None):
    p = subprocess.run([sys.executable, "-c", HIDE, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                       env=env)
    tried = json.loads(p.stdout.rsplit("TRIED ", 1)[1])
    return p, tried


def test_the_main_job_imports_no_extra(tmp_path):
    p, tried = _core_only("suite.limit=2", "env.renderer=numpy", "env.width=96", "env.height=72",
                          f"hydra.run.dir={tmp_path / 'run'}")
    assert p.returncode == 0, p.stderr[-2000:]
    assert tried == []  # not even looked up
    assert len((tmp_path / "run" / "episodes.jsonl").read_text().splitlines()) == 2
    p, tried = _core_only("score", str(tmp_path / "run"))
    assert p.returncode == 0 and tried == [], p.stderr


def test_each_missing_extra_is_one_line_naming_its_install(tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "GEMINI_API_KEY": "k"}
    never = f"hydra.run.dir={tmp_path / 'never'}"
    cases = ((["model=gpt4o"], "needs the openai SDK: pip install 'embrace_bench[api]'"),
             (["model=claude"], "needs the anthropic SDK: pip install 'embrace_bench[api]'"),
             (["model=gemini"], "needs the google-genai SDK: pip install 'embrace_bench[api]'"),
             (["model=qwen25vl_vllm"], "needs the openai SDK: pip install 'embrace_bench[api]'"),
             (["model=qwen25vl"], "pip install 'embrace_bench[qwen]'"),
             (["runner.backend=ray"], "runner.backend=ray needs Ray: pip install 'embrace_bench[ray]'"),
             (["fetch-data", "--dest", str(tmp_path / "d")], "pip install 'embrace_bench[data]'"))
    for args, needle in cases:
        p, _ = _core_only(*args, *([never] if "=" in args[0] else []), env=env)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and needle in lines[0], (args, p.stderr)
    # refused before any engine or download started (Hydra itself writes the run's .hydra folder first)
    assert not (tmp_path / "never" / "episodes.jsonl").exists() and not (tmp_path / "d").exists()


def test_the_extras_messages_name_are_in_pyproject():
    """install_hint names only extras pyproject.toml defines, under its distribution name, and each API SDK an
    adapter needs is in the `api` extra it names."""
    import tomllib

    from embrace_bench.extras import DIST, EXTRAS, install_hint
    from embrace_bench.models.anthropic_adapter import AnthropicAgent
    from embrace_bench.models.gemini_adapter import GeminiAgent
    from embrace_bench.models.openai_adapter import OpenAIAgent

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DIST and set(EXTRAS) <= set(project["optional-dependencies"])
    api = " ".join(project["optional-dependencies"]["api"])
    assert all(cls.pip_name in api for cls in (OpenAIAgent, AnthropicAgent, GeminiAgent))
    assert install_hint("api") == "pip install 'embrace_bench[api]'"


def test_leaderboard_without_matplotlib_writes_tables_and_says_so(tmp_path):
    run = outcomes_run(tmp_path / "run", ["success", "fail", "timeout"])
    p, _ = _core_only("leaderboard", str(run), "--out", str(tmp_path / "lb"))
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == ("embrace-bench leaderboard: warning: HTML written without plots; "
                                "plots need matplotlib: pip install 'embrace_bench[report]'")
    html = next((tmp_path / "lb").glob("*.html")).read_text()
    assert "<table" in html and "pip install &#x27;embrace_bench[report]&#x27;" in html
