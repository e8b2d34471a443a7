"""The prediction log: every priced row and every observed sale price, as JSONL files, without slowing a request.

Requests only append to an in-memory queue; a writer thread appends the lines to
`predictions-<day>-<run>.jsonl` and `feedback-<day>-<run>.jsonl` (one file per day for each run of the app, so that
runs never overwrite each other in the Hub dataset). When the folder cannot be written, the records stay in
memory (up to `max_pending`), the failure is counted and warned about once, and they are written when the folder
comes back. `close()` writes everything before the process exits.

Feedback must name a logged request id. Ids of this run are answered from memory until written; after that, and
for earlier runs, from the request index (`request_index.py`) that the writer keeps beside the files.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .errors import IndexUnavailableError, UnknownRequestError
from .request_index import FILE_NAME as INDEX_FILE
from .request_index import RequestIndex
from .results import issued_at

logger = logging.getLogger(__name__)

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
_KNOWN_IDS = 100_000  # requests whose ids are kept in memory for feedback; older ones are looked up in the index
_INDEX_WAIT_SECONDS = 10.0  # how long a lookup at start waits for the writer to open and catch up the index
_CLOCK_SKEW_SECONDS = 1.0  # replicas' clocks may differ by this much
_RECHECKS = 4  # feedback requests that may wait for another replica's writer at once
_NONE: frozenset[int] = frozenset()
_SINGLE = (0, _NONE)


def utc_now() -> datetime:
    return datetime.now(UTC)


class PredictionLog:
    def __init__(
        self,
        folder: Path,
        *,
        on_write_failure: Callable[[], None] = lambda: None,
        on_drop: Callable[[], None] = lambda: None,
        lock: threading.Lock | None = None,
        flush_seconds: float = 0.5,
        max_pending: int = 100_000,
    ) -> None:
        self.folder = folder
        self.run_id = f"{utc_now():%H%M%S}-{uuid.uuid4().hex[:12]}"  # replicas sharing a folder never collide
        self._on_write_failure, self._file_lock = on_write_failure, lock or threading.Lock()
        self._on_drop = on_drop
        self._flush_seconds, self._max_pending = flush_seconds, max_pending
        #: How long after pricing another replica's writer may take to index an id (two of its flushes).
        self.recent_seconds = max(2.0, 3 * flush_seconds)
        self._rechecks = threading.BoundedSemaphore(_RECHECKS)
        self._pending: deque[tuple[str, dict[str, Any]]] = deque()
        # Request ids for feedback, one small entry per request (about 120 bytes): a batch's rows
        # (`<batch id>-<row>`) share one, (highest row, rows not priced); every single prediction shares _SINGLE.
        self._known: dict[str, tuple[int, frozenset[int]]] = {}
        self._lock = threading.Lock()
        self._wake, self._closing = threading.Event(), threading.Event()
        self._failing = False
        self.dropped = 0
        self._index: RequestIndex | None = None
        self._index_problem: str | None = None
        self._index_tried = threading.Event()  # set once the writer has opened the index, or failed to
        self._index_lock = threading.Lock()  # the writer and a direct flush() or close() never open it twice
        self._writer = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def predictions(self, records: list[dict[str, Any]]) -> None:
        """Queue priced rows (never blocks on disk)."""
        with self._lock:
            rows: dict[str, list[int]] = {}
            for record in records:
                base, _, row = record["request_id"].partition("-")
                rows.setdefault(base, []).extend([int(row)] if row else [])
                self._enqueue(PREDICTIONS, record)
            for base, numbers in rows.items():
                highest = max(numbers, default=0)
                skipped = frozenset(range(1, highest + 1)) - frozenset(numbers)
                self._known[base] = _SINGLE if not highest else (highest, skipped or _NONE)
            while len(self._known) > _KNOWN_IDS:
                del self._known[next(iter(self._known))]  # the oldest: dicts keep insertion order
        self._wake.set()

    def feedback(self, request_id: str, actual_price: float) -> dict[str, Any]:
        """Queue an observed sale price for an earlier prediction. Raises UnknownRequestError."""
        if not self.knows(request_id):
            raise UnknownRequestError(
                f"no prediction with request id {request_id!r} was logged by this app; use the `request_id` "
                "returned with the prediction (each row of a batch has its own)"
            )
        record = {"time": utc_now().isoformat(), "request_id": request_id, "actual_price": actual_price}
        with self._lock:
            self._enqueue(FEEDBACK, record)
        self._wake.set()
        return record

    def knows(self, request_id: str) -> bool:
        base, _, row = request_id.partition("-")
        with self._lock:
            entry = self._known.get(base)
        if entry is not None:  # a request of this run: its entry says which ids it has
            highest, skipped = entry
            if not row:
                return highest == 0
            return row.isdigit() and 0 < int(row) <= highest and int(row) not in skipped
        self._index_tried.wait(_INDEX_WAIT_SECONDS)
        index = self._index
        if index is not None:
            try:
                return index.knows(request_id) or self._written_by_another_replica(index, request_id)
            except sqlite3.Error as error:
                self._index_problem = str(error)
        raise IndexUnavailableError(
            f"request id {request_id!r} is not one of this run's and the request index "
            f"{self.folder / INDEX_FILE} cannot be read ({self._index_problem or 'not opened yet'}); "
            "retry later, and check that the prediction log folder is writable"
        )

    def _written_by_another_replica(self, index: RequestIndex, request_id: str) -> bool:
        """Replicas that share the log folder share the index, but each writes its ids a moment after pricing:
        an id issued in the last `recent_seconds` may still be on its way, so look once more when it is due.
        Older ids (and ids of another form) are answered at once; at most `_RECHECKS` requests wait at a time,
        so a flood of made-up recent ids costs the server waiting threads, never all of them."""
        issued = issued_at(request_id)
        now = time.time()
        if issued is None or not now - self.recent_seconds <= issued <= now + _CLOCK_SKEW_SECONDS:
            return False
        if not self._rechecks.acquire(blocking=False):
            return False
        try:
            time.sleep(max(0.0, issued + self.recent_seconds - now))
            return index.knows(request_id)
        finally:
            self._rechecks.release()

    def flush(self) -> bool:
        """Write everything queued now; True when nothing is left in memory."""
        if self._index is None:
            self._open_index()
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return True
        unwritten, error = self._write(batch)
        if error is not None:
            with self._lock:
                self._pending.extendleft(reversed(unwritten))  # keep the order; retried on the next flush
            self._failed(error)
            return False
        if self._failing:
            self._failing = False
            logger.warning("prediction log: writing to %s again; %d records caught up", self.folder, len(batch))
        return True

    def close(self) -> bool:
        """Stop the writer and write what is left; False (and a warning) if records could not be written."""
        self._closing.set()
        self._wake.set()
        self._writer.join(timeout=10)
        written = self.flush()
        if self._index is not None:
            self._index.close()
            self._index = None
        if written:
            return True
        logger.error("prediction log: %d records could not be written to %s and are lost", self.pending, self.folder)
        return False

    def _enqueue(self, kind: str, record: dict[str, Any]) -> None:
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self.dropped += 1
            self._on_drop()
        self._pending.append((kind, record))

    def _open_index(self) -> None:
        """Open the request index and index what earlier runs wrote beyond it (on the writer's thread)."""
        with self._index_lock:
            if self._index is None:
                self._try_open_index()
        self._index_tried.set()

    def _try_open_index(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            index = RequestIndex(self.folder)
            caught_up = index.catch_up(self.folder)
        except (OSError, sqlite3.Error) as error:
            if self._index_problem is None:
                logger.warning("prediction log: cannot open the request index in %s (%s)", self.folder, error)
            self._index_problem = str(error)
        else:
            if caught_up:
                logger.info("prediction log: indexed %d request ids from earlier log files", caught_up)
            self._index, self._index_problem = index, None

    def _run(self) -> None:
        self._open_index()
        backoff = self._flush_seconds
        while not self._closing.is_set():
            self._wake.wait(timeout=backoff)
            self._wake.clear()
            self._closing.wait(self._flush_seconds)  # gather a few requests per write (not when closing)
            backoff = self._flush_seconds if self.flush() else min(backoff * 2, 5.0)

    def _write(
        self, batch: list[tuple[str, dict[str, Any]]]
    ) -> tuple[list[tuple[str, dict[str, Any]]], OSError | None]:
        """Append each file's lines in one write; returns the records of the files that failed, and the error."""
        groups: dict[Path, list[tuple[str, dict[str, Any]]]] = {}
        for kind, record in batch:
            path = self.folder / f"{kind}-{record['time'][:10]}-{self.run_id}.jsonl"
            groups.setdefault(path, []).append((kind, record))
        unwritten: list[tuple[str, dict[str, Any]]] = []
        error: OSError | None = None
        for path, items in groups.items():
            # orjson: a 79-feature record in 1 µs instead of 14 with json.dumps, off the request threads but under
            # the same GIL; UTF-8, the same JSON (NaN, never logged, would become null).
            text = b"".join(_line(record) for _, record in items)
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with self._file_lock, path.open("ab") as stream:
                    stream.write(text)
                    end = stream.tell()
            except OSError as failure:
                unwritten += items
                error = failure
                continue
            if items[0][0] == PREDICTIONS:
                self._indexed(path, [record["request_id"] for _, record in items], end)
        return unwritten, error

    def _indexed(self, path: Path, request_ids: list[str], end: int) -> None:
        """Record written ids in the index; on failure, the next open catches up from the file."""
        if self._index is None:
            return
        try:
            self._index.written(path, request_ids, end)
        except sqlite3.Error as error:
            logger.warning("prediction log: the request index in %s failed (%s); reopening it", self.folder, error)
            self._index.close()
            self._index, self._index_problem = None, str(error)

    def _failed(self, error: OSError) -> None:
        self._on_write_failure()
        if not self._failing:
            self._failing = True
            logger.warning(
                "prediction log: cannot write to %s (%s); predictions go on and %d records wait in memory until "
                "the folder can be written",
                self.folder,
                error,
                self.pending,
            )


def _line(record: dict[str, Any]) -> bytes:
    """One JSONL line; json.dumps for what orjson refuses (an integer beyond 64 bits), so the writer never dies."""
    try:
        return orjson.dumps(record) + b"\n"
    except TypeError:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode()
