from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training.data import AMES_CSV, fingerprint, outlier_mask, read_table, split_target
from training.errors import DataError


def test_bundled_ames_table_is_the_full_de_cock_data(ames: pd.DataFrame) -> None:
    assert ames.shape == (2930, 82)
    assert ames["SalePrice"].between(10_000, 1_000_000).all()


def test_none_stays_a_category_and_only_empty_cells_are_missing(ames: pd.DataFrame) -> None:
    assert (ames["Mas Vnr Type"] == "None").sum() == 1752
    assert ames["Mas Vnr Type"].isna().sum() == 23


def test_identifiers_and_target_are_not_features(ames: pd.DataFrame) -> None:
    table = split_target(ames, target="SalePrice", drop=("Order", "PID"), source="ames")
    assert {"Order", "PID", "SalePrice"}.isdisjoint(table.features.columns)
    assert table.features.shape == (2930, 79)
    assert table.fingerprint.rows == 2930 and table.fingerprint.columns == 82


def test_fingerprint_depends_on_content_not_on_file(ames: pd.DataFrame, tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"
    ames.to_csv(copy, index=False)
    assert fingerprint(read_table(copy), source="a").sha256 == fingerprint(ames, source="b").sha256
    changed = ames.copy()
    changed.loc[0, "SalePrice"] += 1
    assert fingerprint(changed, source="a").sha256 != fingerprint(ames, source="a").sha256


def test_five_houses_over_4000_square_feet_are_outliers(ames: pd.DataFrame) -> None:
    assert outlier_mask(ames, column="Gr Liv Area", above=4000).sum() == 5
    assert not outlier_mask(ames, column="No Such Column", above=4000).any()


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        (None, "SalePrice", "Data file not found"),
        ("a,b\n", "b", "no data rows"),
        ("a,b\n1,2\n", "price", "Target column 'price' is not in the data"),
        ("a,price\n1,cheap\n2,3\n", "price", "must be numeric"),
        ("a,price\n1,-5\n", "price", "must be positive"),
    ],
)
def test_unusable_tables_stop_with_a_message_that_says_what_to_fix(
    tmp_path: Path, content: str | None, target: str, message: str
) -> None:
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        split_target(read_table(path), target=target, drop=(), source="test")


def test_bundled_file_is_a_small_compressed_csv() -> None:
    assert AMES_CSV.suffixes == [".csv", ".gz"]
    assert AMES_CSV.stat().st_size < 250_000
