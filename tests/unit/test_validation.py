"""The one validator every surface shares, on a small made-up schema covering every kind."""

from __future__ import annotations

import math

import pytest

from modelrepo import Feature, FeatureKind, Schema, Target
from modelrepo.schema import accepted_bounds
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
        ({"Area m2": -1.5}, "Area m2: -1.5 is outside the accepted range 0 to 590 (it is never negative)"),
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


# --- Absurd numbers: refused beyond the accepted range, priced (with a warning) a little outside training -------


def test_the_accepted_range_is_one_observed_span_beyond_training_and_never_below_zero_if_never_negative() -> None:
    assert accepted_bounds(10, 300) == (0.0, 590.0)  # never negative: 10 - 290 is clipped at 0
    assert accepted_bounds(-5, 5) == (-15.0, 15.0)
    assert accepted_bounds(1872, 2010, integer=True) == (1734.0, 2148.0)
    assert accepted_bounds(0.5, 0.75, integer=True) == (0.0, 1.0)  # integers round outwards
    assert accepted_bounds(7, 7) == (0.0, 14.0)  # a constant column: its own size as the span
    stored = feature("Lot", FeatureKind.NUMBER, minimum=1, maximum=2, accepted_minimum=0.5, accepted_maximum=9)
    assert stored.accepted_range == (0.5, 9)  # as training stored it
    assert feature("Area m2", FeatureKind.NUMBER, minimum=10, maximum=300).accepted_range == (0.0, 590.0)


@pytest.mark.parametrize(
    ("value", "shown"), [(1e308, "1e+308"), (1e12, "1,000,000,000,000"), (591.0, "591"), (-1.0, "-1")], ids=str
)
def test_a_number_beyond_the_accepted_range_is_refused_naming_field_value_and_range(
    validator: Validator, value: float, shown: str
) -> None:
    with pytest.raises(InputError) as refused:
        validator.row({"Area m2": value})
    (problem,) = refused.value.problems
    assert problem.startswith(f"Area m2: {shown} is outside the accepted range 0 to 590")
    assert ("(it is never negative)" in problem) is (value < 0)


def test_a_number_a_little_outside_training_is_priced_with_a_warning(validator: Validator) -> None:
    row = validator.row({"Area m2": 450.0})
    assert range_warnings(row, observed_ranges(SCHEMA)) == [
        "Area m2: 450 is outside the training range 10 to 300; the estimate is an extrapolation"
    ]


def test_the_documented_model_publishes_the_accepted_range(validator: Validator) -> None:
    area = validator.model.model_json_schema(by_alias=True)["properties"]["Area m2"]["anyOf"][0]
    assert (area["minimum"], area["maximum"]) == (0.0, 590.0)


def test_an_integer_too_large_for_a_float_is_refused_not_a_server_error() -> None:
    """Regression: naming the value converted it to a float, and 10**400 raised OverflowError (a 500)."""
    rooms = feature("Rooms", FeatureKind.INTEGER, default=3, minimum=1, maximum=9)
    validator = Validator.for_schema(Schema(target=SCHEMA.target, features=[rooms]), max_rows=3)
    with pytest.raises(InputError, match=r"Rooms: 1\.00e\+400 is outside the accepted range 0 to 17"):
        validator.row({"Rooms": 10**400})
    with pytest.raises(InputError, match=r"Rooms: -1\.00e\+400 is outside the accepted range 0 to 17"):
        validator.row({"Rooms": -(10**400)})
