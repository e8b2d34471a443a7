"""The model candidates compared on the same folds, and the measured table the model card shows.

`benchmarks/quality.py` evaluates every candidate with the training run's own protocol and writes the table to
`training/data/quality.json` (committed, with the date and code commit it was measured at); training renders it
into the card and marks the row whose configuration it trained. A configuration that is on no row is said so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .data import DATA_DIR
from .pipeline import ModelConfig

QUALITY_TABLE = DATA_DIR / "quality.json"

#: The earlier shipped blend (ridge + trees on the raw columns), with the trees as they were tuned then.
EARLIER = ModelConfig(
    linear="ridge",
    engineered=False,
    hgb_max_features=0.3,
    hgb_l2_regularization=0.0,
    hgb_min_samples_leaf=20,
    increasing=("Gr Liv Area", "Overall Qual"),
)

#: Name → configuration, in the order the table lists them; the last is the shipped default.
CANDIDATES: dict[str, ModelConfig] = {
    "ridge + trees (earlier versions)": EARLIER,
    "ridge + trees, engineered features": ModelConfig(linear="ridge"),
    "Huber + trees, engineered features": ModelConfig(),
}


@dataclass(frozen=True)
class CandidateRow:
    """One candidate's figures, as `benchmarks/quality.py` measured them."""

    name: str
    config: dict[str, object] | None  # asdict(ModelConfig), or None for a model training cannot build
    engine: str  # "compiled" or "pipeline": what serving would predict with
    cv_rmse_log: float
    cv_rmse_log_std: float
    cv_rmse_log_all: float  # test folds with the outliers scored too
    holdout_rmse_log: float
    fit_seconds: float  # one fit on the CV training rows, mean over the folds
    one_row_ms: float  # median of single-row predictions through `engine`
    thousand_rows_ms: float
    model_megabytes: float  # model.skops, compressed as training writes it


@dataclass(frozen=True)
class QualityTable:
    measured: str  # date, machine load and code commit, as the benchmark printed them
    rows: list[CandidateRow]
    nested: str | None = None  # the nested check of the selection, in words, when it was run

    def shipped(self, config: ModelConfig) -> CandidateRow | None:
        wanted = config_record(config)
        return next((row for row in self.rows if row.config == wanted), None)

    def write(self, path: Path = QUALITY_TABLE) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path = QUALITY_TABLE) -> QualityTable | None:
        """None when the benchmark never wrote one (a fresh fork, another data set)."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["measured"], [CandidateRow(**row) for row in data["rows"]], data.get("nested"))


def config_record(config: ModelConfig) -> dict[str, object]:
    """A configuration as a row of the table records it (JSON: tuples as lists), so a row read back compares equal."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}
