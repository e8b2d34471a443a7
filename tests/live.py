"""Start the real app (`python app.py`) on a free loopback port, as a Space would run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveApp:
    process: subprocess.Popen[str]
    url: str
    log: Path
    workdir: Path

    @property
    def prediction_log(self) -> Path:
        """The app's PREDICTION_LOG_DIR unless the test set another: `logs` in its working directory."""
        return self.workdir / "logs"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_app(env: Mapping[str, str], *, workdir: Path, timeout: float = 90, prelude: str | None = None) -> LiveApp:
    """Launch app.py and wait for readiness; raise with the app's output if it exits or never gets ready.

    `prelude` is Python run first in the same interpreter (for example to hide an optional package).
    """
    port = free_port()
    log = workdir / f"app-{port}.log"
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "127.0.0.1,localhost",
        "OMP_NUM_THREADS": "1",  # the app predicts small batches; the test process needs the other core
        **env,
    }
    with log.open("w") as stream:
        process = subprocess.Popen(
            _app_command(prelude),
            cwd=workdir,
            env=full_env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            text=True,
        )
    app = LiveApp(process, f"http://127.0.0.1:{port}", log, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{app.output()}")
        try:
            if httpx.get(f"{app.url}/health/ready", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    app.stop()
    raise RuntimeError(f"app.py was not ready after {timeout:.0f} s:\n{app.output()}")


def _app_command(prelude: str | None) -> list[str]:
    """`python app.py`, or with `prelude` run first in the same interpreter."""
    if not prelude:
        return [sys.executable, str(ROOT / "app.py")]
    runner = f"import runpy\nrunpy.run_path({str(ROOT / 'app.py')!r}, run_name='__main__')"
    return [sys.executable, "-c", f"{prelude}\n{runner}"]


def run_app_until_exit(
    env: Mapping[str, str], *, workdir: Path, timeout: float = 90, prelude: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run app.py expecting it to refuse to start; returns its exit status and output (`prelude`: as in
    `start_app`)."""
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GRADIO_SERVER_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
        **env,
    }
    return subprocess.run(
        _app_command(prelude),
        cwd=workdir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def logged(folder: Path, kind: str = "predictions") -> list[dict]:
    """Every record in a prediction log folder (`predictions` or `feedback`), in file order."""
    import json

    return [
        json.loads(line)
        for path in sorted(folder.glob(f"**/{kind}-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def wait_for_logged(
    folder: Path, request_ids: set[str], *, kind: str = "predictions", times: int = 1, timeout: float = 15
) -> list[dict]:
    """The log's records once every id in `request_ids` is there `times` times (the writer runs about twice a
    second), or whatever is there after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        records = logged(folder, kind)
        ids = [record["request_id"] for record in records]
        if all(ids.count(request_id) >= times for request_id in request_ids) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)
