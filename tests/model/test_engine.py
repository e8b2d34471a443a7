"""The compiled engine gives the pipeline's bits, or the app serves the pipeline and says why."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, VotingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler

from modelrepo import EXAMPLES_FILE, MODEL_FILE, Schema, Snapshot, load_model, to_frame
from serving import StartupError
from serving.engine import CompiledModel, EngineMode, PipelineEngine, choose_engine, compile_model
from serving.engine.check import check_exact, check_rows, split_coverage
from serving.engine.internals import check_sklearn_version
from serving.engine.trees import TreePart
from serving.errors import UnsupportedModelError
from serving.validation import Row, Validator
from training import QUICK_CONFIG, TrainOptions, train
from training.data import AMES_CSV


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(np.asarray(a, np.float64).view(np.uint64), np.asarray(b, np.float64).view(np.uint64)))


def validated(schema: Schema, csv: bytes) -> list[Row]:
    """The rows as serving sees them: read like an uploaded CSV, each checked by the validator."""
    validator = Validator.for_schema(schema, max_rows=10_000)
    rows = validator.rows(validator.csv_rows(csv))
    problems = [row for row in rows if not isinstance(row, dict)]
    assert not problems, problems[:3]
    return [row for row in rows if isinstance(row, dict)]


@pytest.fixture(scope="module")
def served_model(production: Snapshot) -> tuple[Any, Schema, list[dict[str, Any]]]:
    examples = json.loads((production.folder / EXAMPLES_FILE).read_text())["rows"]
    return load_model(production.folder / MODEL_FILE), Schema.read(production.folder), examples


@pytest.fixture(scope="module")
def ames_rows(served_model: tuple[Any, Schema, list[dict[str, Any]]]) -> list[Row]:
    import gzip

    return validated(served_model[1], gzip.decompress(AMES_CSV.read_bytes()))


def test_every_ames_row_has_the_pipelines_bits_one_at_a_time_and_in_one_batch(
    served_model: tuple[Any, Schema, list[dict[str, Any]]], ames_rows: list[Row]
) -> None:
    model, schema, _ = served_model
    compiled = compile_model(model, schema)
    expected = model.predict(to_frame(ames_rows, schema))
    assert len(ames_rows) == 2930

    assert same_bits(compiled.predict(ames_rows), expected)
    one_at_a_time = np.array([compiled.predict([row])[0] for row in ames_rows])
    assert same_bits(one_at_a_time, expected)
    # The pipeline itself prices a row alone as it does in a batch (so the batch is the reference for both).
    sample = ames_rows[::150]
    assert same_bits(np.array([model.predict(to_frame([row], schema))[0] for row in sample]), expected[::150])


def test_the_spread_of_the_parts_is_the_pipelines_bits_and_the_prices_stay_predicts(
    served_model: tuple[Any, Schema, list[dict[str, Any]]], ames_rows: list[Row]
) -> None:
    """The members' disagreement sizes each price range: the compiled engine gives `regressor_.transform`'s bits."""
    model, schema, _ = served_model
    compiled, pipeline = compile_model(model, schema), PipelineEngine(model, schema)
    frame = to_frame(ames_rows, schema)
    members = model.regressor_.transform(frame)
    expected = members.max(axis=1) - members.min(axis=1)
    assert np.all(expected > 0) and np.allclose(expected, np.abs(members[:, 0] - members[:, 1]), rtol=0, atol=0)

    prices, spread = compiled.predict_with_spread(ames_rows)
    assert same_bits(prices, compiled.predict(ames_rows)) and same_bits(spread, expected)
    pipeline_prices, pipeline_spread = pipeline.predict_with_spread(ames_rows[:300])
    assert same_bits(pipeline_prices, model.predict(frame.iloc[:300])) and same_bits(pipeline_spread, expected[:300])
    alone = [compiled.predict_with_spread([row]) for row in ames_rows[::97]]
    assert same_bits(np.array([s[0] for _, s in alone]), expected[::97])


def test_a_spread_a_few_bits_off_fails_the_check(served_model: tuple[Any, Schema, list[dict[str, Any]]]) -> None:
    model, schema, examples = served_model

    @dataclasses.dataclass(frozen=True)
    class SpreadOff(CompiledModel):
        def predict_with_spread(self, rows: Any) -> tuple[np.ndarray, np.ndarray]:
            prices, spread = super().predict_with_spread(rows)
            return prices, spread * (1 + 1e-12)

    compiled = compile_model(model, schema)
    off = SpreadOff(**{field.name: getattr(compiled, field.name) for field in dataclasses.fields(compiled)})
    assert check_exact(compiled, model, schema, examples).exact
    result = check_exact(off, model, schema, examples)
    assert not result.exact and result.differing == result.rows  # every price's bits, but no spread's


def test_the_check_rows_reach_both_sides_of_almost_every_split_and_missing_values(
    served_model: tuple[Any, Schema, list[dict[str, Any]]],
) -> None:
    model, schema, examples = served_model
    compiled = compile_model(model, schema)
    coverage = split_coverage(compiled, check_rows(compiled, schema, examples))
    assert coverage is not None
    assert coverage.both_sides >= 0.98 * coverage.splits
    assert coverage.missing_reached > 0


def test_the_shipped_shape_compiles_to_the_byte_tables_and_the_check_passes(
    served_model: tuple[Any, Schema, list[dict[str, Any]]],
) -> None:
    model, schema, examples = served_model
    choice = choose_engine(model, schema, examples)
    assert choice.name == "compiled", choice.reason
    assert "bit-identical" in choice.reason
    assert isinstance(choice.engine, CompiledModel)
    trees = choice.engine.trees
    assert trees is not None and trees.leaf_table is not None  # at most eight splits per tree
    assert choice.engine.batch_invariant  # a sparse ridge design: a row's price does not depend on its batch


# --- Made-up tables: numbers only, categories only, mixed; missing values everywhere -----------------------------


def made_up_table(kind: str, rows: int = 240, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 250, rows)
    rooms = rng.integers(1, 8, rows).astype(float)
    town = rng.choice(["north", "south", "east", "west", "harbour"], rows, p=[0.3, 0.3, 0.2, 0.18, 0.02])
    style = rng.choice(["flat", "house", "villa"], rows)
    price = 1000 * (area * 1.5 + rooms * 8 + (town == "north") * 40 + (style == "villa") * 60) + rng.normal(
        0, 5e3, rows
    )
    table = pd.DataFrame({"area": area, "rooms": rooms, "town": town, "style": style, "price": price})
    if kind == "numbers":
        table = table.drop(columns=["town", "style"])
    elif kind == "categories":
        table = table.drop(columns=["area", "rooms"])
    for column in table.columns.drop("price"):  # about one value in eight missing
        table.loc[rng.random(rows) < 0.12, column] = np.nan
    return table


def made_up_options(csv: Path, output: Path, **model: Any) -> TrainOptions:
    """A quick, unpublished training on a made-up table (`model` changes the quick configuration)."""
    return TrainOptions(
        data=csv,
        target="price",
        drop=(),
        feature_docs=None,
        folds=2,
        importance_repeats=1,
        model=replace(QUICK_CONFIG, one_hot_min_frequency=10, **model),
        quick=True,
        output=output,
        publish=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "leaves"),
    [("numbers", 8), ("categories", 8), ("mixed", 8), ("mixed", 31)],
    ids=["numbers-only", "categories-only", "mixed", "mixed-deeper-trees"],
)
def test_models_trained_on_made_up_tables_compile_exactly(tmp_path: Path, kind: str, leaves: int) -> None:
    csv = tmp_path / f"{kind}.csv"
    made_up_table(kind).to_csv(csv, index=False)
    report = train(made_up_options(csv, tmp_path / "model", hgb_max_leaf_nodes=leaves), progress=lambda _: None)
    model, schema = load_model(report.folder / MODEL_FILE), Schema.read(report.folder)
    examples = json.loads((report.folder / EXAMPLES_FILE).read_text())["rows"]

    choice = choose_engine(model, schema, examples, mode=EngineMode.COMPILED)
    rows = validated(schema, csv.read_bytes())
    expected = model.predict(to_frame(rows, schema))
    assert same_bits(choice.engine.predict(rows), expected)
    assert isinstance(choice.engine, CompiledModel)
    if choice.engine.batch_invariant:
        assert same_bits(np.array([choice.engine.predict([row])[0] for row in rows]), expected)
    else:  # a dense ridge design: scikit-learn's own answer for a row depends on its batch; match it call for call
        sample = rows[::12]
        alone = np.array([model.predict(to_frame([row], schema))[0] for row in sample])
        assert same_bits(np.array([choice.engine.predict([row])[0] for row in sample]), alone)
    if kind == "numbers":  # no one-hot columns: the ridge design is dense
        assert not choice.engine.batch_invariant
    trees = choice.engine.trees
    assert trees is not None
    assert (trees.leaf_table is None) == (leaves > 9)  # deeper trees are walked level by level


def made_up_ames_table(rows: int = 300, seed: int = 2) -> pd.DataFrame:
    """Columns named as in Ames, so every engineered column and the quality scale are made; one value in eight
    missing (years and counts too), and a quality code the scale does not know in serving."""
    rng = np.random.default_rng(seed)
    built = rng.integers(1900, 2010, rows)
    table = pd.DataFrame(
        {
            "Gr Liv Area": rng.integers(600, 3500, rows),
            "Total Bsmt SF": rng.integers(0, 2000, rows),
            "Overall Qual": rng.integers(1, 11, rows),
            "Year Built": built,
            "Year Remod/Add": np.minimum(built + rng.integers(0, 40, rows), 2010),
            "Yr Sold": rng.integers(2006, 2011, rows),
            **{name: rng.integers(0, 300, rows) for name in ("Wood Deck SF", "Open Porch SF", "Enclosed Porch")},
            **{name: rng.integers(0, 100, rows) for name in ("3Ssn Porch", "Screen Porch")},
            "Kitchen Qual": rng.choice(["Fa", "TA", "Gd", "Ex"], rows),
            "Bsmt Qual": rng.choice(["Po", "Fa", "TA", "Gd", "Ex"], rows),
            "Neighborhood": rng.choice(["north", "south", "east"], rows),
        }
    )
    quality = table["Kitchen Qual"].map({"Fa": 1, "TA": 2, "Gd": 3, "Ex": 4})
    table["SalePrice"] = 50 * (table["Gr Liv Area"] + 0.4 * table["Total Bsmt SF"]) * (1 + 0.1 * quality) * (
        1 + 0.05 * table["Overall Qual"]
    ) + rng.normal(0, 5e3, rows)
    for column in table.columns.drop("SalePrice"):
        table.loc[rng.random(rows) < 0.12, column] = np.nan
    return table


@pytest.mark.slow
@pytest.mark.parametrize("linear", ["huber", "ridge"])
def test_engineered_columns_and_quality_scales_compile_exactly(tmp_path: Path, linear: str) -> None:
    csv = tmp_path / "ames-like.csv"
    made_up_ames_table().to_csv(csv, index=False)
    options = replace(made_up_options(csv, tmp_path / "model", linear=linear), target="SalePrice")
    report = train(options, progress=lambda _: None)
    model, schema = load_model(report.folder / MODEL_FILE), Schema.read(report.folder)
    examples = json.loads((report.folder / EXAMPLES_FILE).read_text())["rows"]
    choice = choose_engine(model, schema, examples, mode=EngineMode.COMPILED)
    assert isinstance(choice.engine, CompiledModel) and choice.engine.batch_invariant
    assert sorted(column.name for column in choice.engine.layout.derived) == [
        "Age at sale",
        "Porch and deck area",
        "Quality × living area",
        "Total area incl. basement",
        "Years since remodel at sale",
    ]
    linear_columns = model.regressor_.estimators_[0].named_steps["columns"]
    assert linear_columns.named_transformers_["quality scales"] is not None
    assert type(model.regressor_.estimators_[0].steps[-1][1]).__name__ == {"huber": "HuberRegressor"}.get(
        linear, "Ridge"
    )
    rows = validated(schema, csv.read_bytes())
    rows += [{**rows[0], "Kitchen Qual": "Po", "Year Built": None, "Total Bsmt SF": None}]  # unseen code, holes
    expected = model.predict(to_frame(rows, schema))
    assert same_bits(choice.engine.predict(rows), expected)
    assert same_bits(np.array([choice.engine.predict([row])[0] for row in rows]), expected)


# --- Fallbacks ----------------------------------------------------------------------------------------------------


def unknown_step_model() -> tuple[Any, Schema, list[dict[str, Any]]]:
    """The blend's shape with a scaler the engine does not compile."""
    table = made_up_table("mixed").dropna()
    features, target = table.drop(columns=["price"]), table["price"]
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", RobustScaler())])
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="?")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    ridge = Pipeline(
        [
            (
                "columns",
                ColumnTransformer([("numbers", numbers, ["area", "rooms"]), ("cats", categories, ["town", "style"])]),
            ),
            ("ridge", Ridge()),
        ]
    )
    trees = Pipeline(
        [
            ("columns", ColumnTransformer([("numbers", "passthrough", ["area", "rooms"])])),
            ("trees", HistGradientBoostingRegressor(max_iter=20)),
        ]
    )
    model = TransformedTargetRegressor(
        regressor=VotingRegressor([("ridge", ridge), ("trees", trees)]), func=np.log, inverse_func=np.exp
    ).fit(features, target)
    schema = Schema.model_validate(
        {
            "target": {"name": "price", "unit": "USD", "description": "price"},
            "features": [
                {"name": "area", "kind": "number", "nullable": True, "default": 100.0, "minimum": 40.0,
                 "maximum": 250.0, "description": "area", "importance_rank": 1, "group": "Size"},
                {"name": "rooms", "kind": "number", "nullable": True, "default": 3.0, "minimum": 1.0,
                 "maximum": 7.0, "description": "rooms", "importance_rank": 2, "group": "Size"},
                {"name": "town", "kind": "category", "nullable": True, "default": "north",
                 "categories": ["east", "harbour", "north", "south", "west"], "description": "town",
                 "importance_rank": 3, "group": "Place"},
                {"name": "style", "kind": "category", "nullable": True, "default": "flat",
                 "categories": ["flat", "house", "villa"], "description": "style", "importance_rank": 4,
                 "group": "Place"},
            ],
        }
    )  # fmt: skip
    return model, schema, [{"area": 120.0, "rooms": 3.0, "town": "north", "style": "villa"}]


def test_an_unknown_step_falls_back_to_the_pipeline_and_names_the_step() -> None:
    model, schema, examples = unknown_step_model()
    with pytest.raises(UnsupportedModelError, match="RobustScaler"):
        compile_model(model, schema)

    choice = choose_engine(model, schema, examples)
    assert choice.name == "pipeline"
    assert "does not support" in choice.reason and "RobustScaler" in choice.reason
    assert same_bits(choice.engine.predict(examples), model.predict(to_frame(examples, schema)))


def test_forcing_the_compiled_engine_on_a_model_it_cannot_compile_refuses_to_start() -> None:
    model, schema, examples = unknown_step_model()
    with pytest.raises(StartupError, match="PREDICTION_ENGINE=compiled.*RobustScaler"):
        choose_engine(model, schema, examples, mode=EngineMode.COMPILED)


def test_forcing_the_pipeline_never_compiles(served_model: tuple[Any, Schema, list[dict[str, Any]]]) -> None:
    model, schema, examples = served_model

    def must_not_run(*_: Any) -> CompiledModel:
        raise AssertionError("compiled although PREDICTION_ENGINE=pipeline")

    choice = choose_engine(model, schema, examples, mode=EngineMode.PIPELINE, compiler=must_not_run)
    assert (choice.name, choice.reason) == ("pipeline", "forced by PREDICTION_ENGINE=pipeline")


def test_a_compiled_engine_a_few_bits_off_is_caught_by_the_check_and_not_served(
    served_model: tuple[Any, Schema, list[dict[str, Any]]],
) -> None:
    model, schema, examples = served_model

    def one_leaf_off(model: Any, schema: Schema) -> CompiledModel:
        compiled = compile_model(model, schema)
        trees = compiled.trees
        assert trees is not None and trees.leaf_table is not None
        table = trees.leaf_table.copy()
        table[:256] *= 1 + 1e-9  # the first tree's leaves, a billionth off: about 1e-12 on the log price
        parts = tuple(replace(p, leaf_table=table) if isinstance(p, TreePart) else p for p in compiled.parts)
        return dataclasses.replace(compiled, parts=parts)

    choice = choose_engine(model, schema, examples, compiler=one_leaf_off)
    assert choice.name == "pipeline"
    assert "differs from the pipeline on" in choice.reason and "check rows" in choice.reason
    with pytest.raises(StartupError, match="differs from the pipeline"):
        choose_engine(model, schema, examples, compiler=one_leaf_off, mode=EngineMode.COMPILED)


@pytest.mark.parametrize("version", ["1.8.2", "1.10.0", "2.0.1"])
def test_scikit_learn_outside_the_checked_range_is_not_compiled(version: str) -> None:
    with pytest.raises(UnsupportedModelError, match=f"scikit-learn {version} is outside"):
        check_sklearn_version(version)


def test_the_checked_range_is_the_one_requirements_pins() -> None:
    from serving.engine import CHECKED_SKLEARN

    (low, high) = CHECKED_SKLEARN
    pinned = f"scikit-learn>={low[0]}.{low[1]},<{high[0]}.{high[1]}"
    assert pinned in (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    check_sklearn_version()  # the installed version is inside it
