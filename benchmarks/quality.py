"""The model candidates on the same folds: accuracy, fit time, prediction time through the engine serving would
use, and model size. With --write, the table the model card shows (`training/data/quality.json`).

python benchmarks/quality.py [--write] [--nested] [--reference]

Every candidate is evaluated with training's own protocol (`training.evaluate.evaluate`: 5-fold shuffled CV,
random state 0, the five houses over 4,000 sq ft left out of fitting; a 20% holdout). Prediction times are
measured on the holdout model, through `serving.engine.choose_engine` (the compiled engine when it is exact, else
the pipeline), one row at a time (median of 300) and 1,000 rows at once (median of 7).
--nested re-runs the *choice* among the trainable candidates inside each outer fold (a 3-fold CV on the outer
training rows picks one; the outer test fold scores it), so the selection's own optimism is measured.
--reference adds a blend with an RBF support-vector regression, which scores well but which the compiled engine
cannot reproduce (scikit-learn's libsvm loop): its prediction time is the pipeline's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import VotingRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.svm import SVR  # noqa: E402

from modelrepo import Target, save_model  # noqa: E402
from serving.engine import choose_engine  # noqa: E402
from serving.validation import Validator  # noqa: E402
from training import TrainOptions  # noqa: E402
from training.candidates import CANDIDATES, CandidateRow, QualityTable, config_record  # noqa: E402
from training.data import outlier_mask, read_table, split_target  # noqa: E402
from training.evaluate import evaluate, rmse_log  # noqa: E402
from training.features import build_schema, infer_kinds, read_feature_docs  # noqa: E402
from training.pipeline import ModelConfig, pipeline_for_table  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write training/data/quality.json for the card")
    parser.add_argument("--nested", action="store_true", help="also measure the selection by nested CV (slow)")
    parser.add_argument("--reference", action="store_true", help="add an SVR blend the engine cannot compile")
    args = parser.parse_args()
    options = TrainOptions()
    table = split_target(read_table(options.data), target=options.target, drop=options.drop, source="ames")
    features, target = table.features, table.target
    outliers = outlier_mask(features, column=options.outlier_column, above=options.outlier_above)
    kinds = infer_kinds(features)
    schema = build_schema(
        features,
        kinds,
        target=Target(name=options.target, unit="USD", description="sale price"),
        ranks={},
        docs=read_feature_docs(options.feature_docs),
    )
    started_load = os.getloadavg()[0]
    models: dict[str, tuple[Any, dict[str, object] | None]] = {
        name: (pipeline_for_table(features, config), config_record(config))
        for name, config in CANDIDATES.items()
    }
    if args.reference:
        models["Huber + trees + RBF SVR (not compilable)"] = (_with_svr(models[list(CANDIDATES)[-1]][0]), None)
    rows = [
        _measure(name, model, config, features, target, outliers, schema, options)
        for name, (model, config) in models.items()
    ]
    nested = _nested(features, target, outliers) if args.nested else None
    measured = (
        f"{date.today().isoformat()}, commit {_commit()}, load average {started_load:.1f} at the start "
        f"and {os.getloadavg()[0]:.1f} at the end (2 cores), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}"
    )
    result = QualityTable(measured, rows, nested)
    shipped = result.shipped(ModelConfig())
    print(f"measured {measured}")
    _print(result, shipped)
    if nested:
        print(nested)
    if args.write:
        print(f"wrote {result.write()}")


def _measure(
    name: str,
    model: Any,
    config: dict[str, object] | None,
    features: Any,
    target: Any,
    outliers: np.ndarray,
    schema: Any,
    options: TrainOptions,
) -> CandidateRow:
    print(f"{name}: evaluating", file=sys.stderr, flush=True)
    started = time.perf_counter()
    evaluation = evaluate(
        model,
        features,
        target,
        outliers,
        folds=options.folds,
        holdout_fraction=options.holdout_fraction,
        seed=0,
        keep_outliers=False,
        progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
    )
    fit_seconds = (time.perf_counter() - started) / (options.folds + 1)  # the folds and the holdout fit
    fitted = evaluation.holdout_model
    validator = Validator.for_schema(schema, max_rows=10_000)
    records = features.iloc[evaluation.holdout_rows].astype(object).where(features.notna(), None)
    rows = [validator.row(record) for record in records.to_dict("records")]
    engine = choose_engine(fitted, schema, rows[:5])
    one = [_timed(engine.engine.predict, [row]) for row in (rows * 2)[:300]]
    thousand = [_timed(engine.engine.predict, (rows * 2)[:1000]) for _ in range(7)]
    with tempfile.TemporaryDirectory() as folder:
        size = save_model(fitted, Path(folder) / "model.skops").stat().st_size
    cv = evaluation.cross_validation
    return CandidateRow(
        name=name,
        config=config,
        engine=engine.name,
        cv_rmse_log=cv.without_outliers["rmse_log"].mean,
        cv_rmse_log_std=cv.without_outliers["rmse_log"].std,
        cv_rmse_log_all=cv.with_outliers["rmse_log"].mean,
        holdout_rmse_log=evaluation.holdout.without_outliers["rmse_log"],
        fit_seconds=fit_seconds,
        one_row_ms=statistics.median(one) * 1000,
        thousand_rows_ms=statistics.median(thousand) * 1000,
        model_megabytes=size / 1e6,
    )


def _nested(features: Any, target: Any, outliers: np.ndarray) -> str:
    """RMSE of log price of "pick the candidate with the best inner 3-fold CV", on 5 outer folds."""
    outer = KFold(5, shuffle=True, random_state=0)
    scores, picks = [], []
    for fold, (train, test) in enumerate(outer.split(features), start=1):
        inner_scores = {}
        for name, config in CANDIDATES.items():
            model = pipeline_for_table(features, config)
            inner_scores[name] = _inner_cv(model, features.iloc[train], target.iloc[train], outliers[train])
        best = min(inner_scores, key=inner_scores.__getitem__)
        model = pipeline_for_table(features, CANDIDATES[best])
        fitted_rows = train[~outliers[train]]
        fitted = clone(model).fit(features.iloc[fitted_rows], target.iloc[fitted_rows])
        ordinary = test[~outliers[test]]
        scores.append(rmse_log(target.to_numpy()[ordinary], fitted.predict(features.iloc[ordinary])))
        picks.append(best)
        print(f"nested fold {fold}: picked {best}, RMSE log {scores[-1]:.4f}", file=sys.stderr, flush=True)
    chosen = ", ".join(f"{picks.count(name)}× {name}" for name in dict.fromkeys(picks))
    return (
        f"Nested check of the choice (a 3-fold CV inside each of the 5 outer training folds picks the candidate): "
        f"RMSE of log price {np.mean(scores):.4f} ± {np.std(scores):.4f}; picked {chosen}."
    )


def _inner_cv(model: Any, features: Any, target: Any, outliers: np.ndarray) -> float:
    scores = []
    for train, test in KFold(3, shuffle=True, random_state=1).split(features):
        rows = train[~outliers[train]]
        fitted = clone(model).fit(features.iloc[rows], target.iloc[rows])
        ordinary = test[~outliers[test]]
        scores.append(rmse_log(target.to_numpy()[ordinary], fitted.predict(features.iloc[ordinary])))
    return float(np.mean(scores))


def _with_svr(shipped: Any) -> Any:
    """The shipped blend plus an RBF SVR on the linear part's design (C 20, epsilon 0.008, gamma 0.0003)."""
    model = clone(shipped)
    linear = model.regressor.estimators[0][1]
    svr = Pipeline([("columns", clone(linear.named_steps["columns"])), ("svr", SVR(C=20, epsilon=0.008, gamma=3e-4))])
    model.regressor = VotingRegressor([*model.regressor.estimators, ("svr", svr)])
    return model


def _timed(function: Any, argument: Any) -> float:
    started = time.perf_counter()
    function(argument)
    return time.perf_counter() - started


def _print(table: QualityTable, shipped: CandidateRow | None) -> None:
    print(
        f"{'candidate':<44}{'CV RMSE log':>16}{'CV all':>8}{'holdout':>9}{'fit s':>7}{'engine':>10}"
        f"{'1 row ms':>10}{'1,000 ms':>10}{'MB':>6}"
    )
    for row in table.rows:
        mark = " *" if row is shipped else ""
        print(
            f"{row.name + mark:<44}{row.cv_rmse_log:>9.4f} ± {row.cv_rmse_log_std:.4f}{row.cv_rmse_log_all:>8.4f}"
            f"{row.holdout_rmse_log:>9.4f}{row.fit_seconds:>7.1f}{row.engine:>10}{row.one_row_ms:>10.3f}"
            f"{row.thousand_rows_ms:>10.1f}{row.model_megabytes:>6.1f}"
        )
    print("* the shipped configuration (ModelConfig's defaults)")


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
