"""What every surface must answer for given rows, computed here from the model repository's own files.

The price is the pipeline's `model.predict`; the ranges follow metrics.json's rule: σ = the members' spread in log
price (max − min of `model.regressor_.transform`) + beta, low = price·exp(q_low·σ), high = price·exp(q_high·σ),
one range per level (an old version without `intervals`: price·exp(log_low), price·exp(log_high) at 80%).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from modelrepo import MODEL_FILE, Schema, load_model, to_frame
from modelrepo.metrics import Metrics, Normaliser


def expected_answers(folder: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`price` and `intervals` ([{"level", "low", "high"}], narrowest first) per row, as every surface gives them."""
    schema, metrics = Schema.read(folder), Metrics.read(folder)
    model = load_model(folder / MODEL_FILE)
    frame = to_frame([{**schema.defaults(), **row} for row in rows], schema)
    prices = model.predict(frame).tolist()
    members = model.regressor_.transform(frame)
    spreads = (members.max(axis=1) - members.min(axis=1)).tolist()
    answers = []
    for price, spread in zip(prices, spreads, strict=True):
        if metrics.intervals is None:
            interval = metrics.interval
            factors = [(interval.level, math.exp(interval.log_low), math.exp(interval.log_high))]
        else:
            calibration = metrics.intervals.calibration
            sigma = spread + calibration.beta if calibration.normaliser is Normaliser.MEMBER_SPREAD else 1.0
            levels = calibration.levels.values()
            factors = [(q.level, math.exp(q.q_low * sigma), math.exp(q.q_high * sigma)) for q in levels]
        intervals = [{"level": level, "low": price * low, "high": price * high} for level, low, high in factors]
        answers.append({"price": price, "intervals": intervals})
    return answers
