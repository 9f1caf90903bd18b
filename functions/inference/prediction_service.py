"""Prediction domain: validate, predict, log one contract line per row, count metrics.

Pure of AWS and environment: the model, the log writer, the metrics sink, the
clock and the id factory are passed in, so tests can drive every branch.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from functions.contract.model_artifact import Baseline
from functions.contract.prediction_log import failed_line, feedback_lines, prediction_lines, rejected_line
from functions.inference.onnx_model import BatchPrediction
from functions.inference.request_parsing import MAX_DETAILS, RequestRejected, parse_labels, parse_rows_array


class Predictor(Protocol):
    def predict(self, rows: np.ndarray) -> BatchPrediction: ...


class LogWriter(Protocol):
    def write(self, lines: Sequence[str]) -> None: ...


class MetricsSink(Protocol):
    def record_prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> None: ...

    def record_rejection(self) -> None: ...

    def record_failure(self) -> None: ...

    def record_feedback(self, *, labels: int) -> None: ...


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
CURL_HINT = "with curl: -H 'content-type: application/json'"


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in JSON_MEDIA_TYPES or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    if not media_type:
        message = f"the request has no content type; send the body as application/json ({CURL_HINT})"
    else:
        message = f"send the body as application/json, not {media_type} ({CURL_HINT})"
    raise RequestRejected(415, "unsupported_media_type", message)


def decode_body(body: str | bytes | None, is_base64: bool) -> str | bytes | None:
    """API Gateway base64-encodes binary media types; a body that claims it and is not is refused (400)."""
    if body is None or not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise RequestRejected(
            400, "invalid_base64", "the event says the body is base64-encoded (isBase64Encoded) but it does not decode"
        ) from None


def body_bytes(body: str | bytes) -> int:
    """The body's size in UTF-8 bytes, as the client sent it (a character can take up to 4)."""
    if isinstance(body, bytes) or body.isascii():
        return len(body)
    return len(body.encode("utf-8", "surrogatepass"))


def check_body_size(body: str | bytes | None, max_bytes: int) -> None:
    if body is None:
        return
    if len(body) <= max_bytes // 4:  # cannot be over, whatever the characters
        return
    size = body_bytes(body)
    if size > max_bytes:
        raise RequestRejected(413, "body_too_large", f"the body has {size} bytes; at most {max_bytes} are accepted")


class RequestFailed(Exception):
    """An accepted request the service could not answer; its `failed` record is already written."""

    def __init__(self, job_id: str, error_type: str) -> None:
        super().__init__(error_type)
        self.job_id = job_id
        self.error_type = error_type


def furthest_outside(values: Sequence[float], baseline: Baseline) -> tuple[str, float, float, float]:
    """The feature furthest outside its training range, in training standard deviations: (name, value, min, max).

    When every value is inside its range, the one furthest from its training mean."""

    def distance(index: int) -> tuple[bool, float]:
        value, feature = values[index], baseline.features[index]
        outside = max(feature.min - value, value - feature.max, 0.0)
        return outside > 0, (outside if outside > 0 else abs(value - feature.mean)) / (feature.std or 1.0)

    best = max(range(len(baseline.features)), key=distance)
    feature = baseline.features[best]
    return feature.name, float(values[best]), feature.min, feature.max


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
        self,
        *,
        endpoint: str,
        body: str | bytes | None,
        content_type: str | None,
        labels_only: bool,
        is_base64: bool = False,
    ) -> dict[str, Any]:
        """Answer a POST; every outcome leaves exactly one log record per row, or one `rejected` or `failed` record."""
        started = self.timer()
        job_id = self.new_id()
        try:
            check_content_type(content_type)
            body = decode_body(body, is_base64)
            check_body_size(body, self.max_body_bytes)
            rows = parse_rows_array(body, feature_names=self.baseline.feature_names, max_rows=self.max_rows)
            return self._predict(job_id, started, endpoint, rows.values, rows.array, labels_only)
        except RequestRejected as rejection:
            self._record_rejection(job_id, endpoint, rejection)
            raise
        except Exception as error:
            raise self.record_failure(endpoint=endpoint, error=error, job_id=job_id) from error

    def predict_sample(self, *, endpoint: str, labels_only: bool) -> dict[str, Any]:
        job_id = self.new_id()
        try:
            return self._predict(job_id, self.timer(), endpoint, self.sample, np.asarray(self._sample, np.float32), labels_only)
        except Exception as error:
            raise self.record_failure(endpoint=endpoint, error=error, job_id=job_id) from error

    def feedback_request(self, *, body: str | bytes | None, content_type: str | None, is_base64: bool = False) -> dict[str, Any]:
        """Record ground-truth labels: one `feedback` line per item, or one `rejected` line for the request."""
        job_id = self.new_id()
        endpoint = "/feedback"
        try:
            check_content_type(content_type)
            body = decode_body(body, is_base64)
            check_body_size(body, self.max_body_bytes)
            labels = parse_labels(body, label_names=self.baseline.label_names)
            self.log.write(
                feedback_lines(
                    timestamp_ms=self.clock_ms(),
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    items=[(item.job_id, item.row, item.label, item.label_index) for item in labels],
                )
            )
            self.metrics.record_feedback(labels=len(labels))
        except RequestRejected as rejection:
            self._record_rejection(job_id, endpoint, rejection)
            raise
        except Exception as error:
            raise self.record_failure(endpoint=endpoint, error=error, job_id=job_id) from error
        return {
            "job_id": job_id,
            "model": self.baseline.model_name,
            "model_version": self.baseline.model_version,
            "accepted": len(labels),
            "predictions": len({item.job_id for item in labels}),
            "rows": len({(item.job_id, item.row) for item in labels}),
        }

    def record_rejection(self, *, endpoint: str, rejection: RequestRejected) -> None:
        """For rejections found outside the body (an unknown route, a wrong method): logged like any other."""
        self._record_rejection(self.new_id(), endpoint, rejection)

    def record_failure(self, *, endpoint: str, error: BaseException, job_id: str | None = None) -> RequestFailed:
        """The last guard: one `failed` line (the exception's class, never its text) and the failure metric."""
        job_id = job_id or self.new_id()
        error_type = type(error).__name__
        self.log.write(
            [
                failed_line(
                    timestamp_ms=self.clock_ms(),
                    request_id=job_id,
                    endpoint=endpoint,
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    error_type=error_type,
                )
            ]
        )
        self.metrics.record_failure()
        return RequestFailed(job_id, error_type)

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

    def _refuse_unscorable(self, rows: list[list[float]], finite: np.ndarray) -> RequestRejected:
        """The whole request is refused when any row's output is not finite: one answer, one record, never NaN."""
        bad = np.flatnonzero(~finite).tolist()
        details = []
        for index in bad[:MAX_DETAILS]:
            name, value, low, high = furthest_outside(rows[index], self.baseline)
            details.append(
                {
                    "location": f"data[{index}]",
                    "problem": f"{name} = {value:.7g} is far outside its training range [{low:.7g}, {high:.7g}]",
                }
            )
        more = f" ({len(bad) - 1} more rows cannot be scored)" if len(bad) > 1 else ""
        return RequestRejected(
            422,
            "unscorable_row",
            f"row {bad[0]} cannot be scored: the model's output is not a finite number; {details[0]['problem']}{more}",
            details,
        )

    def _predict(
        self, job_id: str, started: float, endpoint: str, rows: list[list[float]], array: np.ndarray, labels_only: bool
    ) -> dict[str, Any]:
        result = self.model.predict(array)
        probabilities = rounded(result.probabilities, 4)
        if len(rows) <= 32:  # NumPy's per-call overhead loses on the common one-row request
            raw_scores = result.outlier_score.tolist()
            outlier_scores = [round(score, 4) for score in raw_scores]
            outlier_flags = [score > 0 for score in raw_scores]  # the unrounded score decides, as NumPy's > 0 does
        else:
            outlier_scores = rounded(result.outlier_score, 4)
            outlier_flags = (result.outlier_score > 0).tolist()
        # One sum per output: NaN or infinity anywhere makes it non-finite (finite float32 sums cannot overflow
        # a Python float). Cheaper than np.isfinite on a one-row request; rows are located only when needed.
        if not math.isfinite(sum(map(sum, probabilities)) + sum(outlier_scores)):
            finite = np.isfinite(result.probabilities).all(axis=1) & np.isfinite(result.outlier_score)
            raise self._refuse_unscorable(rows, finite)
        class_index = result.class_index.tolist()
        label_names = self.baseline.label_names
        labels = [label_names[i] for i in class_index]
        if len(class_index) <= 32:  # NumPy's per-call overhead loses on the common one-row request
            class_counts = [0] * len(label_names)
            for index in class_index:
                class_counts[index] += 1
        else:
            class_counts = np.bincount(result.class_index, minlength=len(label_names)).tolist()
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
            class_counts=class_counts,
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
