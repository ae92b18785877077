"""A non-editable install works outside the checkout: build the wheel, install it into a fresh venv and run
the main job and `embrace-bench score` from a folder that is not the checkout. Offline: the new venv finds
the dependencies in this interpreter's site-packages (a .pth line, as --system-site-packages would), and
the wheel goes in with --no-deps --no-index."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sh(cmd: list, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def _build_wheel(tmp: Path, env: dict) -> Path:
    """pip wheel from a copy of the sources, so the build's egg-info and build/ stay out of the checkout."""
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "embrace_bench", src / "embrace_bench", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    _sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", src], tmp, env)
    (wheel,) = (tmp / "dist").glob("embrace_bench-*.whl")
    return wheel


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    wheel = _build_wheel(tmp_path, env)
    names = zipfile.ZipFile(wheel).namelist()
    assert "embrace_bench/conf/config.yaml" in names and "embrace_bench/conf/model/heuristic.yaml" in names

    prefix = tmp_path / "venv"
    venv.create(prefix, with_pip=False, symlinks=os.name != "nt")
    py = prefix / "bin" / "python"
    site = Path(_sh([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
                .stdout.strip())
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))  # this interpreter's packages
    (site / "zz_test_deps.pth").write_text("".join(f"{p}\n" for p in deps))  # after the venv's own, so the wheel wins
    _sh([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _sh([py, "-c", "import embrace_bench, sys; print(embrace_bench.__file__)"], work, env).stdout.strip()
    assert Path(where).is_relative_to(prefix), where  # the installed copy, not the checkout
    _sh([py, "-m", "embrace_bench", "suite.limit=2"], work, env)
    (run_dir,) = (work / "results").glob("*/*")  # ./results of the working directory
    records = [json.loads(ln) for ln in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["status"] in ("finished", "timeout") for r in records)

    scored = _sh([prefix / "bin" / "embrace-bench", "score", run_dir, "--json"], work, env)
    assert json.loads(scored.stdout)["n_records"] == 2
