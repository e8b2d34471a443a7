"""Print the quality figures of the shipped training configuration (or --quick), without publishing.

python benchmarks/quality.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import QUICK_CONFIG, TrainOptions, train  # noqa: E402

METRICS = (
    ("rmse_log", "RMSE of log price", "{:.4f}"),
    ("rmse", "RMSE", "${:,.0f}"),
    ("mae", "MAE", "${:,.0f}"),
    ("mape", "MAPE", "{:.2%}"),
    ("r2", "R²", "{:.4f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smoke-test configuration instead of the shipped one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        options = replace(TrainOptions(), output=Path(folder) / "model", publish=False)
        if args.quick:
            options = replace(options, model=QUICK_CONFIG, quick=True, importance_repeats=2)
        started = time.perf_counter()
        report = train(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
        seconds = time.perf_counter() - started
    cv, holdout = report.metrics.cross_validation, report.metrics.holdout
    print(
        f"configuration: {'quick' if args.quick else 'shipped'}; {cv.folds}-fold CV, random state {cv.random_state}; "
        f"holdout {holdout.fraction:.0%} ({holdout.rows} sales); whole run {seconds:.0f} s"
    )
    print(f"{'metric':<20}{'CV w/o outliers':>22}{'CV all':>12}{'holdout w/o':>14}{'holdout all':>14}")
    for name, label, fmt in METRICS:
        clean, full = cv.without_outliers[name], cv.with_outliers[name]
        print(
            f"{label:<20}{fmt.format(clean.mean) + ' ± ' + fmt.format(clean.std):>22}{fmt.format(full.mean):>12}"
            f"{fmt.format(holdout.without_outliers[name]):>14}{fmt.format(holdout.with_outliers[name]):>14}"
        )
    interval = report.metrics.interval
    print(f"{interval.level:.0%} interval of the log residual: [{interval.log_low:+.4f}, {interval.log_high:+.4f}]")


if __name__ == "__main__":
    main()
