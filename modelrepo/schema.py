"""`schema.json`: the input features and the target, which drive validation and every serving surface."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ContractError
from .files import FORMAT_VERSION

FeatureValue = bool | int | float | str
_Model = TypeVar("_Model", bound=BaseModel)


class FeatureKind(StrEnum):
    """How a feature is typed on every surface."""

    NUMBER = "number"
    INTEGER = "integer"
    CATEGORY = "category"
    BOOLEAN = "boolean"


class Feature(BaseModel):
    """One input column of the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


class Target(BaseModel):
    """What the model predicts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    unit: str
    description: str


class Schema(BaseModel):
    """The whole input contract, in the training table's column order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Schema:
        return read_model_file(cls, path)


def read_model_file(model: type[_Model], path: Path) -> _Model:
    """Read one JSON file of the contract, with an error that names the file and the problem."""
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as error:
        raise ContractError(
            f"{path.name} is missing from {path.parent}: the model repository is incomplete."
        ) from error
    except (json.JSONDecodeError, ValidationError) as error:
        raise ContractError(f"{path} does not follow the model-repository contract: {error}") from error
