"""File names and layout of one model repository version: the contract between training and serving."""

from __future__ import annotations

FORMAT_VERSION = 1

MODEL_FILE = "model.skops"
SCHEMA_FILE = "schema.json"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
REFERENCE_FILE = "reference.json"
EXAMPLES_FILE = "examples.json"
CARD_FILE = "README.md"
IMAGES_DIR = "images"
#: Optional (left out with `python -m training --no-comparables`): the training sales the model was fitted on,
#: for "what similar houses sold for" (columns: `modelrepo.comparables.ComparableColumns`).
COMPARABLES_FILE = "comparables.csv"

#: Every version holds these files (plus the PNG plots under `images/`).
REQUIRED_FILES: tuple[str, ...] = (
    MODEL_FILE,
    SCHEMA_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    REFERENCE_FILE,
    EXAMPLES_FILE,
    CARD_FILE,
)

#: The movable alias that names the version serving uses by default.
PRODUCTION_ALIAS = "production"
