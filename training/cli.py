"""`python -m training`: train on the bundled Ames data (or any CSV) and publish the next version."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from modelrepo import ModelRepoError

from .data import AMES_CSV, AMES_ID_COLUMNS, AMES_TARGET
from .errors import TrainingError
from .gate import DEFAULT_TOLERANCE
from .pipeline import QUICK_CONFIG, ModelConfig
from .settings import TrainOptions, environment_defaults
from .summary import print_summary
from .train import train


def build_parser() -> argparse.ArgumentParser:
    env = environment_defaults()
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train the house-price model, evaluate it, write a model repository and publish it as the next "
        "version.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data", type=Path, default=None, help="CSV to train on (default: the bundled Ames Housing table)"
    )
    data.add_argument("--target", default=AMES_TARGET, help="column to predict (default: %(default)s)")
    data.add_argument(
        "--drop",
        nargs="*",
        default=None,
        metavar="COLUMN",
        help="identifier columns to ignore (default for Ames: Order PID)",
    )
    data.add_argument(
        "--feature-docs",
        type=Path,
        default=None,
        help='JSON of {"features": {name: {"title", "description", "group", "values"}}}',
    )
    data.add_argument(
        "--keep-outliers",
        action="store_true",
        help="train on the houses over 4,000 sq ft too (De Cock advises against)",
    )
    model = parser.add_argument_group("model and evaluation")
    model.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: %(default)s)")
    model.add_argument("--holdout", type=float, default=0.2, help="holdout fraction (default: %(default)s)")
    model.add_argument("--seed", type=int, default=0, help="random seed for splits and trees (default: %(default)s)")
    model.add_argument(
        "--quick",
        action="store_true",
        help="few boosting iterations and importance repeats: a smoke test, not for production",
    )
    out = parser.add_argument_group("output and publishing")
    out.add_argument(
        "--output",
        type=Path,
        default=Path("build/model"),
        help="model repository folder to write (default: %(default)s)",
    )
    out.add_argument(
        "--registry",
        type=Path,
        default=env["registry"],
        help="local registry folder (env MODEL_REGISTRY, default: ./registry)",
    )
    out.add_argument(
        "--repo", default=env["repo_id"], help="Hugging Face Hub model repo to publish to, user/name (env MODEL_REPO)"
    )
    out.add_argument(
        "--dataset-repo",
        default=env["dataset_repo"],
        metavar="OWNER/NAME",
        help="also publish the training table as this Hub dataset, once per distinct content (env DATASET_REPO)",
    )
    out.add_argument("--private", action="store_true", help="create the Hub repo (and dataset) as private")
    out.add_argument(
        "--no-comparables",
        action="store_true",
        help="leave comparables.csv (the training sales the app shows as comparable sales) out of the model "
        "repository: for data that must not be shown",
    )
    out.add_argument("--no-publish", action="store_true", help="write the model repository only")
    out.add_argument("--no-promote", action="store_true", help="publish a version without moving the production alias")
    out.add_argument("--force", action="store_true", help="promote even if the gate finds the new version worse")
    out.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="gate tolerance on CV RMSE of log price (default: %(default)s)",
    )
    tracking = parser.add_argument_group("experiment tracking (optional: pip install -r requirements-mlflow.txt)")
    tracking.add_argument(
        "--mlflow-uri",
        default=env["mlflow_uri"],
        metavar="URI",
        help="log the run to this MLflow tracking store: http://host:5000 or file:./mlruns (env MLFLOW_TRACKING_URI)",
    )
    tracking.add_argument(
        "--mlflow-experiment", default="ames-house-price", help="MLflow experiment name (default: %(default)s)"
    )
    return parser


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    custom_data = args.data is not None and Path(args.data).resolve() != AMES_CSV
    if args.folds < 2:
        raise TrainingError("--folds must be at least 2.")
    if not 0 < args.holdout < 1:
        raise TrainingError("--holdout must be a fraction between 0 and 1, for example 0.2.")
    config = replace(QUICK_CONFIG if args.quick else ModelConfig(), seed=args.seed)
    options = TrainOptions(
        data=Path(args.data) if args.data else AMES_CSV,
        target=args.target,
        drop=tuple(args.drop) if args.drop is not None else (() if custom_data else AMES_ID_COLUMNS),
        feature_docs=args.feature_docs if (args.feature_docs or custom_data) else TrainOptions().feature_docs,
        keep_outliers=args.keep_outliers,
        folds=args.folds,
        holdout_fraction=args.holdout,
        importance_repeats=2 if args.quick else 5,
        model=config,
        quick=args.quick,
        output=args.output,
        registry=args.registry,
        repo_id=args.repo,
        private=args.private,
        token=environment_defaults()["token"],  # type: ignore[arg-type]
        publish=not args.no_publish,
        promote=not args.no_promote,
        force=args.force,
        comparables=not args.no_comparables,
        tolerance=args.tolerance,
        dataset_repo=args.dataset_repo,
        mlflow_uri=args.mlflow_uri,
        mlflow_experiment=args.mlflow_experiment,
    )
    if options.mlflow_uri and options.mlflow_uri.startswith("file:"):
        # MLflow 3 opens a folder store only when asked to; naming one on the command line is asking.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = options_from_args(args)
        store = None
        if options.repo_id and options.publish:
            from .hub import open_hub_store

            store = open_hub_store(options)
        report = train(options, progress=_progress, store=store)
    except (TrainingError, ModelRepoError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no partial version was published.", file=sys.stderr)
        return 130
    print_summary(report)
    return 0


def _progress(line: str) -> None:
    print(line, flush=True)
