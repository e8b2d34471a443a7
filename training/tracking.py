"""Optional MLflow tracking of a training run: parameters, every figure of metrics.json, and the model repository.

MLflow is an extra (`pip install -r requirements-mlflow.txt`): it is imported only when a run starts, so
`training` imports without it. Every call goes through one `MlflowClient` bound to an explicit tracking URI;
nothing touches MLflow's global active run, so two runs in one process cannot leak into each other.

Metric names are metrics.json's path to each number, joined with underscores, with two renames:
`cross_validation` becomes `cv`, and `without_outliers` (the rows the gate scores) is dropped, so that the
figures people compare have the short names:

- `cv_rmse_log_mean`, `cv_rmse_log_std`, ... (cross-validation, ordinary rows) and
  `cv_with_outliers_rmse_log_mean`, ... (all rows); `cv_folds`, `cv_random_state`.
- `holdout_rmse_log`, `holdout_mae`, ... and `holdout_with_outliers_rmse_log`, ...; `holdout_fraction`,
  `holdout_rows`, `holdout_random_state`.
- `interval_level`, `interval_log_low`, `interval_log_high`; `training_rows`, `outliers_removed`.
- The conformal ranges by level in percent: `intervals_calibration_beta`, `intervals_calibration_levels_80_q_low`,
  ... and their holdout coverage, `intervals_holdout_levels_95_overall_coverage`,
  `intervals_holdout_levels_80_by_price_quintile_1_coverage`, `intervals_holdout_levels_80_by_group_NAmes_rows`, ...

A number is logged at step 0. A list of numbers is logged as one metric with a step per element, numbered from
1 like the folds in training's progress lines: each cross-validation figure's `per_fold` values become
`cv_rmse_log_per_fold` (steps 1…k), beside its `_mean` and `_std`. Text (target, unit, outlier rule, interval
source) stays in metrics.json, which is logged with the rest of the folder under `model_repository/`.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from modelrepo.metrics import Metrics

from .errors import TrainingError

if TYPE_CHECKING:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

#: The artifact folder that holds the whole model repository (card, schema, metrics, model, images/).
ARTIFACT_DIR = "model_repository"
INSTALL_HINT = "MLflow tracking needs the mlflow extra: pip install -r requirements-mlflow.txt"
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
UNPUBLISHED = "unpublished"
#: Seconds to wait for an http(s) tracking server to answer at all before the run starts.
SERVER_TIMEOUT = 10

_RENAMED = {"cross_validation": "cv", "without_outliers": ""}
_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")


class MlflowRun:
    """One training run in MLflow: started before the manifest is written (its id goes into manifest.json),
    given the metrics and the model repository folder once written, and tagged with the published version."""

    run_id: str

    def __init__(self, client: MlflowClient, run_id: str, *, tracking_uri: str) -> None:
        """Use `MlflowRun.start`; this only binds an existing run to its client."""
        self._client = client
        self._uri = tracking_uri
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"MlflowRun(run_id={self.run_id!r}, tracking_uri={self._uri!r})"

    @classmethod
    def start(cls, tracking_uri: str, *, experiment: str, run_name: str) -> MlflowRun:
        """Open the store, create the experiment if it is missing, and start a run in it.

        Raises:
            TrainingError: mlflow is not installed, or the tracking store cannot be reached or created.
        """
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as error:
            raise TrainingError(INSTALL_HINT) from error
        _check_server(tracking_uri)
        with _store_errors(tracking_uri, "cannot open the tracking store"):
            client = MlflowClient(tracking_uri=tracking_uri)
            experiment_id = _experiment_id(client, experiment, tracking_uri=tracking_uri)
            run = client.create_run(experiment_id, run_name=run_name)
        return cls(client, run.info.run_id, tracking_uri=tracking_uri)

    def log_training(self, *, params: dict[str, object], metrics: Metrics, folder: Path) -> None:
        """Log the configuration and data fingerprint, every figure of metrics.json, and the folder as artifacts.

        Raises:
            TrainingError: the store rejected the values or the artifacts could not be written.
        """
        from mlflow.entities import Param

        logged = [Param(name, str(value)) for name, value in sorted(params.items())]
        with _store_errors(self._uri, f"cannot log run {self.run_id} to"):
            self._client.log_batch(self.run_id, metrics=_metric_entities(metrics), params=logged, synchronous=True)
            self._client.log_artifacts(self.run_id, str(folder), artifact_path=ARTIFACT_DIR)

    def finish(self, *, version: str | None, store: str | None, status: str = "FINISHED") -> None:
        """Tag the run with the published version and its store (or "unpublished"), then end it.

        Raises:
            ValueError: the status is not one MLflow ends a run with.
            TrainingError: the store could not be updated.
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"Run status {status!r} is not one of {', '.join(TERMINAL_STATUSES)}.")
        from mlflow.entities import RunTag

        tags = [RunTag("model_version", version or UNPUBLISHED), RunTag("model_store", store or UNPUBLISHED)]
        with _store_errors(self._uri, f"cannot finish run {self.run_id} in"):
            self._client.log_batch(self.run_id, tags=tags, synchronous=True)
            self._client.set_terminated(self.run_id, status=status)


def _figures(metrics: Metrics) -> dict[str, float | list[float]]:
    """Every number of metrics.json under its MLflow name (see the module docstring), in file order."""
    figures: dict[str, float | list[float]] = {}
    for path, value in _numbers(metrics.model_dump(), ()):
        name = "_".join(renamed for part in path if (renamed := _RENAMED.get(part, part)))
        if name in figures:
            raise ValueError(f"Two figures of metrics.json map to the MLflow metric {name!r}; rename one.")
        figures[name] = value
    return figures


def _metric_entities(metrics: Metrics) -> list[Metric]:
    """Numbers at step 0, lists with a step per element from 1; one timestamp, as they were computed together."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    entities: list[Metric] = []
    for name, value in _figures(metrics).items():
        if isinstance(value, list):
            entities += [Metric(name, item, now, step) for step, item in enumerate(value, start=1)]
        else:
            entities.append(Metric(name, value, now, 0))
    return entities


def _numbers(value: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], float | list[float]]]:
    """Walk the dumped metrics: numbers and lists of numbers, skipping text, booleans and missing values."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        if value and all(isinstance(item, int | float) and not isinstance(item, bool) for item in value):
            yield path, [float(item) for item in value]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, float(value)


def _experiment_id(client: MlflowClient, name: str, *, tracking_uri: str) -> str:
    """The experiment's id, creating it if missing (and tolerating another process creating it first)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except MlflowException:
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise TrainingError(
            f"MLflow experiment {name!r} is deleted in {tracking_uri}: restore it (MLFLOW_TRACKING_URI={tracking_uri} "
            f"mlflow experiments restore --experiment-id {found.experiment_id}) or track to another experiment."
        )
    return str(found.experiment_id)


def _check_server(tracking_uri: str) -> None:
    """Fail in seconds when an http(s) tracking server is down, not after MLflow's minutes of retries."""
    if urlparse(tracking_uri).scheme not in ("http", "https"):
        return
    import requests

    try:
        requests.head(tracking_uri, timeout=SERVER_TIMEOUT, allow_redirects=False)  # any answer will do
    except requests.RequestException as error:
        reason = re.search(r"\[Errno -?\d+\][^'\")]*", str(error))
        raise TrainingError(
            f"MLflow cannot reach the tracking server {tracking_uri}: "
            f"{reason.group(0) if reason else type(error).__name__}; start it or check the URI."
        ) from error


@contextmanager
def _store_errors(tracking_uri: str, action: str) -> Iterator[None]:
    """Turn MLflow's and the file system's errors into one line that names the store and what to do."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as error:  # requests' errors are OSErrors too
        raise TrainingError(f"MLflow {action} {tracking_uri}: {_cause(error, tracking_uri)}") from error


def _cause(error: Exception, tracking_uri: str) -> str:
    """MLflow's reason on one line, or the fix itself for the two refusals a local setup meets first."""
    message = str(getattr(error, "message", None) or error)
    scheme = urlparse(tracking_uri).scheme.split("+")[0]
    if "MLFLOW_ALLOW_FILE_STORE" in message and scheme in ("", "file"):
        return (
            "MLflow 3 keeps its file store in maintenance mode and refuses it unless you opt in: "
            "set MLFLOW_ALLOW_FILE_STORE=true, or track to an MLflow server (http://HOST:5000)."
        )
    if scheme in _DATABASES and importlib.util.find_spec("sqlalchemy") is None:
        return "a database store needs more than mlflow-skinny: pip install sqlalchemy alembic"
    first = " ".join(message.split("\n", 1)[0].split())
    return first or type(error).__name__
