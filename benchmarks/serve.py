"""Print serving latency, throughput and memory of the real app, each against the in-process floor.

python benchmarks/serve.py [--registry ./registry] [--requests 200] [--gradio-requests 50] [--seconds 10]
                           [--clients 8] [--batch-rows 1000] [--batch-repeats 5] [--omp-threads N]

Needs a model in the registry (`python -m training`). Starts `app.py` on a free loopback port (as the tests
do), measures, stops it. The floor is `Predictor.predict` on the first example in this process: validation,
the DataFrame and the model, without HTTP, JSON or Gradio's queue. About 75 s on 2 cores; each timed stage
stops after 15 s, so a slow or busy machine gives fewer samples rather than a longer run.
"""

from __future__ import annotations

import argparse
import math
import os
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
    from tests.live import LiveApp

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 5
STAGE_BUDGET = 15.0  # seconds per timed stage: fewer samples on a slow or busy machine, never a long wait


@dataclass(frozen=True)
class Line:
    label: str
    seconds: float | None = None  # a time, compared with the floor
    text: str = ""  # anything else, with its ratio already worked out
    ratio: str = ""


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        return _run(args, Path(folder))


def _run(args: argparse.Namespace, workdir: Path) -> int:
    load_before = _load()  # before this script adds its own work
    busy = os.getloadavg()[0] > 0.5
    _offline_environment(workdir)
    if args.omp_threads:  # before scikit-learn is imported, here and (inherited) in the app
        os.environ["OMP_NUM_THREADS"] = str(args.omp_threads)
    threads = os.environ.get("OMP_NUM_THREADS") or "default (one per core)"
    sys.path.insert(0, str(ROOT))
    from serving import Predictor, ServingSettings, StartupError, load_served_model
    from serving.monitor import Monitor

    registry = args.registry.resolve()
    try:
        served = load_served_model(ServingSettings(registry=registry))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The floor includes the monitoring every request pays for (log queue, metrics, drift window).
    settings = ServingSettings(registry=registry, log_dir=Path(tempfile.mkdtemp(prefix="serve-bench-logs-")))
    predictor = Predictor(served, max_rows=args.batch_rows, monitor=Monitor(served, settings))
    example = served.examples[0]
    batch = [served.examples[n % len(served.examples)] for n in range(args.batch_rows)]
    print(f"model {served.version} (commit {served.commit[:12]}) from {registry}", flush=True)
    print(f"{load_before}; OpenMP threads: {threads}", flush=True)
    if busy:
        print("warning: the machine is busy; other work inflates every figure below", flush=True)

    floor = _times(lambda: predictor.predict(example, surface="rest"), args.requests)
    floor_batch = _times(lambda: predictor.predict_batch(batch, surface="rest"), args.batch_repeats, warm_up=1)
    local_price = predictor.predict(example, surface="rest").price
    own_memory = _memory_kb(os.getpid())["VmRSS"]
    print(f"floor measured ({len(floor)} calls); starting the app…", flush=True)

    results = _serve_and_measure(args, registry, workdir, example=example, batch=batch, expected_price=local_price)
    _report(args, floor=floor, floor_batch=floor_batch, results=results, own_memory=own_memory, price=local_price)
    return 0


def _serve_and_measure(
    args: argparse.Namespace,
    registry: Path,
    workdir: Path,
    *,
    example: dict[str, Any],
    batch: list[dict[str, Any]],
    expected_price: float,
) -> dict[str, Any]:
    """Start app.py on loopback, measure every surface, read its memory from /proc, and stop it."""
    from tests.live import start_app

    started = time.perf_counter()
    app = start_app(
        {
            "MODEL_REGISTRY": str(registry),
            "MODEL_REPO": "",
            "MODEL_REVISION": "",
            "API_TOKEN": "",
            "HF_TOKEN": "",
            "HF_HOME": str(workdir / "hf-home"),
            "PREDICTION_LOG_DIR": str(workdir / "logs"),
        },
        workdir=workdir,
    )
    cold_start = time.perf_counter() - started
    try:
        idle_memory = _memory_kb(app.process.pid)["VmRSS"]
        results = _measure_app(app, args, example=example, batch=batch, expected_price=expected_price)
        peak_memory = _memory_kb(app.process.pid)["VmHWM"]
    finally:
        app.stop()
    print(f"app: {app.url} (pid {app.process.pid}), stopped\n")
    return {**results, "cold_start": cold_start, "idle_memory": idle_memory, "peak_memory": peak_memory}


def _report(
    args: argparse.Namespace,
    *,
    floor: list[float],
    floor_batch: list[float],
    results: dict[str, Any],
    own_memory: int,
    price: float,
) -> None:
    floor_p50 = float(np.percentile(floor, 50))
    idle, peak, rows = results["idle_memory"], results["peak_memory"], f"{args.batch_rows:,} rows"
    lines = [
        Line("in-process Predictor.predict, 1 row, p50 (floor)", floor_p50),
        Line("in-process Predictor.predict, 1 row, p99", float(np.percentile(floor, 99))),
        *_latency_lines("REST POST /api/v1/predict, 1 row", results["rest"]),
        *_latency_lines('gradio_client predict(api_name="/predict"), 1 row', results["gradio"]),
        _throughput_line(results["throughput"], args, floor_p50),
        *_latency_lines(f"  latency under that load ({args.clients} clients)", results["loaded"]),
        Line("  app CPU use during that run", text=f"{results['busy_cores']:.2f} cores"),
        Line(f"in-process predict_batch, {rows}, median", float(np.median(floor_batch))),
        Line(f"REST POST /api/v1/predict/batch, {rows}, median", float(np.median(results["batch"]))),
        Line(f"REST POST /api/v1/predict/batch, {rows}, worst", max(results["batch"])),
        Line("app cold start to ready (python app.py)", text=_duration(results["cold_start"])),
        Line("app memory after start (VmRSS)", text=_mb(idle), ratio=f"{idle / own_memory:.2f}"),
        Line("app peak memory at the end (VmHWM)", text=_mb(peak), ratio=f"{peak / own_memory:.2f}"),
    ]
    _print_table(lines, floor_p50)
    print(
        f"\n× floor: a time divided by the floor's p50; for throughput, (1 / throughput) divided by it (below 1 means"
        f" the concurrent clients overlap); for memory, divided by this process's RSS with the same model loaded"
        f" in-process ({_mb(own_memory)}).\nsamples (each stage stops after {STAGE_BUDGET:g} s): {len(floor)} floor,"
        f" {len(floor_batch)} in-process batches, {len(results['rest'])} REST, {len(results['gradio'])} gradio_client,"
        f" {results['throughput'][0]} throughput requests in {results['throughput'][1]:.1f} s, {len(results['batch'])}"
        f" REST batches, after {WARM_UP} warm-up calls (1 for batches). Same price on every surface: ${price:,.2f}."
        f"\nat the end: {_load()}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=Path(os.environ.get("MODEL_REGISTRY") or "registry"))
    parser.add_argument("--requests", type=int, default=200, help="timed single-row calls, in-process and REST")
    parser.add_argument("--gradio-requests", type=int, default=50, help="timed gradio_client calls (~0.1 s each)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent REST clients for the throughput run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput run")
    parser.add_argument("--batch-rows", type=int, default=1000, help="rows per batch (the app's limit is 1000)")
    parser.add_argument("--omp-threads", type=int, help="OMP_NUM_THREADS for the floor and the app (default: inherit)")
    parser.add_argument("--batch-repeats", type=int, default=5, help="timed batch calls")
    args = parser.parse_args()
    for name in ("requests", "gradio_requests", "clients", "batch_rows", "batch_repeats", "omp_threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 < args.seconds <= 60:
        parser.error("--seconds must be in (0, 60]")
    return args


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

    with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:

        def rest() -> float:
            response = http.post("/api/v1/predict", json=example)
            response.raise_for_status()
            return float(response.json()["price"])

        _check_price("REST", rest(), expected_price)
        rest_times = _times(rest, args.requests)
        print(f"REST single-row measured ({len(rest_times)} calls)", flush=True)

        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        try:
            _check_price("gradio_client", client.predict(example, api_name="/predict")["price"], expected_price)
            gradio_times = _times(lambda: client.predict(example, api_name="/predict"), args.gradio_requests)
        finally:
            client.close()
        print(f"gradio_client measured ({len(gradio_times)} calls)", flush=True)

        cpu_before = _cpu_seconds(app.process.pid)
        throughput, loaded = _throughput(url, example, clients=args.clients, seconds=args.seconds)
        busy_cores = (_cpu_seconds(app.process.pid) - cpu_before) / throughput[1]
        print(f"throughput measured ({args.clients} clients, {args.seconds:g} s)", flush=True)

        def batch_call() -> None:
            response = http.post("/api/v1/predict/batch", json={"rows": batch})
            if response.status_code != 200:
                raise RuntimeError(f"batch of {len(batch)} rows: HTTP {response.status_code}: {response.text[:300]}")

        batch_times = _times(batch_call, args.batch_repeats, warm_up=1)
        print(f"batches measured ({len(batch_times)} × {len(batch):,} rows)", flush=True)
    return {
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


def _latency_lines(label: str, samples: list[float]) -> list[Line]:
    return [
        Line(f"{label}, p50", float(np.percentile(samples, 50))),
        Line(f"{label}, p99", float(np.percentile(samples, 99))),
    ]


def _throughput_line(throughput: tuple[int, float], args: argparse.Namespace, floor: float) -> Line:
    count, elapsed = throughput
    rate = count / elapsed
    return Line(
        f"REST throughput, {args.clients} concurrent clients",
        text=f"{rate:,.1f} req/s",
        ratio=f"{1 / rate / floor:.2f}",
    )


def _load() -> str:
    """Other processes share the cores: the load average says how far to trust the figures."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def _print_table(lines: list[Line], floor: float) -> None:
    width = max(len(line.label) for line in lines) + 2
    print(f"{'measure':<{width}}{'value':>14}{'× floor':>10}")
    print("-" * (width + 24))
    for line in lines:
        if line.seconds is not None:
            value, ratio = _duration(line.seconds), f"{line.seconds / floor:.2f}"
        else:
            value, ratio = line.text, line.ratio
        print(f"{line.label:<{width}}{value:>14}{ratio:>10}")


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
