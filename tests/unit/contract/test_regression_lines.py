"""A regression model's log lines: `prediction` is a number, no class fields, never NaN; feedback carries the value."""

from __future__ import annotations

import json

import pytest

from functions.contract import prediction_log as log

LINE = dict(
    timestamp_ms=1, request_id="a" * 32, endpoint="/predict", model="diabetes", model_version="v1",
    feature_names=["age", "bmi"], rows=[[0.1, 0.2], [0.3, 0.4]], predictions=[151.25, 80.0],
    is_outlier=[False, True], outlier_scores=[-0.5, 0.25], latency_ms=0.12345,
)  # fmt: skip


def test_prediction_line_carries_the_number_and_keys_in_contract_order() -> None:
    lines = [json.loads(line) for line in log.regression_prediction_lines(**LINE)]  # type: ignore[arg-type]
    assert [line["prediction"] for line in lines] == [151.25, 80.0]
    assert tuple(lines[0]) == log.REGRESSION_PREDICTION_KEYS  # monitored fields first, as for classifiers
    assert not {log.KEY_CLASS_INDEX, log.KEY_CONFIDENCE, log.KEY_PROBABILITIES} & set(lines[0])
    assert lines[1]["row"] == 1 and lines[1]["is_outlier"] is True and lines[0]["latency_ms"] == 0.123


def test_a_non_finite_prediction_is_never_written() -> None:
    with pytest.raises(ValueError):
        log.regression_prediction_lines(**{**LINE, "predictions": [float("nan"), 1.0]})  # type: ignore[arg-type]


def test_feedback_line_carries_the_true_value_and_no_label_index() -> None:
    (line,) = log.feedback_lines(timestamp_ms=5, model="diabetes", model_version="v1", items=[("b" * 32, 3, 135.0, None)])
    record = json.loads(line)
    assert record == {"message": "feedback", "timestamp": 5, "request_id": "b" * 32, "row": 3, "model": "diabetes",
                      "model_version": "v1", "label": 135.0}  # fmt: skip
