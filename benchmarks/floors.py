"""Bare servers that do no work, for the transport floors benchmarks/serve.py compares the app with.

python benchmarks/floors.py fastapi PORT   # POST /api/v1/predict answers a fixed price, with FastAPI + uvicorn
python benchmarks/floors.py gradio PORT    # a gr.api endpoint `predict` answers it, mounted as the app mounts Gradio

Both take a JSON object (one house) and return the same fields as the app, so that a client does the same work.
GET /health/ready answers once the server listens.
"""

from __future__ import annotations

import sys
from typing import Any

ANSWER = {
    "price": 178665.2,
    "low": 160962.4,
    "high": 199448.2,
    "level": 0.8,
    "intervals": [
        {"level": 0.8, "low": 160962.4, "high": 199448.2},
        {"level": 0.95, "low": 143271.9, "high": 224083.6},
    ],
    "model_version": "v0",
    "model_commit": "0" * 40,
    "request_id": "0" * 32,
    "warnings": [],
}


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/api/v1/predict")
    def predict(house: dict[str, Any]) -> dict[str, Any]:
        return ANSWER

    @app.get("/health/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def gradio_app() -> Any:
    import gradio as gr

    app = fastapi_app()

    def predict(house: dict[str, Any]) -> dict[str, Any]:
        """Answer a fixed price."""
        return ANSWER

    with gr.Blocks() as blocks:
        gr.api(predict, api_name="predict", queue=False)
    return gr.mount_gradio_app(app, blocks, path="/")


def main() -> int:
    kind, port = sys.argv[1], int(sys.argv[2])
    import uvicorn

    app = fastapi_app() if kind == "fastapi" else gradio_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
