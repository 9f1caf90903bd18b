"""The metric filters' patterns, rendered from the same conditions the tests evaluate (infra.line_metrics)."""

from __future__ import annotations

from infra.line_metrics import line_metrics, totals

LABELS = ("setosa", "versicolor", "virginica")


def by_name() -> dict:
    return {metric.name: metric for metric in line_metrics(LABELS)}


def test_patterns_are_cloudwatch_json_filter_syntax() -> None:
    metrics = by_name()
    assert metrics["Predictions"].pattern() == '{ $.message = "prediction" }'
    assert metrics["Outliers"].pattern() == '{ $.message = "prediction" && $.is_outlier IS TRUE }'
    assert metrics["Requests"].pattern() == (
        '{ ($.message = "prediction" && $.row = 0) || $.message = "rejected" || $.message = "failed" }'
    )
    # a field published as the value must be matched in the pattern (PutMetricFilter reference)
    assert metrics["LatencyMs"].pattern() == '{ $.message = "prediction" && $.row = 0 && $.latency_ms = * }'
    assert metrics["LatencyMs"].value == "$.latency_ms"
    assert metrics["PredictedClass_virginica"].pattern() == '{ $.message = "prediction" && $.prediction = "virginica" }'


def test_counts_follow_the_lines_one_request_at_a_time() -> None:
    lines = [
        {"message": "prediction", "row": 0, "is_outlier": False, "prediction": "setosa", "latency_ms": 0.2},
        {"message": "prediction", "row": 1, "is_outlier": True, "prediction": "virginica", "latency_ms": 0.2},
        {"message": "rejected", "status": 422},
        {"message": "failed", "status": 500},
        {"message": "feedback", "row": 0, "label": "setosa"},
        {"level": "INFO", "message": "model loaded"},
    ]
    published = totals(line_metrics(LABELS), lines)
    assert {name: sum(values) for name, values in published.items()} == {
        "Requests": 3,
        "Predictions": 2,
        "Outliers": 1,
        "LatencyMs": 0.2,
        "RejectedRequests": 1,
        "FailedRequests": 1,
        "FeedbackLabels": 1,
        "PredictedClass_setosa": 1,
        "PredictedClass_versicolor": 0,
        "PredictedClass_virginica": 1,
    }


def test_a_boolean_is_not_the_number_one() -> None:
    outliers = by_name()["Outliers"]
    assert outliers.value_of({"message": "prediction", "is_outlier": 1}) is None
    assert outliers.value_of({"message": "prediction", "is_outlier": True}) == 1.0
