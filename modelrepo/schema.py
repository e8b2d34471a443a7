"""`schema.json`: the input features and the target, which drive validation and every serving surface."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import Field

from .document import ContractFile, ContractModel
from .files import FORMAT_VERSION, SCHEMA_FILE

FeatureValue = bool | int | float | str


class FeatureKind(StrEnum):
    """How a feature is typed on every surface."""

    NUMBER = "number"
    INTEGER = "integer"
    CATEGORY = "category"
    BOOLEAN = "boolean"


class Feature(ContractModel):
    """One input column of the model."""

    name: str
    kind: FeatureKind
    nullable: bool = Field(description="Whether the value may be missing (null); the model imputes it.")
    default: FeatureValue | None = Field(description="Median (numbers) or mode (categories) of the training data.")
    minimum: float | None = None
    maximum: float | None = None
    accepted_minimum: float | None = Field(
        default=None, description="Below this a value is refused rather than priced (see `accepted_bounds`)."
    )
    accepted_maximum: float | None = Field(default=None, description="Above this a value is refused.")
    categories: list[str] | None = None
    description: str
    importance_rank: int = Field(ge=1, description="1 is the feature the model relies on most.")
    group: str
    title: str | None = Field(
        default=None, description="A readable name for people (the page's label); `name` stays the key everywhere."
    )
    labels: dict[str, str] | None = Field(
        default=None,
        description="Readable names of coded values, by the value as text (a number-coded feature's numbers: "
        '"20", "7"); the APIs keep taking and returning the codes.',
    )

    @property
    def is_numeric(self) -> bool:
        return self.kind in (FeatureKind.NUMBER, FeatureKind.INTEGER)

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def value_label(self, value: FeatureValue | None) -> str | None:
        """The readable name of a coded value (20 and 20.0 both find "20"), or None when it has none."""
        if value is None or not self.labels:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return self.labels.get(str(value))

    @property
    def accepted_range(self) -> tuple[float, float] | None:
        """The hard bounds of a number: as training stored them, or derived the same way for older schemas."""
        if not self.is_numeric or self.minimum is None or self.maximum is None:
            return None
        if self.accepted_minimum is not None and self.accepted_maximum is not None:
            return self.accepted_minimum, self.accepted_maximum
        return accepted_bounds(self.minimum, self.maximum, integer=self.kind is FeatureKind.INTEGER)


#: How far beyond the training range a number is still priced (with a warning), in multiples of the range.
ACCEPTED_SPAN_MULTIPLE = 1.0


def accepted_bounds(minimum: float, maximum: float, *, integer: bool = False) -> tuple[float, float]:
    """One observed span beyond each end of the training range (never below 0 for a feature never negative):
    far enough to price an unusual house with the extrapolation warning, near enough that `1e12` square feet is
    refused instead of priced at millions."""
    span = (maximum - minimum) or max(abs(maximum), 1.0)
    low, high = minimum - ACCEPTED_SPAN_MULTIPLE * span, maximum + ACCEPTED_SPAN_MULTIPLE * span
    if minimum >= 0:
        low = max(low, 0.0)
    if integer:
        low, high = float(math.floor(low)), float(math.ceil(high))
    return low, high


class Target(ContractModel):
    """What the model predicts."""

    name: str
    unit: str
    description: str


class Schema(ContractFile):
    """The whole input contract, in the training table's column order."""

    FILE_NAME = SCHEMA_FILE

    format_version: int = FORMAT_VERSION
    target: Target
    features: list[Feature]

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def by_importance(self) -> list[Feature]:
        return sorted(self.features, key=lambda feature: feature.importance_rank)

    def defaults(self) -> dict[str, FeatureValue | None]:
        return {feature.name: feature.default for feature in self.features}
