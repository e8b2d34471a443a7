"""Fuzz the live app's REST API from its own OpenAPI schema with schemathesis: no request may break it.

Over 1,000 requests generated from `/openapi.json` with a fixed seed (derandomized Hypothesis, no example
database), so every run of the same code sends the same ones: valid houses, batches and feedback (positive)
and invalid ones (negative: wrong types, unknown features, unseen categories, bodies that are not JSON).
Every response must have a documented status and match its documented schema, and none may be a 5xx.
Afterwards the server must still be ready and price the schema's own example house exactly as before.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.live import LiveApp

pytestmark = pytest.mark.slow

SEED = 20261126
MIN_REQUESTS = 1_000
# Examples per operation, valid and invalid mixed. A valid prediction costs ~100 ms, an invalid request a few ms.
# The GET routes take no input: Hypothesis stops after the one request each of them has.
EXAMPLES = {"POST /api/v1/predict": 420, "POST /api/v1/predict/batch": 300, "POST /api/v1/feedback": 330}
OTHER_EXAMPLES = 10
# Invalid input must be refused with a 4xx: 413 is the app's documented answer to an oversized batch.
CONFIG = {
    "checks": {
        "negative_data_rejection": {"expected-statuses": ["400", "404", "405", "413", "422"]},
        "positive_data_acceptance": {"expected-statuses": ["2xx", "404"]},
    }
}

Sent = Counter[tuple[str, int]]  # (operation, status) -> requests


# Valid input must be accepted; a well-formed feedback for a request id the app never logged is rightly a 404.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture
def hypothesis_home(tmp_path: Path) -> Iterator[None]:
    """Hypothesis caches constants and Unicode tables on disk: keep them out of the working tree."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


def test_fuzzing_the_openapi_schema_never_breaks_the_server(live_app: LiveApp, hypothesis_home: None) -> None:
    schema = schemathesis.openapi.from_url(
        f"{live_app.url}/openapi.json", config=schemathesis.Config.from_dict(CONFIG), timeout=30
    )
    example = schema.raw_schema["components"]["schemas"]["House"]["examples"][0]
    price_before = _predict(live_app, example)["price"]
    log_offset = len(live_app.output())

    sent: Sent = Counter()
    with requests.Session() as session:
        session.trust_env = False  # loopback only: no proxy from the environment
        for result in schema.get_all_operations():
            operation = result.ok()
            try:
                _fuzz(operation, EXAMPLES.get(operation.label, OTHER_EXAMPLES), session=session, sent=sent)
            except (Exception, BaseExceptionGroup) as error:  # schemathesis' FailureGroup is a BaseExceptionGroup
                error.add_note(_app_output_since(live_app, log_offset))
                raise

    summary = "\n".join(f"{count:5} × {status} {label}" for (label, status), count in sorted(sent.items()))
    print(f"{sum(sent.values())} requests\n{summary}")
    assert set(EXAMPLES) <= {label for label, _ in sent}, summary
    assert sum(sent.values()) >= MIN_REQUESTS, summary
    assert not [status for _, status in sent if status >= 500], summary
    new_log = live_app.output()[log_offset:]
    assert "Traceback" not in new_log, new_log
    _assert_still_answers(live_app, example, price=price_before)


def _fuzz(operation: APIOperation, examples: int, *, session: requests.Session, sent: Sent) -> None:
    """Send `examples` generated requests (more while Hypothesis shrinks a failure), validating each response."""
    strategy = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def send(case: Case) -> None:
        response = case.call(session=session, timeout=30)
        sent[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    send()


def _assert_still_answers(app: LiveApp, example: dict[str, Any], *, price: float) -> None:
    """Still running and ready, the same price for the same house, and feedback joined to that prediction."""
    assert app.process.poll() is None, app.output()
    ready = httpx.get(f"{app.url}/health/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    prediction = _predict(app, example)
    assert prediction["price"] == price and 0 < prediction["low"] < prediction["price"] < prediction["high"]
    body = {"request_id": prediction["request_id"], "actual_price": 187_500.0}
    feedback = httpx.post(f"{app.url}/api/v1/feedback", json=body, timeout=10)
    assert feedback.status_code == 200, feedback.text


def _app_output_since(app: LiveApp, offset: int) -> str:
    """What the app printed (a 5xx's traceback) since `offset`; it logs a traceback just after it answers."""
    time.sleep(1)
    return f"app output since fuzzing began:\n{app.output()[offset:][-8000:]}"


def _predict(app: LiveApp, row: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{app.url}/api/v1/predict", json=row, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()
