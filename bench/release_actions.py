"""Commands and wall time per action under env=unrealzoo's defaults (the EmbRACE release's sequences, step_s 0.25 s
as the release) against the stand-in (`serve --unrealzoo`), on a release fixture Pick & Drop task. For the reset and
each action type: how many UnrealCV commands it sends (those that act on the world -- vset, vrun, vbp set_*, lit
captures -- and the reads), how many of them are the release's own sleeps-bounded cycles, and its wall time.

    python bench/release_actions.py [--repeat 3] [--renderer numpy]
"""
from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from omegaconf import OmegaConf

from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.tasks.embrace_release import load_release

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ["MoveForward", "MoveBackward", "TurnLeft", "TurnRight", "LookUp", "LookDown", "OpenDoor", "MidwayTarget",
           "PickObject", "DropObject", "Finish"]


class Counting(UnrealCVClient):
    sent: list[str]

    def request_many(self, cmds, **kw):
        self.sent.extend(cmds)
        return super().request_many(cmds, **kw)


def is_read(cmd: str) -> bool:
    p = cmd.split()
    return (p[0] == "vget" and not re.fullmatch(r"/camera/\d+/lit", p[1])) or (p[0] == "vbp" and p[2].startswith("get_"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--renderer", default="numpy", choices=("gl", "numpy"))
    args = ap.parse_args()
    zoo = OmegaConf.load(ROOT / "conf" / "env" / "unrealzoo.yaml")
    zoo.gpu = 0
    cfg = env_config(zoo)
    task = next(t for t in load_release(ROOT / "tests" / "fixtures" / "embrace_release").tasks if t.Type == "4.2")
    rows: dict[str, list[tuple[int, int, float]]] = {}
    with EmbeddedEngineProcess(renderer=args.renderer, width=cfg.width, height=cfg.height,
                               extra_args=("--unrealzoo", "--load-s", "0.5")) as eng:
        client = Counting(eng.host, eng.port, timeout=60)
        client.sent = []
        env = make_env(client.connect(), cfg)
        for _ in range(args.repeat):
            for name in ["reset"] + ACTIONS:
                client.sent = []
                t0 = time.perf_counter()
                env.reset(task) if name == "reset" else env.step(name)
                dt = time.perf_counter() - t0
                acts = sum(not is_read(c) for c in client.sent)
                rows.setdefault(name, []).append((acts, len(client.sent) - acts, dt))
        env.close()
    print(f"env=unrealzoo defaults (protocol={cfg.protocol}, step_s={cfg.step_s}, stale_frame={cfg.stale_frame}) on "
          f"serve --unrealzoo ({args.renderer}, {cfg.width}x{cfg.height}); task {task.task_id}; median of {args.repeat}")
    print(f"| {'action':12s} | acting commands | reads | wall s |")
    print("|---|---:|---:|---:|")
    for name, vals in rows.items():
        acts, reads, dt = vals[-1][0], vals[-1][1], statistics.median(v[2] for v in vals)
        print(f"| {name:12s} | {acts} | {reads} | {dt:.2f} |")


if __name__ == "__main__":
    main()
