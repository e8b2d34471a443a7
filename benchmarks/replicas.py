"""Print throughput and latency of 8 concurrent REST clients against one app process, and against replicas behind nginx.

python benchmarks/replicas.py [--registry ./registry] [--clients 8] [--seconds 10] [--replicas 2]

Needs a model in the registry (`python -m training`) and Debian's nginx (`apt-get install nginx`). In one run:
one replica alone (the baseline), one replica behind nginx (the proxy's own cost), then `--replicas` replicas
behind nginx sharing one log folder, as tests/integration/test_replicas.py runs them. Each figure is also a ratio
to the baseline measured in the same run. The clients run in this process (threads with keep-alive connections,
as benchmarks/serve.py measures), so on a small machine they compete with the replicas for the cores: the
machine's core count and load are printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serve import _cpu_seconds, _throughput  # noqa: E402
from tests.live import LiveApp, start_app  # noqa: E402
from tests.proxy import start_proxy  # noqa: E402

HOUSE = {"Gr Liv Area": 1500, "Overall Qual": 7}


def main() -> int:
    args = _arguments()
    if not args.registry.is_dir():
        print(f"error: no registry at {args.registry}; run `python -m training` first", file=sys.stderr)
        return 1
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the run", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
        folder = Path(scratch)
        results = {
            "1 replica, direct": _measure(args, folder / "direct", replicas=1, proxied=False),
            "1 replica behind nginx": _measure(args, folder / "one", replicas=1, proxied=True),
            f"{args.replicas} replicas behind nginx": _measure(
                args, folder / "many", replicas=args.replicas, proxied=True
            ),
        }
    baseline = results["1 replica, direct"]["rate"]
    print(f"\n{args.clients} concurrent REST clients, POST /api/v1/predict, {args.seconds:g} s each")
    header = f"{'setup':<28}{'req/s':>10}{'× direct':>10}{'p50':>10}{'p99':>10}{'app CPU (cores)':>17}"
    print(header + "\n" + "-" * len(header))
    for name, figures in results.items():
        print(
            f"{name:<28}{figures['rate']:>10,.0f}{figures['rate'] / baseline:>10.2f}"
            f"{figures['p50'] * 1000:>8.1f}ms{figures['p99'] * 1000:>8.1f}ms{figures['cores']:>17.2f}"
        )
    print(f"at the end: load average {os.getloadavg()[0]:.2f} (1 min)")
    return 0


def _measure(args: argparse.Namespace, folder: Path, *, replicas: int, proxied: bool) -> dict[str, float]:
    folder.mkdir(parents=True)
    env = {
        "MODEL_REGISTRY": str(args.registry.resolve()),
        "PREDICTION_LOG_DIR": str(folder / "logs"),
        "HF_HOME": str(folder / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    apps: list[LiveApp] = [start_app(env, workdir=folder) for _ in range(replicas)]
    proxy = start_proxy([app.url for app in apps], folder=folder / "nginx") if proxied else None
    try:
        url = proxy.url if proxy else apps[0].url
        _throughput(url, HOUSE, clients=args.clients, seconds=2)  # warm up every replica's connections
        before = sum(_cpu_seconds(app.process.pid) for app in apps)
        (count, elapsed), latencies = _throughput(url, HOUSE, clients=args.clients, seconds=args.seconds)
        cores = (sum(_cpu_seconds(app.process.pid) for app in apps) - before) / elapsed
    finally:
        if proxy:
            proxy.stop()
        for app in apps:
            app.stop()
    print(f"measured {replicas} replica(s){' behind nginx' if proxied else ''}: {count:,} requests", flush=True)
    return {
        "rate": count / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "cores": cores,
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=ROOT / "registry")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--replicas", type=int, default=2)
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
