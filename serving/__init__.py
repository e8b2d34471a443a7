"""Serving: fetch, verify and load a pinned model version and serve it through Gradio, REST and MCP.

`build_app` is imported lazily: importing Gradio takes seconds and reads `GRADIO_*` variables, so settings
are validated (and clear errors printed) before it is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InputError, ServingError, StartupError, TooLargeError
from .loader import ServedModel, load_served_model
from .predictor import Estimate, Predictor
from .settings import ServingSettings

if TYPE_CHECKING:
    from .app import ServingApp, build_app, mcp_available

_LAZY = {"ServingApp", "build_app", "mcp_available"}

__all__ = [
    "Estimate",
    "InputError",
    "Predictor",
    "ServedModel",
    "ServingApp",
    "ServingError",
    "ServingSettings",
    "StartupError",
    "TooLargeError",
    "build_app",
    "load_served_model",
    "mcp_available",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
