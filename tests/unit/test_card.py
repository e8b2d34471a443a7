"""The model card parses back with huggingface_hub and says what a user of the model needs to know."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from modelrepo import CARD_FILE, IMAGES_DIR
from modelrepo.metrics import Metrics
from training.candidates import QualityTable
from training.pipeline import ModelConfig


def test_card_metadata_round_trips_through_huggingface_hub(model_folder: Path) -> None:
    card = ModelCard.load(model_folder / CARD_FILE)
    metrics = Metrics.read(model_folder)
    data = card.data
    assert data.library_name == "sklearn" and data.license == "mit" and data.pipeline_tag == "tabular-regression"
    assert {"sklearn", "skops", "tabular-regression"} <= set(data.tags)
    assert data.datasets == ["ames-housing"] and set(data.metrics) >= {"rmse", "mae", "mape", "r_squared"}
    results = {(r.dataset_split, r.metric_name): r.metric_value for r in data.eval_results}
    cv_rmse = results[("3-fold cross-validation", "RMSE of log price (3-fold cross-validation)")]
    assert cv_rmse == round(metrics.primary, 6)
    assert results[("holdout", "RMSE of log price (holdout)")] == round(metrics.holdout.without_outliers["rmse_log"], 6)
    assert ModelCard(str(card)).data.to_dict() == data.to_dict()


def test_card_body_covers_use_limits_data_procedure_evaluation_and_safe_loading(model_folder: Path) -> None:
    text = (model_folder / CARD_FILE).read_text()
    for heading in (
        "## Intended use",
        "## Limitations",
        "## Training data",
        "## Training procedure",
        "## Evaluation",
        "## How to use it safely",
        "## How to call the Space",
        "## Citation",
    ):
        assert heading in text
    assert "| boosting iterations | 100 |" in text and "Quick build" in text
    for image in sorted((model_folder / IMAGES_DIR).glob("*.png")):
        assert f"]({IMAGES_DIR}/{image.name})" in text
    assert "De Cock, D. (2011)" in text and "sha256 of the canonical table" in text
    assert "sio.load(path, trusted=TRUSTED)" in text and "get_untrusted_types" in text and "pickle" in text


def test_card_lists_the_engineered_columns_and_the_candidates_table(model_folder: Path) -> None:
    text = (model_folder / CARD_FILE).read_text()
    assert (
        "| Total area incl. basement | Gr Liv Area + Total Bsmt SF (a missing input counts as 0) | the trees |" in text
    )
    assert "| Age at sale | Yr Sold − Year Built (a missing input as its median) | both parts |" in text
    table = QualityTable.read()
    assert table is not None and "### Candidates compared" in text
    for row in table.rows:
        assert f"| {row.name} |" in text  # the quick build is on no row: none is marked as this model
    assert "**(this model)**" not in text and "on no row of the table" in text


def test_the_committed_candidates_table_was_measured_with_the_shipped_configuration() -> None:
    """Changing ModelConfig's defaults without re-running `benchmarks/quality.py --write` fails here."""
    table = QualityTable.read()
    assert table is not None
    shipped = table.shipped(ModelConfig())
    assert shipped is not None and shipped.engine == "compiled"
    assert shipped.one_row_ms < 1.0  # in process, through the compiled engine
    assert shipped is min((row for row in table.rows if row.engine == "compiled"), key=lambda r: r.cv_rmse_log)
def test_card_says_what_the_ranges_mean_how_they_were_calibrated_and_how_they_held(model_folder: Path) -> None:
    text = (model_folder / CARD_FILE).read_text()
    intervals = Metrics.read(model_folder).intervals
    assert intervals is not None
    section = text.split("### Price ranges\n", 1)[1].split("\n## ", 1)[0]
    assert "about 8 in 10 sell for a price inside their 80%" in section and "19 in 20" in section
    assert "cross-validation" in section and "inside its training split only" in section
    for key, level in intervals.calibration.levels.items():
        assert f"| {key}% | {level.q_low:.4f} | {level.q_high:.4f} |" in section
    holdout = intervals.holdout
    overall = [holdout.levels[key].overall for key in ("80", "95")]
    assert (
        f"| holdout sales, outliers left out | {holdout.rows} | {overall[0].coverage * 100:.1f}% | "
        f"{overall[0].mean_width * 100:.1f}% | {overall[1].coverage * 100:.1f}% | {overall[1].mean_width * 100:.1f}% |"
    ) in section
    assert section.count("\n| 1: $") == 1 and section.count("\n| 5: $") == 1  # the fifths of the estimated price
    assert "| Neighborhood (the 10 largest in the holdout) |" in section and "| North Ames (NAmes) |" in section
    assert f"{overall[0].coverage * 100:.1f}% of prices fell inside their 80% range" in " ".join(text.split())
    snippet = text.split("## How to use it safely", 1)[1]
    assert 'load_json("metrics.json")["intervals"]["calibration"]' in snippet
    assert "model.regressor_.transform(houses)" in snippet and 'np.exp(level["q_low"] * sigma)' in snippet
