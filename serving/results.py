"""What a prediction returns: the leaf types that the predictor, the monitor and every surface share."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .explanation import Explanation

#: The wider range's level: its ends are the `low_95` and `high_95` fields of the log and of tabular outputs.
WIDE_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Band:
    """A price range: the sale price falls between `low` and `high` for a share `level` of houses like this one."""

    level: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"level": self.level, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Estimate:
    """One price, in dollars, with its ranges: `low`, `high` and `level` are the narrowest (80%), `intervals` all
    of them (80% and 95%; an old version's one 80% band)."""

    price: float
    low: float
    high: float
    level: float
    model_version: str
    model_commit: str
    request_id: str
    warnings: list[str] = field(default_factory=list)
    intervals: tuple[Band, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The response body of every surface (built by hand: `dataclasses.asdict` deep-copies, 5× slower)."""
        return {
            "price": self.price,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "intervals": [band.as_dict() for band in self.bands],
            "model_version": self.model_version,
            "model_commit": self.model_commit,
            "request_id": self.request_id,
            "warnings": list(self.warnings),
        }

    @property
    def bands(self) -> tuple[Band, ...]:
        """Every range, narrowest first (at least the one of `low` and `high`)."""
        return self.intervals or (Band(self.level, self.low, self.high),)

    def band(self, level: float) -> Band | None:
        """The range at `level`, or None when this version has none (an old version has no 95% range)."""
        return next((band for band in self.bands if math.isclose(band.level, level)), None)

    @property
    def wide(self) -> tuple[float | None, float | None]:
        """(low, high) of the 95% range, or (None, None) for a version without one: a table's two columns."""
        band = self.band(WIDE_LEVEL)
        return (band.low, band.high) if band is not None else (None, None)


@dataclass(frozen=True)
class ExplainedEstimate:
    """An estimate with why (the feature effects) and what similar houses sold for: one response on every surface."""

    estimate: Estimate
    explanation: Explanation
    comparables: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {**self.estimate.as_dict(), **self.explanation.as_dict(), "comparables": self.comparables}


@dataclass(frozen=True)
class BatchEstimates:
    """A batch's id and one result per row, in order: an Estimate (its id is `<batch id>-<row>`) or the row's error."""

    request_id: str
    results: list[Estimate | InputError]


def new_request_id() -> str:
    """A UUID version 7 (RFC 9562) as 32 hex digits: random, and it says when it was issued (`issued_at`), so a
    replica that does not know an id yet can tell a prediction made a moment ago by another replica from a typo."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & (2**48 - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC 9562 variant
    return f"{value:032x}"


def issued_at(request_id: str) -> float | None:
    """Seconds since the epoch at which `new_request_id` issued this id (a batch row's too), or None for another
    form of id (those of versions before ids carried their time)."""
    base = request_id.partition("-")[0]
    if len(base) != 32 or base[12] != "7":
        return None
    try:
        return int(base[:12], 16) / 1000
    except ValueError:
        return None
