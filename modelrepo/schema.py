"""`schema.json`: the input features and the target, which drive validation and every serving surface."""

from __future__ import annotations

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
    categories: list[str] | None = None
    description: str
    importance_rank: int = Field(ge=1, description="1 is the feature the model relies on most.")
    group: str

    @property
    def is_numeric(self) -> bool:
        return self.kind in (FeatureKind.NUMBER, FeatureKind.INTEGER)


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
