"""Why this price: the attributions add up to the prediction and equal brute-force Shapley values.

The trees' part is checked against an independent computation: Shapley values by enumeration of every set of
features, with the path-dependent value function evaluated by a plain recursive walk over scikit-learn's own
fitted nodes (decisions taken from the raw node fields, not from the engine's tables). The ridge part is checked
against the pipeline's own predictions.
"""

from __future__ import annotations

import gzip
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelrepo import MODEL_FILE, Schema, Snapshot, load_model, to_frame
from modelrepo.reference import Reference
from serving.engine import compile_model
from serving.engine.shapley import ModelAttribution, TreeAttribution, attribute_model, product_shapley
from serving.explanation import explain_rows
from serving.validation import Row
from training import train
from training.data import AMES_CSV

from .test_engine import made_up_options, made_up_table, validated

# --- The shipped model's shape, on every Ames row -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped(production: Snapshot) -> tuple[Any, Schema, ModelAttribution]:
    model, schema = load_model(production.folder / MODEL_FILE), Schema.read(production.folder)
    return model, schema, attribute_model(compile_model(model, schema), Reference.read(production.folder))


def test_on_every_ames_row_the_base_and_the_effects_add_up_to_the_log_of_the_pipelines_price(
    shipped: tuple[Any, Schema, ModelAttribution],
) -> None:
    model, schema, attribution = shipped
    rows = validated(schema, gzip.decompress(AMES_CSV.read_bytes()))
    assert len(rows) == 2930
    result = attribution.explain(rows)
    log_price = np.log(model.predict(to_frame(rows, schema)))
    assert np.max(np.abs(result.base + result.contributions.sum(axis=1) - log_price)) < 1e-9
    # Every schema feature, then each engineered column (its own effect: it is a column the model reads).
    engineered = [column.name for column in attribution.model.layout.derived]
    assert len(engineered) == 5
    layout = attribution.model.layout
    assert list(attribution.features) == [*layout.raw_numeric, *engineered, *(c.name for c in layout.categorical)]
    assert len(attribution.features) == result.contributions.shape[1] == len(schema.features) + len(engineered)
    # One row alone is explained as in a batch.
    alone = attribution.explain(rows[7:8]).contributions[0]
    assert np.max(np.abs(alone - result.contributions[7])) < 1e-12


def test_the_shipped_trees_are_explained_from_byte_tables(shipped: tuple[Any, Schema, ModelAttribution]) -> None:
    trees = next(part for part in shipped[2].parts if isinstance(part, TreeAttribution))
    assert trees.table is not None  # the fast path: one gather per tree


def test_an_explanation_lists_every_feature_largest_first_in_percent_and_dollars_that_add_up(
    shipped: tuple[Any, Schema, ModelAttribution], production: Snapshot
) -> None:
    model, schema, attribution = shipped
    row = validated(schema, to_frame([{}], schema).to_csv(index=False).encode())[0]
    (explanation,) = explain_rows(attribution, [row])
    price = float(model.predict(to_frame([row], schema))[0])
    effects = [c.log_effect for c in explanation.contributions]
    assert [abs(e) for e in effects] == sorted((abs(e) for e in effects), reverse=True)
    assert abs(explanation.base_log_price + sum(effects) - math.log(price)) < 1e-9
    assert explanation.base_price + sum(c.dollars for c in explanation.contributions) == pytest.approx(price, rel=1e-12)
    for contribution in explanation.contributions:
        assert contribution.percent == pytest.approx(math.expm1(contribution.log_effect) * 100)
        assert contribution.value == (row | _engineered(row))[contribution.feature]
        assert np.sign(contribution.dollars) == np.sign(contribution.log_effect)


def _engineered(row: Row) -> dict[str, float]:
    """The engineered columns of a row, as De Cock's documentation defines them (written out by hand)."""
    number = {name: 0 if row[name] is None else row[name] for name in row}
    return {
        "Total area incl. basement": number["Gr Liv Area"] + number["Total Bsmt SF"],
        "Porch and deck area": sum(
            number[name] for name in ("Wood Deck SF", "Open Porch SF", "Enclosed Porch", "3Ssn Porch", "Screen Porch")
        ),
        "Age at sale": number["Yr Sold"] - number["Year Built"],
        "Years since remodel at sale": number["Yr Sold"] - number["Year Remod/Add"],
        "Quality × living area": number["Overall Qual"] * number["Gr Liv Area"],
    }


def test_more_living_area_has_a_larger_effect_of_its_own(shipped: tuple[Any, Schema, ModelAttribution]) -> None:
    _, schema, attribution = shipped
    base = validated(schema, to_frame([{}], schema).to_csv(index=False).encode())[0]
    small, large = {**base, "Gr Liv Area": 1000}, {**base, "Gr Liv Area": 2400}
    index = attribution.features.index("Gr Liv Area")
    effects = attribution.explain([small, large]).contributions[:, index]
    assert effects[0] < 0 < effects[1]


# --- Brute force on small models ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[8, 31], ids=["byte-tables", "deeper-trees"])
def small(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp(f"explain-{request.param}")
    csv = folder / "mixed.csv"
    made_up_table("mixed", rows=400, seed=3).to_csv(csv, index=False)
    options = made_up_options(csv, folder / "model", hgb_max_iter=40, hgb_max_leaf_nodes=request.param)
    report = train(options, progress=lambda _: None)
    model, schema = load_model(report.folder / MODEL_FILE), Schema.read(report.folder)
    compiled = compile_model(model, schema)
    rows = validated(schema, csv.read_bytes())
    return {
        "model": model,
        "schema": schema,
        "compiled": compiled,
        "attribution": attribute_model(compiled, Reference.read(report.folder)),
        "rows": rows,
        "leaves": request.param,
    }


def test_small_models_are_explained_additively_with_the_training_average_as_base(small: dict[str, Any]) -> None:
    model, schema, attribution, rows = small["model"], small["schema"], small["attribution"], small["rows"]
    result = attribution.explain(rows)
    log_price = np.log(model.predict(to_frame(rows, schema)))
    assert np.max(np.abs(result.base + result.contributions.sum(axis=1) - log_price)) < 1e-9
    # Fitted on every row of the table that reference.json profiles: the base is the mean prediction exactly.
    assert result.base == pytest.approx(float(np.mean(log_price)), abs=1e-9)
    trees = next(part for part in attribution.parts if isinstance(part, TreeAttribution))
    assert (trees.table is None) == (small["leaves"] > 9)


def test_the_trees_attributions_equal_brute_force_shapley_values(small: dict[str, Any]) -> None:
    model, schema, compiled, attribution = small["model"], small["schema"], small["compiled"], small["attribution"]
    rows: list[Row] = small["rows"][::20]
    trees_pipeline = model.regressor_.estimators_[1]
    inner, names = _inner_matrix(trees_pipeline, to_frame(rows, schema))
    hgb = trees_pipeline.steps[-1][1]
    known, feature_rows = hgb._bin_mapper.make_known_categories_bitsets()
    trees = [iteration[0] for iteration in hgb._predictors]
    features = list(attribution.features)
    engine = next(part for part in attribution.parts if isinstance(part, TreeAttribution))
    numbers, slots = compiled.layout.arrays(rows)
    ours = engine.contributions(numbers, slots, len(features))
    assert any("town" == name for name in names) and any(np.isnan(inner).ravel())  # categories and missing values

    for n, x in enumerate(inner):

        def value(subset: frozenset[str], x: np.ndarray = x) -> float:
            return sum(_expected(tree, 0, x, subset, names, known, feature_rows) for tree in trees)

        expected = _brute_force_shapley(value, sorted(set(names)))
        for name, phi in expected.items():
            assert ours[n, features.index(name)] == pytest.approx(phi, abs=1e-12)
        assert ours[n].sum() == pytest.approx(sum(expected.values()), abs=1e-12)


def test_the_ridge_effects_are_its_own_differences_and_average_to_zero(small: dict[str, Any]) -> None:
    model, schema, attribution, rows = small["model"], small["schema"], small["attribution"], small["rows"]
    ridge = model.regressor_.estimators_[0]
    part = next(p for p in attribution.parts if not isinstance(p, TreeAttribution))
    numbers, slots = attribution.model.layout.arrays(rows)
    effects = part.contributions(numbers, slots, len(attribution.features))
    predictions = ridge.predict(to_frame(rows, schema))
    assert np.max(np.abs(part.base + effects.sum(axis=1) - predictions)) < 1e-9
    assert part.base == pytest.approx(float(np.mean(predictions)), abs=1e-9)
    first = rows[0]
    for name in attribution.features:
        other = next(row for row in rows if row[name] != first[name])
        changed = {**first, name: other[name]}
        pair = ridge.predict(to_frame([first, changed], schema))
        index = attribution.features.index(name)
        moved = part.contributions(*attribution.model.layout.arrays([first, changed]), len(attribution.features))
        assert moved[1, index] - moved[0, index] == pytest.approx(pair[1] - pair[0], abs=1e-12)
        assert np.delete(moved[1] - moved[0], index) == pytest.approx(0.0, abs=1e-15)


def test_product_shapley_matches_enumeration_for_random_games() -> None:
    rng = np.random.default_rng(0)
    players = 5
    one = rng.random((40, players)) < 0.6
    zero = rng.uniform(0.05, 1.0, (40, players))
    weights = np.array([math.factorial(s) * math.factorial(players - 1 - s) for s in range(players)]) / math.factorial(
        players
    )
    values = product_shapley(one, zero, weights)
    for row in range(40):

        def game(subset: frozenset[int], row: int = row) -> float:
            return float(np.prod([one[row, j] if j in subset else zero[row, j] for j in range(players)]))

        expected = _brute_force_shapley(game, list(range(players)))
        assert [values[row, j] for j in range(players)] == pytest.approx([expected[j] for j in range(players)])


# --- The independent computation ------------------------------------------------------------------------------------


def _brute_force_shapley(value: Any, players: list[Any]) -> dict[Any, float]:
    count = len(players)
    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(count):
            weight = math.factorial(size) * math.factorial(count - size - 1) / math.factorial(count)
            for subset in itertools.combinations(others, size):
                total += weight * (value(frozenset(subset) | {player}) - value(frozenset(subset)))
        result[player] = total
    return result


def _expected(
    tree: Any,
    node_id: int,
    x: np.ndarray,
    subset: frozenset[str],
    names: list[str],
    known: np.ndarray,
    feature_rows: np.ndarray,
) -> float:
    """The tree's output when the features in `subset` follow x and the others are averaged by training rows."""
    node = tree.nodes[node_id]
    if node["is_leaf"]:
        return float(node["value"])
    left, right = int(node["left"]), int(node["right"])
    if names[int(node["feature_idx"])] in subset:
        goes_left = _goes_left(tree, node, x[int(node["feature_idx"])], known, feature_rows)
        return _expected(tree, left if goes_left else right, x, subset, names, known, feature_rows)
    share = tree.nodes[left]["count"] / node["count"]
    return share * _expected(tree, left, x, subset, names, known, feature_rows) + (1 - share) * _expected(
        tree, right, x, subset, names, known, feature_rows
    )


def _goes_left(tree: Any, node: Any, value: float, known: np.ndarray, feature_rows: np.ndarray) -> bool:
    """As scikit-learn's `_predict_one_from_raw_data` decides, written out from its node fields."""
    if math.isnan(value):
        return bool(node["missing_go_to_left"])
    if node["is_categorical"]:
        code = int(value)
        row = known[feature_rows[int(node["feature_idx"])]]
        if not (row[code // 32] >> (code % 32)) & 1:  # a category the trees never saw: the missing-value route
            return bool(node["missing_go_to_left"])
        sent_left = tree.raw_left_cat_bitsets[int(node["bitset_idx"])]
        return bool((sent_left[code // 32] >> (code % 32)) & 1)
    return bool(value <= node["num_threshold"])


def _inner_matrix(pipeline: Any, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The matrix the trees split on, and the input feature of each of its columns."""
    columns, hgb = pipeline.steps[0][1], pipeline.steps[-1][1]
    outer = np.asarray(columns.transform(frame), dtype=np.float64)
    outer_names = [str(name) for _, _, selected in columns.transformers_ if selected for name in selected]
    outer_names = [name for name in outer_names if name in frame.columns][: outer.shape[1]]
    preprocessor = hgb._preprocessor
    if preprocessor is None:
        return outer, outer_names
    inner = np.asarray(preprocessor.transform(outer), dtype=np.float64)
    names = [""] * inner.shape[1]
    for name, _, selected in preprocessor.transformers_:
        indices = np.flatnonzero(selected) if np.asarray(selected).dtype == bool else np.asarray(selected, dtype=int)
        positions = range(inner.shape[1])[preprocessor.output_indices_[name]]
        for position, index in zip(positions, indices, strict=True):
            names[position] = outer_names[index]
    return inner, names
