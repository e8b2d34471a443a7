"""What the app learns from its own traffic: one `Monitor` feeds the prediction log, the metrics and drift.

`Predictor` calls `priced` for every accepted request and `rejected` for every refused one, whatever the
surface; the REST and access layers report the refusals they catch before the predictor sees a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .drift import DriftMonitor, DriftReport
from .recorder import PredictionLog, utc_now
from .telemetry import ServingMetrics

if TYPE_CHECKING:
    from modelrepo.dataset import DatasetMirror

    from .loader import ServedModel
    from .results import Estimate
    from .settings import ServingSettings
    from .validation import Row

logger = logging.getLogger(__name__)


class Monitor:
    def __init__(self, served: ServedModel, settings: ServingSettings) -> None:
        self.metrics = ServingMetrics()
        self._closed, self._close_lock = False, threading.Lock()
        self.metrics.model.info({"version": served.version, "commit": served.commit, "source": served.public_source})
        self.metrics.engine.info({"engine": served.engine.name, "reason": served.engine.reason})
        self.drift = DriftMonitor(served.reference, served.schema, window=settings.drift_window)
        for feature, bins in self.drift.bin_counts().items():  # the training shares never change: set them once
            for item in bins:
                self.metrics.drift_training_share.labels(feature=feature, bin=item.label).set(item.training)
        self.mirror = _mirror(settings, self.metrics) if settings.log_repo else None
        failures = self.metrics.log_failures.labels(destination="local")
        self.log = PredictionLog(
            settings.log_dir,
            on_write_failure=failures.inc,
            on_drop=self.metrics.log_dropped.inc,
            lock=self.mirror.lock if self.mirror else None,
        )
        self.metrics.log_pending.set_function(lambda: self.log.pending)
        if self.mirror:
            self.mirror.start()

    @property
    def destination(self) -> str:
        where = f"{self.log.folder.resolve()}"
        return where + (f", pushed to the Hub dataset {self.mirror.repo_id}" if self.mirror else "")

    def priced(
        self, surface: str, rows: Sequence[Row], estimates: Sequence[Estimate], *, seconds: float, batch: bool
    ) -> None:
        time = utc_now().isoformat()
        records = [
            {
                "time": time,
                "request_id": estimate.request_id,
                "surface": surface,
                "batch": batch,
                "model_version": estimate.model_version,
                "model_commit": estimate.model_commit,
                "features": row,  # a fresh dict per request (the validator's), never changed afterwards
                "price": estimate.price,
                "low": estimate.low,
                "high": estimate.high,
                "level": estimate.level,
                "low_95": wide[0],
                "high_95": wide[1],
                "latency_ms": round(seconds * 1000, 3),
            }
            for row, estimate in zip(rows, estimates, strict=True)
            for wide in (estimate.wide,)
        ]
        self.log.predictions(records)
        self.drift.observe(rows, [estimate.price for estimate in estimates])
        self.metrics.requests.labels(surface=surface, outcome="ok").inc()
        self.metrics.latency.labels(surface=surface).observe(seconds)
        self.metrics.rows.labels(surface=surface).inc(len(estimates))
        for estimate in estimates:
            self.metrics.prices.observe(estimate.price)

    def rejected(self, surface: str, outcome: str) -> None:
        self.metrics.requests.labels(surface=surface, outcome=outcome).inc()

    def feedback(self, request_id: str, actual_price: float, *, surface: str) -> dict[str, Any]:
        """Raises UnknownRequestError (a LookupError) for an id the log never saw."""
        try:
            record = self.log.feedback(request_id, actual_price)
        except LookupError:
            self.rejected(surface, "not_found")
            raise
        self.metrics.requests.labels(surface=surface, outcome="ok").inc()
        self.metrics.feedback.inc()
        return record

    def drift_report(self) -> DriftReport:
        report = self.drift.report()
        self.metrics.drift_window.set(report.window_rows)
        for item in report.features:  # NaN until the window has enough rows: no alert on a handful of requests
            self.metrics.drift.labels(feature=item.feature).set(item.psi if report.enough else float("nan"))
        return report

    def render_metrics(self) -> bytes:
        self.drift_report()  # drift gauges are computed when scraped, not on every request
        for feature, bins in self.drift.bin_counts().items():
            for item in bins:
                self.metrics.drift_bin_rows.labels(feature=feature, bin=item.label).set(item.rows)
        return self.metrics.render()

    def close(self) -> None:
        """Write every record held in memory, then push the last of the log to the Hub dataset (once)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        written = self.log.close()
        if self.mirror and not self.mirror.close():
            logger.warning(
                "prediction log: the last push to the Hub dataset %s did not complete; the records are in %s",
                self.mirror.repo_id,
                self.log.folder,
            )
        if written:
            logger.info("prediction log: all records written to %s", self.log.folder)


def _mirror(settings: ServingSettings, metrics: ServingMetrics) -> DatasetMirror:
    from modelrepo.dataset import DatasetMirror  # imports huggingface_hub: only when a dataset is configured

    failures = metrics.log_failures.labels(destination="hub")
    state = {"failing": False}

    def on_result(error: Exception | None) -> None:
        if error is None:
            if state["failing"]:
                logger.warning("prediction log: pushing to the Hub dataset %s again", settings.log_repo)
            state["failing"] = False
            return
        failures.inc()
        if not state["failing"]:
            logger.warning(
                "prediction log: cannot push to the Hub dataset %s (%s); the log is kept locally and pushed when "
                "the Hub answers again",
                settings.log_repo,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )
        state["failing"] = True

    assert settings.log_repo is not None
    return DatasetMirror(
        settings.log_repo,
        settings.log_dir,
        token=settings.hf_token,
        every_minutes=settings.log_push_minutes,
        on_result=on_result,
    )
