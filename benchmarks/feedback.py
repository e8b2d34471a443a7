"""Feedback lookups after a restart: 1,000 unknown and 1,000 known request ids against 100,000 logged predictions.

python benchmarks/feedback.py [--logged 100000] [--feedbacks 1000] [--registry ./registry]

1. An earlier run: `--logged` predictions of the served model's example rows (79 features each, as the app
   logs them) are written through the app's own PredictionLog, which also fills the request index.
2. In process: what the index costs (one lookup; indexing that whole log at a first start without an index)
   against what the lookup cost before the index (a scan of every log file for an unknown id).
3. A restart: `app.py` starts on that log folder. One client sends `--feedbacks` feedbacks for unknown ids, then
   as many for known ids of the earlier run (each answer checked: 404, then 200), while a second client prices
   houses back to back over REST. Printed: p50/p99 of each kind of feedback, and the price requests' p50/p99
   in each phase, against two baselines measured first in the same run: a quiet phase, and a phase where the
   first client sends as many price requests instead of feedbacks (the same load on the server and on this
   process's GIL, so the ratio to it is what a feedback costs beyond any other request).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serve import _cpu_seconds, _duration, _load, _offline_environment  # noqa: E402
from serving.recorder import PredictionLog, utc_now  # noqa: E402
from serving.request_index import FILE_NAME, RequestIndex  # noqa: E402

SCAN_REPEATS = 5  # the pre-index scan takes long: a few runs give its cost


def main() -> int:
    args = _arguments()
    print(_load())
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as folder:
        workdir = Path(folder)
        _offline_environment(workdir)
        examples = _examples(args.registry)
        logs = workdir / "logs"
        started = time.perf_counter()
        known = _earlier_run(logs, examples, args.logged)
        size = sum(path.stat().st_size for path in logs.glob("predictions-*.jsonl"))
        print(f"earlier run: {args.logged:,} predictions logged ({size / 2**20:,.0f} MB) in {_since(started)}")
        _in_process(logs, known)
        _restarted(args, workdir, logs, known, examples)
    return 0


def _examples(registry: Path) -> list[dict[str, Any]]:
    """The production version's example rows: what the earlier run logged, and what the pricing client sends."""
    from modelrepo import EXAMPLES_FILE, LocalStore, ModelRepoError

    store = LocalStore(registry.resolve())
    try:
        found = store.resolve("production")
    except ModelRepoError as error:
        raise SystemExit(f"{error} Train one first: python -m training") from error
    rows: list[dict[str, Any]] = json.loads((store.root / found.name / EXAMPLES_FILE).read_text())["rows"]
    return rows


def _earlier_run(logs: Path, examples: list[dict[str, Any]], count: int) -> list[str]:
    log = PredictionLog(logs, flush_seconds=0.05, max_pending=count + 1)
    ids = [f"{n:032x}" for n in range(1, count + 1)]
    time_text = utc_now().isoformat()
    for start in range(0, count, 1000):
        log.predictions(
            [
                {
                    "time": time_text,
                    "request_id": request_id,
                    "surface": "rest",
                    "batch": False,
                    "model_version": "v1",
                    "model_commit": "0" * 40,
                    "features": examples[n % len(examples)],
                    "price": 180_000.0,
                    "low": 160_000.0,
                    "high": 200_000.0,
                    "level": 0.8,
                }
                for n, request_id in enumerate(ids[start : start + 1000], start)
            ]
        )
    if not log.close():
        raise SystemExit("the earlier run's log could not be written")
    return ids


def _in_process(logs: Path, known: list[str]) -> None:
    index = RequestIndex(logs)
    lookups = [_seconds(lambda request_id=request_id: index.knows(request_id)) for request_id in known[:1000]]
    index.close()
    scans = [_seconds(lambda: _scan(logs, "f" * 32)) for _ in range(SCAN_REPEATS)]
    fresh = logs.parent / "no-index"
    fresh.mkdir()
    for path in logs.glob("predictions-*.jsonl"):
        (fresh / path.name).symlink_to(path)
    rebuilt = RequestIndex(fresh)
    began = time.perf_counter()
    lines = rebuilt.catch_up(fresh)
    rebuild = time.perf_counter() - began
    rebuilt.close()
    lookup, scan = statistics.median(lookups), statistics.median(scans)
    print("\nin process (one thread)")
    print(f"  index lookup, known id        p50 {_duration(lookup):>10}")
    print(f"  before the index: a scan of the log for an unknown id  {_duration(scan):>10}  ({scan / lookup:,.0f}×)")
    print(f"  indexing {lines:,} logged ids at a first start (writer thread)  {_duration(rebuild)}")


def _scan(logs: Path, request_id: str) -> bool:
    """The lookup the app made before the index, for an id it did not hold in memory."""
    quoted = json.dumps(request_id)
    needles = (f'"request_id":{quoted}', f'"request_id": {quoted}')
    for path in sorted(logs.glob("predictions-*.jsonl"), reverse=True):
        with path.open(encoding="utf-8") as stream:
            if any(needle in line for line in stream for needle in needles):
                return True
    return False


def _restarted(
    args: argparse.Namespace, workdir: Path, logs: Path, known: list[str], examples: list[dict[str, Any]]
) -> None:
    from tests.live import start_app

    if not (logs / FILE_NAME).is_file():
        raise SystemExit("the earlier run left no request index")
    app = start_app(
        {
            "MODEL_REGISTRY": str(args.registry.resolve()),
            "MODEL_REPO": "",
            "MODEL_REVISION": "",
            "API_TOKEN": "",
            "HF_TOKEN": "",
            "PREDICTION_LOG_DIR": str(logs),
        },
        workdir=workdir,
    )
    unknown = [f"{random.getrandbits(128):032x}" for _ in range(args.feedbacks)]
    chosen = random.Random(0).sample(known, args.feedbacks)
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            client.post("/api/v1/predict", json=examples[0]).raise_for_status()
            pid = app.process.pid
            quiet = _beside(client, examples, lambda: time.sleep(args.quiet_seconds))
            unknown_times: list[float] = []
            known_times: list[float] = []
            price_times: list[float] = []
            with httpx.Client(base_url=app.url, timeout=30) as sender:
                cpu = {"start": _cpu_seconds(pid)}
                during_prices = _beside(client, examples, lambda: _price(sender, examples, args.feedbacks, price_times))
                cpu["prices"] = _cpu_seconds(pid)
                during_unknown = _beside(client, examples, lambda: _send(sender, unknown, 404, unknown_times))
                cpu["unknown"] = _cpu_seconds(pid)
                during_known = _beside(client, examples, lambda: _send(sender, chosen, 200, known_times))
                cpu["known"] = _cpu_seconds(pid)
    finally:
        app.stop()
    print(f"\nrestarted app on that log ({app.url}), feedback from one client while another prices houses")
    print(f"  {'':38}{'p50':>10}{'p99':>10}")
    for label, times in (
        (f"price requests instead, {len(price_times):,}", price_times),
        (f"feedback, {len(unknown_times):,} unknown ids (404)", unknown_times),
        (f"feedback, {len(known_times):,} known ids (200)", known_times),
    ):
        print(f"  {label:38}{_duration(_percentile(times, 50)):>10}{_duration(_percentile(times, 99)):>10}")
    per_request = {  # the server's CPU over each phase, per request of both clients
        "prices": (cpu["prices"] - cpu["start"]) / (len(price_times) + len(during_prices)),
        "unknown": (cpu["unknown"] - cpu["prices"]) / (len(unknown_times) + len(during_unknown)),
        "known": (cpu["known"] - cpu["unknown"]) / (len(known_times) + len(during_known)),
    }
    print(
        f"  server CPU per request: {_duration(per_request['prices'])} in the baseline, "
        f"{_duration(per_request['unknown'])} beside unknown ids, "
        f"{_duration(per_request['known'])} beside known ids"
    )
    print("  the other client's price requests meanwhile")
    base50, base99 = _percentile(during_prices, 50), _percentile(during_prices, 99)
    for label, times in (
        ("quiet", quiet),
        ("beside price requests (baseline)", during_prices),
        ("beside unknown-id feedback", during_unknown),
        ("beside known-id feedback", during_known),
    ):
        p50, p99 = _percentile(times, 50), _percentile(times, 99)
        ratios = f"   {p50 / base50:.2f}× / {p99 / base99:.2f}× baseline, {len(times):,} calls"
        print(f"  {label:38}{_duration(p50):>10}{_duration(p99):>10}{ratios}")


def _send(client: httpx.Client, ids: list[str], status: int, times: list[float]) -> None:
    for request_id in ids:
        began = time.perf_counter()
        response = client.post("/api/v1/feedback", json={"request_id": request_id, "actual_price": 181_000})
        times.append(time.perf_counter() - began)
        if response.status_code != status:
            raise SystemExit(f"feedback for {request_id}: HTTP {response.status_code}, expected {status}")


def _price(client: httpx.Client, examples: list[dict[str, Any]], count: int, times: list[float]) -> None:
    for n in range(count):
        began = time.perf_counter()
        client.post("/api/v1/predict", json=examples[n % len(examples)]).raise_for_status()
        times.append(time.perf_counter() - began)


def _beside(client: httpx.Client, examples: list[dict[str, Any]], work: Callable[[], None]) -> list[float]:
    """Price houses back to back on `client` while `work` runs in another thread; returns their latencies."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported below, after the pricing loop stops
            failure.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    times: list[float] = []
    while not done.is_set():
        began = time.perf_counter()
        client.post("/api/v1/predict", json=examples[len(times) % len(examples)]).raise_for_status()
        times.append(time.perf_counter() - began)
    thread.join()
    if failure:
        raise failure[0]
    return times


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def _seconds(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _since(began: float) -> str:
    return _duration(time.perf_counter() - began)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=Path(os.environ.get("MODEL_REGISTRY") or "registry"))
    parser.add_argument("--logged", type=int, default=100_000, help="predictions logged by the earlier run")
    parser.add_argument("--feedbacks", type=int, default=1000, help="feedbacks of each kind after the restart")
    parser.add_argument("--quiet-seconds", type=float, default=3.0, help="length of the quiet phase")
    args = parser.parse_args()
    if args.logged < args.feedbacks or args.feedbacks < 1:
        parser.error("--feedbacks must be at least 1 and at most --logged")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
