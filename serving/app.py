"""Wire the pieces into one ASGI app: REST routes first, then Gradio mounted at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
import gradio as gr
from fastapi import FastAPI

from modelrepo import CARD_FILE

from .access import AccessGuard, TokenCheck
from .loader import ServedModel, load_served_model
from .monitor import Monitor
from .predictor import Predictor
from .rest import install_rest
from .settings import ServingSettings
from .ui import PAGE_CSS, build_blocks

# Gradio keeps each session's copy of the page config holding the last input and output of every event, and a
# gradio_client Client is a new session. Measured (benchmarks/sessions.py, new Client per call): 1.3 MB per
# session for a 200-row batch, 5.4 MB for a 1,000-row one, so 200 sessions held up to ~1 GB. The app keeps no
# per-session state of its own (no gr.State; every event sends its inputs), so keep the 20 most recent sessions
# (≤ ~110 MB); and delete uploaded and generated files after an hour.
SESSION_CAPACITY = 20
DELETE_CACHE = (3600, 3600)


@dataclass(frozen=True)
class ServingApp:
    app: FastAPI
    predictor: Predictor
    blocks: gr.Blocks
    mcp_enabled: bool

    @property
    def monitor(self) -> Monitor:
        return self.predictor.monitor

    def close(self) -> None:
        """Flush the prediction log (and its last push to the Hub); call once the server has stopped."""
        self.monitor.close()


def mcp_available() -> bool:
    """MCP needs the optional `gradio[mcp]` extra; without it the app serves everything else."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        return False
    return True


def build_app(settings: ServingSettings, *, served: ServedModel | None = None) -> ServingApp:
    served = served or load_served_model(settings)
    monitor = Monitor(served, settings)
    predictor = Predictor(served, max_rows=settings.max_batch_rows, monitor=monitor)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # After the server's graceful shutdown (requests in flight answered), before the process exits: uvicorn
        # re-raises SIGTERM once it returns, so code after `uvicorn.run` would never run.
        await anyio.to_thread.run_sync(monitor.close)

    app = FastAPI(
        lifespan=lifespan,
        title=f"{served.schema.target.name} estimator",
        version=served.version,
        description=(
            f"Estimates `{served.schema.target.name}` ({served.schema.target.unit}) from house features. "
            f"Serving model {served.version} (commit {served.commit}). Omitted features take their training defaults."
        ),
    )
    install_rest(app, predictor, max_body_bytes=settings.max_body_bytes, is_ready=lambda: True)
    check = TokenCheck(settings.api_token) if settings.api_token else None
    if check:  # outermost: nothing runs for a request without the token
        app.add_middleware(
            AccessGuard, check=check, on_refused=lambda surface: monitor.rejected(surface, "unauthorized")
        )
    blocks = build_blocks(predictor, card_url=_card_url(settings, served))
    blocks.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_size)
    blocks.state_session_capacity = SESSION_CAPACITY
    blocks.delete_cache = DELETE_CACHE
    mcp = mcp_available()
    app = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth_dependency=check.gradio_user if check else None,
        mcp_server=mcp,
        enable_monitoring=False,  # Gradio's /monitoring page would bypass the token; /metrics replaces it
        max_file_size=settings.max_upload_bytes,  # no allowed_paths: the card and its plots come from REST routes
        footer_links=["api", "gradio"],
        css=PAGE_CSS,  # Gradio 6 takes the CSS here: mount_gradio_app replaces blocks.css with this argument
    )
    return ServingApp(app=app, predictor=predictor, blocks=blocks, mcp_enabled=mcp)


def _card_url(settings: ServingSettings, served: ServedModel) -> str | None:
    if settings.model_repo:
        from huggingface_hub import constants  # the configured endpoint, as the Hub store uses

        return f"{constants.ENDPOINT.rstrip('/')}/{settings.model_repo}/blob/{served.commit}/{CARD_FILE}"
    return None
