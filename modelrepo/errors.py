"""Errors raised by the model-repository contract and its stores.

Each subclasses a built-in so that callers can catch broadly, and each message says what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable


class ModelRepoError(Exception):
    """Base class of every error raised by `modelrepo`."""


class UntrustedTypesError(ModelRepoError, TypeError):
    """The skops file holds types outside the allowlist reviewed in code."""

    def __init__(self, untrusted: Iterable[str], allowlist: Iterable[str]) -> None:
        self.untrusted = sorted(untrusted)
        self.allowlist = sorted(allowlist)
        super().__init__(
            f"Refusing to load the model: it holds types outside the allowlist: {', '.join(self.untrusted)}. "
            f"Allowed: {', '.join(self.allowlist)}. Review these types and add them to "
            "modelrepo/trust.py only if you trust their code."
        )


class IntegrityError(ModelRepoError, ValueError):
    """A file of a model repository is missing or does not match its manifest."""

    def __init__(self, problems: Iterable[str], folder: str) -> None:
        self.problems = list(problems)
        super().__init__(
            f"The model repository at {folder} failed verification: {'; '.join(self.problems)}. "
            "Fetch the version again, or retrain and publish a new one."
        )


class ContractError(ModelRepoError, ValueError):
    """A file of a model repository does not follow the contract (bad JSON or wrong fields)."""


class VersionNotFoundError(ModelRepoError, LookupError):
    """A revision (version, alias, branch or commit) names nothing in the store."""


class StoreAccessError(ModelRepoError, PermissionError):
    """The store refused the request: no token, a bad token or no write access."""


class StoreUnavailableError(ModelRepoError, ConnectionError):
    """The store could not be reached."""
