"""Training: from a table of house sales to a verified, versioned model repository."""

from __future__ import annotations

from .errors import DataError, PublishError, TrainingError, VerificationError
from .pipeline import QUICK_CONFIG, ModelConfig, build_pipeline
from .settings import TrainOptions
from .train import TrainReport, train

__all__ = [
    "QUICK_CONFIG",
    "DataError",
    "ModelConfig",
    "PublishError",
    "TrainOptions",
    "TrainReport",
    "TrainingError",
    "VerificationError",
    "build_pipeline",
    "train",
]
