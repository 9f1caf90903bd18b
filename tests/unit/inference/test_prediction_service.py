"""The prediction domain with the real ONNX model and in-memory log and metrics sinks."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import numpy as np
import pytest

from functions.contract.model_artifact import ModelArtifact
from functions.contract.prediction_log import FAILED_KEYS, FEEDBACK_KEYS, PREDICTION_KEYS, REJECTED_KEYS
from functions.inference.onnx_model import BatchPrediction, OnnxModel, RowPrediction, row_of
from functions.inference.prediction_service import PredictionService, RequestFailed, rounded
from functions.inference.request_parsing import RequestRejected


class MemoryLog:
    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.metrics: list[str] = []  # the metrics document of each write

    def write(self, lines: Sequence[str], metrics: str = "") -> None:
        self.writes.append(list(lines))
        self.metrics.append(metrics)

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for lines in self.writes for line in lines]


class MemoryMetrics:
    def __init__(self) -> None:
        self.predictions: list[dict] = []
        self.rejections = 0

    def prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> str:
        self.predictions.append(
            {"rows": rows, "outliers": outliers, "latency_ms": latency_ms, "class_counts": list(class_counts)}
        )
        return "prediction-metrics\n"

    def rejection(self) -> str:
        self.rejections += 1
        return "rejection-metrics\n"

    failures = 0
    feedback_labels = 0

    def failure(self) -> str:
        self.failures += 1
        return "failure-metrics\n"

    def feedback(self, *, labels: int) -> str:
        self.feedback_labels += labels
        return "feedback-metrics\n"


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
    return json.loads(
        service.predict_request(
            endpoint="/predict", body=json.dumps({"data": rows}), content_type="application/json", labels_only=labels_only
        )
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
        return json.loads(
            service.predict_request(
                endpoint="/predict", body='{"data": [[1, 2, 3, 4]]}', content_type=content_type, labels_only=False
            )
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
    reply = json.loads(service.predict_sample(endpoint="/predict/test", labels_only=False))
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
    ids = {json.loads(service.predict_sample(endpoint="/predict/test", labels_only=True))["job_id"] for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(job_id) == 32 for job_id in ids)


@pytest.mark.parametrize("shape", [(1,), (3,), (1, 3), (10, 3), (1000, 3), (1000,)])
def test_rounding_paths_agree(shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(7).random(shape, dtype=np.float32)
    expected = np.round(values.astype(np.float64), 4).tolist()
    assert rounded(values, 4) == expected


def test_confidence_is_the_top_class_probability(service: PredictionService) -> None:
    reply = predict(service, ROWS)
    for record, prediction in zip(service.log.records, reply["predictions"], strict=True):  # type: ignore[attr-defined]
        assert record["confidence"] == max(prediction["probabilities"].values())
        assert record["probabilities"][record["class_index"]] == record["confidence"]


def test_missing_content_type_says_how_to_fix_it(service: PredictionService) -> None:
    with pytest.raises(RequestRejected) as caught:
        service.predict_request(endpoint="/predict", body='{"data": [[1, 2, 3, 4]]}', content_type=None, labels_only=False)
    assert "-H 'content-type: application/json'" in caught.value.message
    assert "not no content type" not in caught.value.message


def test_body_limit_counts_bytes_not_characters(service: PredictionService) -> None:
    """40,000 three-byte characters are 120,000 bytes: over the 100,000-byte limit though only 40,000 characters."""
    body = '{"data": [[1, 2, 3, 4]], "x": "' + "€" * 40_000 + '"}'
    with pytest.raises(RequestRejected) as caught:
        service.predict_request(endpoint="/predict", body=body, content_type="application/json", labels_only=False)
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")
    assert f"{len(body.encode())} bytes" in caught.value.message


def test_base64_body_that_does_not_decode_is_400(service: PredictionService) -> None:
    with pytest.raises(RequestRejected) as caught:
        service.predict_request(
            endpoint="/predict", body="%%%", content_type="application/json", labels_only=False, is_base64=True
        )
    assert (caught.value.status, caught.value.code) == (400, "invalid_base64")
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert record["status"] == 400


class NaNModel:
    """The classifier's output for rows it cannot score (seen with finite inputs near 1e38)."""

    def __init__(self, bad_rows: set[int], where: str = "probabilities") -> None:
        self.bad_rows, self.where = bad_rows, where

    def predict(self, rows: np.ndarray) -> BatchPrediction:
        n = len(rows)
        probabilities = np.tile(np.array([0.8, 0.1, 0.1], dtype=np.float32), (n, 1))
        scores = np.full(n, -0.5, dtype=np.float32)
        for row in self.bad_rows:
            if self.where == "probabilities":
                probabilities[row] = np.nan
            else:
                scores[row] = np.inf
        return BatchPrediction(class_index=np.zeros(n, dtype=np.int64), probabilities=probabilities, outlier_score=scores)

    def predict_one(self, values: Sequence[float]) -> RowPrediction:
        return row_of(self.predict(np.array([values], dtype=np.float32)))


@pytest.mark.parametrize("where", ["probabilities", "outlier_score"])
def test_non_finite_output_refuses_the_whole_request_naming_row_and_feature(service: PredictionService, where: str) -> None:
    service.model = NaNModel({1}, where)
    rows = [[5.1, 3.5, 1.4, 0.2], [5.1, 8.9e37, 1.4, 0.2]]
    with pytest.raises(RequestRejected) as caught:
        predict(service, rows)
    rejection = caught.value
    assert (rejection.status, rejection.code) == (422, "unscorable_row")
    assert rejection.message.startswith("row 1 cannot be scored")
    assert "sepal_width = 8.9e+37" in rejection.message
    assert rejection.details[0]["location"] == "data[1]"
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert (record["message"], record["status"]) == ("rejected", 422)
    assert service.metrics.predictions == []  # type: ignore[attr-defined]


def test_the_feature_named_is_the_one_furthest_outside_in_training_deviations(service: PredictionService) -> None:
    service.model = NaNModel({0})
    # petal_width's training range is ~0.1..2.5 (std ~0.76): 1e5 is further out, in deviations, than sepal_length 1e4
    with pytest.raises(RequestRejected) as caught:
        predict(service, [[1e4, 3.5, 1.4, 1e5]])
    assert "petal_width = 100000" in caught.value.message


class BrokenModel:
    def predict(self, rows: np.ndarray) -> BatchPrediction:
        raise RuntimeError("onnxruntime exploded with request data 5.1")

    def predict_one(self, values: Sequence[float]) -> RowPrediction:
        raise RuntimeError("onnxruntime exploded with request data 5.1")


def test_unexpected_error_leaves_one_failed_record_with_the_class_name_only(service: PredictionService) -> None:
    service.model = BrokenModel()
    with pytest.raises(RequestFailed) as caught:
        predict(service, ROWS)
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert tuple(record) == FAILED_KEYS
    assert (record["message"], record["status"], record["error_type"]) == ("failed", 500, "RuntimeError")
    assert record["request_id"] == caught.value.job_id == "job-0"
    assert "5.1" not in json.dumps(record)
    assert service.metrics.failures == 1  # type: ignore[attr-defined]
    assert service.metrics.predictions == []  # type: ignore[attr-defined]


def test_a_log_line_that_cannot_be_written_becomes_a_failure_not_a_partial_log(service: PredictionService) -> None:
    writes_before = len(service.log.writes)  # type: ignore[attr-defined]
    original = service.log.write

    def refuse_first(lines: Sequence[str], metrics: str = "") -> None:
        if len(service.log.writes) == writes_before and json.loads(lines[0])["message"] == "prediction":  # type: ignore[attr-defined]
            raise ValueError("Out of range float values are not JSON compliant")
        original(lines, metrics)

    service.log.write = refuse_first  # type: ignore[method-assign]
    with pytest.raises(RequestFailed):
        predict(service, ROWS)
    assert [r["message"] for r in service.log.records] == ["failed"]  # type: ignore[attr-defined]


def feedback(service: PredictionService, body: object) -> dict:
    return service.feedback_request(body=json.dumps(body), content_type="application/json")


JOB = "0123456789abcdef0123456789abcdef"


def test_feedback_row_may_be_written_as_a_whole_float_as_json_schema_allows(service: PredictionService) -> None:
    feedback(service, {"labels": [{"job_id": JOB, "row": 7.0, "label": "setosa"}]})
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert record["row"] == 7 and isinstance(record["row"], int)


def test_feedback_writes_one_line_per_label_and_counts(service: PredictionService) -> None:
    reply = feedback(
        service,
        {"labels": [{"job_id": JOB, "row": 0, "label": "setosa"}, {"job_id": JOB, "row": 0, "label": "virginica"}]},
    )
    assert (reply["accepted"], reply["predictions"], reply["rows"]) == (2, 1, 1)
    records = service.log.records  # type: ignore[attr-defined]
    assert [tuple(r) for r in records] == [FEEDBACK_KEYS, FEEDBACK_KEYS]
    assert [(r["request_id"], r["row"], r["label"], r["label_index"]) for r in records] == [
        (JOB, 0, "setosa", 0),
        (JOB, 0, "virginica", 2),
    ]
    assert service.metrics.feedback_labels == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"labels": []}, "invalid_request", "labels is empty"),
        ({"labels": [{"job_id": JOB, "row": 0, "label": "setosa"}] * 1001}, "too_many_labels", "at most 1000"),
        ({"labels": [{"job_id": "abc", "row": 0, "label": "setosa"}]}, "invalid_request", "32 lower-case hex"),
        ({"labels": [{"job_id": JOB.upper(), "row": 0, "label": "setosa"}]}, "invalid_request", "32 lower-case hex"),
        ({"labels": [{"job_id": JOB, "row": 1000, "label": "setosa"}]}, "invalid_request", "0..999"),
        ({"labels": [{"job_id": JOB, "row": -1, "label": "setosa"}]}, "invalid_request", "0..999"),
        ({"labels": [{"job_id": JOB, "row": True, "label": "setosa"}]}, "invalid_request", "0..999"),
        ({"labels": [{"job_id": JOB, "row": 0.5, "label": "setosa"}]}, "invalid_request", "0..999"),
        ({"labels": [{"job_id": JOB, "row": 1e3, "label": "setosa"}]}, "invalid_request", "0..999"),
        ({"labels": [{"job_id": JOB, "row": 0, "label": "rose"}]}, "invalid_request", "one of setosa, versicolor, virginica"),
        ({"labels": [{"job_id": JOB, "row": 0}]}, "invalid_request", "missing key 'label'"),
        ({"labels": [{"job_id": JOB, "row": 0, "label": "setosa", "x": 1}]}, "invalid_request", "unexpected key 'x'"),
        ({"labels": ["setosa"]}, "invalid_request", "must be an object"),
        ({"label": []}, "invalid_request", "missing key 'labels'"),
        ([], "invalid_request", "must be a JSON object"),
    ],
)
def test_feedback_bad_input_is_a_4xx_and_one_rejected_line(
    service: PredictionService, body: object, code: str, says: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        feedback(service, body)
    assert (caught.value.status, caught.value.code) == (422, code)
    assert says in caught.value.message
    (record,) = service.log.records  # type: ignore[attr-defined]
    assert (record["message"], record["endpoint"], record["status"]) == ("rejected", "/feedback", 422)
    assert service.metrics.feedback_labels == 0  # type: ignore[attr-defined]


def test_each_request_writes_its_lines_and_its_metrics_document_together(service: PredictionService) -> None:
    predict(service, ROWS)
    predict(service, ROWS[:1])
    with pytest.raises(RequestRejected):
        predict(service, [[1.0]])
    feedback(service, {"labels": [{"job_id": JOB, "row": 0, "label": "setosa"}]})
    assert service.log.metrics == [  # type: ignore[attr-defined]
        "prediction-metrics\n",
        "prediction-metrics\n",
        "rejection-metrics\n",
        "feedback-metrics\n",
    ]
