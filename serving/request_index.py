"""Which request ids the prediction log holds, in SQLite beside the log files: feedback costs one indexed read.

The log writer is the only writer. After it appends lines to a `predictions-*.jsonl` file it records, in one
transaction, their request ids and how far into that file it has indexed. At start it reads only what no
transaction covered: log files written before the index existed, or lines appended by a run that stopped between
its write and its transaction. A lookup is one primary-key read (`SELECT ... WHERE request_id = ?`), so a flood
of unknown ids costs the server microseconds each, not a scan of every log file.

The database is `request-ids.sqlite3` in the log folder, in WAL mode (lookups never wait for the writer); it is
not a log file: the Hub mirror pushes only `*.jsonl` and the dataset card, and deleting it costs one re-read of
the log at the next start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import orjson

FILE_NAME = "request-ids.sqlite3"
PREDICTION_FILES = "predictions-*.jsonl"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (request_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indexed_files (name TEXT PRIMARY KEY, indexed_bytes INTEGER NOT NULL) WITHOUT ROWID;
"""


class RequestIndex:
    """Opened by the log writer's thread; `knows` may be called from any thread."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._reader = self._connect()
        self._read_lock = threading.Lock()

    def knows(self, request_id: str) -> bool:
        with self._read_lock:
            found = self._reader.execute("SELECT 1 FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        return found is not None

    def written(self, file: Path, request_ids: Iterable[str], end: int) -> None:
        """Record the ids just appended to `file`, which now ends at byte `end`."""
        with self._writer:  # one transaction: the ids and the offset together, or neither
            self._writer.executemany(
                "INSERT OR IGNORE INTO requests VALUES (?)", ((request_id,) for request_id in request_ids)
            )
            self._writer.execute("INSERT OR REPLACE INTO indexed_files VALUES (?, ?)", (file.name, end))

    def catch_up(self, folder: Path) -> int:
        """Index what the log files hold beyond their recorded offsets; returns how many lines were read."""
        offsets = dict(self._writer.execute("SELECT name, indexed_bytes FROM indexed_files").fetchall())
        lines = 0
        for file in sorted(folder.glob(PREDICTION_FILES)):
            start = offsets.get(file.name, 0)
            if file.stat().st_size <= start:
                continue
            ids: list[str] = []
            end = start
            with file.open("rb") as stream:  # line by line: a first start may meet hundreds of MB of log
                stream.seek(start)
                for line in stream:
                    if not line.endswith(b"\n"):
                        break  # a last line without its newline is still being written
                    end += len(line)
                    if request_id := _request_id(line):
                        ids.append(request_id)
            lines += len(ids)
            self.written(file, ids, end)
        return lines

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        self._writer.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level="DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")  # outside a transaction: DML alone opens one
        connection.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; a crash re-reads the tail
        return connection


def _request_id(line: bytes) -> str | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # an integer beyond 64 bits, which orjson refuses (the writer wrote that line with json.dumps)
            record = json.loads(line)
        except ValueError:
            return None
    request_id = record.get("request_id") if isinstance(record, dict) else None
    return request_id if isinstance(request_id, str) else None
