"""Print serving latency, throughput, cold start and memory of the real app with each engine, side by side.

python benchmarks/serve.py [--registry ./registry] [--requests 300] [--gradio-requests 100] [--seconds 10]
                           [--clients 8] [--batch-rows 1000] [--batch-repeats 10] [--growth-requests 10000]

Needs a model in the registry (`python -m training`). In one run it measures, on this machine:
- in process: `Predictor.predict` (validation, the engine and the monitoring every request pays for) and a
  1,000-row `price_batch`, with the pipeline engine and with the compiled engine; with the compiled engine also
  `Predictor.explain` (a price with every feature's effect and the comparable sales) and the explanation alone;
- the real app (`python app.py` on a free loopback port, as the tests start it) once per engine
  (`PREDICTION_ENGINE=pipeline`, then `compiled`): REST single rows (and `/api/v1/explain`), gradio_client,
  8 concurrent REST clients, 1,000-row REST batches, cold start to /health/ready with the app's own breakdown,
  memory after start; with the compiled engine also the memory growth over `--growth-requests` more requests;
- the transport floors: a bare FastAPI app and a bare `gr.api` app that answer a fixed price
  (`benchmarks/floors.py`), measured by the same clients.
Every figure is also given as a ratio to the pipeline's in-process p50 (the first line), so that runs on a busy
machine can be compared. Each timed stage stops after 15 s: a slow machine gives fewer samples, not a long run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

if TYPE_CHECKING:
    from serving import Predictor
    from tests.live import LiveApp

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 5
STAGE_BUDGET = 15.0  # seconds per timed stage: fewer samples on a slow or busy machine, never a long wait
ENGINES = ("pipeline", "compiled")


@dataclass(frozen=True)
class Line:
    """One measure: a value (seconds, or text) per engine and for the floor."""

    label: str
    values: dict[str, float | str]


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        return _run(args, Path(folder))


def _run(args: argparse.Namespace, workdir: Path) -> int:
    load_before = _load()  # before this script adds its own work
    busy = os.getloadavg()[0] > 0.5
    _offline_environment(workdir)
    sys.path.insert(0, str(ROOT))
    from serving import ServingSettings, StartupError, load_served_model

    registry = args.registry.resolve()
    try:
        served = load_served_model(ServingSettings(registry=registry, log_dir=workdir / "in-process-logs"))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"model {served.version} (commit {served.commit[:12]}) from {registry}", flush=True)
    print(f"{load_before}", flush=True)
    if busy:
        print("warning: the machine is busy; other work inflates every figure below (compare the ratios)", flush=True)
    if served.engine.name != "compiled":
        print(f"warning: the compiled engine is not available for this model ({served.engine.reason})", flush=True)
    example = served.examples[0]
    batch = [served.examples[n % len(served.examples)] for n in range(args.batch_rows)]
    results: dict[str, dict[str, Any]] = {}
    for engine, predictor in _predictors(served, workdir, args.batch_rows).items():
        results[engine] = _in_process(predictor, example, batch, args, engine)
    results["compiled"]["stages"] = _stages(_predictors(served, workdir, args.batch_rows)["compiled"], example, args)
    expected = results["compiled"]["price"]
    if results["pipeline"]["price"] != expected:
        raise RuntimeError(f"the engines disagree: {results['pipeline']['price']!r} vs {expected!r}")
    floors = _floors(args, workdir, example)
    for engine in ENGINES:
        results[engine].update(_serve_and_measure(args, registry, workdir, engine, example, batch, expected))
    _report(args, results, floors, expected)
    return 0


def _predictors(served: Any, workdir: Path, max_rows: int) -> dict[str, Predictor]:
    """One Predictor per engine over the same loaded model, each with its own monitoring (log, metrics, drift)."""
    from serving import Predictor, ServingSettings
    from serving.engine import EngineChoice, PipelineEngine
    from serving.monitor import Monitor

    pipeline = EngineChoice(PipelineEngine(served.model, served.schema), "pipeline", "benchmark")
    variants = {"pipeline": dataclasses.replace(served, engine=pipeline, attribution=None), "compiled": served}
    predictors = {}
    for name, variant in variants.items():
        settings = ServingSettings(registry=Path("registry"), log_dir=workdir / f"logs-in-process-{name}")
        predictors[name] = Predictor(variant, max_rows=max_rows, monitor=Monitor(variant, settings))
    return predictors


def _in_process(
    predictor: Predictor, example: dict[str, Any], batch: list[dict[str, Any]], args: argparse.Namespace, engine: str
) -> dict[str, Any]:
    singles = _times(lambda: predictor.predict(example, surface="rest"), args.requests)
    batches = _times(lambda: predictor.predict_batch(batch, surface="rest"), args.batch_repeats, warm_up=1)
    price = predictor.predict(example, surface="rest").price
    print(f"in process, {engine} engine: {len(singles)} single rows, {len(batches)} batches", flush=True)
    explained: list[float] = []
    alone: list[float] = []
    if predictor.served.attribution is not None:  # the compiled engine: explanations walk its trees
        from serving.explanation import explain_rows

        explained = _times(lambda: predictor.explain(example, surface="rest"), args.requests)
        row, attribution = predictor.validator.row(example), predictor.served.attribution
        alone = _times(lambda: explain_rows(attribution, [row]), args.requests)
        print(f"in process, {engine} engine: {len(explained)} explained rows", flush=True)
    return {"in_single": singles, "in_batch": batches, "price": price, "in_explain": explained, "explain": alone}


def _stages(predictor: Predictor, example: dict[str, Any], args: argparse.Namespace) -> dict[str, float]:
    """Where one in-process request's time goes with the compiled engine: the p50 of each stage on its own."""
    from serving.results import new_request_id

    row = predictor.validator.row(example)
    estimate = predictor.predict_row(row, surface="rest")
    stages = {
        "validation": lambda: predictor.validator.row(example),
        "engine": lambda: predictor.served.engine.engine.predict([row]),
        "engine, interval and range warnings": lambda: predictor._price([row], [new_request_id()], surface="rest"),
        "monitoring (log queue, metrics, drift)": lambda: predictor.monitor.priced(
            "rest", [row], [estimate], seconds=0.001, batch=False
        ),
        "response dict": estimate.as_dict,
    }
    return {name: float(np.percentile(_times(call, args.requests), 50)) for name, call in stages.items()}


def _floors(args: argparse.Namespace, workdir: Path, example: dict[str, Any]) -> dict[str, Any]:
    """The bare FastAPI and gr.api apps, measured by the same clients as the real app."""
    from gradio_client import Client

    with _floor_server("fastapi", workdir) as url:
        rest = _times(lambda: _post(url, example), args.requests)
        throughput, _ = _throughput(url, example, clients=args.clients, seconds=args.seconds)
    with _floor_server("gradio", workdir) as url:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        try:
            gradio = _times(lambda: client.predict(example, api_name="/predict"), args.gradio_requests)
        finally:
            client.close()
    print("transport floors measured (bare FastAPI, bare gr.api)", flush=True)
    return {"rest": rest, "throughput": throughput, "gradio": gradio}


class _floor_server:  # noqa: N801 (used as a context manager, like a function)
    def __init__(self, kind: str, workdir: Path) -> None:
        from tests.live import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = (workdir / f"floor-{kind}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "floors.py"), kind, str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )

    def __enter__(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the {self.url} floor server did not start")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _post(
    url: str, example: dict[str, Any], client: httpx.Client | None = None, *, path: str = "/api/v1/predict"
) -> float:
    response = (client or _shared_client(url)).post(path, json=example)
    response.raise_for_status()
    return float(response.json()["price"])


_CLIENTS: dict[str, httpx.Client] = {}


def _shared_client(url: str) -> httpx.Client:
    if url not in _CLIENTS:
        _CLIENTS[url] = httpx.Client(base_url=url, timeout=60, trust_env=False)
    return _CLIENTS[url]


def _serve_and_measure(
    args: argparse.Namespace,
    registry: Path,
    workdir: Path,
    engine: str,
    example: dict[str, Any],
    batch: list[dict[str, Any]],
    expected_price: float,
) -> dict[str, Any]:
    """Start app.py with one engine, measure every surface, read its memory from /proc, and stop it."""
    from tests.live import start_app

    folder = workdir / f"app-{engine}"
    folder.mkdir()
    started = time.perf_counter()
    app = start_app(
        {
            "MODEL_REGISTRY": str(registry),
            "MODEL_REPO": "",
            "MODEL_REVISION": "",
            "API_TOKEN": "",
            "HF_TOKEN": "",
            "HF_HOME": str(folder / "hf-home"),
            "PREDICTION_LOG_DIR": str(folder / "logs"),
            "PREDICTION_ENGINE": engine,
        },
        workdir=folder,
    )
    cold_start = time.perf_counter() - started
    try:
        idle_memory = _memory_kb(app.process.pid)["VmRSS"]
        growth = _growth(app, example, args.growth_requests) if engine == "compiled" else None
        results = _measure_app(app, args, example=example, batch=batch, expected_price=expected_price)
        results["growth"] = growth
        peak_memory = _memory_kb(app.process.pid)["VmHWM"]
        breakdown = re.search(r"startup\s+(.*)", app.output())
    finally:
        app.stop()
    print(f"app with the {engine} engine: {app.url} (pid {app.process.pid}), stopped", flush=True)
    return {
        **results,
        "cold_start": cold_start,
        "breakdown": breakdown.group(1) if breakdown else "(not printed)",
        "idle_memory": idle_memory,
        "peak_memory": peak_memory,
    }


def _growth(app: LiveApp, example: dict[str, Any], requests: int) -> tuple[int, int, int]:
    """(RSS after 500 warm-up requests, RSS after `requests` more single-row REST calls, calls made), in kB:
    measured first, before the batches and the concurrent run leave the allocator at their own peak."""
    client = _shared_client(app.url)
    for _ in range(500):
        client.post("/api/v1/predict", json=example).raise_for_status()
    time.sleep(1.0)  # the log writer's flush
    before = _memory_kb(app.process.pid)["VmRSS"]
    for _ in range(requests):
        client.post("/api/v1/predict", json=example).raise_for_status()
    time.sleep(1.0)
    return before, _memory_kb(app.process.pid)["VmRSS"], requests


def _offline_environment(workdir: Path) -> None:
    """Loopback only: no telemetry (gradio_client ignores analytics_enabled=False without this), no Hub token."""
    os.environ.update(
        {
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HOME": str(workdir / "hf-home"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        os.environ.pop(name, None)


def _measure_app(
    app: LiveApp,
    args: argparse.Namespace,
    *,
    example: dict[str, Any],
    batch: list[dict[str, Any]],
    expected_price: float,
) -> dict[str, Any]:
    from gradio_client import Client

    url = app.url
    _check_price("REST", _post(url, example), expected_price)
    rest_times = _times(lambda: _post(url, example), args.requests)

    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    try:
        _check_price("gradio_client", client.predict(example, api_name="/predict")["price"], expected_price)
        gradio_times = _times(lambda: client.predict(example, api_name="/predict"), args.gradio_requests)
    finally:
        client.close()

    cpu_before = _cpu_seconds(app.process.pid)
    throughput, loaded = _throughput(url, example, clients=args.clients, seconds=args.seconds)
    busy_cores = (_cpu_seconds(app.process.pid) - cpu_before) / throughput[1]

    body = json.dumps({"rows": batch}).encode()  # encoded once: the client's JSON work is not the server's latency

    def batch_call() -> None:
        response = _shared_client(url).post(
            "/api/v1/predict/batch", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 200:
            raise RuntimeError(f"batch of {len(batch)} rows: HTTP {response.status_code}: {response.text[:300]}")

    batch_times = _times(batch_call, args.batch_repeats, warm_up=1)
    explain_times: list[float] = []
    if _shared_client(url).post("/api/v1/explain", json=example).status_code == 200:
        explain_times = _times(lambda: _post(url, example, path="/api/v1/explain"), args.requests)
    return {
        "explain_rest": explain_times,
        "rest": rest_times,
        "gradio": gradio_times,
        "throughput": throughput,
        "loaded": loaded,
        "busy_cores": busy_cores,
        "batch": batch_times,
    }


def _throughput(
    url: str, example: dict[str, Any], *, clients: int, seconds: float
) -> tuple[tuple[int, float], list[float]]:
    """`clients` threads, each with its own keep-alive connection, posting single rows until the time is up."""
    clock: dict[str, float] = {}

    def start_clock() -> None:  # run by one thread while the others wait: all see the same deadline
        clock["began"] = time.perf_counter()
        clock["deadline"] = clock["began"] + seconds

    start = threading.Barrier(clients, action=start_clock, timeout=60)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def worker(mine: list[float]) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
                http.post("/api/v1/predict", json=example).raise_for_status()  # connect before the clock starts
                start.wait()
                while time.perf_counter() < clock["deadline"]:
                    began = time.perf_counter()
                    http.post("/api/v1/predict", json=example).raise_for_status()
                    mine.append(time.perf_counter() - began)
        except (httpx.HTTPError, threading.BrokenBarrierError) as error:
            failures.append(f"{type(error).__name__}: {error}")
            start.abort()

    threads = [threading.Thread(target=worker, args=(mine,), daemon=True) for mine in latencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.perf_counter() - clock.get("began", time.perf_counter())
    if failures or any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"throughput run failed: {failures[:1] or 'a client did not finish'}")
    every = [value for mine in latencies for value in mine]
    return (len(every), elapsed), every


def _check_price(surface: str, price: float, expected: float) -> None:
    if not math.isclose(price, expected, rel_tol=1e-12):
        raise RuntimeError(f"{surface} priced the first example at {price!r}, in-process at {expected!r}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and friends from /proc, in kB (Linux only)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.startswith("Vm") and value.strip().endswith("kB"):
            fields[name] = int(value.split()[0])
    return fields


def _times(call: Callable[[], Any], repeats: int, *, warm_up: int = WARM_UP) -> list[float]:
    """Wall times of `repeats` calls after a warm-up, or of as many as fit in STAGE_BUDGET (at least 3)."""
    for _ in range(warm_up):
        call()
    samples: list[float] = []
    stop = time.perf_counter() + STAGE_BUDGET
    while len(samples) < repeats and (len(samples) < 3 or time.perf_counter() < stop):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]], floors: dict[str, Any], price: float) -> None:
    rows = f"{args.batch_rows:,} rows"
    p50, p99 = (lambda s: float(np.percentile(s, 50))), (lambda s: float(np.percentile(s, 99)))

    def each(pick: Callable[[dict[str, Any]], float | str], floor: float | str = "") -> dict[str, float | str]:
        return {**{engine: pick(results[engine]) for engine in ENGINES}, "floor": floor}

    lines = [
        Line("in process, 1 row with validation and monitoring, p50", each(lambda r: p50(r["in_single"]))),
        Line("in process, 1 row with validation and monitoring, p99", each(lambda r: p99(r["in_single"]))),
        Line(f"in process, predict_batch of {rows}, median", each(lambda r: float(np.median(r["in_batch"])))),
        Line("in process, 1 row explained (Predictor.explain), p50", each(lambda r: _p50_or_dash(r["in_explain"]))),
        Line("in process, 1 row explained (Predictor.explain), p99", each(lambda r: _p99_or_dash(r["in_explain"]))),
        Line("  of which the explanation alone, p50", each(lambda r: _p50_or_dash(r["explain"]))),
        Line("REST POST /api/v1/predict, 1 row, p50", each(lambda r: p50(r["rest"]), p50(floors["rest"]))),
        Line("REST POST /api/v1/predict, 1 row, p99", each(lambda r: p99(r["rest"]), p99(floors["rest"]))),
        Line(
            f"REST, {args.clients} concurrent clients (req/s)",
            each(lambda r: _rate(r["throughput"]), _rate(floors["throughput"])),
        ),
        Line("  latency under that load, p50", each(lambda r: p50(r["loaded"]))),
        Line("  latency under that load, p99", each(lambda r: p99(r["loaded"]))),
        Line("  app CPU during that run (cores)", each(lambda r: f"{r['busy_cores']:.2f}")),
        Line("REST POST /api/v1/explain, 1 row, p50", each(lambda r: _p50_or_dash(r["explain_rest"]))),
        Line(f"REST POST /api/v1/predict/batch, {rows}, median", each(lambda r: float(np.median(r["batch"])))),
        Line(f"REST POST /api/v1/predict/batch, {rows}, worst", each(lambda r: max(r["batch"]))),
        Line('gradio_client predict("/predict"), p50', each(lambda r: p50(r["gradio"]), p50(floors["gradio"]))),
        Line("cold start to /health/ready", each(lambda r: r["cold_start"])),
        Line("memory after start (VmRSS)", each(lambda r: _mb(r["idle_memory"]))),
        Line("peak memory at the end (VmHWM)", each(lambda r: _mb(r["peak_memory"]))),
    ]
    reference = p50(results["pipeline"]["in_single"])
    _print_table(lines, reference)
    before, after, count = results["compiled"]["growth"]
    gradio_ratio = p50(results["compiled"]["gradio"]) / p50(floors["gradio"])
    rest_ratio = p50(results["compiled"]["rest"]) / p50(floors["rest"])
    print(
        f"\n× pipeline: each time divided by the pipeline engine's in-process p50 ({_duration(reference)}); for a"
        f" rate, (1 / rate) divided by it.\nfloor: a bare FastAPI app (REST) and a bare gr.api app (gradio_client)"
        f" answering a fixed price (benchmarks/floors.py).\ncompiled engine against the floors: REST p50"
        f" {rest_ratio:.2f}× the bare FastAPI app's, gradio_client p50 {gradio_ratio:.2f}× the bare gr.api app's."
        f"\nmemory growth with the compiled engine over {count:,} REST requests after 500 warm-up ones:"
        f" {_mb(before)} → {_mb(after)}"
        f" ({(after - before) / 1024:+.1f} MB)."
    )
    for engine in ENGINES:
        print(f"cold start with the {engine} engine, as the app printed it: {results[engine]['breakdown']}")
    stages = " · ".join(f"{name} {_duration(sec)}" for name, sec in results["compiled"]["stages"].items())
    print(f"one in-process request with the compiled engine, stage by stage (p50 of each alone): {stages}")
    samples = ", ".join(
        f"{engine}: {len(results[engine]['in_single'])} in-process, {len(results[engine]['rest'])} REST,"
        f" {len(results[engine]['gradio'])} gradio_client, {len(results[engine]['batch'])} batches"
        for engine in ENGINES
    )
    print(
        f"samples (each stage stops after {STAGE_BUDGET:g} s): {samples}; after {WARM_UP} warm-up calls (1 for"
        f" batches). Same price from both engines and every surface: ${price:,.2f}.\nat the end: {_load()}"
    )


def _p50_or_dash(samples: list[float]) -> float | str:
    """A percentile, or a dash where the engine does not offer the measure (the pipeline cannot explain)."""
    return float(np.percentile(samples, 50)) if samples else "—"


def _p99_or_dash(samples: list[float]) -> float | str:
    return float(np.percentile(samples, 99)) if samples else "—"


def _rate(throughput: tuple[int, float]) -> str:
    count, elapsed = throughput
    return f"{count / elapsed:,.1f}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=Path(os.environ.get("MODEL_REGISTRY") or "registry"))
    parser.add_argument("--requests", type=int, default=300, help="timed single-row calls, in-process and REST")
    parser.add_argument("--gradio-requests", type=int, default=100, help="timed gradio_client calls")
    parser.add_argument("--clients", type=int, default=8, help="concurrent REST clients for the throughput run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each throughput run")
    parser.add_argument("--batch-rows", type=int, default=1000, help="rows per batch (the app's limit is 1000)")
    parser.add_argument("--batch-repeats", type=int, default=10, help="timed batch calls")
    parser.add_argument("--growth-requests", type=int, default=10_000, help="requests for the memory growth figure")
    args = parser.parse_args()
    for name in ("requests", "gradio_requests", "clients", "batch_rows", "batch_repeats", "growth_requests"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 < args.seconds <= 60:
        parser.error("--seconds must be in (0, 60]")
    return args


def _load() -> str:
    """Other processes share the cores: the load average says how far to trust the figures."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def _print_table(lines: list[Line], reference: float) -> None:
    width = max(len(line.label) for line in lines) + 2
    header = f"{'measure':<{width}}" + "".join(f"{name:>12}{'× pipeline':>12}" for name in ENGINES) + f"{'floor':>12}"
    print("\n" + header)
    print("-" * len(header))
    for line in lines:
        cells = []
        for name in (*ENGINES, "floor"):
            value = line.values.get(name, "")
            if isinstance(value, float):
                share = value / reference
                text, ratio = _duration(value), f"{share:.4f}" if share < 0.1 else f"{share:.2f}"
            elif isinstance(value, str) and value and value[0].isdigit() and "req/s" in line.label:
                rate = float(value.replace(",", ""))
                text, ratio = value, f"{1 / rate / reference:.4f}"
            else:
                text, ratio = str(value), ""
            cells.append(f"{text:>12}" + (f"{ratio:>12}" if name != "floor" else ""))
        print(f"{line.label:<{width}}" + "".join(cells))


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.3f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
