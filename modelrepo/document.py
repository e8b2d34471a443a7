"""Base classes of the contract's JSON files: frozen, strict, written and read by model-repository folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ContractError


class ContractModel(BaseModel):
    """Frozen and strict about unknown fields: a typo in a contract file is an error, never a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ContractFile(ContractModel):
    """One JSON file of a model repository (`FILE_NAME` inside the version's folder)."""

    FILE_NAME: ClassVar[str]

    def write(self, folder: Path) -> Path:
        path = folder / self.FILE_NAME
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> Self:
        """Read and validate, with an error that names the file and the problem.

        Raises:
            ContractError: the file is missing, is not JSON, or does not match the contract.
        """
        path = folder / cls.FILE_NAME
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as error:
            raise ContractError(f"{path.name} is missing from {folder}: the model repository is incomplete.") from error
        except (json.JSONDecodeError, ValidationError) as error:
            raise ContractError(f"{path} does not follow the model-repository contract: {error}") from error
