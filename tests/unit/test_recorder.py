"""The prediction log writes every record once, never blocks or fails a request, and survives a bad folder."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from serving.errors import IndexUnavailableError, UnknownRequestError
from serving.recorder import PredictionLog, utc_now


def _record(request_id: str) -> dict:
    return {"time": utc_now().isoformat(), "request_id": request_id, "features": {"Gr Liv Area": 1500}, "price": 1.0}


def _lines(folder: Path, kind: str = "predictions") -> list[dict]:
    return [
        json.loads(line) for path in sorted(folder.glob(f"{kind}-*.jsonl")) for line in path.read_text().splitlines()
    ]


def test_records_land_in_one_file_per_day_once_each(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "logs", flush_seconds=0.05)
    log.predictions([_record("a"), _record("b")])
    log.predictions([_record("c")])
    assert log.close()
    files = list((tmp_path / "logs").glob("predictions-*.jsonl"))
    assert len(files) == 1 and files[0].name.startswith(f"predictions-{utc_now():%Y-%m-%d}-")
    assert [record["request_id"] for record in _lines(tmp_path / "logs")] == ["a", "b", "c"]


def test_close_writes_what_the_writer_has_not_yet(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_seconds=30)  # the writer would wait 30 s
    log.predictions([_record(str(n)) for n in range(500)])
    assert log.close()
    assert len(_lines(tmp_path)) == 500


def test_an_unwritable_folder_warns_once_keeps_records_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the folder should be")  # works even as root, unlike chmod
    failures: list[int] = []
    log = PredictionLog(blocker, on_write_failure=lambda: failures.append(1), flush_seconds=30)
    with caplog.at_level(logging.WARNING, logger="serving.recorder"):
        log.predictions([_record("a")])  # never raises
        assert not log.flush() and not log.flush()
        log.predictions([_record("b")])
        assert not log.flush()
    assert len(failures) == 3 and log.pending == 2
    warnings = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1 and str(blocker) in warnings[0]
    blocker.unlink()
    blocker.mkdir()
    with caplog.at_level(logging.WARNING, logger="serving.recorder"):
        assert log.flush()
    assert "again; 2 records caught up" in caplog.text
    assert [record["request_id"] for record in _lines(blocker)] == ["a", "b"]
    assert log.close()
    assert len(_lines(blocker)) == 2


def test_feedback_needs_a_logged_request_id_even_from_an_earlier_run(tmp_path: Path) -> None:
    first = PredictionLog(tmp_path, flush_seconds=0.05)
    first.predictions([_record("earlier")])
    assert first.close()
    log = PredictionLog(tmp_path, flush_seconds=0.05)
    with pytest.raises(UnknownRequestError, match="no prediction with request id 'never'"):
        log.feedback("never", 100_000.0)
    assert log.feedback("earlier", 210_000.0)["actual_price"] == 210_000.0
    assert log.close()
    assert [(r["request_id"], r["actual_price"]) for r in _lines(tmp_path, "feedback")] == [("earlier", 210_000.0)]


def test_memory_is_bounded_when_the_folder_stays_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    drops: list[int] = []
    log = PredictionLog(blocker, flush_seconds=30, max_pending=10, on_drop=lambda: drops.append(1))
    log.predictions([_record(str(n)) for n in range(25)])
    assert log.pending == 10 and log.dropped == 15 and len(drops) == 15  # each drop counted (the metric)
    blocker.unlink()
    assert log.close()
    assert [r["request_id"] for r in _lines(blocker)] == [str(n) for n in range(15, 25)]
    shutil.rmtree(blocker)


def test_feedback_knows_each_priced_row_of_a_batch_and_not_the_refused_ones(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_seconds=30)
    log.predictions([_record("batch-1"), _record("batch-3")])  # row 2 was refused
    log.predictions([_record("single")])
    assert log.knows("batch-1") and log.knows("batch-3") and log.knows("single")
    assert not any(log.knows(request_id) for request_id in ("batch-2", "batch-4", "batch", "single-1"))
    assert log.close()


def test_a_record_with_an_integer_beyond_64_bits_is_still_written(tmp_path: Path) -> None:
    """Regression (found by fuzzing): orjson refuses such integers, and the writer thread died."""
    log = PredictionLog(tmp_path, flush_seconds=0.05)
    huge = 10**30
    log.predictions([{"time": "2026-12-01T00:00:00+00:00", "request_id": "a" * 32, "features": {"Lot Area": huge}}])
    log.predictions([{"time": "2026-12-01T00:00:00+00:00", "request_id": "b" * 32, "features": {"Lot Area": 1}}])
    assert log.close()
    paths = tmp_path.glob("predictions-*.jsonl")
    lines = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    assert [line["features"]["Lot Area"] for line in lines] == [huge, 1]


def test_feedback_for_earlier_runs_is_answered_from_the_index_not_the_files(tmp_path: Path) -> None:
    first = PredictionLog(tmp_path, flush_seconds=0.05)
    first.predictions([_record("earlier"), _record("batch-1"), _record("batch-2")])
    assert first.close()
    assert (tmp_path / "request-ids.sqlite3").is_file()
    for path in tmp_path.glob("predictions-*.jsonl"):  # the index alone must answer now
        path.write_text("")
    log = PredictionLog(tmp_path, flush_seconds=30)
    assert log.knows("earlier") and log.knows("batch-2")
    assert not log.knows("batch-3") and not log.knows("later")
    assert log.close()


def test_log_files_written_before_the_index_existed_are_indexed_at_start(tmp_path: Path) -> None:
    old = tmp_path / "predictions-2026-11-01-000000-abcdef.jsonl"
    old.write_text(
        '{"time": "2026-11-01T00:00:00+00:00", "request_id": "old-style", "price": 1.0}\n'  # json.dumps spacing
        "not json\n"
        '{"time": "2026-11-01T00:00:00+00:00", "request_id": "huge", "features": {"Lot Area": 1' + "0" * 30 + "}}\n"
        '{"time": "2026-11-01T00:00:00+00:00", "request_id": "half-writ'  # cut off by a crash: not indexed
    )
    log = PredictionLog(tmp_path, flush_seconds=30)
    assert log.knows("old-style") and log.knows("huge")
    assert not log.knows("half-writ")
    assert log.close()


def test_lines_written_after_the_last_index_transaction_are_caught_up(tmp_path: Path) -> None:
    """A run that stops between appending its lines and indexing them: the next start reads just that tail."""
    first = PredictionLog(tmp_path, flush_seconds=0.05)
    first.predictions([_record("indexed")])
    assert first.close()
    (path,) = tmp_path.glob("predictions-*.jsonl")
    with path.open("a") as stream:
        stream.write(json.dumps(_record("unindexed")) + "\n")
    log = PredictionLog(tmp_path, flush_seconds=30)
    assert log.knows("indexed") and log.knows("unindexed")
    assert log.close()


def test_an_unreadable_index_is_a_retryable_error_not_an_unknown_id(tmp_path: Path) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the folder should be")
    log = PredictionLog(blocker, flush_seconds=30)
    log.predictions([_record("thisrun")])
    assert log.knows("thisrun")  # from memory, while nothing can be written
    with pytest.raises(IndexUnavailableError, match="request index .* cannot be read"):
        log.knows("earlierrun")
    blocker.unlink()
    blocker.mkdir()
    assert log.flush()  # the folder is back: the index opens and takes the waiting records
    assert log.knows("earlierrun") is False and log.knows("thisrun")
    assert log.close()
    assert PredictionLog(blocker, flush_seconds=30).knows("thisrun")


def test_replicas_sharing_a_folder_know_each_others_ids_even_just_after_pricing(tmp_path: Path) -> None:
    import time
    import uuid

    from serving.results import issued_at, new_request_id

    first, second = PredictionLog(tmp_path, flush_seconds=0.3), PredictionLog(tmp_path, flush_seconds=0.3)
    request_id = new_request_id()
    assert uuid.UUID(request_id).version == 7 and abs(issued_at(request_id) - time.time()) < 1
    first.predictions([_record(request_id)])
    assert second.knows(request_id)  # not yet indexed by the first one's writer: the second waits for it
    made_up = new_request_id()  # recent, but never priced: a bounded wait, then no
    started = time.monotonic()
    assert not second.knows(made_up)
    assert time.monotonic() - started < second.recent_seconds + 1
    started = time.monotonic()
    assert not second.knows(uuid.uuid4().hex)  # an id without a time: answered at once
    assert time.monotonic() - started < 0.2
    assert first.close() and second.close()
    assert len({path.name for path in tmp_path.glob("predictions-*.jsonl")}) == 1
