"""Serving settings: offline defaults, and one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving import ServingSettings, StartupError


def test_defaults_work_offline_and_the_token_is_never_shown() -> None:
    settings = ServingSettings.from_env({})
    assert settings.log_dir == Path("logs") and settings.log_repo is None and settings.api_token is None
    assert (settings.drift_window, settings.log_push_minutes, settings.queue_size) == (1000, 5.0, 64)
    guarded = ServingSettings.from_env({"API_TOKEN": "a-long-enough-token-123"})
    assert guarded.api_token == "a-long-enough-token-123" and "a-long-enough" not in repr(guarded)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"API_TOKEN": "short"}, "API_TOKEN must be at least 16 characters"),
        ({"PREDICTION_LOG_PUSH_MINUTES": "soon"}, "PREDICTION_LOG_PUSH_MINUTES='soon' is not a number of minutes"),
        ({"PREDICTION_LOG_PUSH_MINUTES": "0"}, "PREDICTION_LOG_PUSH_MINUTES must be positive"),
        ({"DRIFT_WINDOW": "50"}, "DRIFT_WINDOW must be at least 100 rows"),
        ({"QUEUE_SIZE": "7.5"}, "QUEUE_SIZE='7.5' is not a whole number"),
        ({"PREDICTION_ENGINE": "fast"}, "PREDICTION_ENGINE='fast' is not one of auto, compiled, pipeline"),
    ],
)
def test_a_bad_value_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(StartupError, match=message):
        ServingSettings.from_env(env)


@pytest.mark.parametrize(("raw", "mode"), [("", "auto"), ("compiled", "compiled"), (" Pipeline ", "pipeline")])
def test_the_engine_can_be_forced(raw: str, mode: str) -> None:
    assert ServingSettings.from_env({"PREDICTION_ENGINE": raw}).engine == mode
