"""The model `python -m training` ships, trained once per test session by the command itself, in the background.

The full training takes about two minutes. Started as soon as collection finishes (and only when a collected test
needs it), niced and on one thread, it uses the core the other tests leave idle, so the README's examples, which
run against it, seldom wait for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Generous: on two busy cores the niced run is slower than on an idle machine.
WAIT_SECONDS = 1800


class ShippedTraining:
    """`python -m training` with its defaults, writing a registry under `root`."""

    def __init__(self, root: Path, process: subprocess.Popen[str]) -> None:
        self.root = root
        self.process = process

    @property
    def log(self) -> Path:
        return self.root / "training.log"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @classmethod
    def start(cls, root: Path, env: Mapping[str, str]) -> ShippedTraining:
        """Launch the run; `env` is the whole environment it sees (the caller strips tokens and Hub settings)."""
        root.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "training", "--registry", str(root / "registry")]
        command += ["--output", str(root / "model")]
        full_env = {**env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        with (root / "training.log").open("w") as log:
            process = subprocess.Popen(
                command,
                cwd=root,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=lambda: os.nice(10),  # the tests in the foreground come first
            )
        return cls(root, process)

    def wait(self, timeout: float = WAIT_SECONDS) -> Path:
        """The registry once the run has finished; raises with its output if it failed or took too long."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RuntimeError(f"python -m training did not finish in {timeout:.0f} s:\n{self._output()}") from None
        if code != 0:
            raise RuntimeError(f"python -m training exited with {code}:\n{self._output()}")
        return self.registry

    def close(self) -> None:
        """Stop the run if it is still going (a session that ends early), and remove its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def _output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
