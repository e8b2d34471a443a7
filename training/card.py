"""Render the model card (`README.md` of the model repository) from the top-level `model_card.md` template.

The YAML front matter is built by `huggingface_hub.ModelCardData`, so that the Hub reads the library, tags,
license, dataset, metrics and `model-index` evaluation results exactly as it documents them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from modelrepo import CARD_FILE, IMAGES_DIR, Schema
from modelrepo.metrics import CoverageCell, Metrics

from .candidates import QualityTable
from .comparables import ComparablesWritten
from .engineering import AMES_DERIVED
from .pipeline import ModelConfig
from .plots import IMPORTANCES, PREDICTED_VS_ACTUAL, RESIDUALS

TEMPLATE = Path(__file__).resolve().parents[1] / "model_card.md"
TAGS = ["sklearn", "skops", "tabular-regression", "house-prices", "ames-housing"]
LICENSE = "mit"


@dataclass(frozen=True)
class CardFacts:
    """What the card says beyond the contract files: names, provenance and where the model lives."""

    model_name: str
    repo_id: str | None
    space_url: str | None
    dataset_id: str
    dataset_name: str
    data_source: str
    data_sha256: str
    data_rows: int
    citation: str | None
    is_ames: bool
    quick: bool
    version: str  # the tag this version will carry: the card's snippet loads exactly it
    library_versions: dict[str, str]  # as manifest.json records them: the card's pip line pins them


def card_data(metrics: Metrics, facts: CardFacts) -> ModelCardData:
    cv = metrics.cross_validation.without_outliers
    holdout = metrics.holdout.without_outliers
    split = f"{metrics.cross_validation.folds}-fold cross-validation"

    def result(metric_type: str, name: str, value: float, dataset_split: str) -> EvalResult:
        return EvalResult(
            task_type="tabular-regression",
            dataset_type=facts.dataset_id,
            dataset_name=facts.dataset_name,
            dataset_split=dataset_split,
            metric_type=metric_type,
            metric_name=name,
            metric_value=round(value, 6),
        )

    return ModelCardData(
        model_name=facts.model_name,
        library_name="sklearn",
        license=LICENSE,
        tags=TAGS,
        datasets=[facts.dataset_id],
        metrics=["rmse", "mae", "mape", "r_squared"],
        pipeline_tag="tabular-regression",
        eval_results=[
            result("rmse", f"RMSE of log price ({split})", cv["rmse_log"].mean, split),
            result("mape", f"MAPE ({split})", cv["mape"].mean, split),
            result("rmse", "RMSE of log price (holdout)", holdout["rmse_log"], "holdout"),
            result("mae", "MAE in dollars (holdout)", holdout["mae"], "holdout"),
            result("r_squared", "R² (holdout)", holdout["r2"], "holdout"),
        ],
    )


def pip_line(versions: dict[str, str]) -> str:
    """`pip install` with the libraries the model was trained and checked with, pinned (Python is not a package)."""
    import huggingface_hub

    pins = [f'"{name}=={version}"' for name, version in versions.items() if name != "python"]
    return f'pip install {" ".join(pins)} "huggingface_hub>={huggingface_hub.__version__}"'


@dataclass(frozen=True)
class CoverageTable:
    """One table of the card's "Price ranges": a row per set of holdout sales, (coverage, width) per level."""

    title: str
    rows: list[tuple[str, int, list[tuple[float, float]]]]


def coverage_tables(metrics: Metrics, schema: Schema) -> list[CoverageTable]:
    """Overall, per fifth of the estimated price, and for the largest neighbourhoods (named as the schema names
    them); none for a version without conformal ranges."""
    if metrics.intervals is None:
        return []
    holdout = metrics.intervals.holdout
    levels = list(holdout.levels.values())

    def row(label: str, cells: list[CoverageCell]) -> tuple[str, int, list[tuple[float, float]]]:
        return label, cells[0].rows, [(cell.coverage, cell.mean_width) for cell in cells]

    tables = [CoverageTable("", [row("holdout sales, outliers left out", [level.overall for level in levels])])]
    fifths = []
    for key, cell in levels[0].by_price_quintile.items():
        label = f"{key}: ${cell.price_from or 0:,.0f} – ${cell.price_to or 0:,.0f}"
        fifths.append(row(label, [level.by_price_quintile[key] for level in levels]))
    tables.append(CoverageTable("fifth of the estimated price", fifths))
    if holdout.group_column and levels[0].by_group:
        feature = schema.feature(holdout.group_column) if holdout.group_column in schema.names else None
        groups = []
        for name in levels[0].by_group:
            words = feature.value_label(name) if feature is not None else None
            named = f"{words} ({name})" if words and words != name else name
            groups.append(row(named, [level.by_group[name] for level in levels]))
        tables.append(CoverageTable(f"{holdout.group_column} (the {len(groups)} largest in the holdout)", groups))
    return tables


def render_card(
    folder: Path,
    *,
    schema: Schema,
    metrics: Metrics,
    config: ModelConfig,
    facts: CardFacts,
    trusted_types: list[str],
    comparables: ComparablesWritten | None,
) -> Path:
    """`comparables` is what `write_comparables` wrote, or None when it was left out (`--no-comparables`)."""
    quality = QualityTable.read() if facts.is_ames else None
    engineered = [column for column in AMES_DERIVED if schema_has(schema, column.inputs)] if config.engineered else []
    card = ModelCard.from_template(
        card_data(metrics, facts),
        template_path=str(TEMPLATE),
        facts=facts,
        schema=schema,
        top_features=schema.by_importance()[:15],
        metrics=metrics,
        hyperparameters=config.as_table(),
        config=config,
        engineered=engineered,
        quality=quality,
        shipped_row=quality.shipped(config) if quality else None,
        trusted_types=trusted_types,
        comparables=comparables,
        images={
            "predicted_vs_actual": f"{IMAGES_DIR}/{PREDICTED_VS_ACTUAL}",
            "residuals": f"{IMAGES_DIR}/{RESIDUALS}",
            "importances": f"{IMAGES_DIR}/{IMPORTANCES}",
        },
        repo_id=facts.repo_id or "<user>/<model-repo>",
        pip_line=pip_line(facts.library_versions),
        call_example=json.dumps({feature.name: feature.default for feature in schema.by_importance()[:2]}),
        coverage=coverage_tables(metrics, schema),
    )
    path = folder / CARD_FILE
    card.save(path)
    return path


def schema_has(schema: Schema, names: tuple[str, ...]) -> bool:
    """Whether every name is a numeric feature of the schema (an engineered column's inputs)."""
    numeric = {feature.name for feature in schema.features if feature.is_numeric}
    return set(names) <= numeric
