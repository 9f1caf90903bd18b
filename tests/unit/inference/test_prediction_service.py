"""The prediction domain with the real ONNX model and in-memory log and metrics sinks."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import numpy as np
import pytest

from functions.contract.model_artifact import ModelArtifact
from functions.contract.prediction_log import PREDICTION_KEYS, REJECTED_KEYS
from functions.inference.onnx_model import OnnxModel
from functions.inference.prediction_service import PredictionService, rounded
from functions.inference.request_parsing import RequestRejected


class MemoryLog:
    def __init__(self) -> None:
        self.writes: list[list[str]] = []

    def write(self, lines: Sequence[str]) -> None:
        self.writes.append(list(lines))

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for lines in self.writes for line in lines]


class MemoryMetrics:
    def __init__(self) -> None:
        self.predictions: list[dict] = []
        self.rejections = 0

    def record_prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> None:
        self.predictions.append(
            {"rows": rows, "outliers": outliers, "latency_ms": latency_ms, "class_counts": list(class_counts)}
        )

    def record_rejection(self) -> None:
        self.rejections += 1


@pytest.fixture(scope="module")
def iris_model(iris_artifact: ModelArtifact) -> OnnxModel:
    return OnnxModel(iris_artifact)


@pytest.fixture
def service(iris_model: OnnxModel, iris_artifact: ModelArtifact) -> PredictionService:
    counter = itertools.count()
    return PredictionService(
        model=iris_model,
        baseline=iris_artifact.baseline,
        log=MemoryLog(),
        metrics=MemoryMetrics(),
        max_rows=1000,
        max_body_bytes=100_000,
        new_id=lambda: f"job-{next(counter)}",
        clock_ms=lambda: 1_795_000_000_000,
    )


# Iris rows 1, 52 and 102 (one per species, inside the training support) and an absurd flower.
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [5.8, 2.7, 5.1, 1.9], [30.0, 0.1, 25.0, 9.0]]


def predict(service: PredictionService, rows: list[list[float]], labels_only: bool = False) -> dict:
    return service.predict_request(
        endpoint="/predict", body=json.dumps({"data": rows}), content_type="application/json", labels_only=labels_only
    )


def test_one_log_record_per_row_with_the_contract_keys(service: PredictionService) -> None:
    reply = predict(service, ROWS)
    records = service.log.records  # type: ignore[attr-defined]
    assert len(service.log.writes) == 1  # type: ignore[attr-defined]
    assert [r["row"] for r in records] == [0, 1, 2, 3]
    for record, prediction, row in zip(records, reply["predictions"], ROWS, strict=True):
        assert tuple(record) == PREDICTION_KEYS
        assert record["request_id"] == reply["job_id"] == "job-0"
        assert record["features"] == dict(zip(("sepal_length", "sepal_width", "petal_length", "petal_width"), row, strict=True))
        assert record["prediction"] == prediction["label"]
        assert record["is_outlier"] == prediction["is_outlier"]
        assert record["outlier_score"] == prediction["outlier_score"]
        assert record["probabilities"] == list(prediction["probabilities"].values())
        assert record["model_version"] == reply["model_version"]


def test_known_rows_get_the_known_species_and_the_absurd_row_is_an_outlier(service: PredictionService) -> None:
    reply = predict(service, ROWS)
    assert [p["label"] for p in reply["predictions"][:3]] == ["setosa", "versicolor", "virginica"]
    assert [p["is_outlier"] for p in reply["predictions"]] == [False, False, False, True]
    assert reply["predictions"][3]["outlier_score"] > 0
    for prediction in reply["predictions"]:
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_labels_only_reply_has_no_probabilities(service: PredictionService) -> None:
    reply = predict(service, ROWS[:1], labels_only=True)
    assert reply["predictions"] == [
        {"label": "setosa", "is_outlier": False, "outlier_score": pytest.approx(reply["predictions"][0]["outlier_score"])}
    ]


def test_metrics_count_rows_outliers_and_classes(service: PredictionService) -> None:
    predict(service, ROWS)
    (counted,) = service.metrics.predictions  # type: ignore[attr-defined]
    assert counted["rows"] == 4
    assert counted["outliers"] == 1
    assert sum(counted["class_counts"]) == 4
    assert counted["latency_ms"] > 0


def test_rejection_leaves_one_rejected_record_and_carries_the_job_id(service: PredictionService) -> None:
    with pytest.raises(RequestRejected) as caught:
        predict(service, [[1.0, 2.0]])
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert tuple(record) == REJECTED_KEYS
    assert record["message"] == "rejected"
    assert record["request_id"] == caught.value.job_id == "job-0"
    assert record["status"] == 422
    assert "expected 4" in record["reason"]
    assert service.metrics.rejections == 1  # type: ignore[attr-defined]
    assert service.metrics.predictions == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/vnd.api+json", True),
        ("text/plain", False),
        (None, False),
    ],
)
def test_content_type_must_be_json(service: PredictionService, content_type: str | None, accepted: bool) -> None:
    def call() -> dict:
        return service.predict_request(
            endpoint="/predict", body='{"data": [[1, 2, 3, 4]]}', content_type=content_type, labels_only=False
        )

    if accepted:
        assert call()["predictions"]
    else:
        with pytest.raises(RequestRejected) as caught:
            call()
        assert caught.value.status == 415


def test_oversized_body_is_refused_before_parsing(service: PredictionService) -> None:
    with pytest.raises(RequestRejected) as caught:
        service.predict_request(endpoint="/predict", body="x" * 100_001, content_type="application/json", labels_only=False)
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")


def test_built_in_sample_is_the_training_median(service: PredictionService, iris_artifact: ModelArtifact) -> None:
    reply = service.predict_sample(endpoint="/predict/test", labels_only=False)
    (record,) = service.log.records  # type: ignore[attr-defined]
    medians = [f.quantiles[50] for f in iris_artifact.baseline.features]  # level 0.5 of the 101 stored
    assert list(record["features"].values()) == medians
    assert record["endpoint"] == "/predict/test"
    assert reply["predictions"][0]["is_outlier"] is False


def test_default_job_ids_are_unique_and_long(iris_model: OnnxModel, iris_artifact: ModelArtifact) -> None:
    service = PredictionService(
        model=iris_model,
        baseline=iris_artifact.baseline,
        log=MemoryLog(),
        metrics=MemoryMetrics(),
        max_rows=10,
        max_body_bytes=10_000,
    )
    ids = {service.predict_sample(endpoint="/predict/test", labels_only=True)["job_id"] for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(job_id) == 32 for job_id in ids)


@pytest.mark.parametrize("shape", [(1,), (3,), (1, 3), (10, 3), (1000, 3), (1000,)])
def test_rounding_paths_agree(shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(7).random(shape, dtype=np.float32)
    expected = np.round(values.astype(np.float64), 4).tolist()
    assert rounded(values, 4) == expected
