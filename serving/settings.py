"""Serving settings, read once from the environment (the Spaces way) with defaults that work offline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelrepo import PRODUCTION_ALIAS

from .engine import EngineMode
from .errors import StartupError


@dataclass(frozen=True)
class ServingSettings:
    model_repo: str | None = None
    registry: Path = Path("registry")
    revision: str = PRODUCTION_ALIAS
    hf_token: str | None = None
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    max_batch_rows: int = 1000
    max_body_bytes: int = 4_000_000  # a full 1,000-row batch is ~1.7 MB compact, ~2.2 MB indented
    max_upload_bytes: int = 2_000_000
    queue_size: int = 64
    queue_concurrency: int = 4
    api_token: str | None = field(default=None, repr=False)  # never printed or logged
    log_dir: Path = Path("logs")
    log_repo: str | None = None
    log_push_minutes: float = 5.0
    drift_window: int = 1000
    engine: EngineMode = EngineMode.AUTO

    @property
    def source(self) -> str:
        return f"Hub repo {self.model_repo}" if self.model_repo else f"local registry {self.registry}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        env = os.environ if environ is None else environ
        return cls(
            model_repo=env.get("MODEL_REPO") or None,
            registry=Path(env.get("MODEL_REGISTRY") or "registry"),
            revision=env.get("MODEL_REVISION") or PRODUCTION_ALIAS,
            hf_token=env.get("HF_TOKEN") or None,
            server_name=env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
            server_port=_integer(env, "GRADIO_SERVER_PORT", 7860),
            max_batch_rows=_integer(env, "MAX_BATCH_ROWS", 1000),
            max_body_bytes=_integer(env, "MAX_BODY_BYTES", 4_000_000),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", 2_000_000),
            queue_size=_integer(env, "QUEUE_SIZE", 64),
            queue_concurrency=_integer(env, "QUEUE_CONCURRENCY", 4),
            api_token=_token(env),
            log_dir=Path(env.get("PREDICTION_LOG_DIR") or "logs"),
            log_repo=env.get("PREDICTION_LOG_REPO") or None,
            log_push_minutes=_minutes(env, "PREDICTION_LOG_PUSH_MINUTES", 5.0),
            drift_window=_drift_window(env),
            engine=_engine(env),
        )


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_positive(env, name, default, int, "a whole number"))


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    return _positive(env, name, default, float, "a number of minutes")


def _positive(env: Mapping[str, str], name: str, default: float, parse: type[float], what: str) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError as error:
        raise StartupError(f"{name}={raw!r} is not {what}; unset it or give one such as {default}.") from error
    if not value > 0:
        raise StartupError(f"{name} must be positive (got {raw}).")
    return value


def _token(env: Mapping[str, str]) -> str | None:
    token = env.get("API_TOKEN") or None
    if token is not None and (len(token) < 16 or token != token.strip()):
        raise StartupError(
            "API_TOKEN must be at least 16 characters without surrounding spaces; generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return token


def _drift_window(env: Mapping[str, str]) -> int:
    window = _integer(env, "DRIFT_WINDOW", 1000)
    if window < 100:
        raise StartupError(f"DRIFT_WINDOW must be at least 100 rows (got {window}): fewer rows make the index noise.")
    return window


def _engine(env: Mapping[str, str]) -> EngineMode:
    raw = (env.get("PREDICTION_ENGINE") or EngineMode.AUTO.value).strip().lower()
    try:
        return EngineMode(raw)
    except ValueError:
        choices = ", ".join(mode.value for mode in EngineMode)
        raise StartupError(f"PREDICTION_ENGINE={raw!r} is not one of {choices}; unset it for auto.") from None
