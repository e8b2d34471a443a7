"""What a prediction returns: the leaf types that the predictor, the monitor and every surface share."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .explanation import Explanation


@dataclass(frozen=True, slots=True)
class Estimate:
    """One price: the point estimate and an interval from the cross-validated residuals, in dollars."""

    price: float
    low: float
    high: float
    level: float
    model_version: str
    model_commit: str
    request_id: str
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The response body of every surface (built by hand: `dataclasses.asdict` deep-copies, 5× slower)."""
        return {
            "price": self.price,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "model_version": self.model_version,
            "model_commit": self.model_commit,
            "request_id": self.request_id,
            "warnings": list(self.warnings),
        }


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
