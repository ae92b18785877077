"""Start-up time of `python -m embrace_bench --help` (target: under 1.5 s; heavy imports are lazy).

Uses hyperfine when it is on PATH (apt-get install hyperfine), else times a loop of runs itself.

    python bench/cli_startup.py [--runs 10]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "embrace_bench", "--help"]
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(["hyperfine", "--warmup", "2", "--runs", str(args.runs), "--export-json", out.name,
                            "-N", " ".join(cmd)], check=True, capture_output=True)
            times = json.load(open(out.name))["results"][0]["times"]
        tool = "hyperfine"
    else:
        times = []
        for _ in range(args.runs + 2):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        times, tool = times[2:], "timed loop"
    print(f"python -m embrace_bench --help: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {len(times)} runs ({tool})")


if __name__ == "__main__":
    main()
