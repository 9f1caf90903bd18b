"""Per-request EMF documents are valid Embedded Metric Format with the agreed names and dimensions."""

from __future__ import annotations

import io
import json

import pytest

from functions.contract import names
from functions.inference.request_metrics import RequestMetrics


def emitter(labels: tuple[str, ...] = ("setosa", "versicolor", "virginica")) -> tuple[RequestMetrics, io.StringIO]:
    stream = io.StringIO()
    dims = {"service": "inference", "model": "iris"}
    return RequestMetrics(stream=stream, namespace=names.METRICS_NAMESPACE, dimensions=dims, labels=labels), stream


def documents(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def check_emf(document: dict) -> list[str]:
    """Every metric the directive declares has a numeric value in the document (the EMF rule)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == names.METRICS_NAMESPACE
    assert directive["Dimensions"] == [["model", "service"]]
    assert document["service"] == "inference"
    assert document["model"] == "iris"
    assert isinstance(document["_aws"]["Timestamp"], int)
    declared = [metric["Name"] for metric in directive["Metrics"]]
    for name in declared:
        assert isinstance(document[name], int | float), name
    return declared


def test_prediction_document() -> None:
    metrics, stream = emitter()
    metrics.record_prediction(rows=5, outliers=2, latency_ms=0.4567, class_counts=[3, 0, 2])
    (document,) = documents(stream)
    declared = check_emf(document)
    assert set(declared) == {
        "Requests",
        "Predictions",
        "Outliers",
        "LatencyMs",
        "PredictedClass_setosa",
        "PredictedClass_versicolor",
        "PredictedClass_virginica",
    }
    assert (
        document["Predictions"],
        document["Outliers"],
        document["PredictedClass_setosa"],
        document["PredictedClass_virginica"],
    ) == (5, 2, 3, 2)
    assert document["LatencyMs"] == pytest.approx(0.457)
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["LatencyMs"] == "Milliseconds"


def test_rejection_document() -> None:
    metrics, stream = emitter()
    metrics.record_rejection()
    (document,) = documents(stream)
    assert set(check_emf(document)) == {"Requests", "RejectedRequests"}
    assert document["RejectedRequests"] == 1


def test_labels_that_need_escaping_stay_valid_json() -> None:
    metrics, stream = emitter(labels=('say "hi"', "b"))
    metrics.record_prediction(rows=1, outliers=0, latency_ms=1.0, class_counts=[1, 0])
    assert documents(stream)[0]['PredictedClass_say "hi"'] == 1


def test_more_labels_than_emf_allows_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="EMF allows 100"):
        emitter(labels=tuple(f"c{i}" for i in range(97)))
