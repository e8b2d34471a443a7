"""One training run: data → schema → pipeline → evaluation → model repository → published version."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelrepo import IMAGES_DIR, DatasetRef, LocalStore, Manifest, Schema, Store, Target
from modelrepo.metrics import Metrics

from .card import CardFacts, render_card
from .comparables import ComparablesWritten, write_comparables
from .data import AMES_CITATION, TrainingTable, outlier_mask, read_table, split_target
from .dataset_repo import TableFacts, publish_table
from .errors import GateError
from .evaluate import Evaluation, Progress, evaluate, fit_final, importance_ranks
from .features import build_schema, identifier_columns, infer_kinds, model_columns, read_feature_docs
from .gate import Candidate, GateDecision, Production, decide, read_production
from .pipeline import pipeline_for_table
from .plots import write_plots
from .profile import build_reference, write_examples
from .publish import PublishResult, publish
from .repository import (
    RepositoryContent,
    library_versions,
    prepare_folder,
    verify_reload,
    write_contract_files,
    write_manifest,
)
from .settings import TrainOptions
from .tracking import MlflowRun

EXAMPLE_COUNT = 5


@dataclass(frozen=True)
class TrainReport:
    folder: Path
    metrics: Metrics
    manifest: Manifest
    published: PublishResult | None
    store: Store | None


def train(options: TrainOptions, *, progress: Progress = print, store: Store | None = None) -> TrainReport:
    """Train, evaluate, write and (unless told not to) publish; every step reports progress."""
    store = (store or LocalStore(options.registry)) if options.publish else None
    production, unreadable = _production(store, options, progress) if store else (None, "")
    progress(f"[1/6] loading {options.data}")
    table = _load(options, progress)
    dataset = _publish_dataset(options, table, progress) if options.publish else None
    run = _start_tracking(options, table, progress)
    try:
        report = _train_on(table, dataset, options, store, production, unreadable, progress, run)
    except BaseException as error:  # the run is marked, never left RUNNING; the error goes on
        if run is not None:
            run.finish(version=None, store=None, status="KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        raise
    if run is not None:
        published = report.published.version.name if report.published else None
        run.finish(version=published, store=report.store.description if report.store else None)
    return report


def _start_tracking(options: TrainOptions, table: TrainingTable, progress: Progress) -> MlflowRun | None:
    if not options.mlflow_uri:
        return None
    run = MlflowRun.start(
        options.mlflow_uri,
        experiment=options.mlflow_experiment,
        run_name=f"{table.fingerprint.source} {table.fingerprint.sha256[:12]}",
    )
    progress(f"      tracking this run in MLflow at {options.mlflow_uri}: run {run.run_id}")
    return run


def _publish_dataset(options: TrainOptions, table: TrainingTable, progress: Progress) -> DatasetRef | None:
    """Before the long work, as the model store is opened first: a refused token costs seconds."""
    if not options.dataset_repo:
        return None
    docs = read_feature_docs(options.feature_docs)
    descriptions = {name: entry.get("description", "") for name, entry in docs.items()}
    facts = TableFacts(
        source=table.fingerprint.source,
        target=f"{options.target}: {_target(options).description}",
        descriptions=descriptions,
        is_ames=options.is_ames,
    )
    dataset, committed = publish_table(
        options.dataset_repo,
        options.data,
        fingerprint=table.fingerprint,
        facts=facts,
        token=options.token,
        private=options.private,
    )
    done = "published to" if committed else "already in"
    progress(f"      training table {done} the Hub dataset {dataset.repo_id} at commit {dataset.commit[:12]}")
    return dataset


def _train_on(
    table: TrainingTable,
    dataset: DatasetRef | None,
    options: TrainOptions,
    store: Store | None,
    production: Production | None,
    unreadable: str,
    progress: Progress,
    run: MlflowRun | None,
) -> TrainReport:
    features, target = table.features, table.target
    outliers = outlier_mask(features, column=options.outlier_column, above=options.outlier_above)
    kinds = infer_kinds(features)
    numeric, categorical = model_columns(kinds)
    progress(
        f"      {len(features):,} rows, {len(numeric)} numeric and {len(categorical)} categorical features, "
        f"{int(outliers.sum())} outliers"
    )

    progress(f"[2/6] evaluating: {options.folds}-fold cross-validation and a {options.holdout_fraction:.0%} holdout")
    pipeline = pipeline_for_table(features, options.model)
    evaluation = evaluate(
        pipeline,
        features,
        target,
        outliers,
        folds=options.folds,
        holdout_fraction=options.holdout_fraction,
        seed=options.model.seed,
        keep_outliers=options.keep_outliers,
        progress=lambda line: progress(f"      {line}"),
    )
    progress("[3/6] permutation importance on the holdout")
    holdout_rows = features.iloc[evaluation.holdout_rows]
    importances = importance_ranks(
        evaluation.holdout_model,
        holdout_rows,
        target.iloc[evaluation.holdout_rows],
        repeats=options.importance_repeats,
        seed=options.model.seed,
    )
    ranks = {str(name): rank for rank, name in enumerate(importances.index, start=1)}
    schema = build_schema(
        features, kinds, target=_target(options), ranks=ranks, docs=read_feature_docs(options.feature_docs)
    )
    metrics = _metrics(options, evaluation, outliers)

    fitted_rows = len(features) if options.keep_outliers else int((~outliers).sum())
    progress(f"[4/6] fitting the final model on {fitted_rows:,} rows")
    model = fit_final(pipeline, features, target, outliers, keep_outliers=options.keep_outliers)

    progress(f"[5/6] writing the model repository to {options.output}")
    folder = prepare_folder(options.output)
    content = RepositoryContent(
        model, schema, metrics, build_reference(features, schema, evaluation.out_of_fold), table.fingerprint
    )
    untrusted = write_contract_files(folder, content)
    examples = _example_rows(features, target, evaluation.holdout_rows, outliers)
    predictions = verify_reload(folder, model, features.loc[examples])
    write_examples(folder, features.loc[examples], predictions=predictions, actual=target.loc[examples].to_numpy())
    fitted = np.ones(len(features), dtype=bool) if options.keep_outliers else ~outliers
    comparables = _comparables(folder, features, target, fitted, schema, options, progress)
    write_plots(
        folder / IMAGES_DIR,
        actual=target.to_numpy(),
        predicted=evaluation.out_of_fold,
        outliers=outliers,
        importances=importances,
    )
    render_card(
        folder,
        schema=schema,
        metrics=metrics,
        config=options.model,
        facts=_facts(options, table, store, dataset),
        trusted_types=untrusted,
        comparables=comparables,
    )
    manifest = write_manifest(
        folder,
        fingerprint=table.fingerprint,
        untrusted=untrusted,
        dataset=dataset,
        mlflow_run_id=run.run_id if run else None,
    )
    progress(f"      reloaded model.skops with the allowlist: predictions identical on {len(examples)} examples")
    if run is not None:
        fingerprint = {f"data_{name}": value for name, value in table.fingerprint.model_dump().items()}
        run.log_training(params=asdict(options.model) | fingerprint, metrics=metrics, folder=folder)
        progress("      logged the parameters, metrics.json and the model repository to MLflow")

    if not options.publish:
        progress("[6/6] not publishing (--no-publish)")
        return TrainReport(folder, metrics, manifest, None, None)
    assert store is not None
    progress(f"[6/6] publishing to the {store.description}")
    candidate = Candidate(
        metrics=metrics,
        data_sha256=table.fingerprint.sha256,
        features=features[fitted],
        target=target.to_numpy()[fitted],
        out_of_fold=evaluation.out_of_fold[fitted],
    )
    decision, comparison = _decide(candidate, production, unreadable, store, options, progress)
    result = publish(
        folder,
        store,
        decision=decision,
        production=production,
        comparison=comparison,
        force=options.force,
        promote=options.promote,
        message=f"Train on {table.fingerprint.source} ({table.fingerprint.sha256[:12]})",
    )
    return TrainReport(folder, metrics, manifest, result, store)


def _comparables(
    folder: Path,
    features: pd.DataFrame,
    target: pd.Series,
    fitted: np.ndarray,
    schema: Schema,
    options: TrainOptions,
    progress: Progress,
) -> ComparablesWritten | None:
    if not options.comparables:
        progress("      left comparables.csv out (--no-comparables): no training sale will be shown")
        return None
    written = write_comparables(folder, features, target, fitted=fitted, schema=schema)
    progress(f"      wrote {written.file_name}: {written.rows:,} training sales × {len(written.columns)} columns")
    return written


def _production(store: Store, options: TrainOptions, progress: Progress) -> tuple[Production | None, str]:
    """Read production before any work: a gate that cannot compare stops the run at once (unless forced, or
    with --no-promote, where it only costs the comparison)."""
    try:
        return read_production(store), ""
    except GateError as error:
        if options.promote and not options.force:
            raise
        progress(f"      warning: {error.cause}; going on ({_why(options)})")
        return None, error.cause


def _decide(
    candidate: Candidate,
    production: Production | None,
    unreadable: str,
    store: Store,
    options: TrainOptions,
    progress: Progress,
) -> tuple[GateDecision, str]:
    if unreadable:
        return _unexamined(options, f"production could not be read: {unreadable}"), ""
    try:
        decision, comparison = decide(candidate, production, store, tolerance=options.tolerance)
    except GateError as error:
        if options.promote and not options.force:
            raise
        progress(f"      warning: {error}")
        return _unexamined(options, "production could not score this model's rows"), ""
    if comparison:
        progress(f"      {comparison}")
    return decision, comparison


def _unexamined(options: TrainOptions, cause: str) -> GateDecision:
    """Only --force promotes what the gate could not examine; --no-promote never promotes."""
    return GateDecision(True, f"forced; {cause}") if options.force else GateDecision(False, cause)


def _why(options: TrainOptions) -> str:
    return "--force" if options.force else "--no-promote"


def _load(options: TrainOptions, progress: Progress) -> TrainingTable:
    raw = read_table(options.data)
    source = "training/data/ames.csv.gz" if options.is_ames else options.data.name
    table = split_target(raw, target=options.target, drop=options.drop, source=source)
    ids = identifier_columns(table.features, infer_kinds(table.features))
    if ids:
        progress(f"      ignoring identifier columns (a distinct value on every row): {', '.join(ids)}")
        table = TrainingTable(table.features.drop(columns=ids), table.target, table.fingerprint)
    return table


def _target(options: TrainOptions) -> Target:
    if options.is_ames:
        return Target(name=options.target, unit="USD", description="sale price of the house in US dollars")
    return Target(
        name=options.target, unit="same unit as the training data", description=f"the {options.target} column"
    )


def _metrics(options: TrainOptions, evaluation: Evaluation, outliers: np.ndarray) -> Metrics:
    return Metrics(
        target=options.target,
        unit="USD" if options.is_ames else "as in the data",
        training_rows=int(len(outliers) if options.keep_outliers else (~outliers).sum()),
        outlier_rule=f"{options.outlier_column} > {options.outlier_above:g}" if outliers.any() else None,
        outliers_removed=0 if options.keep_outliers else int(outliers.sum()),
        cross_validation=evaluation.cross_validation,
        holdout=evaluation.holdout,
        interval=evaluation.interval,
        intervals=evaluation.intervals,
    )


def _example_rows(features: pd.DataFrame, target: pd.Series, holdout: np.ndarray, outliers: np.ndarray) -> list[int]:
    """Real holdout sales spread over the price range (10th to 90th percentile)."""
    candidates = target.iloc[holdout[~outliers[holdout]]].sort_values()
    positions = np.linspace(0.1, 0.9, EXAMPLE_COUNT) * (len(candidates) - 1)
    return sorted({int(candidates.index[int(round(p))]) for p in positions})


def next_version(store: Store | None) -> str:
    """The tag publishing will give this version (one publisher at a time: the workflow's concurrency group)."""
    numbers = [version.number or 0 for version in store.versions()] if store else []
    return f"v{max(numbers, default=0) + 1}"


def _facts(options: TrainOptions, table: TrainingTable, store: Store | None, dataset: DatasetRef | None) -> CardFacts:
    return CardFacts(
        model_name=options.model_name if options.is_ames else f"{options.target} estimator",
        repo_id=options.repo_id,
        space_url=None,
        dataset_id=dataset.repo_id if dataset else (options.dataset_id if options.is_ames else options.data.stem),
        dataset_name="Ames Housing (De Cock 2011)" if options.is_ames else options.data.name,
        data_source=table.fingerprint.source,
        data_sha256=table.fingerprint.sha256,
        data_rows=table.fingerprint.rows,
        citation=AMES_CITATION if options.is_ames else None,
        is_ames=options.is_ames,
        quick=options.quick,
        version=next_version(store),
        library_versions=library_versions(),
    )
