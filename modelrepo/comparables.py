"""`comparables.csv`: the training sales a version was fitted on, so that serving can show comparable sales.

The file is optional (training leaves it out with `--no-comparables`, for data that must not be shown) and,
when present, listed in `manifest.json` like every other file. It holds one row per sale the final model was
fitted on, in the training table's order, and only the columns `ComparableColumns.for_schema` names. Both
sides derive the columns from `schema.json` alone, so training and serving always agree on them:

- **group**: `Neighborhood` when the schema has it as a category (comparables in the same group come first);
- **display**: what a person compares: for Ames (a schema with every column of `AMES_DISPLAY`) living area,
  overall quality, year built, lot area, garage cars, full and half baths, basement area and neighbourhood;
  for any other table the `DISPLAY_COUNT` most important features;
- **distance**: the `DISTANCE_COUNT` most important numeric (integer or number, not boolean) features, over
  which serving measures how alike two houses are;
- **target**: the sale price, as in the training data;
- **sold**: `Mo Sold` and `Yr Sold` when the schema has both, for the date of the sale.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import FeatureKind, Schema

GROUP_COLUMN = "Neighborhood"
SOLD_COLUMNS = ("Mo Sold", "Yr Sold")
AMES_DISPLAY = (
    "Gr Liv Area",
    "Overall Qual",
    "Year Built",
    "Lot Area",
    "Garage Cars",
    "Full Bath",
    "Half Bath",
    "Total Bsmt SF",
    "Neighborhood",
)
DISTANCE_COUNT = 8
DISPLAY_COUNT = 6


@dataclass(frozen=True)
class ComparableColumns:
    """Which columns `comparables.csv` holds, and what each is for (see the module docstring)."""

    group: str | None
    display: tuple[str, ...]
    distance: tuple[str, ...]
    target: str
    sold: tuple[str, str] | None

    @classmethod
    def for_schema(cls, schema: Schema) -> ComparableColumns:
        names = set(schema.names)
        ranked = schema.by_importance()
        has_group = GROUP_COLUMN in names and schema.feature(GROUP_COLUMN).kind is FeatureKind.CATEGORY
        display = (
            AMES_DISPLAY
            if names.issuperset(AMES_DISPLAY)
            else tuple(feature.name for feature in ranked[:DISPLAY_COUNT])
        )
        distance = tuple(feature.name for feature in ranked if feature.is_numeric)[:DISTANCE_COUNT]
        return cls(
            group=GROUP_COLUMN if has_group else None,
            display=display,
            distance=distance,
            target=schema.target.name,
            sold=SOLD_COLUMNS if names.issuperset(SOLD_COLUMNS) else None,
        )

    @property
    def features(self) -> list[str]:
        """The feature columns of the file, each once: group, display, distance, then sold."""
        ordered = [*([self.group] if self.group else []), *self.display, *self.distance, *(self.sold or ())]
        return list(dict.fromkeys(ordered))

    @property
    def all(self) -> list[str]:
        """Every column of the file, in its order: the features, then the target."""
        return [*self.features, self.target]
