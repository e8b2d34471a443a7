from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelrepo import FeatureKind, Schema, Target
from training.data import AMES_FEATURE_DOCS, split_target
from training.errors import DataError
from training.features import build_schema, identifier_columns, infer_kinds, model_columns, read_feature_docs

TARGET = Target(name="price", unit="USD", description="price")


def test_kinds_inferred_on_a_made_up_table() -> None:
    table = pd.DataFrame(
        {
            "area": [50.5, 60.0, np.nan, 80.25],
            "rooms": [1, 2, 3, 2],
            "floors": [1.0, 2.0, np.nan, 1.0],
            "garden": [True, False, True, True],
            "colour": ["red", "blue", None, "red"],
        }
    )
    kinds = infer_kinds(table)
    assert kinds == {
        "area": FeatureKind.NUMBER,
        "rooms": FeatureKind.INTEGER,
        "floors": FeatureKind.INTEGER,
        "garden": FeatureKind.BOOLEAN,
        "colour": FeatureKind.CATEGORY,
    }
    assert model_columns(kinds) == (["area", "rooms", "floors", "garden"], ["colour"])

    schema = build_schema(table, kinds, target=TARGET, ranks={"rooms": 1, "area": 2}, docs={})
    area, rooms, floors, garden, colour = schema.features
    assert (area.nullable, area.minimum, area.maximum, area.default) == (True, 50.5, 80.25, 60.0)
    assert (rooms.nullable, rooms.default, rooms.importance_rank) == (False, 2, 1)
    assert floors.default == 1 and isinstance(floors.default, int)
    assert garden.kind is FeatureKind.BOOLEAN and garden.default is True
    assert colour.categories == ["blue", "red"] and colour.default == "red" and colour.nullable
    assert "one of 2 categories" in colour.description and colour.group == "Other"
    assert Schema.model_validate_json(schema.model_dump_json()) == schema


def test_identifier_columns_are_recognised() -> None:
    rows = 40
    table = pd.DataFrame(
        {"id": range(1, rows + 1), "code": [f"c{i}" for i in range(rows)], "rooms": np.arange(rows) % 5}
    )
    assert identifier_columns(table, infer_kinds(table)) == ["id", "code"]


def test_ames_schema_has_docs_groups_ranges_and_categories(ames: pd.DataFrame) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    kinds = infer_kinds(table.features)
    docs = read_feature_docs(AMES_FEATURE_DOCS)
    schema = build_schema(table.features, kinds, target=TARGET, ranks={}, docs=docs)

    assert len(schema.features) == 79 and set(docs) == set(schema.names)
    assert all(feature.description and feature.group != "Other" for feature in schema.features)
    living = schema.feature("Gr Liv Area")
    assert (living.kind, living.minimum, living.maximum) == (FeatureKind.INTEGER, 334, 5642)
    veneer = schema.feature("Mas Vnr Type")
    assert veneer.kind is FeatureKind.CATEGORY and "None" in (veneer.categories or []) and veneer.nullable
    assert schema.feature("Neighborhood").default == "NAmes"
    assert schema.feature("Lot Frontage").nullable


def test_an_omitted_field_defaults_to_missing_where_most_houses_have_none(model_folder: Path) -> None:
    """Regression: an omitted Pool QC meant an excellent pool (the mode of the 13 houses that have one)."""
    from modelrepo import Schema

    schema = Schema.read(model_folder)
    for name in ("Pool QC", "Alley", "Fence", "Misc Feature", "Fireplace Qu"):
        assert schema.feature(name).default is None, name
    assert schema.feature("Garage Yr Blt").default is not None and schema.feature("Lot Frontage").default is not None


#: Number-coded Ames columns whose numbers stand for documented names (the dwelling type, the 1-10 ratings).
NUMBER_CODED = ("MS SubClass", "Overall Qual", "Overall Cond")


def test_every_code_in_the_ames_data_has_a_documented_name(ames: pd.DataFrame) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    kinds = infer_kinds(table.features)
    docs = read_feature_docs(AMES_FEATURE_DOCS)
    coded = [name for name, kind in kinds.items() if kind is FeatureKind.CATEGORY] + list(NUMBER_CODED)
    assert len(coded) == 46
    unnamed = {
        name: sorted(set(table.features[name].dropna().astype(str)) - set(docs[name].get("values", {})))
        for name in coded
    }
    assert {name: codes for name, codes in unnamed.items() if codes} == {}
    assert all(docs[name].get("title") for name in docs), "every feature has a readable title"


def test_titles_and_value_names_reach_the_schema(ames: pd.DataFrame) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    kinds = infer_kinds(table.features)
    schema = build_schema(table.features, kinds, target=TARGET, ranks={}, docs=read_feature_docs(AMES_FEATURE_DOCS))
    living = schema.feature("Gr Liv Area")
    assert (living.title, living.labels) == ("Above-grade living area (sq ft)", None)
    neighborhood = schema.feature("Neighborhood")
    assert set(neighborhood.labels or {}) == set(neighborhood.categories or [])
    assert neighborhood.value_label("NAmes") == "North Ames" and neighborhood.value_label("Atlantis") is None
    quality = schema.feature("Overall Qual")
    assert quality.kind is FeatureKind.INTEGER and list(quality.labels or {}) == [str(n) for n in range(1, 11)]
    assert quality.value_label(10) == quality.value_label(10.0) == "Very excellent"
    # Only the codes training saw: no house in Ames has an overall condition of 10.
    assert "10" not in (schema.feature("Overall Cond").labels or {})
    assert schema.feature("Sale Type").value_label("WD ") == "Warranty deed, conventional"
    assert Schema.model_validate_json(schema.model_dump_json()) == schema


def test_a_schema_written_before_titles_and_labels_still_loads(ames: pd.DataFrame) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    schema = build_schema(
        table.features, infer_kinds(table.features), target=TARGET, ranks={}, docs=read_feature_docs(AMES_FEATURE_DOCS)
    )
    old = schema.model_dump(mode="json")
    for feature in old["features"]:
        del feature["title"], feature["labels"]
    loaded = Schema.model_validate(old)
    neighborhood = loaded.feature("Neighborhood")
    assert (neighborhood.title, neighborhood.labels, neighborhood.display_name) == (None, None, "Neighborhood")
    assert neighborhood.value_label("NAmes") is None


def test_a_table_without_docs_has_no_titles_and_bad_value_names_are_refused(tmp_path: Path) -> None:
    table = pd.DataFrame({"colour": ["red", "blue", "red"], "rooms": [1, 2, 3]})
    schema = build_schema(table, infer_kinds(table), target=TARGET, ranks={}, docs={})
    assert all(feature.title is None and feature.labels is None for feature in schema.features)

    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps({"features": {"colour": {"values": {"red": 1}}}}), encoding="utf-8")
    with pytest.raises(DataError, match=r"'colour' must hold text"):
        read_feature_docs(docs)
    docs.write_text(json.dumps({"features": {"colour": {"title": "Colour", "values": {"red": "Red"}}}}))
    labelled = build_schema(table, infer_kinds(table), target=TARGET, ranks={}, docs=read_feature_docs(docs))
    colour = labelled.feature("colour")
    assert (colour.title, colour.labels) == ("Colour", {"red": "Red"})
