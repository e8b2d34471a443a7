"""The Space's entry point: read settings, load the pinned model, serve UI, REST and MCP on one port."""

from __future__ import annotations

import gc
import logging
import sys
import time

#: On SIGTERM, how long requests in flight have to finish before the connections still open are closed and the
#: prediction log is flushed. A gradio_client `Client` keeps a heartbeat stream open for as long as it lives, so
#: without a limit one connected client kept the process up until the platform killed it, the log unflushed.
SHUTDOWN_GRACE_SECONDS = 5


def main() -> int:
    started = time.perf_counter()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2", "huggingface_hub", "mcp"):  # one line per HTTP request is noise here
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # The scheduler logs every failed push; the prediction log warns once per outage and counts the rest.
    logging.getLogger("huggingface_hub._commit_scheduler").setLevel(logging.CRITICAL)
    import uvicorn

    from serving import ServingSettings, StartupError, load_served_model

    try:
        settings = ServingSettings.from_env()  # before Gradio is imported: it reads GRADIO_* itself
        # The model before Gradio too (about 3 s to import): a version that is refused says so at once.
        loading = time.perf_counter()
        served = load_served_model(settings)
        loaded = time.perf_counter()
        from serving import build_app

        imported = time.perf_counter()
        serving = build_app(settings, served=served)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stages = {"imports": (loading - started) + (imported - loaded), **served.timings}
    stages["UI and routes"] = time.perf_counter() - started - sum(stages.values())
    startup = f"{sum(stages.values()):.1f} s: " + " · ".join(f"{name} {sec:.2f} s" for name, sec in stages.items())
    host = "localhost" if settings.server_name in ("0.0.0.0", "::") else settings.server_name
    base = f"http://{host}:{settings.server_port}"
    mcp = (
        f"{base}/gradio_api/mcp/ (streamable HTTP)"
        if serving.mcp_enabled
        else "off (install the gradio[mcp] extra to turn it on)"
    )
    access = (
        f"API_TOKEN required: `Authorization: Bearer <token>` (browsers sign in at {base}/sign-in)"
        if settings.api_token
        else "open to anyone who can reach the port (set API_TOKEN to require a token)"
    )
    offline = " (Hub unreachable: served from the local Hugging Face cache)" if served.snapshot.offline else ""
    print(
        f"Serving model {served.version} (commit {served.commit}) from the {served.store_description}{offline}\n"
        f"  folder    {served.folder}\n"
        f"  engine    {served.engine.name}: {served.engine.reason}\n"
        f"  startup   {startup}\n"
        f"  UI        {base}/\n"
        f"  API docs  {base}/?view=api (gradio_client)\n"
        f"  REST docs {base}/docs (OpenAPI at {base}/openapi.json)\n"
        f"  MCP       {mcp}\n"
        f"  metrics   {base}/metrics (Prometheus) · drift at {base}/api/v1/drift\n"
        f"  log       {serving.monitor.destination}\n"
        f"  access    {access}",
        flush=True,
    )
    # On SIGTERM or Ctrl-C uvicorn answers the requests in flight, runs the app's shutdown (which writes the
    # prediction log), then re-raises the signal; `close` here only covers a server that returns by itself.
    # The model, the Gradio app and the routes live as long as the process: move them out of the collector's
    # reach, so that a collection triggered by a request scans only what requests allocated (measured: the
    # 100-200 ms pauses that every few 1,000-row batches hit mostly disappear).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            serving.app,
            host=settings.server_name,
            port=settings.server_port,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
    finally:
        serving.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
