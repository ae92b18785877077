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


class SharedResponseCache:
    """The run's one cache connection, shared by all its workers and opened on first use (a baselines-only
    run never creates the file; workers opening their own connections to a new file at the same moment can
    fail to switch it to WAL). Agents' close() leaves it open; the run calls shutdown() at its end."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: ResponseCache | None = None
        self._lock = threading.Lock()

    def _open(self) -> ResponseCache:
        with self._lock:
            if self._cache is None:
                self._cache = ResponseCache(self.path)
            return self._cache

    def get(self, key: str) -> CachedReply | None:
        return self._open().get(key)

    def put(self, key: str, model: str, reply: CachedReply) -> None:
        self._open().put(key, model, reply)

    def close(self) -> None:
        pass  # one agent is done; the others still use it

    def shutdown(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
