"""Conformal price ranges: they hold what they promise, widen with σ, follow the finite-sample rule, and are
calibrated without ever seeing the holdout's prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import VotingRegressor
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from modelrepo import member_spread
from modelrepo.metrics import Normaliser
from training import QUICK_CONFIG, build_pipeline
from training.conformal import (
    LEVELS,
    Scored,
    bounds,
    calibrate,
    conformal_quantiles,
    coverage_tables,
)
from training.data import outlier_mask, split_target
from training.errors import TrainingError
from training.evaluate import Evaluation, evaluate
from training.features import infer_kinds, model_columns


def heteroscedastic(rows: int, seed: int) -> Scored:
    """Log residuals whose scale is spread + 0.1 (the median spread): σ(x) up to a factor, as the rule assumes."""
    rng = np.random.default_rng(seed)
    predicted = rng.uniform(80_000, 400_000, rows)
    spread = rng.uniform(0.0, 0.2, rows)
    residual = 0.5 * (spread + 0.1) * rng.standard_normal(rows)
    return Scored(predicted * np.exp(residual), predicted, spread)


def covered(calibration_rows: Scored, test: Scored, normaliser: Normaliser) -> dict[str, np.ndarray]:
    calibration = calibrate(calibration_rows, normaliser=normaliser)
    found = {}
    for key in calibration.levels:
        low, high = bounds(calibration, test, key)
        found[key] = (low <= test.actual) & (test.actual <= high)
    return found


def test_coverage_on_heteroscedastic_data_is_near_nominal_and_even_across_the_scale() -> None:
    calibration_rows, test = heteroscedastic(3_000, seed=1), heteroscedastic(40_000, seed=2)
    spread_rule = covered(calibration_rows, test, Normaliser.MEMBER_SPREAD)
    constant = covered(calibration_rows, test, Normaliser.CONSTANT)
    widest = test.spread > np.quantile(test.spread, 0.8)
    for level in LEVELS:
        key = f"{level * 100:g}"
        assert abs(spread_rule[key].mean() - level) < 0.02 and abs(constant[key].mean() - level) < 0.02
        # Only the normalised scores keep the promise where the model is least sure.
        assert abs(spread_rule[key][widest].mean() - level) < 0.03
        assert constant[key][widest].mean() < level - 0.05


def test_the_range_widens_with_the_members_spread() -> None:
    calibration = calibrate(heteroscedastic(2_000, seed=3))
    assert calibration.normaliser is Normaliser.MEMBER_SPREAD and calibration.beta > 0
    narrow, wide = calibration.bands(200_000.0, 0.02), calibration.bands(200_000.0, 0.2)
    for (_, low, high), (_, wide_low, wide_high) in zip(narrow, wide, strict=True):
        assert wide_low < low < 200_000 < high < wide_high
    assert [band[0] for band in narrow] == list(LEVELS)
    # What serving computes per row is what training measured for many rows.
    scored = Scored(np.array([1.0, 1.0]), np.array([200_000.0, 200_000.0]), np.array([0.02, 0.2]))
    low, high = bounds(calibration, scored, "80")
    np.testing.assert_allclose(low, [narrow[0][1], wide[0][1]], rtol=1e-15)
    np.testing.assert_allclose(high, [narrow[0][2], wide[0][2]], rtol=1e-15)


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95])
def test_quantiles_follow_the_finite_sample_ranks(level: float) -> None:
    tail_denominator = round(2 / (1 - level))  # 0.8: 10, 0.95: 40
    for n in range(tail_denominator, 400):
        scores = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))  # the k-th smallest score is k
        rank = -(-(n + 1) * (tail_denominator - 1) // tail_denominator)  # ceil((n+1)(1-α/2)) in integers
        if rank > n:
            with pytest.raises(TrainingError, match="too few for a"):
                conformal_quantiles(scores, level)
            continue
        assert conformal_quantiles(scores, level) == (float(n + 1 - rank), float(rank))


def test_too_few_rows_say_how_many_are_needed() -> None:
    with pytest.raises(TrainingError, match=r"38 calibration rows are too few for a 95% range \(at least 39"):
        conformal_quantiles(np.arange(38.0), 0.95)
    assert conformal_quantiles(np.arange(39.0), 0.95) == (0.0, 38.0)


def test_skewed_residuals_give_an_asymmetric_range() -> None:
    rng = np.random.default_rng(4)
    predicted = np.full(5_000, 150_000.0)
    residual = rng.exponential(0.05, 5_000) - 0.05 * np.log(2)  # median 0, a long upper tail
    calibration = calibrate(Scored(predicted * np.exp(residual), predicted, np.zeros(5_000)))
    assert calibration.normaliser is Normaliser.CONSTANT  # members that always agree leave no scale
    for quantiles in calibration.levels.values():
        assert quantiles.q_high > 2 * -quantiles.q_low > 0
    _, low, high = calibration.bands(150_000.0, 0.0)[1]
    assert high - 150_000 > 3 * (150_000 - low)


def test_spread_is_the_members_disagreement_in_log_price() -> None:
    rng = np.random.default_rng(5)
    features = pd.DataFrame({"a": rng.uniform(0, 1, 200), "b": rng.uniform(0, 1, 200)})
    target = np.exp(11 + features["a"] + 0.1 * rng.standard_normal(200))
    blend = VotingRegressor([("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))])
    model = TransformedTargetRegressor(regressor=blend, func=np.log, inverse_func=np.exp).fit(features, target)
    spread = member_spread(model, features)
    ridge, tree = (estimator.predict(features) for estimator in model.regressor_.estimators_)
    assert spread is not None
    np.testing.assert_array_equal(spread, np.abs(ridge - tree))
    np.testing.assert_allclose(np.exp((ridge + tree) / 2), model.predict(features), rtol=1e-12)
    alone = TransformedTargetRegressor(regressor=Ridge(), func=np.log, inverse_func=np.exp).fit(features, target)
    assert member_spread(alone, features) is None
    assert member_spread(blend.fit(features, np.log(target)), features) is not None  # a bare blend has members too


def test_a_model_without_members_has_zero_spread_and_one_relative_width() -> None:
    rng = np.random.default_rng(8)
    features = pd.DataFrame({"a": rng.uniform(0, 1, 300), "b": rng.uniform(0, 1, 300)})
    target = pd.Series(np.exp(11 + features["a"] + 0.1 * rng.standard_normal(300)))
    alone = TransformedTargetRegressor(regressor=Ridge(), func=np.log, inverse_func=np.exp)
    evaluation = evaluate(
        alone,
        features,
        target,
        np.zeros(300, dtype=bool),
        folds=3,
        holdout_fraction=0.3,
        seed=0,
        keep_outliers=False,
        progress=lambda _: None,
    )
    np.testing.assert_array_equal(evaluation.holdout_scored.spread, np.zeros(90))
    np.testing.assert_array_equal(evaluation.holdout_calibration_rows.spread, np.zeros(210))
    assert evaluation.intervals.calibration.normaliser is Normaliser.CONSTANT


def test_coverage_tables_break_down_by_price_fifth_and_the_largest_groups() -> None:
    scored = heteroscedastic(1_000, seed=6)
    names = np.array([f"g{n:02d}" for n in range(12)])
    groups = pd.Series(names[np.minimum(np.random.default_rng(7).geometric(0.2, 1_000) - 1, 11)])
    ordinary = np.ones(1_000, dtype=bool)
    ordinary[:10] = False
    tables = coverage_tables(calibrate(scored), scored, ordinary=ordinary, groups=groups)
    table = tables["80"]
    assert table.overall.rows == 990 and table.with_outliers.rows == 1_000
    fifths = list(table.by_price_quintile.values())
    assert list(table.by_price_quintile) == ["1", "2", "3", "4", "5"] and sum(cell.rows for cell in fifths) == 990
    assert all(
        a.price_to is not None and b.price_from is not None and a.price_to < b.price_from
        for a, b in zip(fifths, fifths[1:], strict=False)
    )
    counts = groups[ordinary].value_counts()
    assert list(table.by_group) == list(counts.index[:10]) and len(table.by_group) == 10
    assert [cell.rows for cell in table.by_group.values()] == counts.iloc[:10].tolist()
    assert table.overall.mean_width > 0 and table.overall.mean_width_amount > 0
    assert coverage_tables(calibrate(scored), scored, ordinary=ordinary, groups=None)["95"].by_group == {}


def test_holdout_calibration_never_sees_the_holdout_prices(ames: pd.DataFrame) -> None:
    """Change the holdout's sale prices: the holdout's calibration stays bit for bit, its coverage does not."""
    table = split_target(ames.sample(500, random_state=2), target="SalePrice", drop=("Order", "PID"), source="t")
    features, target = table.features, table.target
    outliers = outlier_mask(features, column="Gr Liv Area", above=4000)
    numeric, categorical = model_columns(infer_kinds(features))

    def run(prices: pd.Series) -> Evaluation:
        model = build_pipeline(numeric, categorical, QUICK_CONFIG)
        return evaluate(
            model,
            features,
            prices,
            outliers,
            folds=2,
            holdout_fraction=0.3,
            seed=0,
            keep_outliers=False,
            progress=lambda _: None,
        )

    first = run(target)
    changed = target.copy()
    changed.iloc[first.holdout_rows] *= np.random.default_rng(8).uniform(0.5, 2.0, len(first.holdout_rows))
    second = run(changed)
    assert second.intervals.holdout.calibration == first.intervals.holdout.calibration
    assert (
        second.intervals.holdout.levels["80"].overall.coverage != first.intervals.holdout.levels["80"].overall.coverage
    )
    # The shipped calibration uses every row's out-of-fold prediction, the holdout's included.
    assert second.intervals.calibration != first.intervals.calibration
    assert first.intervals.holdout.calibration.rows == int(
        (~outliers[np.setdiff1d(range(500), first.holdout_rows)]).sum()
    )
    assert first.intervals.holdout.group_column == "Neighborhood" and first.intervals.holdout.levels["95"].by_group
