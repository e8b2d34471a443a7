"""The short table a person reads at the end of a run: version, metrics beside production's, verdict, paths."""

from __future__ import annotations

from modelrepo.metrics import Metrics

from .train import TrainReport

_ROWS: tuple[tuple[str, str], ...] = (
    ("CV RMSE of log price", "rmse_log"),
    ("CV MAPE", "mape"),
    ("CV MAE", "mae"),
    ("CV R²", "r2"),
)


def format_summary(report: TrainReport) -> str:
    result = report.published
    previous = result.previous_metrics if result else None
    header = ["", "new" if result is None else f"{result.version.name} (new)"]
    if result and result.previous:
        header.append(f"{result.previous.name} (production before)")
    lines = [_row(header)]
    for label, name in _ROWS:
        cells = [label, _format(name, report.metrics)]
        if previous is not None:
            cells.append(_format(name, previous))
        lines.append(_row(cells))
    holdout = report.metrics.holdout.without_outliers
    lines.append(_row(["holdout RMSE of log price", f"{holdout['rmse_log']:.4f}"]))
    lines += _coverage_rows(report.metrics)
    lines.append("")
    lines.append(f"model repository  {report.folder.resolve()}")
    lines.append(f"model card        {(report.folder / 'README.md').resolve()}")
    if result is None:
        lines.append("published         no (--no-publish)")
    else:
        assert report.store is not None
        lines.append(
            f"published         {result.version.name} to the {report.store.description}: {result.version.location}"
        )
        lines.append(f"commit            {result.version.commit}")
        verdict = "promoted to production" if result.promoted else "NOT promoted; production unchanged"
        lines.append(f"gate              {verdict} ({result.decision.reason})")
        if result.comparison:
            lines.append(f"                  {result.comparison}")
    return "\n".join(lines)


def print_summary(report: TrainReport) -> None:
    print("\n" + format_summary(report), flush=True)


def _format(name: str, metrics: Metrics) -> str:
    value = metrics.cross_validation.without_outliers[name]
    if name == "mape":
        return f"{value.mean:.2%} ± {value.std:.2%}"
    if name == "mae":
        return f"${value.mean:,.0f} ± ${value.std:,.0f}"
    return f"{value.mean:.4f} ± {value.std:.4f}"


def _coverage_rows(metrics: Metrics) -> list[str]:
    """How often each range held on the holdout: overall, then per fifth of the estimated price (cheapest first)."""
    if metrics.intervals is None:
        return []
    rows = []
    for key, level in metrics.intervals.holdout.levels.items():
        fifths = " ".join(f"{cell.coverage:.0%}" for cell in level.by_price_quintile.values())
        overall = f"{level.overall.coverage:.1%} (by price fifth: {fifths})"
        rows.append(_row([f"holdout {key}% range coverage", overall]))
    return rows


def _row(cells: list[str]) -> str:
    return "  ".join(cell.ljust(26) for cell in cells).rstrip()
