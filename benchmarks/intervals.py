"""Which σ(x) makes the conformal ranges hold evenly across prices: the members' spread, or a constant?

python benchmarks/intervals.py [--quick] [--splits 200]

Runs training's evaluation (the shipped configuration: 5-fold CV, the 20% holdout, the cross-validation inside
the training split that calibrates the holdout's ranges) and compares the two rules of `training.conformal`:

1. The decision, on the training split only: its out-of-fold predictions are split in halves at random `--splits`
   times; each time the ranges are calibrated on one half and scored on the other, per fifth of the estimated
   price. Printed: the mean coverage per fifth, and the mean over splits of the largest and of the mean absolute
   gap between a fifth's coverage and the nominal level. The rule with the smaller mean gap is the more even.
2. The holdout (reported, not used to decide): calibrated on the whole training split, scored on the holdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelrepo.metrics import Normaliser  # noqa: E402
from training import QUICK_CONFIG, TrainOptions  # noqa: E402
from training.conformal import LEVELS, QUINTILES, Scored, bounds, calibrate  # noqa: E402
from training.data import outlier_mask, read_table, split_target  # noqa: E402
from training.evaluate import Evaluation, evaluate  # noqa: E402
from training.pipeline import pipeline_for_table  # noqa: E402

RULES = (Normaliser.CONSTANT, Normaliser.MEMBER_SPREAD)


def run_evaluation(options: TrainOptions) -> tuple[Evaluation, np.ndarray]:
    """Training's evaluation step, and the outlier mask of the table's rows."""
    table = split_target(read_table(options.data), target=options.target, drop=options.drop, source="ames")
    features, target = table.features, table.target
    outliers = outlier_mask(features, column=options.outlier_column, above=options.outlier_above)
    evaluation = evaluate(
        pipeline_for_table(features, options.model),
        features,
        target,
        outliers,
        folds=options.folds,
        holdout_fraction=options.holdout_fraction,
        seed=options.model.seed,
        keep_outliers=options.keep_outliers,
        progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
    )
    return evaluation, outliers


def by_fifth(rule: Normaliser, calibration_rows: Scored, scored: Scored, level: float) -> tuple[np.ndarray, float]:
    """Coverage per fifth of the estimated price (cheapest first) and the mean width in % of the estimate."""
    calibration = calibrate(calibration_rows, normaliser=rule, levels=[level])
    (key,) = calibration.levels
    low, high = bounds(calibration, scored, key)
    inside = (low <= scored.actual) & (scored.actual <= high)
    edges = np.quantile(scored.predicted, np.arange(1, QUINTILES) / QUINTILES)
    fifth = np.searchsorted(edges, scored.predicted, side="left")
    coverage = np.array([inside[fifth == n].mean() for n in range(QUINTILES)])
    return coverage, float(np.mean((high - low) / scored.predicted))


def decision(rows: Scored, *, splits: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    halves = [rng.permutation(len(rows.actual)) for _ in range(splits)]
    print(f"\n1. Decision: {len(rows.actual):,} out-of-fold rows of the training split, {splits} random halvings")
    print(
        f"{'level':<7}{'rule':<15}{'coverage per fifth of the estimated price':<45}{'mean gap':>9}{'max gap':>9}"
        f"{'width':>8}"
    )
    for level in LEVELS:
        for rule in RULES:
            per_split = []
            widths = []
            for order in halves:
                first, second = order[: len(order) // 2], order[len(order) // 2 :]
                coverage, width = by_fifth(rule, rows.subset(first), rows.subset(second), level)
                per_split.append(coverage)
                widths.append(width)
            table = np.array(per_split)
            gaps = np.abs(table - level)
            fifths = "  ".join(f"{value:.1%}" for value in table.mean(axis=0))
            mean_gap, max_gap = gaps.mean() * 100, gaps.max(axis=1).mean() * 100
            print(f"{level:<7.0%}{rule.value:<15}{fifths:<45}{mean_gap:>8.2f}p{max_gap:>8.2f}p{np.mean(widths):>8.1%}")


def holdout(evaluation: Evaluation, outliers: np.ndarray) -> None:
    plain = evaluation.holdout_scored.subset(~outliers[evaluation.holdout_rows])  # metrics.json's `overall` rows
    calibration_rows = evaluation.holdout_calibration_rows
    print(f"\n2. Holdout ({len(plain.actual)} ordinary sales), calibrated on the training split's out-of-fold rows")
    print(f"{'level':<7}{'rule':<15}{'overall':>8}  {'coverage per fifth of the estimated price':<45}{'width':>8}")
    for level in LEVELS:
        for rule in RULES:
            coverage, width = by_fifth(rule, calibration_rows, plain, level)
            calibration = calibrate(calibration_rows, normaliser=rule, levels=[level])
            low, high = bounds(calibration, plain, next(iter(calibration.levels)))
            overall = float(((low <= plain.actual) & (plain.actual <= high)).mean())
            fifths = "  ".join(f"{value:.1%}" for value in coverage)
            print(f"{level:<7.0%}{rule.value:<15}{overall:>8.1%}  {fifths:<45}{width:>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the smoke-test configuration instead of the shipped one")
    parser.add_argument("--splits", type=int, default=200, help="random halvings of the training split")
    args = parser.parse_args()
    options = TrainOptions()
    if args.quick:
        options = TrainOptions(model=QUICK_CONFIG, quick=True)
    started = time.perf_counter()
    evaluation, outliers = run_evaluation(options)
    print(f"evaluation: {time.perf_counter() - started:.0f} s ({'quick' if args.quick else 'shipped'} configuration)")
    decision(evaluation.holdout_calibration_rows, splits=args.splits, seed=0)
    holdout(evaluation, outliers)


if __name__ == "__main__":
    main()
