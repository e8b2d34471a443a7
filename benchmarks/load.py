"""Load the real app with concurrent REST and gradio_client callers for a fixed time; print latency and memory.

python benchmarks/load.py [--duration 60] [--clients 8] [--gradio-clients N] [--registry ./registry]
python benchmarks/load.py --url http://127.0.0.1:7860 [--pid PID] [--examples PATH/examples.json]

Without `--url`, starts `app.py` on a free loopback port (as the tests and benchmarks/serve.py do) and stops it
at the end. `--clients` callers (default 8: half REST with httpx, half gradio_client, `--gradio-clients` to
change the split) each send single houses, cycling through the served model's real example rows, back to back
until `--duration` seconds have passed. Every answer is checked (HTTP 200, the served version, and the price
recorded for that example at training time); anything else counts as an error, and any error makes the exit
status 1.

Memory is the server process's VmRSS from /proc (Linux), sampled every 0.5 s: at the start of the run, at
the end, and the highest sample, plus VmHWM (its peak since it started). Against `--url`, memory and CPU are
reported only if `--pid` names the server process. With `API_TOKEN` set in the environment, every call sends
`Authorization: Bearer <token>` (and a started app requires it).

The examples come from the served version's `examples.json` in `--registry` (checked against the commit the
app reports); for an app serving a Hub model, pass that version's `examples.json` with `--examples`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serve import _cpu_seconds, _load, _mb, _memory_kb, _offline_environment  # noqa: E402

SAMPLE_SECONDS = 0.5  # how often the server's RSS is read during a run
SURFACES = ("REST", "gradio_client")


class SetupError(Exception):
    """The app or its examples could not be reached: reported in one line, exit status 2."""


@dataclass(frozen=True)
class Target:
    """The app under load: where it is, which model it serves, and the rows to send it."""

    url: str
    pid: int | None
    headers: dict[str, str]
    version: str
    commit: str
    rows: list[dict[str, Any]]
    prices: list[float]  # recorded at training time for each row: every surface must reproduce them
    started_here: bool


@dataclass
class Tally:
    """One caller's results: latencies of good answers, and a message per failed call."""

    surface: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        workdir = Path(folder)
        _offline_environment(workdir)
        load_before = _load()  # before this script adds its own work
        try:
            with serve(args, workdir) as target:
                return _run(args, target, load_before)
        except SetupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2


def _run(args: argparse.Namespace, target: Target, load_before: str) -> int:
    gradio_clients = args.clients // 2 if args.gradio_clients is None else args.gradio_clients
    surfaces = ["REST"] * (args.clients - gradio_clients) + ["gradio_client"] * gradio_clients
    print(describe(target), flush=True)
    print(f"before: {load_before}", flush=True)
    print(
        f"{args.clients} clients ({surfaces.count('REST')} REST, {surfaces.count('gradio_client')} gradio_client),"
        f" {args.duration:g} s, single houses cycling through {len(target.rows)} example rows…",
        flush=True,
    )
    server = ServerWatch(target.pid)
    tallies, elapsed, setup_errors = _drive(target, surfaces, args.duration, on_start=server.start)
    server.stop()
    if elapsed is not None:
        _report(tallies, elapsed, server)
    print(f"at the end: {_load()}")
    errors = sum(len(tally.errors) for tally in tallies) + len(setup_errors)
    for message in [*setup_errors, *(error for tally in tallies for error in tally.errors)][:5]:
        print(f"  error: {message}", file=sys.stderr)
    if errors:
        print(f"FAILED: {errors} errors (must be 0)", file=sys.stderr)
        return 1
    return 0


@contextmanager
def serve(
    args: argparse.Namespace, workdir: Path, *, prelude: str | None = None, env: dict[str, str] | None = None
) -> Iterator[Target]:
    """The app at `--url`, or app.py started here on loopback (and stopped on the way out).

    `prelude` (Python run first in the app's interpreter) and `env` apply only to an app started here."""
    headers = auth_headers()
    if args.url:
        url = args.url.rstrip("/")
        _wait_ready(url, timeout=10)
        yield _target(args, url, args.pid, headers, started_here=False)
        return
    from tests.live import start_app

    registry = args.registry.resolve()
    if not registry.is_dir():
        raise SetupError(f"no registry at {registry}: run `python -m training` first, or pass --registry")
    started = time.perf_counter()
    try:
        app = start_app(
            {
                "MODEL_REGISTRY": str(registry),
                "MODEL_REPO": "",
                "MODEL_REVISION": args.revision,
                "API_TOKEN": os.environ.get("API_TOKEN", ""),
                "HF_TOKEN": "",
                "HF_HOME": str(workdir / "hf-home"),
                "PREDICTION_LOG_DIR": str(workdir / "logs"),
                "OMP_NUM_THREADS": "1",
                **(env or {}),
            },
            workdir=workdir,
            prelude=prelude,
        )
    except RuntimeError as error:
        raise SetupError(f"the app did not start: {error}") from error
    print(f"app started in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        yield _target(args, app.url, app.process.pid, headers, started_here=True)
    finally:
        app.stop()


def auth_headers() -> dict[str, str]:
    """`Authorization: Bearer $API_TOKEN` when the token is set (the token itself is never printed)."""
    token = os.environ.get("API_TOKEN", "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def describe(target: Target) -> str:
    where = f"pid {target.pid}" if target.pid else "pid unknown: no memory or CPU figures"
    origin = "started here" if target.started_here else "already running"
    access = "with the API token" if target.headers else "open"
    return f"app {target.url} ({origin}, {where}, {access}); model {target.version} (commit {target.commit[:12]})"


def _wait_ready(url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/health/ready", timeout=5, trust_env=False)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.5)
    raise SetupError(f"{url}/health/ready did not answer 200 within {timeout:g} s ({last})")


def _target(
    args: argparse.Namespace, url: str, pid: int | None, headers: dict[str, str], *, started_here: bool
) -> Target:
    response = httpx.get(f"{url}/api/v1/model", headers=headers, timeout=30, trust_env=False)
    if response.status_code == 401:
        raise SetupError(f"{url} needs its API token: set API_TOKEN in the environment")
    if response.status_code != 200:
        raise SetupError(f"GET {url}/api/v1/model answered HTTP {response.status_code}: {response.text[:200]}")
    info = response.json()
    version, commit = info["model_version"], info["model_commit"]
    rows, prices = _examples(args, version, commit)
    if pid is not None and not Path(f"/proc/{pid}/status").is_file():
        raise SetupError(f"no process {pid} on this machine (--pid must be the server's process id)")
    return Target(url, pid, headers, version, commit, rows, prices, started_here)


def _examples(args: argparse.Namespace, version: str, commit: str) -> tuple[list[dict[str, Any]], list[float]]:
    """The served version's example rows and their prices recorded at training time."""
    if args.examples:
        path = args.examples
    else:
        from modelrepo import EXAMPLES_FILE, LocalStore, ModelRepoError

        store = LocalStore(args.registry.resolve())
        try:
            found = store.resolve(version)
        except ModelRepoError as error:
            raise SetupError(f"{error} Pass the served version's examples.json with --examples.") from error
        if found.commit != commit:
            raise SetupError(
                f"{version} in {store.root} has commit {found.commit[:12]}, the app serves {commit[:12]}: pass the"
                " served version's examples.json with --examples"
            )
        path = store.root / found.name / EXAMPLES_FILE
    try:
        examples = json.loads(Path(path).read_text(encoding="utf-8"))
        rows, prices = examples["rows"], [float(price) for price in examples["predictions"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SetupError(f"cannot read example rows and predictions from {path}: {error}") from error
    if not rows or len(rows) != len(prices):
        raise SetupError(f"{path} holds no example rows, or not one prediction per row")
    return rows, prices


def check_answer(answer: Any, expected_price: float, version: str) -> str | None:
    """None for a right answer; else what is wrong with it."""
    if not isinstance(answer, dict) or "price" not in answer:
        return f"unexpected answer: {str(answer)[:200]}"
    if answer.get("model_version") != version:
        return f"model version {answer.get('model_version')!r}, expected {version!r}"
    if not math.isclose(float(answer["price"]), expected_price, rel_tol=1e-9):
        return f"price {answer['price']!r}, expected {expected_price!r} (recorded at training time)"
    return None


def gradio_client(url: str, headers: dict[str, str]) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, headers=headers or None, analytics_enabled=False, download_files=False)


class ServerWatch:
    """The server's VmRSS every SAMPLE_SECONDS in a thread, and its CPU time, from `start()` to `stop()`.

    Does nothing without a pid; if the process goes away, the figures stop where it did.
    """

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self.peak_since_start: int | None = None  # VmHWM: the process's own high-water mark
        self.cores: float | None = None  # average CPU use between start() and stop()
        self._began: tuple[float, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        if not self.pid:
            return
        try:
            self._began = (_cpu_seconds(self.pid), time.perf_counter())
            self.samples.append(_memory_kb(self.pid)["VmRSS"])
        except (OSError, KeyError):  # gone (a zombie has no VmRSS)
            return
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()
        assert self.pid is not None and self._began is not None
        try:
            memory, cpu = _memory_kb(self.pid), _cpu_seconds(self.pid)
            self.samples.append(memory["VmRSS"])
            self.peak_since_start = memory["VmHWM"]
        except (OSError, KeyError):
            return
        self.cores = (cpu - self._began[0]) / (time.perf_counter() - self._began[1])

    def _run(self) -> None:
        assert self.pid is not None
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                self.samples.append(_memory_kb(self.pid)["VmRSS"])
            except (OSError, KeyError):  # the process is gone; the callers report errors
                return


def _drive(
    target: Target, surfaces: list[str], seconds: float, *, on_start: Callable[[], None]
) -> tuple[list[Tally], float | None, list[str]]:
    """One thread per caller; all connect and make one checked call first, then start together.

    Returns the tallies, the seconds from the start to the return of the last call (None if the callers never
    started) and the errors that kept a caller from starting or finishing."""
    clock: dict[str, float] = {}

    def start_clock() -> None:  # run by one thread while the others wait: all see the same deadline
        on_start()
        clock["began"] = time.perf_counter()
        clock["deadline"] = clock["began"] + seconds

    start = threading.Barrier(len(surfaces), action=start_clock, timeout=120)
    tallies = [Tally(surface) for surface in surfaces]
    setup_errors: list[str] = []

    def worker(number: int, tally: Tally) -> None:
        try:
            with _caller(target, tally.surface) as call:
                first = number % len(target.rows)
                problem = check_answer(call(target.rows[first]), target.prices[first], target.version)
                if problem:
                    raise RuntimeError(problem)
                start.wait()
                _loop(call, target, tally, offset=number, deadline=clock["deadline"])
        except threading.BrokenBarrierError:
            return  # another caller failed to set up and said why
        except Exception as error:
            setup_errors.append(f"{tally.surface} caller {number + 1} could not start: {type(error).__name__}: {error}")
            start.abort()

    threads = [
        threading.Thread(target=worker, args=(number, tally), name=f"caller-{number + 1}", daemon=True)
        for number, tally in enumerate(tallies)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 180)
    elapsed = time.perf_counter() - clock["began"] if "began" in clock else None
    if any(thread.is_alive() for thread in threads):
        setup_errors.append("a caller did not finish within 180 s of the end of the run")
    return tallies, elapsed, setup_errors


@contextmanager
def _caller(target: Target, surface: str) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """A function sending one house over one surface, on its own keep-alive connection or gradio session."""
    if surface == "REST":
        with httpx.Client(base_url=target.url, headers=target.headers, timeout=60, trust_env=False) as http:

            def rest(row: dict[str, Any]) -> Any:
                response = http.post("/api/v1/predict", json=row)
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                return response.json()

            yield rest
        return
    client = gradio_client(target.url, target.headers)
    try:
        yield lambda row: client.predict(row, api_name="/predict")
    finally:
        client.close()


def _loop(call: Callable[[dict[str, Any]], Any], target: Target, tally: Tally, *, offset: int, deadline: float) -> None:
    number = offset
    while time.perf_counter() < deadline:
        index = number % len(target.rows)
        number += 1
        began = time.perf_counter()
        try:
            problem = check_answer(call(target.rows[index]), target.prices[index], target.version)
        except Exception as error:  # every failure is counted, none stops the run
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            tally.latencies.append(time.perf_counter() - began)
        else:
            tally.errors.append(problem[:300])
            time.sleep(0.05)  # a dead server should not become a busy loop


def _report(tallies: list[Tally], elapsed: float, server: ServerWatch) -> None:
    groups = [(surface, [t for t in tallies if t.surface == surface]) for surface in SURFACES]
    groups = [(surface, members) for surface, members in groups if members] + [("all", tallies)]
    header = f"{'surface':<15}{'clients':>8}{'requests':>10}{'errors':>8}{'req/s':>8}{'p50':>10}{'p99':>10}{'max':>10}"
    print(f"\n{header}\n{'-' * len(header)}")
    for surface, members in groups:
        latencies = [value for tally in members for value in tally.latencies]
        errors = sum(len(tally.errors) for tally in members)
        times = (
            [_ms(np.percentile(latencies, 50)), _ms(np.percentile(latencies, 99)), _ms(max(latencies))]
            if latencies
            else ["-"] * 3
        )
        print(
            f"{surface:<15}{len(members):>8}{len(latencies):>10,}{errors:>8}{len(latencies) / elapsed:>8.1f}"
            + "".join(f"{value:>10}" for value in times)
        )
    print(f"run: {elapsed:.1f} s (until the last call in flight at the deadline returned)")
    if server.samples:
        samples = server.samples
        change = _signed_mb(samples[-1] - samples[0])
        print(
            f"server memory (VmRSS): start {_mb(samples[0])}, end {_mb(samples[-1])} ({change}),"
            f" peak {_mb(max(samples))} (samples: {len(samples)}, every {SAMPLE_SECONDS:g} s)"
            + (f"; VmHWM since it started {_mb(server.peak_since_start)}" if server.peak_since_start else "")
        )
    if server.cores is not None:
        print(f"server CPU: {server.cores:.2f} cores over the run")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _signed_mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:+,.1f} MB"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent callers (default 8)")
    parser.add_argument(
        "--gradio-clients", type=int, help="how many of them use gradio_client (default: half, the rest REST)"
    )
    add_target_arguments(parser)
    args = parser.parse_args()
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.gradio_clients is not None and not 0 <= args.gradio_clients <= args.clients:
        parser.error("--gradio-clients must be between 0 and --clients")
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be in (0, 3600] seconds")
    check_target_arguments(parser, args)
    return args


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the app is (or what to start), shared with benchmarks/sessions.py."""
    parser.add_argument("--registry", type=Path, default=Path(os.environ.get("MODEL_REGISTRY") or "registry"))
    parser.add_argument("--revision", default="production", help="version or alias to start (default production)")
    parser.add_argument("--url", help="measure an app already running there instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for memory and CPU")
    parser.add_argument("--examples", type=Path, help="the served version's examples.json (default: from --registry)")


def check_target_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.pid is not None and not args.url:
        parser.error("--pid goes with --url (a started app's pid is known)")
    if args.url and not args.url.startswith(("http://", "https://")):
        parser.error("--url must start with http:// or https://")


if __name__ == "__main__":
    raise SystemExit(main())
