"""A Hub dataset as the remote copy of a local folder (the prediction log): push in the background, fetch back.

Built on `huggingface_hub.CommitScheduler`, which pushes changed files every few minutes. Two things are
added for a server that must never stop because of the Hub: creating the dataset is retried in the
background while the Hub is unreachable, and every failed or recovered push is reported to the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from huggingface_hub import CommitInfo, CommitScheduler, DatasetCard, DatasetCardData, HfApi, snapshot_download

from .files import CARD_FILE

logger = logging.getLogger(__name__)

LOG_CARD_FILE = CARD_FILE  # the Hub renders a dataset's README.md as its card, as for a model
_LOG_CARD_BODY = """
# Prediction log

Every price the serving app gave, and every observed sale price sent back for one, pushed here every few
minutes by the app (one file per day for each run of the app, so runs never overwrite each other).

- **predictions** (`predictions-<day>-<run>.jsonl`): `time`, `request_id`, `surface` (rest, gradio_api, mcp,
  ui), `batch`, `model_version`, `model_commit`, `features` (every feature as priced, after defaults), `price`,
  `low`, `high` and `level` (the 80% range), `low_95`, `high_95` (the 95% range; null for a version without one,
  and absent from records written before it), `latency_ms`.
- **feedback** (`feedback-<day>-<run>.jsonl`): `time`, `request_id` (of a prediction), `actual_price`.

Join them on `request_id`; `python -m serving.report --log-repo <this dataset>` does, per day and version.
"""


def prediction_log_card() -> str:
    """The dataset card: `configs` give the Hub's dataset viewer one table for predictions and one for feedback."""
    data = DatasetCardData(
        pretty_name="House price predictions and observed sale prices",
        tags=["tabular-regression", "prediction-log"],
        configs=[
            {"config_name": "predictions", "data_files": "predictions-*.jsonl", "default": True},
            {"config_name": "feedback", "data_files": "feedback-*.jsonl"},
        ],
    )
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{_LOG_CARD_BODY}"))


class _ReportingScheduler(CommitScheduler):
    def __init__(self, *, on_result: Callable[[Exception | None], None], **kwargs: object) -> None:
        self._on_result = on_result
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def push_to_hub(self) -> CommitInfo | None:
        try:
            result = super().push_to_hub()
        except Exception as error:
            self._on_result(error)
            raise
        self._on_result(None)
        return result


class DatasetMirror:
    """Keep a Hub dataset in step with `folder`; the Hub may be unreachable at start or at any time.

    `on_result(error)` is called after every push attempt (None on success). Hold `lock` while appending to
    files in `folder`, so that a push never reads half a line.
    """

    def __init__(
        self,
        repo_id: str,
        folder: Path,
        *,
        token: str | None,
        every_minutes: float,
        on_result: Callable[[Exception | None], None],
        private: bool = True,
    ) -> None:
        self.repo_id, self.folder, self.every_minutes = repo_id, folder, every_minutes
        self._token, self._private, self._on_result = token, private, on_result
        self._scheduler: CommitScheduler | None = None
        self._closed = threading.Event()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self._connect, name="dataset-mirror", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _connect(self) -> None:
        """Create the scheduler (which creates the dataset) once the Hub answers; retry until then."""
        retry_seconds = min(self.every_minutes * 60, 30.0)
        while not self._closed.is_set():
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                card = self.folder / LOG_CARD_FILE
                if not card.is_file() or card.read_text(encoding="utf-8") != prediction_log_card():
                    card.write_text(prediction_log_card(), encoding="utf-8")  # pushed with the first records
                scheduler = _ReportingScheduler(
                    on_result=self._on_result,
                    repo_id=self.repo_id,
                    repo_type="dataset",
                    folder_path=self.folder,
                    every=self.every_minutes,
                    private=self._private,
                    hf_api=HfApi(token=self._token),
                    allow_patterns=["*.jsonl", LOG_CARD_FILE],
                )
            except Exception as error:  # unreachable Hub, bad token, unwritable folder: report and retry
                self._on_result(error)
                self._closed.wait(retry_seconds)
                continue
            scheduler.lock = self.lock  # appends and the push's file listing now exclude each other
            self._scheduler = scheduler
            return

    def close(self, *, timeout: float = 30.0) -> bool:
        """Push what is left and stop. Returns False if the last push failed or did not finish in time."""
        self._closed.set()
        scheduler = self._scheduler
        if scheduler is None:
            return False
        try:
            scheduler.trigger().result(timeout=timeout)
        except (Exception, FutureTimeout):
            return False
        finally:
            scheduler.stop()
        return True


def download_dataset(repo_id: str, folder: Path, *, token: str | None = None) -> Path:
    """Fetch a dataset's JSONL files (the prediction log) to `folder`; returns the folder."""
    return Path(
        snapshot_download(
            repo_id=repo_id,
            repo_type="dataset",
            local_dir=folder,
            token=token,
            allow_patterns=["*.jsonl", "**/*.jsonl"],
        )
    )
