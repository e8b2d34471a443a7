"""The one validator every surface shares, on a small made-up schema covering every kind."""

from __future__ import annotations

import math

import pytest

from modelrepo import Feature, FeatureKind, Schema, Target
from serving.errors import InputError, TooLargeError
from serving.validation import Validator, observed_ranges, range_warnings


def feature(name: str, kind: FeatureKind, **extra: object) -> Feature:
    values: dict[str, object] = {
        "nullable": False,
        "default": None,
        "description": name,
        "importance_rank": 1,
        "group": "g",
    }
    return Feature(name=name, kind=kind, **(values | extra))  # type: ignore[arg-type]


SCHEMA = Schema(
    target=Target(name="price", unit="USD", description="price"),
    features=[
        feature("Area m2", FeatureKind.NUMBER, default=80.5, nullable=True, minimum=10, maximum=300),
        feature("Rooms", FeatureKind.INTEGER, default=3),
        feature("Garden", FeatureKind.BOOLEAN, default=False),
        feature("City/Zone", FeatureKind.CATEGORY, default="north", categories=["north", "south"], nullable=True),
    ],
)


@pytest.fixture
def validator() -> Validator:
    return Validator.for_schema(SCHEMA, max_rows=3)


def test_defaults_fill_omitted_features_and_null_means_missing(validator: Validator) -> None:
    assert validator.row({}) == {"Area m2": 80.5, "Rooms": 3, "Garden": False, "City/Zone": "north"}
    assert validator.row({"Area m2": None, "City/Zone": None, "Rooms": 4.0})["Rooms"] == 4
    assert validator.row({"Area m2": None})["Area m2"] is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"Area m2": "big"}, "Area m2: must be a number"),
        ({"Area m2": True}, "Area m2: must be a number"),
        ({"Area m2": math.nan}, "Area m2: must be a finite number"),
        ({"Area m2": math.inf}, "Area m2: must be a finite number"),
        ({"Rooms": 2.5}, "Rooms: must be a whole number"),
        ({"Rooms": "3"}, "Rooms: must be a whole number"),
        ({"Rooms": None}, "Rooms: may not be null"),
        ({"Garden": "yes"}, "Garden: must be true or false"),
        (
            {"City/Zone": "east"},
            "City/Zone: 'east' is not a category seen in training; expected one of 'north' or 'south'",
        ),
        ({"Pool": 1}, "unknown feature 'Pool'"),
        ({"Area m2": -1.5}, "Area m2: must be 0 or more (it is never negative)"),
    ],
)
def test_each_problem_names_the_field_and_the_expectation(validator: Validator, row: dict, message: str) -> None:
    with pytest.raises(InputError) as raised:
        validator.row(row)
    assert raised.value.problems == [message] or message in str(raised.value)


def test_every_problem_of_a_row_is_reported_at_once(validator: Validator) -> None:
    with pytest.raises(InputError) as raised:
        validator.row({"Rooms": "x", "Pool": 1})
    assert len(raised.value.problems) == 2


def test_long_inputs_are_not_echoed_in_full(validator: Validator) -> None:
    with pytest.raises(InputError) as raised:
        validator.row({"City/Zone": "x" * 10_000})
    assert len(str(raised.value)) < 200


def test_batches_keep_good_rows_and_number_bad_ones(validator: Validator) -> None:
    results = validator.rows([{}, {"Rooms": "x"}, "not an object"])
    assert results[0] == validator.row({})
    assert isinstance(results[1], InputError) and str(results[1]) == "row 2: Rooms: must be a whole number"
    assert isinstance(results[2], InputError) and "row 3: expected a JSON object" in str(results[2])
    with pytest.raises(TooLargeError, match="4 rows is over the limit of 3"):
        validator.rows([{}] * 4)
    with pytest.raises(InputError, match="empty"):
        validator.rows([])


def test_csv_cells_are_typed_by_the_schema(validator: Validator) -> None:
    content = b"Rooms,Area m2,Garden,City/Zone,Ignored\n4,120.5,true,south,x\n2.0,,no,,y\nmany,10,1,north,z\n"
    rows = validator.csv_rows(content)
    assert rows[0] == {"Rooms": 4, "Area m2": 120.5, "Garden": True, "City/Zone": "south"}
    assert rows[1] == {"Rooms": 2, "Area m2": None, "Garden": False, "City/Zone": None}
    assert rows[2]["Rooms"] == "many"
    results = validator.rows(rows)
    assert isinstance(results[2], InputError) and str(results[2]) == "row 3: Rooms: must be a whole number"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable CSV"),
        (b"a,b\n1,2\n", "no column of the file is a feature"),
        (b"\xff\xfe\x00bad", "not a readable CSV"),
    ],
)
def test_files_that_are_not_usable_csv_say_so(validator: Validator, content: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validator.csv_rows(content)


def test_values_outside_the_training_range_are_flagged_not_refused(validator: Validator) -> None:
    row = validator.row({"Area m2": 500.0, "Rooms": 2})
    assert range_warnings(row, observed_ranges(SCHEMA)) == [
        "Area m2: 500 is outside the training range 10 to 300; the estimate is an extrapolation"
    ]
    assert range_warnings(validator.row({"Area m2": None}), observed_ranges(SCHEMA)) == []
