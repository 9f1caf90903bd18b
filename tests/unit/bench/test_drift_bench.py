"""The drift benchmark's own pieces that could silently misreport: which features an evaluation names, the order a
request row is built in, and the candidate accuracy estimator."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from bench.drift_bench import body_rows, calibrated_accuracy, named_features, per_class_calibrators
from functions.contract.model_artifact import load_baseline
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.checks import CheckResult, Evaluation, Overall, Status

REPO = Path(__file__).resolve().parents[3]


def _check(name: str, status: Status) -> CheckResult:
    return CheckResult(name, status, 0.0, 0.0, 0.0, 0.0, 0.0, "", "")


def test_named_features_include_categorical_ones_and_skip_model_level_checks() -> None:
    checks = (
        _check("spread:stated_income", Status.ALARM),
        _check("category_drift:app_channel", Status.ALARM),
        _check("unseen_category:acq_channel", Status.ALARM),
        _check("category_drift:is_customer", Status.OK),
        _check("joint_drift", Status.ALARM),
        _check("estimated_accuracy", Status.ALARM),
    )
    evaluation = Evaluation("m", "v", cast(WindowAggregates, None), Overall.ALARM, checks)
    assert named_features(evaluation) == ["acq_channel", "app_channel", "stated_income"]


def test_body_rows_follow_the_models_input_order() -> None:
    baseline = load_baseline(REPO / "models" / "credit_card" / "baseline.json")
    numeric = ["stated_income", "app_behavioral_score", "credit_bureau_score", "requested_credit_limit"]
    names = ["is_customer", "app_channel", "acq_channel"]
    x = np.array([[40_000.0, 1.5, 600.0, 500.0]])
    values = np.array([["True", "web", "Organic"]])
    row = body_rows(baseline, numeric, x, names, values)[0]
    by_name = dict(zip(baseline.feature_names, row, strict=True))
    assert by_name == {
        "acq_channel": "Organic",
        "app_behavioral_score": 1.5,
        "requested_credit_limit": 500.0,
        "app_channel": "web",
        "credit_bureau_score": 600.0,
        "stated_income": 40_000.0,
        "is_customer": "True",
    }
    assert list(by_name) == list(baseline.feature_names)


def test_per_class_calibration_corrects_an_over_confident_model() -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    true = rng.dirichlet([1.0, 1.0, 1.0], size=n)  # each row's real class probabilities
    labels = np.array([rng.choice(3, p=p) for p in true])
    sharpened = true**2 / (true**2).sum(axis=1, keepdims=True)  # the model claims more than it knows
    fit, judge = slice(0, n // 2), slice(n // 2, n)
    realized = float((sharpened[judge].argmax(axis=1) == labels[judge]).mean())
    over = float(sharpened[judge].max(axis=1).mean()) - realized
    calibrators = per_class_calibrators(sharpened[fit], labels[fit])
    assert over > 0.05
    assert abs(calibrated_accuracy(calibrators, sharpened[judge]) - realized) < 0.015
