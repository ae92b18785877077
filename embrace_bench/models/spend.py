"""What a run has spent on model calls: each paid call is added here as soon as it returns, by whichever
worker made it. The ledger lives with the driver (the Ray backend keeps it in its service actor), so the
spend of an episode that never ends in a record (Ctrl-C, a Ray actor that dies mid-episode) still counts:
in the manifest's `spent_usd` and against `runner.max_cost_usd`."""
from __future__ import annotations

import threading


class SpendLedger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usd = 0.0

    def add(self, usd: float) -> None:
        with self._lock:
            self._usd += usd

    def total(self) -> float:
        with self._lock:
            return round(self._usd, 6)
