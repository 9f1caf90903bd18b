"""Per-request EMF documents: valid Embedded Metric Format with the agreed names and dimensions, and byte for
byte what Powertools itself writes for the same metrics (its `serialize_metric_set`, then its flush's json.dumps)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from functions.contract import names
from functions.inference.request_metrics import RequestMetrics

DIMENSIONS = {"model": "iris", "service": "inference"}
NOW_MS = time.time_ns() // 1_000_000  # Powertools warns on timestamps more than 14 days away


def emitter(
    labels: Sequence[str] = ("setosa", "versicolor", "virginica"), dimensions: dict[str, str] = DIMENSIONS
) -> tuple[RequestMetrics, io.StringIO]:
    stream = io.StringIO()
    metrics = RequestMetrics(namespace=names.METRICS_NAMESPACE, dimensions=dimensions, labels=labels, clock_ms=lambda: NOW_MS)
    return metrics, stream


def documents(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().split("\n") if line]


def powertools_line(metrics: list[tuple[str, str, float]], dimensions: dict[str, str] = DIMENSIONS) -> str:
    """What Powertools' Metrics.flush_metrics prints for these metrics (dimensions added in the same order)."""
    provider = AmazonCloudWatchEMFProvider(namespace=names.METRICS_NAMESPACE)
    for key, value in dimensions.items():
        provider.add_dimension(name=key, value=value)
    for name, unit, value in metrics:
        provider.add_metric(name=name, unit=unit, value=value)
    provider.set_timestamp(NOW_MS)
    return json.dumps(provider.serialize_metric_set(), separators=(",", ":")) + "\n"


def check_emf(document: dict) -> list[str]:
    """Every metric the directive declares has a numeric value in the document (the EMF rule)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == names.METRICS_NAMESPACE
    assert directive["Dimensions"] == [["model", "service"]]
    assert document["service"] == "inference"
    assert document["model"] == "iris"
    assert document["_aws"]["Timestamp"] == NOW_MS
    declared = [metric["Name"] for metric in directive["Metrics"]]
    for name in declared:
        assert all(isinstance(value, float) for value in document[name]), name
    return declared


def test_prediction_document() -> None:
    metrics, stream = emitter()
    stream.write(metrics.prediction(rows=5, outliers=2, latency_ms=0.4567, class_counts=[3, 0, 2]))
    (document,) = documents(stream)
    declared = check_emf(document)
    assert declared == [
        "Requests",
        "Predictions",
        "Outliers",
        "LatencyMs",
        "PredictedClass_setosa",
        "PredictedClass_versicolor",
        "PredictedClass_virginica",
    ]
    assert (
        document["Predictions"],
        document["Outliers"],
        document["PredictedClass_setosa"],
        document["PredictedClass_virginica"],
    ) == ([5.0], [2.0], [3.0], [2.0])
    assert document["LatencyMs"] == [0.457]
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["LatencyMs"] == "Milliseconds"


@pytest.mark.parametrize(
    ("labels", "rows", "outliers", "latency_ms", "counts"),
    [
        (("setosa", "versicolor", "virginica"), 1, 0, 0.1234, [0, 1, 0]),
        (("setosa", "versicolor", "virginica"), 1000, 17, 9.87654, [400, 300, 300]),
        (('say "hi"', "café", "back\\slash", "50%"), 3, 3, 1.0, [1, 1, 0, 1]),
        (("class_0", "class_1"), 2, 1, 12345.6789, [2, 0]),
    ],
)
def test_prediction_document_is_what_powertools_writes(
    labels: tuple[str, ...], rows: int, outliers: int, latency_ms: float, counts: list[int]
) -> None:
    metrics, stream = emitter(labels)
    stream.write(metrics.prediction(rows=rows, outliers=outliers, latency_ms=latency_ms, class_counts=counts))
    expected = powertools_line(
        [
            (names.METRIC_REQUESTS, "Count", 1),
            (names.METRIC_PREDICTIONS, "Count", rows),
            (names.METRIC_OUTLIERS, "Count", outliers),
            (names.METRIC_LATENCY, "Milliseconds", round(latency_ms, 3)),
            *((names.class_metric(label), "Count", count) for label, count in zip(labels, counts, strict=True)),
        ]
    )
    assert stream.getvalue() == expected


def test_other_documents_are_what_powertools_writes() -> None:
    metrics, stream = emitter()
    stream.write(metrics.rejection())
    stream.write(metrics.failure())
    stream.write(metrics.feedback(labels=7))
    assert stream.getvalue().splitlines(keepends=True) == [
        powertools_line([(names.METRIC_REQUESTS, "Count", 1), (names.METRIC_REJECTED, "Count", 1)]),
        powertools_line([(names.METRIC_REQUESTS, "Count", 1), (names.METRIC_FAILED, "Count", 1)]),
        powertools_line([(names.METRIC_FEEDBACK_LABELS, "Count", 7)]),
    ]


def test_dimensions_keep_their_order_as_powertools_does() -> None:
    reversed_dimensions = {"service": "inference", "model": "iris"}
    metrics, stream = emitter(dimensions=reversed_dimensions)
    stream.write(metrics.rejection())
    expected = powertools_line([(names.METRIC_REQUESTS, "Count", 1), (names.METRIC_REJECTED, "Count", 1)], reversed_dimensions)
    assert stream.getvalue() == expected


def test_rejection_document() -> None:
    metrics, stream = emitter()
    stream.write(metrics.rejection())
    (document,) = documents(stream)
    assert set(check_emf(document)) == {"Requests", "RejectedRequests"}
    assert document["RejectedRequests"] == [1.0]


def test_labels_that_need_escaping_stay_valid_json() -> None:
    metrics, stream = emitter(labels=('say "hi"', "b"))
    stream.write(metrics.prediction(rows=1, outliers=0, latency_ms=1.0, class_counts=[1, 0]))
    assert documents(stream)[0]['PredictedClass_say "hi"'] == [1.0]


def test_class_counts_must_match_the_labels() -> None:
    metrics, _ = emitter()
    with pytest.raises(ValueError):
        metrics.prediction(rows=1, outliers=0, latency_ms=1.0, class_counts=[1, 0])


def test_more_labels_than_emf_allows_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="EMF allows 100"):
        emitter(labels=tuple(f"c{i}" for i in range(97)))
