"""Commands and wall time per action under env=unrealzoo's defaults (the EmbRACE release's sequences, step_s 0.25 s
as the release) against the stand-in (`serve --unrealzoo`): the release fixtures' demos recorded under those cycles
(tests/fixtures/unrealzoo_demos: four tasks, Pick & Drop included) are replayed, and for the reset and each action
type come how many UnrealCV commands it sends (those that act on the world -- vset, vrun, vbp set_*, lit captures --
and the reads) and its wall time (median over its occurrences).

    python bench/release_actions.py [--renderer numpy]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from omegaconf import OmegaConf

from embrace_bench.__main__ import CONF_DIR
from embrace_bench.actions import data_action
from embrace_bench.env.client import UnrealCVClient
from embrace_bench.env.engines import env_config, make_env
from embrace_bench.env.launcher import EmbeddedEngineProcess
from embrace_bench.tasks.embrace_release import load_release

ROOT = Path(__file__).resolve().parent.parent


class Counting(UnrealCVClient):
    sent: list[str]

    def request_many(self, cmds, **kw):
        self.sent.extend(cmds)
        return super().request_many(cmds, **kw)


def is_read(cmd: str) -> bool:
    p = cmd.split()
    return ((p[0] == "vget" and not re.fullmatch(r"/camera/\d+/lit", p[1]))
            or (p[0] == "vbp" and p[2].startswith("get_")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renderer", default="numpy", choices=("gl", "numpy"))
    args = ap.parse_args()
    zoo = OmegaConf.load(CONF_DIR / "env" / "unrealzoo.yaml")
    zoo.gpu = 0
    cfg = env_config(zoo)
    tasks = {t.task_id: t for t in load_release(ROOT / "tests" / "fixtures" / "embrace_release").tasks}
    demos = {f"{f.parent.parent.name}/{f.parent.name}": json.loads(f.read_text())["Action"]
             for f in sorted((ROOT / "tests" / "fixtures" / "unrealzoo_demos").glob("*/*/infos.json"))}
    rows: dict[str, list[tuple[int, int, float]]] = {}
    with EmbeddedEngineProcess(renderer=args.renderer, width=cfg.width, height=cfg.height,
                               extra_args=("--unrealzoo", "--load-s", "0.5")) as eng:
        client = Counting(eng.host, eng.port, timeout=60)
        client.sent = []
        env = make_env(client.connect(), cfg)
        for task_id, actions in demos.items():
            for name in ["reset"] + [data_action(a) for a in actions]:
                client.sent = []
                t0 = time.perf_counter()
                env.reset(tasks[task_id]) if name == "reset" else env.step(name)
                dt = time.perf_counter() - t0
                acts = sum(not is_read(c) for c in client.sent)
                rows.setdefault(name, []).append((acts, len(client.sent) - acts, dt))
        env.close()
    print(f"env=unrealzoo defaults (protocol={cfg.protocol}, step_s={cfg.step_s}, stale_frame={cfg.stale_frame}) on "
          f"serve --unrealzoo ({args.renderer}, {cfg.width}x{cfg.height}); the {len(demos)} fixture demos replayed")
    print(f"| {'action':12s} | n | acting commands | reads | wall s (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, vals in rows.items():
        acts = "/".join(str(a) for a in sorted({v[0] for v in vals}))
        reads = "/".join(str(r) for r in sorted({v[1] for v in vals}))
        print(f"| {name:12s} | {len(vals)} | {acts} | {reads} | {statistics.median(v[2] for v in vals):.2f} |")


if __name__ == "__main__":
    main()
