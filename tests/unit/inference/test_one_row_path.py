"""The one-row path writes byte for byte the log line, the EMF document and the reply of the general path.

Each request is sent twice, to a service that takes the one-row path and to one that never does
(`one_row_path=False`), with the same job id, clock and latency; every byte they write must agree.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.contract.prediction_log import PredictionLogWriter
from functions.inference.onnx_model import BatchPrediction, OnnxModel, RowPrediction, row_of
from functions.inference.prediction_service import OneRowReplyFormat, PredictionService
from functions.inference.request_metrics import RequestMetrics
from functions.inference.request_parsing import RequestRejected

ENDPOINTS = [("/predict", False), ("/predict/label", True)]


class Sinks:
    def __init__(self) -> None:
        self.log = io.StringIO()  # the contract lines and the EMF documents, as stdout gets them


class Clock:
    """perf_counter stand-in: each request reads 0.0 when it starts and `latency` seconds when it logs."""

    def __init__(self) -> None:
        self.latency = 0.0
        self._ticks: Iterator[float] = iter(())

    def next_request(self, latency_s: float) -> None:
        self.latency = latency_s
        self._ticks = iter((0.0, latency_s))

    def __call__(self) -> float:
        return next(self._ticks)


def make_service(model: object, baseline: Baseline, one_row_path: bool) -> tuple[PredictionService, Sinks, Clock]:
    sinks, clock = Sinks(), Clock()
    service = PredictionService(
        model=model,  # type: ignore[arg-type]
        baseline=baseline,
        log=PredictionLogWriter(sinks.log),
        metrics=RequestMetrics(
            namespace="Test",
            dimensions={"model": baseline.model_name, "service": "inference"},
            labels=baseline.label_names,
            clock_ms=lambda: 1_795_000_000_123,
        ),
        max_rows=1000,
        max_body_bytes=1 << 20,
        new_id=lambda: "0123456789abcdef0123456789abcdef",
        clock_ms=lambda: 1_795_000_000_123,
        timer=clock,
        one_row_path=one_row_path,
    )
    return service, sinks, clock


def both_paths(model: object, baseline: Baseline, requests: Sequence[tuple[str, str, bool, float]]) -> None:
    """Send each (endpoint, body, labels_only, latency) to both services; every written byte must agree."""
    fast, fast_sinks, fast_clock = make_service(model, baseline, one_row_path=True)
    general, general_sinks, general_clock = make_service(model, baseline, one_row_path=False)
    assert fast._replies[False] is not None and fast._replies[True] is not None, "the one-row path must be on"
    for endpoint, body, labels_only, latency in requests:
        replies = []
        for service, clock in ((fast, fast_clock), (general, general_clock)):
            clock.next_request(latency)
            try:
                replies.append(
                    service.predict_request(
                        endpoint=endpoint, body=body, content_type="application/json", labels_only=labels_only
                    )
                )
            except RequestRejected as rejection:
                replies.append(f"{rejection.status} {rejection.code} {rejection.message} {rejection.details}")
        assert replies[0] == replies[1], body
        assert fast_sinks.log.getvalue() == general_sinks.log.getvalue(), body
    assert fast_sinks.log.getvalue().count('{"_aws":') == len(requests)  # one metrics document per request


def body_of(row: Sequence[float]) -> str:
    return json.dumps({"data": [list(row)]})


def rows_for(baseline: Baseline, count: int, seed: int) -> list[list[float]]:
    """Training-like rows, far outliers, integers, negative zero, extremes near float32's limit."""
    rng = np.random.default_rng(seed)
    means = np.array([f.mean for f in baseline.features])
    stds = np.array([f.std or 1.0 for f in baseline.features])
    rows = (means + rng.normal(size=(count, len(means))) * stds * rng.choice([0.5, 1, 3, 30], size=(count, 1))).tolist()
    width = baseline.n_features
    rows += [
        [round(v) for v in rows[0]],
        [-0.0] * width,
        [0] * width,
        [1e30] * width,
        [-3.4e38] + [1.0] * (width - 1),
        [float(np.float32(0.1))] * width,
        baseline.medians,
    ]
    return rows


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_one_row_path_writes_what_the_general_path_writes(
    name: str, iris_artifact: ModelArtifact, wine_artifact: ModelArtifact
) -> None:
    artifact = {"iris": iris_artifact, "wine": wine_artifact}[name]
    model = OnnxModel(artifact)
    randomness = random.Random(11)
    requests = [
        (endpoint, body_of(row), labels_only, randomness.choice([0.0, 1.7e-5, 0.000123456, 0.0215, 1.5]))
        for row in rows_for(artifact.baseline, 600, seed=5)
        for endpoint, labels_only in ENDPOINTS
    ]
    both_paths(model, artifact.baseline, requests)


def test_the_built_in_sample_takes_the_one_row_path_and_agrees(iris_artifact: ModelArtifact) -> None:
    model = OnnxModel(iris_artifact)
    fast, fast_sinks, fast_clock = make_service(model, iris_artifact.baseline, one_row_path=True)
    general, general_sinks, general_clock = make_service(model, iris_artifact.baseline, one_row_path=False)
    for labels_only, endpoint in ((False, "/predict/test"), (True, "/predict/test/label")):
        fast_clock.next_request(0.0002)
        general_clock.next_request(0.0002)
        assert fast.predict_sample(endpoint=endpoint, labels_only=labels_only) == general.predict_sample(
            endpoint=endpoint, labels_only=labels_only
        )
    assert fast_sinks.log.getvalue() == general_sinks.log.getvalue()


class ScriptedModel:
    """Outputs chosen per row: the one-row path must agree on any output, not only on what iris gives."""

    def __init__(self, n_labels: int, seed: int) -> None:
        self.n_labels, self.rng = n_labels, np.random.default_rng(seed)

    def _outputs(self, values: Sequence[float]) -> tuple[int, list[float], float]:
        rng = np.random.default_rng(abs(hash(tuple(values))) % (1 << 32))
        probabilities = rng.dirichlet(np.ones(self.n_labels) * rng.choice([0.05, 1.0])).astype(np.float32)
        score = np.float32(rng.choice([-1.0, 1.0]) * rng.random() * rng.choice([1e-6, 1.0, 1e6]))
        if rng.random() < 0.05:
            score = np.float32(0.0) * np.float32(rng.choice([-1.0, 1.0]))
        if rng.random() < 0.03:
            probabilities[0] = np.float32(rng.choice([np.nan, np.inf]))
        return int(np.argmax(probabilities)), probabilities.tolist(), float(score)

    def predict(self, rows: np.ndarray) -> BatchPrediction:
        outputs = [self._outputs(row.tolist()) for row in rows]
        return BatchPrediction(
            np.array([o[0] for o in outputs], dtype=np.int64),
            np.array([o[1] for o in outputs], dtype=np.float32),
            np.array([o[2] for o in outputs], dtype=np.float32),
        )

    def predict_one(self, values: Sequence[float]) -> RowPrediction:
        return row_of(self.predict(np.array([values], dtype=np.float32)))


@pytest.mark.parametrize(
    ("model_name", "labels"),
    [
        ("iris", ("setosa", "versicolor", "virginica")),
        ('mo"del %s 100%', ("a%d", 'quo"te', "back\\slash")),
        ("modèle", ("été", "日本", "😀", "tab\tlabel")),
        ("two", ("no", "yes")),
    ],
)
def test_the_reply_and_line_formats_hold_for_any_names(iris_artifact: ModelArtifact, model_name: str, labels: tuple) -> None:
    baseline = iris_artifact.baseline._replace(model_name=model_name, label_names=labels)
    rows = rows_for(baseline, 300, seed=9)
    requests = [(endpoint, body_of(row), only, 0.000321) for row in rows for endpoint, only in ENDPOINTS]
    both_paths(ScriptedModel(len(labels), seed=1), baseline, requests)


def test_a_label_that_contains_a_marker_turns_the_one_row_path_off(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline._replace(label_names=("\x004\x00", "b", "c"))
    assert OneRowReplyFormat.build(baseline, labels_only=False) is None
    assert OneRowReplyFormat.build(baseline, labels_only=True) is not None  # no label key in that reply


def test_the_reply_format_is_derived_from_the_reply_document(iris_artifact: ModelArtifact) -> None:
    form = OneRowReplyFormat.build(iris_artifact.baseline, labels_only=False)
    assert form is not None
    text = form.reply('"j"', '"setosa"', [0.5, 0.25, 0.25], True, 1.5)
    assert json.loads(text) == {
        "job_id": "j",
        "model": "iris",
        "model_version": iris_artifact.baseline.model_version,
        "predictions": [
            {
                "label": "setosa",
                "probabilities": {"setosa": 0.5, "versicolor": 0.25, "virginica": 0.25},
                "is_outlier": True,
                "outlier_score": 1.5,
            }
        ],
    }


class CountingModel:
    """The real model, counting which entry point each request used."""

    def __init__(self, model: OnnxModel) -> None:
        self.model, self.batches, self.rows = model, 0, 0

    def predict(self, rows: np.ndarray) -> BatchPrediction:
        self.batches += 1
        return self.model.predict(rows)

    def predict_one(self, values: Sequence[float]) -> RowPrediction:
        self.rows += 1
        return self.model.predict_one(values)


def test_one_row_requests_take_the_one_row_path_and_larger_ones_do_not(iris_artifact: ModelArtifact) -> None:
    counting = CountingModel(OnnxModel(iris_artifact))
    service, _, clock = make_service(counting, iris_artifact.baseline, one_row_path=True)
    for rows, labels_only in (
        ([[5.1, 3.5, 1.4, 0.2]], False),
        ([[5.1, 3.5, 1.4, 0.2]], True),
        ([[5.1, 3.5, 1.4, 0.2]] * 2, False),
    ):
        clock.next_request(0.001)
        service.predict_request(endpoint="/predict", body=body_of(rows[0]) if len(rows) == 1 else json.dumps({"data": rows}),
                                content_type="application/json", labels_only=labels_only)  # fmt: skip
    clock.next_request(0.001)
    service.predict_sample(endpoint="/predict/test", labels_only=False)
    assert (counting.rows, counting.batches) == (3, 1)
