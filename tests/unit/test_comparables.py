"""Comparable sales: the file training writes, its contract columns, and the rule `Comparables.nearest` follows."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelrepo import (
    CARD_FILE,
    COMPARABLES_FILE,
    MODEL_FILE,
    PRODUCTION_ALIAS,
    ComparableColumns,
    LocalStore,
    Manifest,
    Schema,
    Snapshot,
    Target,
    file_entry,
    hash_folder,
    load_model,
)
from modelrepo.comparables import AMES_DISPLAY
from modelrepo.metrics import Metrics
from serving import ServingSettings, load_served_model
from serving.comparables import Comparables
from serving.errors import StartupError
from training.comparables import write_comparables
from training.data import split_target
from training.features import build_schema, infer_kinds


@pytest.fixture(scope="module")
def schema(model_folder: Path) -> Schema:
    return Schema.read(model_folder)


@pytest.fixture(scope="module")
def comparables(model_folder: Path, schema: Schema) -> Comparables:
    loaded = Comparables.load(model_folder, schema=schema, model=load_model(model_folder / MODEL_FILE))
    assert loaded is not None and loaded.scaling == "model"
    return loaded


@pytest.fixture(scope="module")
def fitted(ames: pd.DataFrame) -> pd.DataFrame:
    """The sales the shipped model is fitted on: every Ames sale but the five over 4,000 sq ft."""
    return ames[ames["Gr Liv Area"] <= 4000].reset_index(drop=True)


def house(sale: pd.Series, schema: Schema) -> dict[str, Any]:
    """A training sale as the validator hands it on: every schema feature, None where missing."""
    return {name: plain(sale[name]) for name in schema.names}


def plain(value: Any) -> Any:
    if pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


# -- the file ---------------------------------------------------------------------------------------------


def test_training_writes_the_fitted_sales_with_only_the_contract_columns(
    model_folder: Path, schema: Schema, fitted: pd.DataFrame
) -> None:
    table = pd.read_csv(model_folder / COMPARABLES_FILE, keep_default_na=False, na_values=[""])
    columns = ComparableColumns.for_schema(schema)
    assert list(table.columns) == columns.all
    assert len(table) == Metrics.read(model_folder).training_rows == len(fitted) == 2925
    assert columns.group == "Neighborhood" and columns.sold == ("Mo Sold", "Yr Sold") and columns.target == "SalePrice"
    assert columns.display == AMES_DISPLAY
    numeric = [f.name for f in schema.by_importance() if f.kind.value in ("integer", "number")]
    assert columns.distance == tuple(numeric[:8])
    pd.testing.assert_frame_equal(table, fitted[columns.all], check_dtype=False)  # the real sales, in order

    entry = Manifest.read(model_folder).files[COMPARABLES_FILE]
    assert entry == file_entry(model_folder / COMPARABLES_FILE)
    card = (model_folder / CARD_FILE).read_text()
    assert f"holds `{COMPARABLES_FILE}`: the 2,925" in card and "`Neighborhood`, `Gr Liv Area`" in card


def test_the_same_data_gives_the_same_bytes(
    model_folder: Path, schema: Schema, ames: pd.DataFrame, tmp_path: Path
) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    mask = (table.features["Gr Liv Area"] <= 4000).to_numpy()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        written = write_comparables(tmp_path / name, table.features, table.target, fitted=mask, schema=schema)
        assert written.rows == 2925
    content = (tmp_path / "a" / COMPARABLES_FILE).read_bytes()
    assert content == (tmp_path / "b" / COMPARABLES_FILE).read_bytes() == (model_folder / COMPARABLES_FILE).read_bytes()
    assert b"\r" not in content and b".0," not in content  # integers stay integers: compact and exact


def test_another_table_compares_its_top_numeric_features_and_shows_its_top_six() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({f"n{i}": rng.normal(size=30) for i in range(10)})
    table["flag"] = rng.random(30) > 0.5
    table["colour"] = rng.choice(["red", "blue"], size=30)
    ranks = {"flag": 1, "colour": 2, **{f"n{i}": i + 3 for i in range(10)}}
    schema = build_schema(
        table, infer_kinds(table), target=Target(name="y", unit="u", description="y"), ranks=ranks, docs={}
    )
    columns = ComparableColumns.for_schema(schema)
    assert columns.display == ("flag", "colour", "n0", "n1", "n2", "n3")
    assert columns.distance == tuple(f"n{i}" for i in range(8))  # booleans and categories are not distances
    assert columns.group is None and columns.sold is None
    assert columns.all == ["flag", "colour", "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "y"]


def test_another_table_without_group_or_dates_round_trips_its_kinds(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "area": [50.5, 60.0, np.nan, 80.25],
            "rooms": [1, 2, 3, 2],
            "garden": [True, False, True, True],
            "colour": ["red", "blue", None, "red"],
        }
    )
    ranks = {"area": 1, "rooms": 2, "garden": 3, "colour": 4}
    schema = build_schema(
        table, infer_kinds(table), target=Target(name="y", unit="u", description="y"), ranks=ranks, docs={}
    )
    target = pd.Series([100.0, 200.0, 150.0, 120.5], name="y")
    written = write_comparables(tmp_path, table, target, fitted=np.array([True] * 4), schema=schema)
    assert written.columns == ("area", "rooms", "garden", "colour", "y")
    assert (tmp_path / COMPARABLES_FILE).read_text().splitlines()[3] == ",3,True,,150.0"

    loaded = Comparables.load(tmp_path, schema=schema, model=None)
    assert loaded is not None and loaded.scaling == "data" and loaded.columns.distance == ("area", "rooms")
    found = loaded.nearest({"area": None, "rooms": 3, "garden": True, "colour": None}, k=4)
    assert found[0].as_dict() == {
        "sale_price": 150.0,
        "sold": None,
        "distance": 0.0,
        "features": {"area": None, "rooms": 3, "garden": True, "colour": None},
        "same_group": False,
    }
    assert [c.sale_price for c in found[1:]] == [200.0, 120.5, 100.0]
    assert found[1].features == {"area": 60.0, "rooms": 2, "garden": False, "colour": "blue"}


# -- nearest ----------------------------------------------------------------------------------------------


def test_every_comparable_is_a_real_training_sale_with_its_price(
    comparables: Comparables, fitted: pd.DataFrame, schema: Schema
) -> None:
    shown = [*AMES_DISPLAY, "Mo Sold", "Yr Sold", "SalePrice"]
    sales = {tuple(None if pd.isna(v) else v for v in row) for row in fitted[shown].itertuples(index=False)}
    for index in range(0, len(fitted), 97):
        for comparable in comparables.nearest(house(fitted.iloc[index], schema)):
            month, year = (int(part) for part in reversed(comparable.sold.split("-"))) if comparable.sold else (0, 0)
            key = (*(comparable.features[name] for name in AMES_DISPLAY), month, year, comparable.sale_price)
            assert key in sales


def test_a_training_sale_finds_itself_first_at_distance_zero(
    comparables: Comparables, fitted: pd.DataFrame, schema: Schema
) -> None:
    for index in (0, 1, 500, 2924):
        sale = fitted.iloc[index]
        found = comparables.nearest(house(sale, schema))
        assert found[0].distance == 0.0
        itself = [c for c in found if c.distance == 0.0 and c.sale_price == sale["SalePrice"]]
        assert itself and itself[0].features == {name: house(sale, schema)[name] for name in AMES_DISPLAY}
        assert itself[0].sold == f"{sale['Yr Sold']}-{sale['Mo Sold']:02d}"


def test_same_neighbourhood_first_sorted_by_distance(
    comparables: Comparables, fitted: pd.DataFrame, schema: Schema
) -> None:
    sale = house(fitted.iloc[10], schema)
    found = comparables.nearest(sale, k=7)
    assert len(found) == 7 and len(comparables.nearest(sale)) == 5
    assert all(c.same_group and c.features["Neighborhood"] == sale["Neighborhood"] for c in found)
    assert [c.distance for c in found] == sorted(c.distance for c in found)
    assert set(found[0].as_dict()) == {"sale_price", "sold", "distance", "features", "same_group"}


def test_a_small_neighbourhood_gets_all_its_sales_then_the_nearest_others(
    comparables: Comparables, fitted: pd.DataFrame, schema: Schema
) -> None:
    green_hills = fitted[fitted["Neighborhood"] == "GrnHill"]
    assert len(green_hills) == 2
    found = comparables.nearest(house(green_hills.iloc[0], schema), k=5)
    assert [c.same_group for c in found] == [True, True, False, False, False]
    assert {c.sale_price for c in found[:2]} == set(green_hills["SalePrice"])
    assert all(c.features["Neighborhood"] != "GrnHill" for c in found[2:])
    assert [c.distance for c in found[2:]] == sorted(c.distance for c in found[2:])

    unknown = comparables.nearest({**house(green_hills.iloc[0], schema), "Neighborhood": None}, k=3)
    assert [c.same_group for c in unknown] == [False] * 3 and unknown[0].distance == 0.0


def test_the_distance_is_the_ridge_weighted_l1_of_the_model_scaled_features(
    comparables: Comparables, model_folder: Path, fitted: pd.DataFrame, schema: Schema
) -> None:
    """Recomputed through scikit-learn's own fitted transformer: Σ |coef_j| · |z_j(house) − z_j(sale)|."""
    model = load_model(model_folder / MODEL_FILE)
    ridge = model.regressor_.estimators_[0]
    columns = ridge.named_steps["columns"]
    numeric = next(selected for name, _, selected in columns.transformers_ if name == "numbers")
    scaled = columns.named_transformers_["numbers"].transform(fitted[numeric].astype(float))
    coef = np.abs(ridge.steps[-1][1].coef_[columns.output_indices_["numbers"]])
    chosen = [numeric.index(name) for name in comparables.columns.distance]
    sale = house(fitted.iloc[42], schema)
    expected = np.abs(scaled[:, chosen] - scaled[42, chosen]) @ coef[chosen]
    same = (fitted["Neighborhood"] == sale["Neighborhood"]).to_numpy()
    order = np.lexsort((np.arange(len(fitted)), expected, ~same))[:5]
    found = comparables.nearest(sale)
    assert [c.sale_price for c in found] == list(fitted["SalePrice"].to_numpy()[order].astype(float))
    assert [c.distance for c in found] == pytest.approx(list(expected[order]), abs=1e-12)


def test_missing_values_are_imputed_with_the_fitted_median(
    comparables: Comparables, model_folder: Path, fitted: pd.DataFrame, schema: Schema
) -> None:
    model = load_model(model_folder / MODEL_FILE)
    columns = model.regressor_.estimators_[0].named_steps["columns"]
    numeric = next(selected for name, _, selected in columns.transformers_ if name == "numbers")
    medians = dict(zip(numeric, columns.named_transformers_["numbers"].named_steps["impute"].statistics_, strict=True))
    sale = house(fitted.iloc[7], schema)
    blanks = dict.fromkeys(comparables.columns.distance[:3])
    missing = comparables.nearest({**sale, **blanks})
    at_median = comparables.nearest({**sale, **{name: medians[name] for name in blanks}})
    assert [c.as_dict() for c in missing] == [c.as_dict() for c in at_median]
    assert all(math.isfinite(c.distance) for c in missing)
    everything_missing = comparables.nearest(dict.fromkeys(schema.names), k=3)
    assert len(everything_missing) == 3 and not any(c.same_group for c in everything_missing)


def test_equal_distances_keep_the_file_order(model_folder: Path, schema: Schema, tmp_path: Path) -> None:
    folder = copy_without_comparables(model_folder, tmp_path)
    table = pd.read_csv(model_folder / COMPARABLES_FILE, keep_default_na=False, na_values=[""], dtype=str)
    twins = pd.concat([table.iloc[[5]]] * 3 + [table.iloc[[6]]] + [table.iloc[[5]]], ignore_index=True)
    twins["SalePrice"] = ["1", "2", "3", "4", "5"]
    twins.to_csv(folder / COMPARABLES_FILE, index=False, lineterminator="\n")
    loaded = Comparables.load(folder, schema=schema, model=load_model(folder / MODEL_FILE))
    assert loaded is not None and len(loaded) == 5
    first = pd.read_csv(folder / COMPARABLES_FILE, keep_default_na=False, na_values=[""]).iloc[0]
    row = {name: plain(first[name]) if name in first.index else None for name in schema.names}
    prices = [c.sale_price for c in loaded.nearest(row, k=4)]
    assert prices[:3] == [1.0, 2.0, 3.0] and prices[3] == 5.0  # the twins in row order, before anything else


def test_a_model_without_the_ridge_part_falls_back_to_the_file_statistics(
    model_folder: Path, schema: Schema, fitted: pd.DataFrame
) -> None:
    loaded = Comparables.load(model_folder, schema=schema, model=object())
    assert loaded is not None and loaded.scaling == "data"
    sale = house(fitted.iloc[3], schema)
    values = fitted[list(loaded.columns.distance)].astype(float)
    values = values.fillna(values.median())
    z = ((values - values.mean()) / values.std(ddof=0)).to_numpy()
    expected = np.abs(z - z[3]).sum(axis=1)
    same = (fitted["Neighborhood"] == sale["Neighborhood"]).to_numpy()
    order = np.lexsort((np.arange(len(fitted)), expected, ~same))[:5]
    found = loaded.nearest(sale)
    assert found[0].distance == 0.0
    assert [c.distance for c in found] == pytest.approx(list(expected[order]), abs=1e-9)


# -- loading ----------------------------------------------------------------------------------------------


def copy_without_comparables(model_folder: Path, tmp_path: Path) -> Path:
    folder = Path(shutil.copytree(model_folder, tmp_path / "copy"))
    (folder / COMPARABLES_FILE).unlink()
    return folder


def test_a_version_without_the_file_has_no_comparables(model_folder: Path, schema: Schema, tmp_path: Path) -> None:
    folder = copy_without_comparables(model_folder, tmp_path)
    assert Comparables.load(folder, schema=schema, model=None) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["Overall Qual"]), "column 'Overall Qual' is missing"),
        (lambda t: t.assign(PID="x"), "column 'PID' is not expected"),
        (lambda t: t.assign(**{"Garage Cars": ["2.5", *t["Garage Cars"][1:]]}), "'Garage Cars' line 2 holds '2.5'"),
        (lambda t: t.assign(**{"Lot Area": [*t["Lot Area"][:2], "big", *t["Lot Area"][3:]]}), "'Lot Area' line 4"),
        (lambda t: t.assign(Neighborhood=["Atlantis", *t["Neighborhood"][1:]]), "'Atlantis', expected a category"),
        (lambda t: t.assign(SalePrice=["-1", *t["SalePrice"][1:]]), "expected a positive sale price"),
        (lambda t: t.iloc[:0], "has no rows"),
    ],
    ids=["missing-column", "extra-column", "fraction", "not-a-number", "unknown-category", "price", "empty"],
)
def test_a_file_that_does_not_match_the_schema_is_refused_naming_the_column(
    model_folder: Path, schema: Schema, tmp_path: Path, change: Any, message: str
) -> None:
    folder = copy_without_comparables(model_folder, tmp_path)
    table = pd.read_csv(model_folder / COMPARABLES_FILE, keep_default_na=False, na_values=[""], dtype=str)
    change(table).to_csv(folder / COMPARABLES_FILE, index=False, lineterminator="\n")
    with pytest.raises(StartupError, match="comparables.csv") as raised:
        Comparables.load(folder, schema=schema, model=None)
    assert message in str(raised.value) and "--no-comparables" in str(raised.value)


# -- serving: verified with the version, loaded with the model ---------------------------------------------


def publish(folder: Path, tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "registry")
    store.set_alias(PRODUCTION_ALIAS, store.publish(folder, message="m"))
    return store


def without_comparables(model_folder: Path, tmp_path: Path) -> Path:
    """A consistent version that holds no comparables.csv (as `--no-comparables` writes it)."""
    folder = copy_without_comparables(model_folder, tmp_path)
    manifest = Manifest.read(folder)
    manifest.model_copy(update={"files": hash_folder(folder)}).write(folder)
    return folder


def test_the_served_model_carries_its_comparables_or_none(
    production: Snapshot, model_folder: Path, tmp_path: Path
) -> None:
    served = load_served_model(ServingSettings(registry=production.folder.parent, log_dir=tmp_path / "logs"))
    assert served.comparables is not None and len(served.comparables) == 2925
    assert served.comparables.scaling == "model" and served.timings["comparables"] < 0.5
    assert served.comparables.nearest(served.examples[0])[0].distance == 0.0  # the examples are training sales

    store = publish(without_comparables(model_folder, tmp_path), tmp_path)
    assert load_served_model(ServingSettings(registry=store.root, log_dir=tmp_path / "logs")).comparables is None


def test_a_tampered_comparables_file_is_refused(model_folder: Path, tmp_path: Path) -> None:
    store = publish(model_folder, tmp_path)
    target = store.root / "v1" / COMPARABLES_FILE
    target.chmod(0o644)
    target.write_text(target.read_text().replace(",215000\n", ",115000\n", 1))
    with pytest.raises(StartupError, match="failed verification: comparables.csv has sha256"):
        load_served_model(ServingSettings(registry=store.root, log_dir=tmp_path / "logs"))


def test_a_comparables_file_the_manifest_does_not_list_is_refused(model_folder: Path, tmp_path: Path) -> None:
    store = publish(without_comparables(model_folder, tmp_path), tmp_path)
    shutil.copy(model_folder / COMPARABLES_FILE, store.root / "v1" / COMPARABLES_FILE)
    with pytest.raises(StartupError, match="comparables.csv is not listed in the manifest"):
        load_served_model(ServingSettings(registry=store.root, log_dir=tmp_path / "logs"))
