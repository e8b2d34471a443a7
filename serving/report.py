"""A daily report of the prediction log: traffic, prices, drift and, where sales came back, live error.

`python -m serving.report` reads the JSONL log the app writes (or its Hub dataset copy), groups it by UTC day
and model version, and compares each group with that version's own training profile and cross-validated
figures, fetched from the store serving uses. Drift reuses `serving.drift.DriftMonitor`, so the report and the
live `/metrics` gauges bin and score identically.

Degradation rule: a day is flagged when, on at least `MIN_SALES` sales with feedback, the RMSE of log price or
the MAPE exceeds its cross-validated mean + 2 standard errors. The CV std was measured on test folds of
`training_rows / folds` sales; a day with n sales is noisier, so the std is scaled by √(fold size / n) (never
below the CV std). Without that, a handful of sales would raise false alarms.

On the same sales the report counts how often the served 80% and 95% ranges held the price that came back,
next to the share the version measured on its holdout: shown, not judged (on a day's few dozen sales a share
moves by several points by chance).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo import METRICS_FILE, REFERENCE_FILE, SCHEMA_FILE, ModelRepoError, Schema, Store
from modelrepo.metrics import Metrics, level_key
from modelrepo.reference import Reference

from .drift import DRIFT_THRESHOLD, PREDICTION, WATCH_THRESHOLD, DriftMonitor, FeatureDrift, level
from .errors import LogNotFoundError, StartupError
from .loader import open_store
from .recorder import FEEDBACK, PREDICTIONS
from .settings import ServingSettings

MIN_ROWS = 100  # below this a PSI is noise (the live monitor's default too)
MIN_SALES = 20  # below this no degradation is judged
SIGMAS = 2.0
EXIT_NO_LOG, EXIT_DEGRADED = 2, 3
Record = dict[str, Any]  # one JSON line of the log
Key = tuple[str, str, str]  # UTC day, model version, model commit
RULE = (
    f"degraded: RMSE log or MAPE above CV mean + {SIGMAS:g} × CV std × √(fold size / sales), on ≥ {MIN_SALES} sales; "
    f"drift: PSI < {WATCH_THRESHOLD} stable, ≤ {DRIFT_THRESHOLD} watch, above drift, on ≥ {MIN_ROWS} rows"
)


@dataclass(frozen=True)
class ModelFacts:
    """What a version knew at training time: its profile for drift and its cross-validated error."""

    version: str
    commit: str
    reference: Reference
    schema: Schema
    metrics: Metrics


@dataclass(frozen=True)
class Figure:
    """One live error figure next to its cross-validated mean and std, and the limit it is judged by."""

    name: str
    live: float
    cv_mean: float
    cv_std: float
    limit: float

    @property
    def degraded(self) -> bool:
        return self.live > self.limit


@dataclass(frozen=True)
class RangeHeld:
    """How often the served ranges at one level held the sale prices that came back, next to the holdout's."""

    level: float
    sales: int  # sales whose prediction carried a range at this level
    held: int  # of which the price fell inside it
    holdout: float | None  # the version's holdout coverage at this level (metrics.json), when it measured one

    @property
    def share(self) -> float:
        return self.held / self.sales


@dataclass(frozen=True)
class DayReport:
    day: str
    model_version: str
    model_commit: str
    rows: int
    requests: int
    surfaces: dict[str, dict[str, int]]  # surface → requests and rows, busiest first
    prices: dict[str, float]  # min, p10, median, p90, max
    drift_rows: int = 0
    prediction_psi: float | None = None
    drift: list[FeatureDrift] = field(default_factory=list)
    sales: int = 0
    figures: list[Figure] = field(default_factory=list)
    ranges: list[RangeHeld] = field(default_factory=list)  # with the figures: on at least MIN_SALES sales
    note: str | None = None  # why drift or the CV comparison is missing
    compared_with: str | None = None  # the version whose facts were used, when not the one that served (--revision)

    @property
    def degraded(self) -> bool:
        return any(figure.degraded for figure in self.figures)

    def as_dict(self) -> dict[str, Any]:
        figures = [asdict(figure) | {"degraded": figure.degraded} for figure in self.figures]
        ranges = [asdict(held) | {"share": held.share} for held in self.ranges]
        verdict = {"degraded": self.degraded, "enough_rows": self.drift_rows >= MIN_ROWS}
        return asdict(self) | {"figures": figures, "ranges": ranges} | verdict


def read_log(folder: Path | Sequence[Path], *, since: str | None = None) -> tuple[list[Record], list[Record], int]:
    """Predictions, feedback, and the count of unreadable lines (a crash can cut the last one), at any depth
    under `folder` (or each of several: one per replica whose logs were kept apart): a Hub copy may sit in
    subfolders. Replicas name their files after their own runs, so the files join without clashing, and a
    feedback record finds its prediction whichever replica priced it. Files named for days before `since` are not
    read (feedback always comes after its prediction, so its files can be skipped the same way).

    Raises:
        LogNotFoundError: no prediction file at all, which means the wrong folder rather than a quiet day.
    """
    folders = [folder] if isinstance(folder, Path) else list(folder)
    files = sorted(path for root in folders if root.is_dir() for path in root.rglob(f"{PREDICTIONS}-*.jsonl"))
    if not files:
        shown = ", ".join(str(root.resolve()) for root in folders)
        raise LogNotFoundError(
            f"No prediction log in {shown} (no {PREDICTIONS}-*.jsonl files): point --logs "
            "(PREDICTION_LOG_DIR) at the app's log folder, or --log-repo at its Hub dataset."
        )
    feedback_files = sorted(path for root in folders if root.is_dir() for path in root.rglob(f"{FEEDBACK}-*.jsonl"))
    if since:  # `predictions-2026-11-24-<run>.jsonl` holds only that day's records
        files, feedback_files = (
            [p for p in paths if p.name.split("-", 1)[1][:10] >= since] for paths in (files, feedback_files)
        )
    predictions, bad = _read_jsonl(files, ("time", "request_id", "price", "features"))
    feedback, bad_feedback = _read_jsonl(feedback_files, ("time", "request_id"))
    return predictions, feedback, bad + bad_feedback


def _read_jsonl(paths: Iterable[Path], required: tuple[str, ...]) -> tuple[list[Record], int]:
    records, bad = [], 0
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += line.strip() != ""
                continue
            if isinstance(record, dict) and all(key in record for key in required):
                records.append(record)
            else:
                bad += 1
    return records, bad


def deduplicate(predictions: Iterable[Record]) -> list[Record]:
    """One record per request id, the earliest: a log copied twice (local and Hub) must not count double."""
    seen: dict[str, Record] = {}
    for record in sorted(predictions, key=lambda record: str(record["time"])):
        seen.setdefault(str(record["request_id"]), record)
    return list(seen.values())


def actual_prices(feedback: Iterable[Record]) -> dict[str, float]:
    """The observed sale price per request id; when a sale was reported twice, the latest report wins."""
    latest: dict[str, float] = {}
    for record in sorted(feedback, key=lambda record: str(record["time"])):  # stable: file order breaks ties
        price = record.get("actual_price")
        if isinstance(price, int | float) and not isinstance(price, bool) and math.isfinite(price) and price > 0:
            latest[str(record["request_id"])] = float(price)
    return latest


def group(predictions: Iterable[Record]) -> dict[Key, list[Record]]:
    """By UTC day of the prediction (not of its feedback), then model version and commit, in day order."""
    groups: dict[Key, list[Record]] = {}
    for record in predictions:
        key = (str(record["time"])[:10], str(record.get("model_version")), str(record.get("model_commit")))
        groups.setdefault(key, []).append(record)
    return dict(sorted(groups.items()))


def fetch_facts(
    store: Store, versions: Iterable[tuple[str, str]], *, revision: str | None
) -> dict[str, ModelFacts | str]:
    """Each recorded (version, commit) → its training facts, or a line saying why they are unavailable.

    The commit is tried first (it pins exactly what served), then the version name. `revision` compares all
    traffic with one version instead, for instance a candidate before promoting it.
    """
    facts: dict[str, ModelFacts | str] = {}
    for version, commit in versions:
        tries = [revision] if revision else [commit, version]
        problem = f"{version} ({commit[:8]}) not found in the {store.description}"
        for name in tries:
            try:
                snapshot = store.fetch(name, files=[REFERENCE_FILE, METRICS_FILE, SCHEMA_FILE])
                folder, pinned = snapshot.folder, snapshot.version
                read = Reference.read(folder), Schema.read(folder), Metrics.read(folder)
                facts[commit] = ModelFacts(pinned.name, pinned.commit, *read)
                break
            except ModelRepoError as error:
                problem = str(error).splitlines()[0]
        else:
            facts[commit] = f"no drift or CV figures: {problem}"
    return facts


def summarize(
    key: Key,
    records: list[Record],
    actual: Mapping[str, float],
    facts: ModelFacts | str,
    *,
    top: int = 5,
) -> DayReport:
    """One day of one version: traffic, price spread, the `top` worst drifting features, live vs CV error."""
    prices = np.percentile([float(record["price"]) for record in records], [0, 10, 50, 90, 100]).tolist()
    rows = Counter(str(record.get("surface")) for record in records)
    requests = {  # a batch's rows are `<batch id>-<row>`: one request
        (str(r.get("surface")), r["request_id"].rsplit("-", 1)[0] if r.get("batch") else r["request_id"])
        for r in records
    }
    per_surface = Counter(surface for surface, _ in requests)
    report = DayReport(
        *key,
        rows=len(records),
        requests=len(requests),
        surfaces={name: {"requests": per_surface[name], "rows": count} for name, count in rows.most_common()},
        prices=dict(zip(("min", "p10", "median", "p90", "max"), prices, strict=True)),
    )
    sold = [(r, actual[r["request_id"]]) for r in records if r["request_id"] in actual]
    if isinstance(facts, str):
        return replace(report, sales=len(sold), note=facts)
    if facts.commit != report.model_commit:
        report = replace(report, compared_with=f"{facts.version} ({facts.commit[:8]})")
    return _with_drift(_with_quality(report, sold, facts.metrics), records, facts, top=top)


def _with_drift(report: DayReport, records: list[Record], facts: ModelFacts, *, top: int) -> DayReport:
    # window ≥ MIN_ROWS, else DriftMonitor would lower min_rows to the window and judge a handful of rows
    monitor = DriftMonitor(facts.reference, facts.schema, window=max(len(records), MIN_ROWS), min_rows=MIN_ROWS)
    monitor.observe([record["features"] for record in records], [float(record["price"]) for record in records])
    scores = monitor.report().features
    features = [item for item in scores if item.feature != PREDICTION]
    prediction = next(item.psi for item in scores if item.feature == PREDICTION)
    return replace(report, drift_rows=len(records), prediction_psi=prediction, drift=features[:top])


def _with_quality(report: DayReport, sold: list[tuple[Record, float]], metrics: Metrics) -> DayReport:
    if len(sold) < MIN_SALES:
        return replace(report, sales=len(sold))
    predicted, actual = np.array([(float(record["price"]), price) for record, price in sold]).T
    live = {
        "rmse_log": float(np.sqrt(np.mean((np.log(actual) - np.log(np.clip(predicted, 1e-9, None))) ** 2))),
        "mape": float(np.mean(np.abs(actual - predicted) / actual)),
    }
    cv = metrics.cross_validation
    widen = math.sqrt(max(1.0, metrics.training_rows / cv.folds / len(sold)))
    figures = []
    for name, value in live.items():
        summary = cv.without_outliers[name]
        figures.append(Figure(name, value, summary.mean, summary.std, summary.mean + SIGMAS * summary.std * widen))
    return replace(report, sales=len(sold), figures=figures, ranges=_ranges_held(sold, metrics))


def _ranges_held(sold: list[tuple[Record, float]], metrics: Metrics) -> list[RangeHeld]:
    """Per level, the sales whose logged range (`low`/`high` at `level`, `low_95`/`high_95`) held their price;
    a version with one band logs no 95% range, so its sales count at 80% only."""
    counts: dict[float, list[int]] = {}
    for record, price in sold:
        logged = [(record.get("level"), record.get("low"), record.get("high"))]
        logged.append((0.95, record.get("low_95"), record.get("high_95")))
        for at, low, high in logged:
            if isinstance(at, float) and isinstance(low, int | float) and isinstance(high, int | float):
                tally = counts.setdefault(at, [0, 0])
                tally[0] += 1
                tally[1] += int(low <= price <= high)
    holdout = metrics.intervals.holdout.levels if metrics.intervals else {}
    measured = {at: holdout[level_key(at)].overall.coverage for at in counts if level_key(at) in holdout}
    return [RangeHeld(at, sales, held, measured.get(at)) for at, (sales, held) in sorted(counts.items())]


def build_reports(
    folder: Path | Sequence[Path],
    store: Store,
    *,
    revision: str | None = None,
    since: str | None = None,
    top: int = 5,
) -> tuple[list[DayReport], int]:
    """The whole report from a log folder; also returns the count of unreadable lines skipped."""
    predictions, feedback, bad = read_log(folder, since=since)
    records = [record for record in deduplicate(predictions) if since is None or str(record["time"])[:10] >= since]
    groups = group(records)
    facts = fetch_facts(store, sorted({(version, commit) for _, version, commit in groups}), revision=revision)
    actual = actual_prices(feedback)
    return [summarize(key, rows, actual, facts[key[2]], top=top) for key, rows in groups.items()], bad


def render(reports: Sequence[DayReport], *, source: str) -> str:
    """Compact tables, one block per day and version, then the verdict and the rules behind it."""
    if not reports:
        return f"Prediction log {source}: no predictions in the chosen days.\n"
    lines = [f"Prediction log {source}: {sum(r.rows for r in reports):,} rows, {reports[0].day} to {reports[-1].day}"]
    for report in reports:
        lines += ["", *_render_day(report)]
    flagged = [f"{r.day} {r.model_version}" for r in reports if r.degraded]
    lines += ["", f"DEGRADED: {', '.join(flagged)}" if flagged else "No degradation flagged.", f"Rules: {RULE}."]
    return "\n".join(lines) + "\n"


def _render_day(report: DayReport) -> list[str]:
    surfaces = ", ".join(
        f"{name} {n['requests']:,}" + (f" ({n['rows']:,} rows)" if n["rows"] != n["requests"] else "")
        for name, n in report.surfaces.items()
    )
    lines = [
        f"{report.day} · {report.model_version} ({report.model_commit[:8]}) · {report.rows:,} rows in "
        f"{report.requests:,} requests: {surfaces}"
        + (f" · compared with {report.compared_with}" if report.compared_with else ""),
        "  price      " + "   ".join(f"{name} ${value:,.0f}" for name, value in report.prices.items()),
    ]
    if report.note:
        return [*lines, f"  note       {report.note}", f"  feedback   {report.sales} sales"]
    if report.drift_rows < MIN_ROWS:
        lines.append(f"  drift      too few rows ({report.drift_rows} < {MIN_ROWS}) to judge")
    else:
        rows = [(item.feature, item.psi, item.level) for item in report.drift]
        rows.append(("(prediction)", report.prediction_psi or 0.0, level(report.prediction_psi or 0.0)))
        lines.append(f"  drift      {'feature':<22}{'PSI':>7}   level")
        lines += [
            f"             {name[:22]:<22}{psi:>7.3f}   {flag.upper() if flag == 'drift' else flag}"
            for name, psi, flag in rows
        ]
    if not report.figures:
        return [*lines, f"  feedback   {report.sales} sales (fewer than {MIN_SALES}: not judged)"]
    lines.append(f"  feedback   {f'{report.sales} sales':<13}{'live':>8}   {'CV mean ± std':<18}{'limit':>8}")
    for figure in report.figures:
        name, form = ("MAPE", "{:.2%}") if figure.name == "mape" else ("RMSE log", "{:.4f}")
        show = form.format
        lines.append(
            f"             {name:<13}{show(figure.live):>8}   {show(figure.cv_mean) + ' ± ' + show(figure.cv_std):<18}"
            f"{show(figure.limit):>8}   {'DEGRADED' if figure.degraded else 'ok'}"
        )
    for n, held in enumerate(report.ranges):
        holdout = f"   holdout {held.holdout:.1%}" if held.holdout is not None else ""
        lines.append(
            f"  {'ranges' if n == 0 else '':<11}{held.level:.0%} held {held.held} of {held.sales} sales "
            f"({held.share:.1%}){holdout}"
        )
    return lines


def parse_args(argv: Sequence[str] | None, settings: ServingSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m serving.report", description=__doc__.splitlines()[0], epilog=f"Rules: {RULE}."
    )
    parser.add_argument(
        "--logs",
        type=Path,
        nargs="+",
        default=[settings.log_dir],
        metavar="DIR",
        help="log folder (env PREDICTION_LOG_DIR), or one per replica: their logs are joined",
    )
    parser.add_argument("--log-repo", metavar="OWNER/NAME", help="download the log from this Hub dataset first")
    parser.add_argument("--registry", type=Path, default=settings.registry, help="local registry (env MODEL_REGISTRY)")
    parser.add_argument("--repo", default=settings.model_repo, help="Hub model repo (env MODEL_REPO)")
    parser.add_argument("--revision", help="compare all traffic with this version (default: each record's own)")
    parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="only days from this one on (UTC)")
    parser.add_argument("--top", type=int, default=5, metavar="N", help="drifting features shown per day (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--fail-on-degradation", action="store_true", help=f"exit {EXIT_DEGRADED} if any day is degraded"
    )
    return parser.parse_args(argv)


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from error


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """0: report printed; 2: no log or a bad setting (one line on stderr); 3: degraded with --fail-on-degradation."""
    try:
        settings = ServingSettings.from_env(environ)
        args = parse_args(argv, settings)
        store = open_store(replace(settings, registry=args.registry.resolve(), model_repo=args.repo or None))
        with tempfile.TemporaryDirectory(prefix="prediction-log-") as scratch:
            folder = _download(args.log_repo, Path(scratch), settings.hf_token) if args.log_repo else args.logs
            reports, bad = build_reports(folder, store, revision=args.revision, since=args.since, top=args.top)
    except (LogNotFoundError, StartupError, ModelRepoError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_LOG
    if bad:
        print(f"warning: skipped {bad} unreadable log lines", file=sys.stderr)
    source = f"Hub dataset {args.log_repo}" if args.log_repo else ", ".join(str(p.resolve()) for p in args.logs)
    if args.json:
        payload = {"source": source, "rule": RULE, "days": [report.as_dict() for report in reports]}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print(render(reports, source=f"{source} (models from the {store.description})"), end="")
    return EXIT_DEGRADED if args.fail_on_degradation and any(r.degraded for r in reports) else 0


def _download(repo_id: str, folder: Path, token: str | None) -> Path:
    from modelrepo.dataset import download_dataset  # imports huggingface_hub: only when a dataset is named

    try:
        return download_dataset(repo_id, folder, token=token)
    except Exception as error:  # missing repo, refused token, no network: all end the same way
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LogNotFoundError(
            f"Cannot download the prediction log from the Hub dataset {repo_id} ({first}): check the name, "
            "HF_TOKEN and the network, or read a local folder with --logs."
        ) from error


if __name__ == "__main__":
    sys.exit(main())
