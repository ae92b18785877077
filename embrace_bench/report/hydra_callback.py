"""Hydra callback: at the end of a multirun sweep, write the sweep's leaderboards (one board per suite x
split, every job a row) into <sweep dir>/leaderboards, or `out` when set. Configured in embrace_bench/conf/config.yaml
under hydra.callbacks; a failure here is reported in one line and never fails the sweep."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback


class LeaderboardCallback(Callback):
    def __init__(self, out: str | None = None, enabled: bool = True) -> None:
        self.out, self.enabled = out, enabled

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        from embrace_bench.report.publish import leaderboards_for

        sweep = Path(str(config.hydra.sweep.dir))
        out = Path(self.out) if self.out else sweep / "leaderboards"
        try:
            written, warnings = leaderboards_for([sweep], out)
        except Exception as exc:  # the runs are safe on disk; the tables can be made later by hand
            print(f"embrace-bench: warning: sweep leaderboard not written ({exc.__class__.__name__}: {exc}); "
                  f"run `embrace-bench leaderboard {sweep}`", file=sys.stderr)
            return
        for w in warnings:
            print(f"embrace-bench: warning: {w}", file=sys.stderr)
        boards = sorted({p.stem for p in written})
        print(f"sweep leaderboards ({', '.join(boards)}): {out}", file=sys.stderr)
