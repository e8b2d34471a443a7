"""Print batch-scoring throughput in process and on Dask with 1 and 2 workers, and each worker's peak memory.

python benchmarks/score.py [--rows 2000000] [--registry ./registry] [--seed 0] [--files 16]

Needs a model in the registry (`python -m training`). Resamples `--rows` rows with replacement (fixed seed) from
the bundled Ames table, writes them once as a Parquet folder of `--files` files in a temporary folder, then
measures on the same data:
- in process, engine only: the compiled engine over rows validated beforehand, 1,000 at a time;
- in process, validate + price: `serving.scoring.Scorer.score` file by file, the code each Dask worker runs
  (text cells and typed cells to raw rows, the app's validator, `Predictor.price_batch`): the baseline;
- `python -m serving.score`'s job (`serving.score.score`) on a LocalCluster of 1, then 2 worker processes with
  one thread each: reading the Parquet, loading and verifying the model on each worker, scoring, writing the
  output Parquet (the cluster's start-up is not counted);
with every rate also as a ratio to the baseline, the peak RSS of each worker (its VmHWM, read inside it)
and the load average before and after, since a shared machine changes every figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving import ServedModel, ServingSettings, load_served_model  # noqa: E402
from serving.score import local_cluster, score  # noqa: E402
from serving.scoring import CHUNK_ROWS, Scorer  # noqa: E402
from training.data import AMES_CSV, NA_MARKERS  # noqa: E402


def main() -> int:
    args = _arguments()
    settings = ServingSettings(registry=args.registry)
    print(f"load average before: {_load()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="bench-score-") as folder:
        data = _write_data(Path(folder) / "houses", rows=args.rows, seed=args.seed, files=args.files)
        served = load_served_model(settings)
        print(f"model {served.version} ({served.commit[:12]}), engine {served.engine.name}; {args.rows:,} rows")
        engine_rate = _engine_only(served, data)
        baseline = _in_process(served, data)
        lines = [
            ("in process, engine only (validated rows)", engine_rate, ""),
            ("in process, validate + price", baseline, ""),
        ]
        for workers in (1, 2):
            rate, memory = _on_dask(settings, data, Path(folder) / f"out-{workers}", workers=workers)
            lines.append((f"Dask, {workers} worker{'s' * (workers > 1)} (whole job)", rate, memory))
    print(f"\n{'':44}{'rows/s':>10}{'× baseline':>12}  peak RSS per worker")
    for label, rate, memory in lines:
        print(f"{label:44}{rate:>10,.0f}{rate / baseline:>12.2f}  {memory}")
    print(f"\nload average after: {_load()}")
    return 0


def _write_data(folder: Path, *, rows: int, seed: int, files: int) -> Path:
    """Typed Parquet (numbers as numbers, as the Ames table is read for training), split into `files` files."""
    started = time.perf_counter()
    table = pd.read_csv(AMES_CSV, keep_default_na=False, na_values=NA_MARKERS)
    sample = table.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    folder.mkdir(parents=True)
    size = -(-rows // files)
    for n, start in enumerate(range(0, rows, size)):
        sample.iloc[start : start + size].to_parquet(folder / f"houses-{n:03d}.parquet", index=False)
    print(f"data: {rows:,} rows in {n + 1} Parquet files, written in {time.perf_counter() - started:.1f} s")
    return folder


def _files(data: Path) -> list[Path]:
    return sorted(data.glob("*.parquet"))


def _engine_only(served: ServedModel, data: Path) -> float:
    """Validation done first and not timed: the engine's own rate over 1,000-row chunks."""
    scorer = Scorer(served, version="bench")
    rows, seconds = 0, 0.0
    for path in _files(data):
        good = [row for row in scorer.check(pd.read_parquet(path)) if isinstance(row, dict)]
        started = time.perf_counter()
        for start in range(0, len(good), CHUNK_ROWS):
            scorer.predictor.served.engine.engine.predict(good[start : start + CHUNK_ROWS])
        seconds += time.perf_counter() - started
        rows += len(good)
    return rows / seconds


def _in_process(served: ServedModel, data: Path) -> float:
    scorer = Scorer(served, version="bench")
    rows, seconds = 0, 0.0
    for path in _files(data):
        frame = pd.read_parquet(path)
        started = time.perf_counter()
        rows += len(scorer.score(frame))
        seconds += time.perf_counter() - started
    return rows / seconds


def _on_dask(settings: ServingSettings, data: Path, output: Path, *, workers: int) -> tuple[float, str]:
    with local_cluster(workers) as (cluster, client):  # started before the clock: the job alone is timed
        report = score(
            settings,
            input_path=str(data),
            output_path=str(output),
            scheduler=cluster.scheduler_address,
            show_progress=False,
        )
        peaks = client.run(_peak_rss_mb)
    memory = ", ".join(f"{peak:,.0f} MB" for peak in peaks.values())
    return report.rows_per_second, memory


def _peak_rss_mb() -> float:
    """The process's high-water mark. Not `getrusage`'s ru_maxrss: Linux keeps it across exec, so a worker spawned
    from this process would report this process's peak (the whole sample in memory) if it never grew past it."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1, 5, 15 min)"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--registry", type=Path, default=ServingSettings.from_env().registry)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=16, help="Parquet files (Dask partitions) to split the rows into")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
