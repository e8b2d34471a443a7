"""Errors that stop a training run, each with a message that says what to fix."""

from __future__ import annotations


class TrainingError(Exception):
    """Base class: the CLI prints the message on one line and exits with status 2."""


class DataError(TrainingError, ValueError):
    """The training table cannot be used as it is (bad path, missing or non-numeric target, empty)."""


class VerificationError(TrainingError, AssertionError):
    """The serialized model does not reproduce the in-memory model's predictions."""


class PublishError(TrainingError, RuntimeError):
    """Publishing the version failed; nothing was promoted."""


class GateError(TrainingError, RuntimeError):
    """The gate cannot compare with production (unreadable, unreachable, or unable to score): nothing published.

    `cause` is the one-line reason alone, for a run that goes on without the comparison (--force, --no-promote).
    """

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause
