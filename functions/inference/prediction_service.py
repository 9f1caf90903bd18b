"""Prediction domain: validate, predict, log one contract line per row, count metrics.

Pure of AWS and environment: the model, the log writer, the metrics sink, the
clock and the id factory are passed in, so tests can drive every branch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from functions.contract.model_artifact import Baseline
from functions.contract.prediction_log import prediction_lines, rejected_line
from functions.inference.onnx_model import BatchPrediction
from functions.inference.request_parsing import RequestRejected, parse_rows


class Predictor(Protocol):
    def predict(self, rows: np.ndarray) -> BatchPrediction: ...


class LogWriter(Protocol):
    def write(self, lines: Sequence[str]) -> None: ...


class MetricsSink(Protocol):
    def record_prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> None: ...

    def record_rejection(self) -> None: ...


def new_job_id() -> str:
    """128 random bits, as a UUID4 has (the seed's 6-character ids collided within ~30k requests)."""
    return os.urandom(16).hex()  # a quarter of uuid4().hex's cost


def rounded(values: np.ndarray, digits: int) -> list[Any]:
    """Round for the log and the reply; NumPy's per-call overhead loses on the common one-row request."""
    if values.size <= 32:
        if values.ndim == 1:
            return [round(v, digits) for v in values.tolist()]
        return [[round(v, digits) for v in row] for row in values.tolist()]
    return np.round(values.astype(np.float64), digits).tolist()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


JSON_MEDIA_TYPES = ("application/json",)


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES and not (media_type.startswith("application/") and media_type.endswith("+json")):
        raise RequestRejected(
            415, "unsupported_media_type", f"send the body as application/json, not {media_type or 'no content type'}"
        )


def check_body_size(body: str | bytes | None, max_bytes: int) -> None:
    if body is not None and len(body) > max_bytes:
        raise RequestRejected(413, "body_too_large", f"the body has {len(body)} bytes; at most {max_bytes} are accepted")


@dataclass
class PredictionService:
    model: Predictor
    baseline: Baseline
    log: LogWriter
    metrics: MetricsSink
    max_rows: int
    max_body_bytes: int
    new_id: Callable[[], str] = new_job_id
    clock_ms: Callable[[], int] = now_ms
    timer: Callable[[], float] = time.perf_counter
    _sample: list[list[float]] = field(init=False)

    def __post_init__(self) -> None:
        # The built-in sample of GET /predict/test: each feature's training median.
        self._sample = [self.baseline.medians]

    @property
    def sample(self) -> list[list[float]]:
        return [list(row) for row in self._sample]

    def predict_request(
        self, *, endpoint: str, body: str | bytes | None, content_type: str | None, labels_only: bool
    ) -> dict[str, Any]:
        """Answer a POST; every outcome leaves exactly one log record per row, or one `rejected` record."""
        started = self.timer()
        job_id = self.new_id()
        try:
            check_content_type(content_type)
            check_body_size(body, self.max_body_bytes)
            rows = parse_rows(body, feature_names=self.baseline.feature_names, max_rows=self.max_rows)
        except RequestRejected as rejection:
            self._record_rejection(job_id, endpoint, rejection)
            raise
        return self._predict(job_id, started, endpoint, rows, labels_only)

    def predict_sample(self, *, endpoint: str, labels_only: bool) -> dict[str, Any]:
        return self._predict(self.new_id(), self.timer(), endpoint, self.sample, labels_only)

    def record_rejection(self, *, endpoint: str, rejection: RequestRejected) -> None:
        """For rejections found outside the body (an unknown route): logged like any other."""
        self._record_rejection(self.new_id(), endpoint, rejection)

    def _record_rejection(self, job_id: str, endpoint: str, rejection: RequestRejected) -> None:
        rejection.job_id = job_id
        self.log.write(
            [
                rejected_line(
                    timestamp_ms=self.clock_ms(),
                    request_id=job_id,
                    endpoint=endpoint,
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    status=rejection.status,
                    reason=rejection.message,
                )
            ]
        )
        self.metrics.record_rejection()

    def _predict(self, job_id: str, started: float, endpoint: str, rows: list[list[float]], labels_only: bool) -> dict[str, Any]:
        result = self.model.predict(np.asarray(rows, dtype=np.float32))
        class_index = result.class_index.tolist()
        outlier_flags = (result.outlier_score > 0).tolist()
        outlier_scores = rounded(result.outlier_score, 4)
        label_names = self.baseline.label_names
        labels = [label_names[i] for i in class_index]
        probabilities = rounded(result.probabilities, 4)
        latency_ms = (self.timer() - started) * 1000.0

        self.log.write(
            prediction_lines(
                timestamp_ms=self.clock_ms(),
                request_id=job_id,
                endpoint=endpoint,
                model=self.baseline.model_name,
                model_version=self.baseline.model_version,
                feature_names=self.baseline.feature_names,
                rows=rows,
                labels=labels,
                class_indices=class_index,
                probabilities=probabilities,
                is_outlier=outlier_flags,
                outlier_scores=outlier_scores,
                latency_ms=latency_ms,
            )
        )
        self.metrics.record_prediction(
            rows=len(rows),
            outliers=sum(outlier_flags),
            latency_ms=latency_ms,
            class_counts=np.bincount(result.class_index, minlength=len(label_names)).tolist(),
        )

        if labels_only:
            predictions: list[dict[str, Any]] = [
                {"label": label, "is_outlier": flag, "outlier_score": score}
                for label, flag, score in zip(labels, outlier_flags, outlier_scores, strict=True)
            ]
        else:
            predictions = [
                {
                    "label": label,
                    "probabilities": dict(zip(label_names, row_probabilities, strict=True)),
                    "is_outlier": flag,
                    "outlier_score": score,
                }
                for label, row_probabilities, flag, score in zip(
                    labels, probabilities, outlier_flags, outlier_scores, strict=True
                )
            ]
        return {
            "job_id": job_id,
            "model": self.baseline.model_name,
            "model_version": self.baseline.model_version,
            "predictions": predictions,
        }
