"""Permutation importance as training computes it: scikit-learn's one `predict` per shuffle against
`training.importance`'s batches, on the same holdout model and shuffles.

python benchmarks/importance.py [--repeats 5]

Fits the shipped configuration on training's 80% split once, then times both on the 20% holdout (586 rows × 79
columns × repeats shuffles) and prints the ratio and the largest difference between their importances.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.inspection import permutation_importance as sklearn_permutation_importance  # noqa: E402
from sklearn.metrics import make_scorer  # noqa: E402

from training import TrainOptions  # noqa: E402
from training.data import outlier_mask, read_table, split_target  # noqa: E402
from training.evaluate import holdout_split, rmse_log  # noqa: E402
from training.importance import permutation_importance  # noqa: E402
from training.pipeline import pipeline_for_table  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=TrainOptions().importance_repeats)
    args = parser.parse_args()
    options = TrainOptions()
    table = split_target(read_table(options.data), target=options.target, drop=options.drop, source="ames")
    features, target = table.features, table.target
    outliers = outlier_mask(features, column=options.outlier_column, above=options.outlier_above)
    train, test = holdout_split(len(features), fraction=options.holdout_fraction, seed=options.model.seed)
    train = train[~outliers[train]]
    print(f"load average {os.getloadavg()[0]:.1f}; fitting the shipped configuration on {len(train):,} rows")
    model = pipeline_for_table(features, options.model).fit(features.iloc[train], target.iloc[train])
    holdout, actual = features.iloc[test], target.iloc[test]
    seed = options.model.seed

    started = time.perf_counter()
    ours = permutation_importance(model, holdout, actual, error=rmse_log, repeats=args.repeats, seed=seed)
    batched = time.perf_counter() - started

    started = time.perf_counter()
    scorer = make_scorer(rmse_log, greater_is_better=False)
    reference = sklearn_permutation_importance(
        model, holdout, actual, scoring=scorer, n_repeats=args.repeats, random_state=seed
    ).importances_mean
    one_by_one = time.perf_counter() - started

    shuffles = holdout.shape[1] * args.repeats
    print(f"{len(holdout):,} holdout rows × {holdout.shape[1]} columns × {args.repeats} repeats = {shuffles} shuffles")
    print(f"scikit-learn, one predict per shuffle  {one_by_one:6.1f} s")
    print(f"training.importance, batched           {batched:6.1f} s   ({one_by_one / batched:.1f}× faster)")
    print(f"largest difference in an importance    {np.max(np.abs(ours.to_numpy() - reference)):.2e}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
