"""The disagreement of a blend's members, read from the fitted pipeline: what the compiled engine must reproduce."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import VotingRegressor


def pipeline_spread(model: Any, frame: Any) -> np.ndarray | None:
    """max − min of the members' predictions per row, where the blend averages them (log price under the log
    target), from `regressor_.transform`; None for a model that is not a VotingRegressor."""
    regressor = model.regressor_ if type(model) is TransformedTargetRegressor else model
    if type(regressor) is not VotingRegressor:
        return None
    members = np.asarray(regressor.transform(frame), dtype=np.float64)
    result: np.ndarray = members.max(axis=1) - members.min(axis=1)
    return result
