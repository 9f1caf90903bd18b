"""The regression service with a stand-in model: non-finite estimates are refused, never logged as NaN."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import load_model_artifact
from functions.contract.prediction_log import PredictionLogWriter
from functions.inference.regression import RegressionBatch, RegressionPredictionService
from functions.inference.request_metrics import RequestMetrics
from functions.inference.request_parsing import RequestRejected

DIABETES = Path(__file__).resolve().parents[3] / "models" / "diabetes"


class Estimates:
    def __init__(self, values: list[float]) -> None:
        self.values = values

    def predict(self, rows: np.ndarray) -> RegressionBatch:
        return RegressionBatch(np.array(self.values[: len(rows)], dtype=np.float32), np.full(len(rows), -0.5, dtype=np.float32))


def service(values: list[float], stream: io.StringIO) -> RegressionPredictionService:
    baseline = load_model_artifact(DIABETES).baseline
    metrics = RequestMetrics(namespace="Test", dimensions={"model": "diabetes"}, labels=())
    return RegressionPredictionService(
        model=Estimates(values), baseline=baseline, log=PredictionLogWriter(stream), metrics=metrics,
        max_rows=1000, max_body_bytes=1_000_000,
    )  # fmt: skip


def test_a_non_finite_estimate_refuses_the_request_with_one_rejected_line() -> None:
    stream = io.StringIO()
    body = json.dumps({"data": [[0.0] * 10, [0.1] * 10]})
    with pytest.raises(RequestRejected) as refused:
        service([1.0, float("inf")], stream).predict_request(
            endpoint="/predict", body=body, content_type="application/json", labels_only=False
        )
    assert refused.value.status == 422 and refused.value.code == "unscorable_row" and "row 1" in refused.value.message
    records = [json.loads(line) for line in stream.getvalue().splitlines() if '"message"' in line]
    assert [r["message"] for r in records] == ["rejected"]


def test_estimates_are_logged_and_answered_as_numbers() -> None:
    stream = io.StringIO()
    reply = json.loads(
        service([151.123456789], stream).predict_request(
            endpoint="/predict", body='{"data": [[0,0,0,0,0,0,0,0,0,0]]}', content_type="application/json", labels_only=False
        )
    )
    assert reply["predictions"] == [{"prediction": 151.1235, "is_outlier": False, "outlier_score": -0.5}]
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines() if x.startswith('{"message":"prediction"')]
    assert line["prediction"] == 151.1235 and line["request_id"] == reply["job_id"]
