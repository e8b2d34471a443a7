"""σ's input: how far a blend's members disagree on a house, in log price.

Training calibrates the price ranges on it and serving multiplies by it (`metrics.Calibration.sigma`), so the one
definition lives here: were the two sides to read it differently, every served range would be miscalibrated
without any error to show it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import VotingRegressor


def member_spread(model: Any, frame: Any) -> np.ndarray | None:
    """max − min of the members' predictions per row (|a − b| for two), where the blend averages them (log price
    under the log target), from `regressor_.transform`; None for a model that is not a VotingRegressor, whose
    ranges then have a constant σ."""
    regressor = model.regressor_ if type(model) is TransformedTargetRegressor else model
    if type(regressor) is not VotingRegressor:
        return None
    members = np.asarray(regressor.transform(frame), dtype=np.float64)
    spread: np.ndarray = members.max(axis=1) - members.min(axis=1)
    return spread
