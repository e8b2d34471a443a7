"""JSON REST routes beside Gradio: predict, batch, model, liveness, readiness, with clear 4xx messages.

This module does not use `from __future__ import annotations`: FastAPI reads the request models generated
from the schema at run time from the route functions' annotations.
"""

import json
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import surface_of
from .card_files import API_PREFIX, CardFiles
from .errors import ExplanationUnavailableError, IndexUnavailableError, InputError, TooLargeError, UnknownRequestError
from .predictor import Predictor
from .results import Estimate
from .telemetry import CONTENT_TYPE
from .validation import Feedback, Row, as_row, error_message, too_many_rows

_UPLOAD_PATH = "/gradio_api/upload"


class PriceRange(BaseModel):
    level: float = Field(description="The range's nominal level: 0.8 or 0.95.")
    low: float = Field(description="Lower end, in dollars.")
    high: float = Field(description="Upper end, in dollars.")


class Prediction(BaseModel):
    price: float = Field(description="Estimated sale price in dollars.")
    low: float = Field(description="Lower end of the 80% range, in dollars (the first of `intervals`).")
    high: float = Field(description="Upper end of the 80% range, in dollars.")
    level: float = Field(
        description="The range's nominal level (0.8): the share of sales expected inside such a range; the measured "
        "holdout coverage is in GET /api/v1/model under `intervals`."
    )
    intervals: list[PriceRange] = Field(
        description="Every range, narrowest first: 80% and 95%, conformalised on out-of-fold residuals and wider "
        "where the model's parts disagree. A version trained before them has only its fixed 80% band (see "
        "`intervals.note` in GET /api/v1/model)."
    )
    model_version: str
    model_commit: str
    request_id: str = Field(description="Send it back with the observed sale price to POST /api/v1/feedback.")
    warnings: list[str] = Field(
        default_factory=list, description="Inputs outside the training range: the estimate is an extrapolation."
    )


class Contribution(BaseModel):
    feature: str
    value: Any = Field(description="The house's value of the feature, as sent (or its training default).")
    log_effect: float = Field(description="The feature's additive effect on the log price.")
    percent: float = Field(description="The effect as a percentage of the price: 100 · (e^log_effect − 1).")
    dollars: float = Field(
        description="The effect in dollars, walking from base_price through the effects in this list's order."
    )


class Comparable(BaseModel):
    sale_price: float = Field(description="What the house sold for, in dollars.")
    sold: str | None = Field(description="Month of the sale, YYYY-MM.")
    distance: float = Field(description="How different it is, in log-price units (see the README).")
    features: dict[str, Any] = Field(description="The features an agent compares, as in the training data.")
    same_group: bool = Field(description="In the house's neighbourhood (those come first).")


class ExplainedPrediction(Prediction):
    base_log_price: float = Field(description="The model's average log price over its training data.")
    base_price: float = Field(description="e^base_log_price, in dollars: where the effects start from.")
    contributions: list[Contribution] = Field(
        description="One per feature the model reads, largest effect first; base_log_price plus the sum of "
        "log_effect is the log of price."
    )
    comparables: list[Comparable] = Field(
        description="The most comparable training sales: same neighbourhood first, then by distance. Empty when "
        "the model version was published without its training rows."
    )


class BatchItem(BaseModel):
    row: int = Field(description="1-based position of the row in the request.")
    prediction: Prediction | None = Field(default=None, description="The row's estimate, if it was valid.")
    error: str | None = Field(default=None, description="Why the row was not priced (`row N: field: ...`).")


class BatchResult(BaseModel):
    request_id: str = Field(description="The batch's id; each row's prediction has its own `<batch id>-<row>`.")
    results: list[BatchItem]
    model_version: str
    model_commit: str


class FeedbackReceipt(BaseModel):
    request_id: str
    actual_price: float
    time: str = Field(description="When the feedback was recorded (UTC, ISO 8601).")


class FeatureDriftItem(BaseModel):
    feature: str
    psi: float = Field(description="Population stability index against the training data.")
    level: str = Field(description="stable (< 0.1), watch (0.1-0.25) or drift (> 0.25).")


class DriftSummary(BaseModel):
    window_rows: int = Field(description="Rows in the window now.")
    window_size: int = Field(description="The most recent rows kept for comparison.")
    min_rows: int = Field(description="Below this many rows the figures are noise.")
    enough_rows: bool
    thresholds: dict[str, float]
    features: list[FeatureDriftItem] = Field(description="Worst first; `prediction` is the predicted price.")


class Problem(BaseModel):
    detail: str = Field(description="What is wrong and what is expected, naming the row and the field.")
    problems: list[str]
    model_version: str


def install_rest(app: FastAPI, predictor: Predictor, *, max_body_bytes: int, is_ready: Callable[[], bool]) -> None:
    """Add the routes, the error handlers and the middleware that stamps the model version on responses."""
    version, commit, monitor = predictor.served.version, predictor.served.commit, predictor.monitor
    house = predictor.validator.model
    # Documented as a list of objects: each row is checked as a House on its own, and a row that is not one gets
    # its error in place (the answer is still 200), so a bad row does not make the request invalid.
    batch = create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid"),
        rows=(
            list[Any],
            Field(
                min_length=1,
                max_length=predictor.validator.max_rows,
                description="Houses, each as in POST /api/v1/predict (the House schema); a row that is not a valid "
                "House is not priced and gets its error in place.",
            ),
        ),
    )
    router = APIRouter(prefix=API_PREFIX, tags=["prediction"])
    errors: dict[int | str, dict[str, Any]] = {422: {"model": Problem}, 413: {"model": Problem}}

    def predict(features: BaseModel, response: Response, explain: bool = False) -> Any:
        if explain:
            return explained(features)
        estimate = predictor.predict_row(as_row(features), surface="rest")
        response.headers["X-Request-Id"] = estimate.request_id
        return estimate.as_dict()

    def explained(features: BaseModel) -> Response:
        result = predictor.explain_row(as_row(features), surface="rest")
        headers = {"X-Request-Id": result.estimate.request_id}
        return Response(_json(result.as_dict()), media_type="application/json", headers=headers)

    def price_body(body: bytes) -> Response:
        # The body is parsed and checked in one pass by pydantic-core into plain dicts (not json.loads, then
        # models, as FastAPI does): 20 ms instead of 39 for 1,000 rows. The route documents the same `Batch` body.
        checked: list[Row | InputError]
        try:
            checked = list(predictor.validator.batch_json(body))
        except ValidationError as error:
            checked = _rows_one_by_one(body, error)  # some rows are bad: each keeps its own error
        priced = predictor.price_batch(checked, surface="rest")
        results = [_batch_item(n, result) for n, result in enumerate(priced.results, start=1)]
        content = {"request_id": priced.request_id, "results": results, "model_version": version}
        content["model_commit"] = commit
        # Serialized here: returned as a dict, FastAPI would validate it against BatchResult once more.
        return Response(_json(content), media_type="application/json", headers={"X-Request-Id": priced.request_id})

    def _rows_one_by_one(body: bytes, error: ValidationError) -> list[Row | InputError]:
        """The batch's structure must hold (an object with a list of 1 to MAX_BATCH_ROWS rows, nothing else):
        otherwise the whole request is refused; a bad row only costs that row."""
        if not _is_utf8(body):  # the message FastAPI's routes give (see the 400 handler below)
            monitor.rejected("rest", "invalid")
            raise InputError(["the body is not valid JSON (UTF-8 encoded)"]) from None
        details = error.errors()
        if not all(_in_a_row(d["loc"]) for d in details):
            raise RequestValidationError([{**d, "loc": ("body", *d["loc"])} for d in details]) from None
        raws = json.loads(body)["rows"]
        return predictor.validator.rows(raws)

    async def predict_batch(request: Request) -> Response:
        return await run_in_threadpool(price_body, await request.body())

    # FastAPI reads the request models from the annotations: give it the classes generated from the schema.
    predict.__annotations__["features"] = house
    explained.__annotations__["features"] = house
    unavailable: dict[int | str, dict[str, Any]] = {
        501: {"model": Problem, "description": "This model version cannot be explained (see GET /api/v1/model)"}
    }
    router.post(
        "/predict",
        response_model=Prediction,
        responses={**errors, **unavailable},
        summary="Estimate the price of one house",
        description="With `?explain=true` the answer is that of POST /api/v1/explain.",
    )(predict)
    router.post(
        "/explain",
        response_model=ExplainedPrediction,
        responses={**errors, **unavailable},
        summary="Estimate one house, with why (each feature's effect) and what similar houses sold for",
    )(explained)
    router.post(
        "/predict/batch",
        response_model=BatchResult,
        responses=errors,
        summary="Estimate many houses",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
            }
        },
    )(predict_batch)
    _document_schema(app, batch)

    @router.post(
        "/feedback",
        response_model=FeedbackReceipt,
        responses={
            404: {"model": Problem, "description": "No prediction with this request id was logged"},
            422: {"model": Problem},
            503: {"model": Problem, "description": "The request index cannot be read now; retry later"},
        },
        tags=["monitoring"],
        summary="Record the observed sale price of an earlier prediction",
    )
    def feedback(body: Feedback) -> dict[str, Any]:
        return predictor.record_feedback(body, surface="rest")

    @router.get("/drift", response_model=DriftSummary, tags=["monitoring"], summary="Drift of recent traffic")
    def drift() -> dict[str, Any]:
        return monitor.drift_report().as_dict()

    @router.get("/model", summary="Version, provenance, metrics and input schema of the served model")
    def model_info() -> dict[str, Any]:
        return predictor.info()

    files = CardFiles.read(predictor.served.folder)

    @router.get(
        "/model/card",
        summary="The model card (Markdown with Hub metadata)",
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}}}},
    )
    def model_card() -> Response:
        return Response(files.card, media_type="text/markdown; charset=utf-8")

    @router.get(
        "/model/images/{name}",
        summary="A plot of the model card (the names are listed on the Model tab)",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, 404: {"model": Problem}},
    )
    def model_image(name: str) -> Response:
        image = files.images.get(name)
        if image is None:
            known = ", ".join(files.images) or "none"
            return _problem(404, [f"no plot named {name!r}; the card's plots are: {known}"], version)
        return Response(image, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    app.include_router(router)

    @app.get(
        "/metrics",
        tags=["monitoring"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}}}},
    )
    def metrics() -> Response:
        return Response(monitor.render_metrics(), media_type=CONTENT_TYPE)

    @app.get("/health/live", tags=["health"], summary="Liveness: the server is running")
    def live() -> dict[str, str]:
        return {"status": "alive", "model_version": version}

    @app.get("/health/ready", tags=["health"], summary="Readiness: the model is verified, loaded and warmed up")
    def ready() -> JSONResponse:
        if not is_ready():
            return JSONResponse({"status": "starting", "model_version": version}, status_code=503)
        return JSONResponse({"status": "ready", "model_version": version, "model_commit": commit})

    _install_error_handlers(
        app,
        version,
        on_rejected=lambda outcome: monitor.rejected("rest", outcome),
        accepted=predictor.validator.accepted,
    )
    app.add_middleware(
        _VersionAndSizeMiddleware,
        version=version,
        commit=commit,
        max_body_bytes=max_body_bytes,
        on_too_large=lambda surface: monitor.rejected(surface, "too_large"),
    )


#: What FastAPI reports when a body sent without the JSON content type reaches a route that wants an object.
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type", "missing"})


def _in_a_row(location: tuple[int | str, ...]) -> bool:
    return len(location) >= 2 and location[0] == "rows" and isinstance(location[1], int)


def _batch_item(n: int, result: Estimate | InputError) -> dict[str, Any]:
    """One rule on every surface: a good row's prediction, or a bad row's error in its place."""
    if isinstance(result, InputError):
        return {"row": n, "error": str(result)}
    return {"row": n, "prediction": result.as_dict()}


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json(content: Any) -> bytes:
    return orjson.dumps(content)  # prices are finite; 10× json.dumps on a 1,000-row answer


def _document_schema(app: FastAPI, model: type[BaseModel]) -> None:
    """Add a model that a route reads by hand to the OpenAPI components, as FastAPI does for the ones it reads."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = original()
        definitions = model.model_json_schema(ref_template="#/components/schemas/{model}")
        nested = definitions.pop("$defs", {})
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(nested)
        schemas[model.__name__] = definitions
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _problem(status: int, problems: list[str], version: str) -> JSONResponse:
    body = {"detail": "; ".join(problems), "problems": problems, "model_version": version}
    return JSONResponse(body, status_code=status)


def _install_error_handlers(
    app: FastAPI,
    version: str,
    *,
    on_rejected: Callable[[str], None],
    accepted: dict[str, tuple[float, float]],
) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, error: RequestValidationError) -> JSONResponse:
        # Never echo the raw input: a NaN in it cannot be serialized, and it may be large.
        details = list(error.errors())
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type and any(d.get("type") in _NOT_AN_OBJECT for d in details):
            on_rejected("invalid")
            shown = content_type.split(";")[0] or "none"
            return _problem(
                422, [f"send the body as JSON with the header Content-Type: application/json (got {shown})"], version
            )
        oversized = [d for d in details if d.get("type") == "too_long" and tuple(d.get("loc", ()))[-1:] == ("rows",)]
        if oversized:
            ctx = oversized[0].get("ctx", {})
            limit, actual = ctx.get("max_length"), ctx.get("actual_length")
            on_rejected("too_large")
            return _problem(413, [too_many_rows(int(actual), int(limit))], version)
        on_rejected("invalid")
        return _problem(422, [error_message(_rest_detail(detail), accepted) for detail in details], version)

    @app.exception_handler(InputError)
    async def input_failed(_: Request, error: InputError) -> JSONResponse:
        return _problem(422, error.problems, version)  # counted by the predictor, which raised it

    @app.exception_handler(TooLargeError)
    async def too_large(_: Request, error: TooLargeError) -> JSONResponse:
        return _problem(413, [str(error)], version)

    @app.exception_handler(StarletteHTTPException)
    async def http_failed(request: Request, error: StarletteHTTPException) -> Response:
        # FastAPI answers a body it cannot decode (not UTF-8) with its own 400; give it the API's 422 shape.
        if error.status_code == 400 and request.url.path.startswith(API_PREFIX):
            on_rejected("invalid")
            return _problem(422, ["the body is not valid JSON (UTF-8 encoded)"], version)
        return await http_exception_handler(request, error)

    @app.exception_handler(UnknownRequestError)
    async def unknown_request(_: Request, error: UnknownRequestError) -> JSONResponse:
        return _problem(404, [str(error)], version)

    @app.exception_handler(ExplanationUnavailableError)
    async def not_explainable(_: Request, error: ExplanationUnavailableError) -> JSONResponse:
        return _problem(501, [str(error)], version)

    @app.exception_handler(IndexUnavailableError)
    async def index_unavailable(_: Request, error: IndexUnavailableError) -> JSONResponse:
        return _problem(503, [str(error)], version)


def _rest_detail(detail: Any) -> Any:
    """Turn FastAPI's location ("body", "rows", 3, "Gr Liv Area") into the validator's ("row 4", field)."""
    location = [part for part in detail.get("loc", ()) if part not in ("body", "features")]
    if len(location) >= 2 and location[0] == "rows" and isinstance(location[1], int):
        location = [f"row {location[1] + 1}", *location[2:]]
    return {**detail, "loc": tuple(location)}


class _VersionAndSizeMiddleware:
    """Refuse oversized bodies before they are read, and stamp the model version on every response.

    Pure ASGI (not BaseHTTPMiddleware) so that Gradio's streamed queue responses pass through untouched.
    """

    def __init__(
        self, app: ASGIApp, *, version: str, commit: str, max_body_bytes: int, on_too_large: Callable[[str], None]
    ) -> None:
        self.app, self.max_body_bytes, self.on_too_large = app, max_body_bytes, on_too_large
        self.headers = [(b"x-model-version", version.encode()), (b"x-model-commit", commit.encode())]
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        # Every body but a file upload (Gradio caps those at MAX_UPLOAD_BYTES): REST, the Gradio API, MCP.
        capped = not scope["path"].startswith(_UPLOAD_PATH)
        if capped and length.isdigit() and int(length) > self.max_body_bytes:
            text = f"request body of {int(length):,} bytes is over the limit of {self.max_body_bytes:,} bytes"
            self.on_too_large(surface_of(scope["path"]))
            await _problem(413, [text], self.version)(scope, receive, stamped)
            return
        await self.app(scope, receive, stamped)
