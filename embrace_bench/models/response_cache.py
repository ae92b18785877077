"""SQLite response cache: a model answer per request hash, so resumes and re-runs never pay twice."""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CachedReply:
    text: str
    tokens: dict
    latency_s: float
    cost_usd: float


class ResponseCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection shared by the run's worker threads
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT, "
                         "tokens TEXT, latency_s REAL, cost_usd REAL)")

    def get(self, key: str) -> CachedReply | None:
        with self._lock:
            row = self._db.execute("SELECT text, tokens, latency_s, cost_usd FROM responses WHERE key = ?",
                                   (key,)).fetchone()
        return None if row is None else CachedReply(row[0], json.loads(row[1]), row[2], row[3])

    def put(self, key: str, model: str, reply: CachedReply) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                             (key, model, reply.text, json.dumps(reply.tokens), reply.latency_s, reply.cost_usd))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
