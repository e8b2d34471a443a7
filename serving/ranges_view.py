"""The price ranges in words and tables a person reads: the page's sentence and the Model tab's coverage tables."""

from __future__ import annotations

from collections.abc import Callable

from modelrepo.metrics import CoverageCell, HoldoutIntervals, Normaliser, level_key

from .ranges import NO_WIDE_RANGE, Ranges
from .results import WIDE_LEVEL


def range_meaning(ranges: Ranges) -> str:
    """One plain sentence on what the narrowest (80%) range means, with the share measured for this version."""
    if ranges.intervals is None:
        return f"In cross-validation, {_in_100(ranges.legacy.level)} in 100 prices fell inside a range this wide."
    holdout = ranges.intervals.holdout
    narrow = holdout.levels[level_key(ranges.levels[0])].overall
    return (
        f"In a test on {holdout.rows:,} sales the model never saw, {_in_100(narrow.coverage)} in 100 prices fell "
        "inside a range like this."
    )


def wide_meaning(ranges: Ranges) -> str:
    """What the 95% range held in the same test ("" for a version without one)."""
    if ranges.intervals is None or level_key(WIDE_LEVEL) not in ranges.intervals.holdout.levels:
        return ""
    cell = ranges.intervals.holdout.levels[level_key(WIDE_LEVEL)].overall
    return f"{_in_100(cell.coverage)} in 100 in the same test"


def coverage_markdown(ranges: Ranges, *, group_label: Callable[[str], str] = str) -> str:
    """The Model tab's section: how the ranges were calibrated and how often they held, overall, per fifth of the
    estimated price and in the largest groups (neighbourhoods)."""
    if ranges.intervals is None:
        return f"### Price ranges\nOne fixed 80% band for every house: {NO_WIDE_RANGE}."
    intervals, holdout = ranges.intervals, ranges.intervals.holdout
    calibration = intervals.calibration
    scale = (
        "wider where the model's two parts disagree (σ = their disagreement in log price + "
        f"{calibration.beta:.4f}, the median disagreement)"
        if calibration.normaliser is Normaliser.MEMBER_SPREAD
        else "the same share of the price for every house"
    )
    parts = [
        "### Price ranges\n"
        f"Each estimate comes with {' and '.join(f'{level:.0%}' for level in ranges.levels)} ranges, {scale}. They "
        f"were calibrated on the out-of-fold predictions of {calibration.rows:,} sales; to measure them honestly, "
        "the holdout model's ranges were calibrated by cross-validation inside its training split only and scored "
        f"on {holdout.rows:,} holdout sales it never saw. Coverage: the share of those sales whose price fell "
        "inside their range; width: the mean range as a share of the estimate. A row of a hundred sales or fewer "
        "moves by several points by chance alone.",
        _table("", {"holdout sales, outliers left out": _cells(holdout, "overall")}, ranges),
        _table("fifth of the estimated price", _fifths(holdout), ranges),
    ]
    groups = _groups(holdout)
    if groups:
        column = (holdout.group_column or "group").lower()
        named = {group_label(name): cells for name, cells in groups.items()}
        parts.append(_table(f"{column} (the {len(groups)} largest in the holdout)", named, ranges))
    return "\n\n".join(parts)


def _cells(holdout: HoldoutIntervals, which: str) -> list[CoverageCell]:
    return [getattr(level, which) for level in holdout.levels.values()]


def _fifths(holdout: HoldoutIntervals) -> dict[str, list[CoverageCell]]:
    first = next(iter(holdout.levels.values()))
    rows = {}
    for key, cell in first.by_price_quintile.items():
        label = f"{key}: ${cell.price_from or 0:,.0f} – ${cell.price_to or 0:,.0f}"
        rows[label] = [level.by_price_quintile[key] for level in holdout.levels.values()]
    return rows


def _groups(holdout: HoldoutIntervals) -> dict[str, list[CoverageCell]]:
    first = next(iter(holdout.levels.values()))
    return {name: [level.by_group[name] for level in holdout.levels.values()] for name in first.by_group}


def _table(title: str, rows: dict[str, list[CoverageCell]], ranges: Ranges) -> str:
    levels = [f"{level:.0%}" for level in ranges.levels]
    header = f"| {title} | sales | " + " | ".join(f"{level} coverage | {level} width" for level in levels) + " |"
    lines = [header, "|---|---|" + "---|---|" * len(levels)]
    for name, cells in rows.items():
        figures = " | ".join(f"{cell.coverage:.1%} | {cell.mean_width:.1%}" for cell in cells)
        lines.append(f"| {name} | {cells[0].rows:,} | {figures} |")
    return "\n".join(lines)


def _in_100(share: float) -> int:
    return round(share * 100)
