"""The Space's entry point: read settings, load the pinned model, serve UI, REST and MCP on one port."""

from __future__ import annotations

import logging
import os
import sys


def main() -> int:
    # One OpenMP thread per prediction: a single row gains nothing from parallel trees, and under concurrent
    # requests the threads wait on each other (measured: REST p50 118 → 79 ms). Set before NumPy is imported.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2", "huggingface_hub", "mcp"):  # one line per HTTP request is noise here
        logging.getLogger(chatty).setLevel(logging.WARNING)
    import uvicorn

    from serving import ServingSettings, StartupError

    try:
        settings = ServingSettings.from_env()  # before Gradio is imported: it reads GRADIO_* itself
        from serving import build_app

        serving = build_app(settings)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    served = serving.predictor.served
    host = "localhost" if settings.server_name in ("0.0.0.0", "::") else settings.server_name
    base = f"http://{host}:{settings.server_port}"
    mcp = (
        f"{base}/gradio_api/mcp/ (streamable HTTP)"
        if serving.mcp_enabled
        else "off (install the gradio[mcp] extra to turn it on)"
    )
    access = "open to anyone who can reach the port (token access control is not implemented yet)"
    offline = " (Hub unreachable: served from the local Hugging Face cache)" if served.snapshot.offline else ""
    print(
        f"Serving model {served.version} (commit {served.commit}) from the {served.store_description}{offline}\n"
        f"  folder    {served.folder}\n"
        f"  UI        {base}/\n"
        f"  API docs  {base}/?view=api (gradio_client)\n"
        f"  REST docs {base}/docs (OpenAPI at {base}/openapi.json)\n"
        f"  MCP       {mcp}\n"
        f"  access    {access}",
        flush=True,
    )
    uvicorn.run(serving.app, host=settings.server_name, port=settings.server_port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
