"""Prometheus metrics of one app: requests, latency, prices, rows, log failures, drift and the model version.

Each app owns its registry (not prometheus_client's global one), so that several apps in one process (tests)
never share counters. `monitoring/grafana/dashboard.json` and `monitoring/alerts.yml` query these names: keep
them in step (a test checks).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "house_price"
SURFACES = ("rest", "gradio_api", "mcp", "ui")  # where a request reached the predictor
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: a single row takes ~0.05–0.2 s, a 1,000-row batch ~0.5 s.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
# Dollars: Ames sales run from about $13k to $755k.
_PRICE_BUCKETS = (50e3, 75e3, 100e3, 125e3, 150e3, 175e3, 200e3, 250e3, 300e3, 400e3, 500e3, 750e3, 1e6)


class ServingMetrics:
    """The metric objects, created once per app on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU seconds, open files
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Prediction and feedback requests by surface (rest, gradio_api, mcp, ui) and outcome "
            "(ok, invalid, too_large, unauthorized, not_found, unavailable, error).",
            ["surface", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_request_seconds",
            "Time to validate and price one request (a batch counts once), by surface.",
            ["surface"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prices = Histogram(
            f"{PREFIX}_predicted_dollars", "Predicted sale prices, in dollars.", buckets=_PRICE_BUCKETS, registry=r
        )
        self.rows = Counter(f"{PREFIX}_rows_predicted", "Rows priced, by surface.", ["surface"], registry=r)
        self.feedback = Counter(
            f"{PREFIX}_feedback", "Observed sale prices received for earlier predictions.", registry=r
        )
        self.log_failures = Counter(
            f"{PREFIX}_log_write_failures",
            "Failed attempts to write the prediction log, by destination (local folder or Hub dataset).",
            ["destination"],
            registry=r,
        )
        self.log_dropped = Counter(
            f"{PREFIX}_log_dropped_records",
            "Prediction log records dropped from the in-memory backlog (full while the folder could not be written).",
            registry=r,
        )
        self.log_pending = Gauge(
            f"{PREFIX}_log_pending_records", "Records held in memory, not yet written to the local log.", registry=r
        )
        self.drift = Gauge(
            f"{PREFIX}_drift_psi",
            "Population stability index of each feature (and `prediction`) over the drift window, against training. "
            "Below 0.1 stable, 0.1-0.25 watch, above 0.25 drift.",
            ["feature"],
            registry=r,
        )
        self.drift_window = Gauge(f"{PREFIX}_drift_window_rows", "Rows in the drift window.", registry=r)
        # A fleet's PSI is not the mean of its replicas' PSIs: it is the PSI of their summed bin counts against
        # the training shares (monitoring/alerts.yml records it as house_price:drift_psi:fleet).
        self.drift_bin_rows = Gauge(
            f"{PREFIX}_drift_window_bin_rows",
            "Rows of the drift window in each training bin of each feature (and `prediction`); sum over replicas.",
            ["feature", "bin"],
            registry=r,
        )
        self.drift_training_share = Gauge(
            f"{PREFIX}_drift_training_share",
            "Share of the training rows in each bin of each feature (the same on every replica of a version).",
            ["feature", "bin"],
            registry=r,
        )
        self.model = Info(f"{PREFIX}_model", "The served model version, its commit and where it came from.", registry=r)
        self.engine = Info(
            f"{PREFIX}_engine",
            "The prediction engine (compiled or pipeline) and why it was chosen (see GET /api/v1/model).",
            registry=r,
        )
        for outcome in ("ok", "invalid"):
            for surface in SURFACES:
                self.requests.labels(surface=surface, outcome=outcome)  # export zeros, so rates start at once
        for destination in ("local", "hub"):
            self.log_failures.labels(destination=destination)

    def render(self) -> bytes:
        return generate_latest(self.registry)
