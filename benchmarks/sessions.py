"""Check that many gradio_client batch calls leave the server's memory flat, with one session or a new one each call.

python benchmarks/sessions.py [--calls 1000] [--rows 200] [--mode both|reused|new] [--every 100]
                              [--max-growth-mb 50] [--registry ./registry] [--trace] [--session-capacity N]
python benchmarks/sessions.py --url http://127.0.0.1:7860 --pid PID [--examples PATH/examples.json] ...

Gradio keeps state per session (each session's copy of the page's config, holding the last output of every
event: a batch result is hundreds of kB), and a new `Client` is a new session; the app bounds them with
`SESSION_CAPACITY` in serving/app.py. For each mode, `--calls` calls of `/predict_batch` with `--rows` real
example rows each (every price checked): `reused` makes them all through one `Client`, `new` opens a `Client`
per call (a fresh session; closed after the call). Without `--url`, each mode gets a freshly started
`app.py`; against `--url` (which needs `--pid`, the server's process id) the modes run one after the other
on the same server.

Prints the server's VmRSS (from /proc) every `--every` calls and the growth from the first checkpoint (the
warm process) to the last; the exit status is 1 if that growth exceeds `--max-growth-mb` in any mode, or if
any call failed. `--trace` (only for an app started here) runs it under `tracemalloc` and prints the Python
allocations that grew between those two checkpoints, by source line: slower, and its RSS includes the
tracing's own overhead, so use it to find where memory goes, not to measure how much. `--session-capacity N`
starts the app with another `SESSION_CAPACITY`, to weigh a setting before changing it.
"""

from __future__ import annotations

import argparse
import ast
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import (  # noqa: E402
    SetupError,
    Target,
    add_target_arguments,
    check_answer,
    check_target_arguments,
    describe,
    gradio_client,
    serve,
)
from benchmarks.serve import _load, _mb, _memory_kb, _offline_environment  # noqa: E402

MODES = {"reused": "one Client reused (one session)", "new": "a new Client per call (one session each)"}
TRACE_FRAMES = 1  # allocation site only: keeps tracemalloc's own overhead down
# Run first in the app's interpreter with --trace: trace allocations, and write a snapshot on SIGUSR1.
TRACE_PRELUDE = f"""
import gc, os, signal, tracemalloc
tracemalloc.start({TRACE_FRAMES})
_taken = [0]
def _snapshot(signum, frame):
    gc.collect()
    _taken[0] += 1
    path = os.path.join(os.environ["BENCH_TRACE_DIR"], f"snapshot-{{_taken[0]}}")
    tracemalloc.take_snapshot().dump(path + ".tmp")
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR1, _snapshot)
"""


@dataclass
class Outcome:
    mode: str
    start_kb: int
    checkpoints: list[tuple[int, int, int, float]] = field(default_factory=list)  # calls, VmRSS, VmHWM, seconds
    errors: list[str] = field(default_factory=list)

    @property
    def growth_kb(self) -> int | None:
        """VmRSS after the last call minus after the first checkpoint (the warm process)."""
        if len(self.checkpoints) < 2:
            return None
        return self.checkpoints[-1][1] - self.checkpoints[0][1]


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as folder:
        workdir = Path(folder)
        _offline_environment(workdir)
        print(f"before: {_load()}", flush=True)
        modes = list(MODES) if args.mode == "both" else [args.mode]
        outcomes: list[Outcome] = []
        try:
            for mode in modes:
                outcomes.append(_run_mode(args, workdir, mode))
        except SetupError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return _summary(args, outcomes)


def _run_mode(args: argparse.Namespace, workdir: Path, mode: str) -> Outcome:
    trace_dir = workdir / f"trace-{mode}"
    preludes, env = [], {}
    if args.trace:
        trace_dir.mkdir()
        preludes.append(TRACE_PRELUDE)
        env["BENCH_TRACE_DIR"] = str(trace_dir)
    if args.session_capacity:  # read by serving.app.build_app when the app starts
        preludes.append(f"import serving.app\nserving.app.SESSION_CAPACITY = {args.session_capacity}")
    prelude = "\n".join(preludes) or None
    print(f"\n== {MODES[mode]}: {args.calls:,} calls of /predict_batch × {args.rows} rows", flush=True)
    with serve(args, workdir, prelude=prelude, env=env) as target:
        assert target.pid is not None
        notes = [f"SESSION_CAPACITY set to {args.session_capacity}"] if args.session_capacity else []
        notes += ["under tracemalloc"] if args.trace else []
        print(describe(target) + "".join(f"; {note}" for note in notes), flush=True)
        rows = [target.rows[n % len(target.rows)] for n in range(args.rows)]
        prices = [target.prices[n % len(target.prices)] for n in range(args.rows)]
        outcome = Outcome(mode, _memory_kb(target.pid)["VmRSS"])
        print(f"server VmRSS before the first call: {_mb(outcome.start_kb)}", flush=True)
        print(f"{'calls':>7}{'rows sent':>11}{'VmRSS':>10}{'vs. warm':>12}{'VmHWM':>10}{'s/call':>9}", flush=True)
        snapshots = _calls(args, target, mode, rows, prices, outcome, trace_dir if args.trace else None)
    if snapshots:
        _print_trace(*snapshots)
    return outcome


def _calls(
    args: argparse.Namespace,
    target: Target,
    mode: str,
    rows: list[dict[str, Any]],
    prices: list[float],
    outcome: Outcome,
    trace_dir: Path | None,
) -> tuple[Path, Path] | None:
    assert target.pid is not None
    reused = gradio_client(target.url, target.headers) if mode == "reused" else None
    snapshots: list[Path] = []
    began = last = time.perf_counter()
    try:
        for call in range(1, args.calls + 1):
            client = reused
            try:
                client = client or gradio_client(target.url, target.headers)
                problem = check_batch(client.predict(rows, api_name="/predict_batch"), prices, target.version)
            except Exception as error:  # counted; the run goes on
                problem = f"{type(error).__name__}: {error}"
            finally:
                if client is not None and client is not reused:
                    client.close()
            if problem:
                outcome.errors.append(f"call {call}: {problem[:300]}")
            if call % args.every == 0 or call == args.calls:
                now = time.perf_counter()
                calls_since = call - (outcome.checkpoints[-1][0] if outcome.checkpoints else 0)
                memory = _memory_kb(target.pid)
                outcome.checkpoints.append((call, memory["VmRSS"], memory["VmHWM"], now - began))
                warm = outcome.checkpoints[0][1]
                change = "warm" if len(outcome.checkpoints) == 1 else f"{(memory['VmRSS'] - warm) / 1024:+,.1f} MB"
                print(
                    f"{call:>7,}{call * args.rows:>11,}{_mb(memory['VmRSS']):>10}{change:>12}"
                    f"{_mb(memory['VmHWM']):>10}{(now - last) / calls_since:>9.2f}",
                    flush=True,
                )
                if trace_dir and len(outcome.checkpoints) == 1:
                    snapshots.append(_snapshot(target.pid, trace_dir, 1))
                last = time.perf_counter()  # s/call leaves out the snapshot
        if trace_dir:
            snapshots.append(_snapshot(target.pid, trace_dir, 2))
    finally:
        if reused is not None:
            reused.close()
    return (snapshots[0], snapshots[1]) if len(snapshots) == 2 else None


def check_batch(answer: Any, prices: list[float], version: str) -> str | None:
    """None when every row came back priced as recorded at training time; else the first thing wrong."""
    if not isinstance(answer, list) or len(answer) != len(prices):
        return f"expected {len(prices)} results, got {str(answer)[:200]}"
    for number, (item, expected) in enumerate(zip(answer, prices, strict=True), start=1):
        if not isinstance(item, dict) or item.get("row") != number:
            return f"row {number}: {str(item)[:200]}"
        problem = check_answer(item.get("prediction"), expected, version)
        if problem:
            return f"row {number}: {problem}"
    return None


def _snapshot(pid: int, folder: Path, number: int) -> Path:
    """Ask the traced app for a tracemalloc snapshot (after a gc) and wait until it is written."""
    path = folder / f"snapshot-{number}"
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not path.exists():
        if time.monotonic() > deadline:
            raise SetupError(f"the traced app wrote no {path.name} within 300 s")
        time.sleep(0.2)
    return path


def _print_trace(warm: Path, last: Path, top: int = 12) -> None:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")]
    before = tracemalloc.Snapshot.load(str(warm)).filter_traces(ignore)
    after = tracemalloc.Snapshot.load(str(last)).filter_traces(ignore)
    total = sum(stat.size for stat in after.statistics("filename")) - sum(
        stat.size for stat in before.statistics("filename")
    )
    print(
        f"traced Python allocations, first checkpoint → last: {total / 2**20:+,.1f} MB; largest changes by line"
        " (VmRSS above includes tracemalloc's own memory and its snapshots):"
    )
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        where = _short(frame.filename)
        print(f"  {stat.size_diff / 2**20:+9.2f} MB {stat.count_diff:+10,} blocks  {where}:{frame.lineno}")


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _summary(args: argparse.Namespace, outcomes: list[Outcome]) -> int:
    limit_kb = args.max_growth_mb * 1024
    print(f"\n{'mode':<44}{'start':>9}{'warm':>9}{'last':>9}{'growth':>12}{'errors':>8}  verdict")
    failed = False
    for outcome in outcomes:
        growth = outcome.growth_kb
        grows = growth is not None and growth > limit_kb
        failed |= grows or bool(outcome.errors)
        warm, last = outcome.checkpoints[0], outcome.checkpoints[-1]
        verdict = "GROWS" if grows else ("flat" if growth is not None else "too few calls to tell")
        print(
            f"{MODES[outcome.mode]:<44}{_mb(outcome.start_kb):>9}{_mb(warm[1]):>9}{_mb(last[1]):>9}"
            f"{'' if growth is None else f'{growth / 1024:+,.1f} MB':>12}{len(outcome.errors):>8}  {verdict}"
        )
        for message in outcome.errors[:3]:
            print(f"  error: {message}", file=sys.stderr)
    print(
        f"growth: VmRSS after call {args.calls:,} minus after call {min(args.every, args.calls):,} (warm);"
        f" limit {args.max_growth_mb:g} MB. {args.calls:,} calls × {args.rows} rows = {args.calls * args.rows:,}"
        f" rows priced per mode."
    )
    capacity = args.session_capacity or _constant(ROOT / "serving" / "app.py", "SESSION_CAPACITY")
    known = _constant(ROOT / "serving" / "recorder.py", "_KNOWN_IDS")
    print(
        f"bounds in this checkout: Gradio keeps the state of the {capacity} most recent sessions (SESSION_CAPACITY);"
        f" the prediction log keeps the ids of up to {known:,} requests for feedback, one entry per request however"
        f" many rows (serving/recorder.py _KNOWN_IDS).\nat the end: {_load()}"
    )
    if failed:
        print("FAILED: memory grew beyond the limit, or calls failed", file=sys.stderr)
    return 1 if failed else 0


def _constant(path: Path, name: str) -> Any:
    """A module-level constant read from the source, without importing it (serving.app imports Gradio)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == name for target in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"no {name} in {path}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="batch calls per mode (default 1000)")
    parser.add_argument("--rows", type=int, default=200, help="rows per batch (default 200; the app's limit is 1000)")
    parser.add_argument("--mode", choices=["both", *MODES], default="both", help="sessions to use (default both)")
    parser.add_argument("--every", type=int, default=100, help="print VmRSS every N calls; the first is 'warm'")
    parser.add_argument("--max-growth-mb", type=float, default=50.0, help="allowed growth after warm (default 50)")
    parser.add_argument("--trace", action="store_true", help="run the app under tracemalloc; print what grew")
    parser.add_argument(
        "--session-capacity", type=int, help="start the app with this SESSION_CAPACITY instead of serving/app.py's"
    )
    add_target_arguments(parser)
    args = parser.parse_args()
    for name in ("calls", "rows", "every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.max_growth_mb < 0:
        parser.error("--max-growth-mb must not be negative")
    if args.url and args.pid is None:
        parser.error("--url needs --pid: this benchmark is about the server's memory")
    if args.url and (args.trace or args.session_capacity):
        parser.error("--trace and --session-capacity start their own app: they do not go with --url")
    if args.session_capacity is not None and args.session_capacity < 1:
        parser.error("--session-capacity must be at least 1")
    check_target_arguments(parser, args)
    return args


if __name__ == "__main__":
    raise SystemExit(main())
