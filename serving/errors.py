"""Errors the serving side raises; each surface turns them into its own form (gr.Error, HTTP 422/413/503)."""

from __future__ import annotations


class ServingError(Exception):
    """Base class of serving errors."""


class StartupError(ServingError, RuntimeError):
    """The app cannot start: no model, a model that fails verification, or a bad setting."""


class InputError(ServingError, ValueError):
    """A request does not match the schema; `problems` name the row, the field and what is expected."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def labelled(self, label: str) -> InputError:
        """The same problems, each prefixed (`row 3: `) for a batch."""
        return InputError([f"{label}{problem}" for problem in self.problems])


class TooLargeError(ServingError, ValueError):
    """A batch or upload is over the configured limit."""


class UnknownRequestError(ServingError, LookupError):
    """Feedback names a request id that this app never logged."""


class IndexUnavailableError(ServingError, OSError):
    """The request index cannot be read, so an id from an earlier run can be neither confirmed nor refused."""


class LogNotFoundError(ServingError, FileNotFoundError):
    """The prediction log to report on is not where it was looked for (folder or Hub dataset)."""


class UnsupportedModelError(ServingError, TypeError):
    """The compiled engine cannot reproduce this model (an unknown step or library version): serve the pipeline."""


class ExplanationUnavailableError(ServingError, LookupError):
    """This model version cannot be explained (it is served through the pipeline, or its steps are not supported)."""


class ScoringError(ServingError, RuntimeError):
    """A batch scoring job cannot start or go on: its input cannot be read, its output exists, its cluster is out
    of reach."""
