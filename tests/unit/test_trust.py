from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelrepo import MODEL_FILE, TRUSTED_TYPES, UntrustedTypesError, load_model, save_model


def shout(values: np.ndarray) -> np.ndarray:
    """A function nobody reviewed: skops must not run it unless told to trust it."""
    return values * 2


def test_a_file_with_a_type_outside_the_allowlist_is_refused_and_the_type_named(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    model = make_pipeline(FunctionTransformer(shout), LinearRegression()).fit(X, [1.0, 2.0, 3.0])
    path = save_model(model, tmp_path / "model.skops")
    assert "tests.unit.test_trust.shout" in sio.get_untrusted_types(file=path)

    with pytest.raises(UntrustedTypesError, match=r"tests\.unit\.test_trust\.shout") as raised:
        load_model(path)
    assert raised.value.untrusted == ["tests.unit.test_trust.shout"]
    assert "modelrepo/trust.py" in str(raised.value)


def test_the_allowlist_lives_in_code_and_is_not_widened_by_the_file(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    path = save_model(
        make_pipeline(FunctionTransformer(shout), LinearRegression()).fit(X, [1, 2, 3]), tmp_path / "m.skops"
    )
    with pytest.raises(UntrustedTypesError):
        load_model(path, allowlist=TRUSTED_TYPES | {"something.else"})
    assert load_model(path, allowlist=TRUSTED_TYPES | {"tests.unit.test_trust.shout"}).predict(X).shape == (3,)


def test_the_trained_model_loads_with_the_allowlist_and_reports_only_allowed_types(model_folder: Path) -> None:
    reported = set(sio.get_untrusted_types(file=model_folder / MODEL_FILE))
    assert reported <= TRUSTED_TYPES
    model = load_model(model_folder / MODEL_FILE)
    assert hasattr(model, "predict")


def test_saved_models_are_zip_compressed(model_folder: Path, tmp_path: Path) -> None:
    model = load_model(model_folder / MODEL_FILE)
    sio.dump(model, tmp_path / "plain.skops")
    assert (model_folder / MODEL_FILE).stat().st_size < (tmp_path / "plain.skops").stat().st_size / 2
