"""The skops trust allowlist, reviewed in code, and the only sanctioned way to save and load a model.

The allowlist is never read from an artifact: a model file that reports a type outside it is refused.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import skops.io as sio
from sklearn.base import BaseEstimator
from skops.io.exceptions import UntrustedTypesFoundException

from .errors import UntrustedTypesError

#: Types that skops does not trust by default but that the project's pipelines need. Each was reviewed:
#: all come from scikit-learn, NumPy or the standard library, and none runs code chosen by the file.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "functools.partial",
        "numpy.diff",  # the engineered columns' reductions (`training/engineering.py`)
        "numpy.dtype",
        "numpy.prod",
        "numpy.sum",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils.validation.check_array",
    }
)


def untrusted_types(path: Path) -> list[str]:
    """The types skops would not load without being told to trust them."""
    return sorted(sio.get_untrusted_types(file=path))


def save_model(model: BaseEstimator, path: Path) -> Path:
    """Serialize with skops (zip-compressed: a tree ensemble shrinks about ten times)."""
    sio.dump(model, path, compression=zipfile.ZIP_DEFLATED)
    return path


def load_model(path: Path, *, allowlist: frozenset[str] = TRUSTED_TYPES) -> BaseEstimator:
    """Load a skops file, trusting only what the allowlist names (and skops' own defaults).

    One pass over the file: skops refuses any other type it meets while loading, and only then is the file
    scanned again to name every type outside the allowlist (the scan costs as much as the load).

    Raises:
        UntrustedTypesError: the file holds types outside the allowlist; they are named in the message.
    """
    try:
        model: BaseEstimator = sio.load(path, trusted=sorted(allowlist))
    except UntrustedTypesFoundException:
        raise UntrustedTypesError(set(untrusted_types(path)) - allowlist, allowlist) from None
    return model
