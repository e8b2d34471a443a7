"""Time `Comparables.nearest` (the five most comparable sales of one house) and its load; print µs per call.

python benchmarks/comparables.py [--folder build/model] [--calls 5000] [--k 5]

`--folder` is a model repository holding `comparables.csv` (default `build/model`, what `python -m training`
writes; a registry version such as `registry/v1` works too). The houses are every row of the file itself, as
validated rows (every schema feature, None where the file has no column for it), cycled through in order; the
first rounds are a warm-up and are not timed. Prints the load time (read, check, scale), then the median and
the 99th percentile of µs per call over `--calls` calls timed one by one, and their mean timed as one loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelrepo import COMPARABLES_FILE, MODEL_FILE, Schema, load_model  # noqa: E402
from serving.comparables import Comparables  # noqa: E402

WARM_UP = 200


def houses(folder: Path, schema: Schema) -> list[dict[str, Any]]:
    table = pd.read_csv(folder / COMPARABLES_FILE, keep_default_na=False, na_values=[""])
    rows = []
    for record in table.to_dict("records"):
        row: dict[str, Any] = dict.fromkeys(schema.names)
        row.update({name: None if pd.isna(value) else value for name, value in record.items() if name in row})
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "model")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    if not (args.folder / COMPARABLES_FILE).is_file():
        print(f"error: no {COMPARABLES_FILE} in {args.folder}; run `python -m training` first.", file=sys.stderr)
        return 2
    schema = Schema.read(args.folder)
    model = load_model(args.folder / MODEL_FILE)
    started = time.perf_counter()
    comparables = Comparables.load(args.folder, schema=schema, model=model)
    loaded = time.perf_counter() - started
    assert comparables is not None
    rows = houses(args.folder, schema)
    for n in range(WARM_UP):
        comparables.nearest(rows[n % len(rows)], k=args.k)

    each = np.empty(args.calls)
    for n in range(args.calls):
        row = rows[n % len(rows)]
        start = time.perf_counter()
        comparables.nearest(row, k=args.k)
        each[n] = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(args.calls):
        comparables.nearest(rows[n % len(rows)], k=args.k)
    loop = (time.perf_counter() - start) / args.calls

    print(
        f"{COMPARABLES_FILE}: {len(comparables):,} sales, {len(comparables.columns.distance)} distance features, "
        f"scaling from the {comparables.scaling}; load {loaded * 1e3:.1f} ms"
    )
    print(
        f"nearest(k={args.k}): median {np.median(each) * 1e6:.0f} µs/call, p99 {np.percentile(each, 99) * 1e6:.0f} "
        f"µs/call, mean {loop * 1e6:.0f} µs/call over {args.calls:,} calls"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
