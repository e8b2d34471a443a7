"""Batch scoring on Dask: `python -m serving.score --input PATH --output PATH [--scheduler ADDRESS | --workers N]`.

Reads CSV or Parquet (a file, a folder of files, or an `hf://datasets/...` path) with `dask.dataframe`, validates
and prices every row on the workers as the app does (`serving.scoring`), and writes a Parquet dataset of the
input's columns plus price, low, high (the 80% range), low_95, high_95 (the 95% range), model_version,
model_commit and error. The revision is resolved once,
here, to a commit that every worker loads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
from distributed import Client, LocalCluster, progress

from modelrepo import SCHEMA_FILE, ModelRepoError, Schema

from .errors import ScoringError, ServingError, StartupError
from .loader import open_store, pin_version
from .scoring import OUTPUT_COLUMNS, ModelPin, score_partition
from .settings import ServingSettings

_CSV = (".csv", ".csv.gz")
_PARQUET = (".parquet", ".parq", ".pq")
#: What reading a file can raise, on the client (the header sample) or on a worker (a later block).
_UNREADABLE = (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, pa.ArrowException)


@dataclass(frozen=True)
class ScoreReport:
    rows: int
    errors: int
    seconds: float
    output: str
    files: int
    workers: int
    pin: ModelPin
    source: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def score(
    settings: ServingSettings,
    *,
    input_path: str,
    output_path: str,
    scheduler: str | None = None,
    workers: int = 2,
    overwrite: bool = False,
    blocksize: str = "64MB",
    connect_timeout: float = 10.0,
    show_progress: bool = True,
) -> ScoreReport:
    """Score every row of the input into a Parquet dataset at `output_path` (a folder of `part-NNNNN.parquet`).

    Raises:
        StartupError: no model, an unknown revision, or a version that fails verification on a worker.
        ScoringError: an unreadable or missing input, an existing output, an unreachable scheduler.
    """
    pin, schema = _pin(settings)
    frame = read_input(input_path, blocksize=blocksize)
    _check_columns(list(frame.columns), schema)
    output = _prepare_output(output_path, overwrite=overwrite, input_path=input_path)
    scored = frame.map_partitions(score_partition, pin, meta=_scored_meta(frame))
    with _cluster(scheduler, workers=workers, timeout=connect_timeout) as client:
        count = len(client.scheduler_info(n_workers=-1)["workers"])
        started = time.perf_counter()
        written = scored.to_parquet(output, write_index=False, compute=False, name_function=_part_name)
        future = client.compute(written)
        try:
            if show_progress:
                _progress(future)
            future.result()
        except _UNREADABLE as error:
            writing = str(getattr(error, "filename", None) or "").startswith(output.removeprefix("file://"))
            action = f"write {output_path}" if writing else f"read {input_path}"
            raise ScoringError(f"Cannot {action}: {_one_line(error)}") from error
        seconds = time.perf_counter() - started
    rows, errors, files = _count(output)
    return ScoreReport(rows, errors, seconds, output, files, count, pin, _source(settings))


def _scored_meta(frame: dd.DataFrame) -> pd.DataFrame:
    """The output's empty frame (Dask's `meta`): the input's columns and dtypes, then the ones scoring adds."""
    added = dict.fromkeys(["price", "low", "high", "low_95", "high_95"], "float64") | {"model_version": "string"}
    added |= {"model_commit": "string", "error": "string"}
    assert tuple(added) == OUTPUT_COLUMNS
    columns = {name: pd.Series(dtype=dtype) for name, dtype in [*frame.dtypes.items(), *added.items()]}
    return pd.DataFrame(columns)


def read_input(path: str, *, blocksize: str = "64MB") -> dd.DataFrame:
    """A CSV or Parquet file, or a folder of them (local or any fsspec URL, `hf://datasets/...` among them).

    CSV cells are read as text, as the app reads an uploaded CSV (blank is missing; "None" and "NA" are text).

    Raises:
        ScoringError: nothing there, no CSV or Parquet file in it, both kinds mixed, or a header that does not parse.
    """
    try:
        fs, root = fsspec.core.url_to_fs(path)
        found = fs.exists(root)
        files = sorted(_data_files(fs.find(root))) if found and fs.isdir(root) else [root]
    except Exception as error:  # any filesystem's failure to list (hf:// raises its HTTP client's own errors)
        raise ScoringError(f"Cannot open {path}: {_one_line(error)}") from error
    if not found:
        raise ScoringError(f"No input at {path}: give a CSV or Parquet file, a folder of them, or an hf:// path.")
    urls = [fs.unstrip_protocol(file) for file in files]
    csv, parquet = [u for u in urls if u.endswith(_CSV)], [u for u in urls if u.endswith(_PARQUET)]
    if not csv and not parquet or csv and parquet:
        problem = "mixes CSV and Parquet files" if csv and parquet else "holds no .csv, .csv.gz or .parquet file"
        raise ScoringError(f"{path} {problem}: give one kind of file (a file's type is read from its name).")
    try:
        if parquet:
            return dd.read_parquet(parquet)
        compressed = any(url.endswith(".gz") for url in csv)  # a gzip file cannot be split into blocks
        return dd.read_csv(
            csv,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            blocksize=None if compressed else blocksize,
            compression="gzip" if compressed else None,
        )
    except _UNREADABLE as error:
        raise ScoringError(f"Cannot read {path}: {_one_line(error)}") from error


def _data_files(paths: Sequence[str]) -> Iterator[str]:
    """A folder's data files, not its hidden or `_metadata` ones."""
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if not name.startswith((".", "_")) and name.endswith(_CSV + _PARQUET):
            yield path


def _pin(settings: ServingSettings) -> tuple[ModelPin, Schema]:
    """The revision resolved once, here; the schema says which columns are features."""
    store = open_store(settings)
    version = pin_version(settings, store=store)
    try:
        schema = Schema.model_validate(json.loads(store.read_text(version, SCHEMA_FILE)))
    except (ModelRepoError, ValueError) as error:
        raise StartupError(f"Cannot read the schema of {version.name}: {_one_line(error)}") from error
    registry = str(settings.registry.resolve())
    pin = ModelPin(settings.model_repo, registry, version.name, version.commit, settings.engine.value)
    return pin, schema


def _check_columns(columns: list[str], schema: Schema) -> None:
    if not set(columns) & set(schema.names):
        raise ScoringError("No column of the input is a feature of the model; the header must use the schema's names.")
    taken = [name for name in OUTPUT_COLUMNS if name in columns]
    if taken:
        raise ScoringError(f"The input has columns named {', '.join(taken)}, which the output adds; rename them.")


def _prepare_output(path: str, *, overwrite: bool, input_path: str) -> str:
    """The output's absolute path, checked: never the input or a folder holding it (--overwrite would delete it)."""
    fs, root = fsspec.core.url_to_fs(path)
    _, source = fsspec.core.url_to_fs(input_path)
    if f"{source.rstrip('/')}/".startswith(f"{root.rstrip('/')}/"):
        raise ScoringError(f"The output {path} is, or holds, the input {input_path}; write it somewhere else.")
    if fs.exists(root) and (not fs.isdir(root) or fs.ls(root)):
        if not overwrite:
            raise ScoringError(f"{path} already exists; choose another output, or pass --overwrite to replace it.")
        fs.rm(root, recursive=True)
    return str(Path(path).resolve()) if "://" not in path else path


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"  # zero-padded: the files sort in the input's order


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[tuple[LocalCluster, Client]]:
    """A local cluster of `workers` processes with one thread each (the engine is NumPy), and its client."""
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # its shutdown chatter; a task's error reaches us as an exception
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client


@contextlib.contextmanager
def _cluster(scheduler: str | None, *, workers: int, timeout: float) -> Iterator[Client]:
    """The user's cluster, or a local one (`local_cluster`)."""
    if scheduler is None:
        with local_cluster(workers) as (_, client):
            yield client
        return
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise ScoringError(
            f"Cannot reach the Dask scheduler at {scheduler} ({_one_line(error)}); check the address, or leave "
            "out --scheduler to start a local cluster."
        ) from error
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as error:
            raise ScoringError(f"The Dask scheduler at {scheduler} has no workers after {timeout:g} s.") from error
        yield client


def _progress(future: object) -> None:
    """distributed's text bar writes to stdout: send it to stderr, where progress belongs."""
    interval = "100ms" if sys.stderr.isatty() else "1s"  # into a log: one redraw a second
    with contextlib.redirect_stdout(sys.stderr):
        progress(future, interval=interval)


def _count(output: str) -> tuple[int, int, int]:
    """Rows, errors and files, read back from what was written (only the error column is read)."""
    fs, root = fsspec.core.url_to_fs(output)
    dataset = pads.dataset(root, format="parquet", filesystem=fs)
    rows = dataset.count_rows()
    errors = dataset.count_rows(filter=pads.field("error").is_valid())
    return rows, errors, len(dataset.files)


def _source(settings: ServingSettings) -> str:
    return f"Hub repo {settings.model_repo}" if settings.model_repo else f"local registry {settings.registry.resolve()}"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def summary(report: ScoreReport) -> str:
    pin = report.pin
    lines = [
        ("rows", f"{report.rows:,}"),
        ("priced", f"{report.rows - report.errors:,}"),
        ("errors", f"{report.errors:,}" + (" (see the error column)" if report.errors else "")),
        ("seconds", f"{report.seconds:,.1f}"),
        ("rows/s", f"{report.rows_per_second:,.0f} with {report.workers} worker{'s' * (report.workers != 1)}"),
        ("model", f"{pin.version} (commit {pin.commit}) from the {report.source}"),
        ("output", f"{report.output} ({report.files} Parquet file{'s' * (report.files != 1)})"),
    ]
    return "\n".join(f"{name:<8}  {value}" for name, value in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving.score",
        description="Price every row of a CSV or Parquet input on Dask with the served model, into a Parquet dataset.",
    )
    parser.add_argument("--input", required=True, help="CSV or Parquet file, a folder of them, or hf://datasets/...")
    parser.add_argument("--output", required=True, help="Parquet dataset folder to write (part-NNNNN.parquet files)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:8786)")
    cluster.add_argument("--workers", type=int, help="local worker processes, one thread each (default: the CPU count)")
    parser.add_argument("--revision", help="version, alias or commit (env MODEL_REVISION, default: production)")
    parser.add_argument("--repo", help="Hugging Face Hub model repo (env MODEL_REPO; default: the local registry)")
    parser.add_argument("--registry", type=Path, help="local registry folder (env MODEL_REGISTRY, default ./registry)")
    parser.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    parser.add_argument("--blocksize", default="64MB", help="CSV bytes per partition (default: 64MB)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to reach the scheduler (default: 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 with a summary, or 1 with one line saying what to do."""
    args = build_parser().parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.ERROR)  # worker start-up chatter; errors still show
    try:
        settings = ServingSettings.from_env()
        settings = replace(
            settings,
            model_repo=args.repo or settings.model_repo,
            registry=args.registry or settings.registry,
            revision=args.revision or settings.revision,
        )
        report = score(
            settings,
            input_path=args.input,
            output_path=args.output,
            scheduler=args.scheduler,
            workers=args.workers or os.cpu_count() or 2,
            overwrite=args.overwrite,
            blocksize=args.blocksize,
            connect_timeout=args.timeout,
        )
    except ServingError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
