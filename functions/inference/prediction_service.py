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

from functions.contract.json_text import compact_json, echoed
from functions.contract.model_artifact import Baseline
from functions.contract.prediction_log import (
    LogUnavailable,
    PredictionLineFormat,
    failed_line,
    feedback_lines,
    prediction_line_format,
    prediction_lines,
    quoted_id,
    quoted_text,
    rejected_line,
    with_caller,
)
from functions.inference.onnx_model import BatchPrediction, RowPrediction, model_arrays
from functions.inference.request_parsing import (
    MAX_DETAILS,
    Label,
    RequestRejected,
    RowSchema,
    parse_labels,
    parse_mixed_rows,
    parse_rows_array,
)


class Predictor(Protocol):
    def predict(self, rows: np.ndarray, categories: np.ndarray | None = None) -> BatchPrediction:
        """`categories` only for a model with categorical features (and then always)."""

    def predict_one(self, values: Sequence[float]) -> RowPrediction: ...


class LogWriter(Protocol):
    def write(self, lines: Sequence[str], metrics: str = "") -> None:
        """The request's contract lines and its metrics document, in one write."""


class MetricsDocuments(Protocol):
    """A request's CloudWatch metrics as one EMF document (text)."""

    def prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> str: ...

    def rejection(self) -> str: ...

    def failure(self) -> str: ...

    def feedback(self, *, labels: int) -> str: ...


def new_job_id() -> str:
    """128 random bits, as a UUID4 has (the seed's 6-character ids collided within ~30k requests)."""
    return os.urandom(16).hex()  # a quarter of uuid4().hex's cost


# float32's largest value: a row far enough off the training plane overflows the joint-drift model's sum of squares
RECONSTRUCTION_ERROR_CAP = 3.4028234663852886e38


def bounded_error(error: float) -> float:
    """The row's reconstruction error for the log, rounded; an overflow (inf, or NaN from inf - inf) is written as
    float32's largest value. The score only feeds the monitor, so it never refuses a row the classifier scored."""
    return round(error, 4) if math.isfinite(error) else RECONSTRUCTION_ERROR_CAP


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
        message = f"send the body as application/json, not {echoed(media_type)} ({CURL_HINT})"
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


def reply_document(
    *,
    job_id: str,
    baseline: Baseline,
    labels: Sequence[str],
    probabilities: Sequence[Sequence[float]],
    is_outlier: Sequence[bool],
    outlier_scores: Sequence[float],
    labels_only: bool,
) -> dict[str, Any]:
    """The reply to a prediction request (its shape is documented in the OpenAPI document)."""
    if labels_only:
        predictions: list[dict[str, Any]] = [
            {"label": label, "is_outlier": flag, "outlier_score": score}
            for label, flag, score in zip(labels, is_outlier, outlier_scores, strict=True)
        ]
    else:
        predictions = [
            {
                "label": label,
                "probabilities": dict(zip(baseline.label_names, row_probabilities, strict=True)),
                "is_outlier": flag,
                "outlier_score": score,
            }
            for label, row_probabilities, flag, score in zip(labels, probabilities, is_outlier, outlier_scores, strict=True)
        ]
    return {
        "job_id": job_id,
        "model": baseline.model_name,
        "model_version": baseline.model_version,
        "predictions": predictions,
    }


class OneRowReplyFormat:
    """A one-row reply's JSON text as one %-format, derived from `reply_document` itself.

    `reply_document` is called once with a marker in every variable place; the encoded text, with each
    marker's encoding turned into a slot, is the format. So the two cannot drift apart, and a request
    fills in numbers (~1 µs) instead of building and encoding a dict (~5 µs). `build` returns None
    when a marker is not found exactly once, in the expected order (a label containing one, or a reply
    shape this does not know): the general path then answers.
    """

    def __init__(self, form: str, labels_only: bool) -> None:
        self.format = form
        self.labels_only = labels_only

    @classmethod
    def build(cls, baseline: Baseline, labels_only: bool) -> OneRowReplyFormat | None:
        n_labels = len(baseline.label_names)
        job, label, flag, score, *probabilities = (f"\x00{index}\x00" for index in range(4 + n_labels))
        document = reply_document(
            job_id=job,
            baseline=baseline,
            labels=[label],
            probabilities=[probabilities],  # type: ignore[list-item]  # markers where the numbers go
            is_outlier=[flag],  # type: ignore[list-item]  # a marker where the bool goes
            outlier_scores=[score],  # type: ignore[list-item]
            labels_only=labels_only,
        )
        text = compact_json(document).replace("%", "%%")
        # %s: a text already in JSON (quoted id, quoted label, true/false); %r: a finite float, as json writes it
        numbers = [] if labels_only else [(p, "%r") for p in probabilities]
        slots = [(job, "%s"), (label, "%s"), *numbers, (flag, "%s"), (score, "%r")]
        encoded = [compact_json(marker) for marker, _ in slots]
        if any(text.count(marker) != 1 for marker in encoded):
            return None
        if [text.index(marker) for marker in encoded] != sorted(text.index(marker) for marker in encoded):
            return None
        for marker, (_, conversion) in zip(encoded, slots, strict=True):
            text = text.replace(marker, conversion)
        if "\\u0000" in text:  # a marker left over: the document has a variable place this does not know
            return None
        return cls(text, labels_only)

    def reply(self, quoted_job_id: str, quoted_label: str, probabilities: Sequence[float], is_outlier: bool, score: float) -> str:
        flag = "true" if is_outlier else "false"
        if self.labels_only:
            return self.format % (quoted_job_id, quoted_label, flag, score)
        return self.format % (quoted_job_id, quoted_label, *probabilities, flag, score)


@dataclass
class PredictionService:
    model: Predictor
    baseline: Baseline
    log: LogWriter
    metrics: MetricsDocuments
    max_rows: int
    max_body_bytes: int
    new_id: Callable[[], str] = new_job_id
    clock_ms: Callable[[], int] = now_ms
    timer: Callable[[], float] = time.perf_counter
    one_row_path: bool = True  # False: every request takes the general path (tests compare the two)
    refuse_unseen: bool = False  # a model with categorical features: an unlisted category is a 422, not a logged row
    _sample: list[list[float | str]] = field(init=False)
    _schema: RowSchema | None = field(init=False)  # a model with categorical features: what each position holds

    _replies: dict[bool, OneRowReplyFormat | None] = field(init=False)
    _line_formats: dict[str, PredictionLineFormat] = field(init=False)
    _quoted_labels: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._set_inputs()
        # The one-row formats write numbers only: a model with categories answers through the general path.
        one_row = self.one_row_path and self._schema is None
        self._replies = {only: OneRowReplyFormat.build(self.baseline, only) if one_row else None for only in (False, True)}
        self._line_formats = {}
        self._quoted_labels = [quoted_text(label) for label in self.baseline.label_names]

    def _set_inputs(self) -> None:
        baseline = self.baseline
        # The built-in sample of GET /predict/test: each numeric feature's training median, each categorical
        # feature's most frequent category.
        self._sample = [baseline.sample_row]
        self._schema = (
            RowSchema.of(
                baseline.feature_names,
                [(f.name, f.categories) for f in baseline.categorical],
                refuse_unseen=self.refuse_unseen,
            )
            if baseline.has_categories
            else None
        )

    @property
    def sample(self) -> list[list[float | str]]:
        return [list(row) for row in self._sample]

    def predict_request(
        self,
        *,
        endpoint: str,
        body: str | bytes | None,
        content_type: str | None,
        labels_only: bool,
        is_base64: bool = False,
        caller: str | None = None,
    ) -> str:
        """Answer a POST with the reply's JSON text; every outcome leaves exactly one log record per row,
        or one `rejected` or `failed` record. `caller` (an IAM ARN) ends each prediction line when given."""
        started = self.timer()
        job_id = self.new_id()
        try:
            check_content_type(content_type)
            body = decode_body(body, is_base64)
            check_body_size(body, self.max_body_bytes)
            if self._schema is not None:
                mixed = parse_mixed_rows(body, schema=self._schema, max_rows=self.max_rows)
                return self._answer(
                    job_id, started, endpoint, mixed.values, mixed.numeric, labels_only, caller, mixed.categories, mixed.unseen
                )
            rows = parse_rows_array(body, feature_names=self.baseline.feature_names, max_rows=self.max_rows)
            return self._answer(job_id, started, endpoint, rows.values, rows.array, labels_only, caller)
        except RequestRejected as rejection:
            self._record_rejection(job_id, endpoint, rejection)
            raise
        except Exception as error:
            raise self._failure(endpoint, error, job_id) from error

    def predict_sample(self, *, endpoint: str, labels_only: bool, caller: str | None = None) -> str:
        job_id = self.new_id()
        try:
            return self._answer(job_id, self.timer(), endpoint, self.sample, None, labels_only, caller)
        except Exception as error:
            raise self._failure(endpoint, error, job_id) from error

    def _parse_feedback(self, body: str | bytes | None) -> list[Label]:
        return parse_labels(body, label_names=self.baseline.label_names)

    @staticmethod
    def _feedback_item(label: Label) -> tuple[str, int, str | float, int | None]:
        return label.job_id, label.row, label.label, label.label_index

    def feedback_request(self, *, body: str | bytes | None, content_type: str | None, is_base64: bool = False) -> dict[str, Any]:
        """Record ground-truth labels: one `feedback` line per item, or one `rejected` line for the request."""
        job_id = self.new_id()
        endpoint = "/feedback"
        try:
            check_content_type(content_type)
            body = decode_body(body, is_base64)
            check_body_size(body, self.max_body_bytes)
            labels = self._parse_feedback(body)
            self.log.write(
                feedback_lines(
                    timestamp_ms=self.clock_ms(),
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    items=[self._feedback_item(item) for item in labels],
                ),
                self.metrics.feedback(labels=len(labels)),
            )
        except RequestRejected as rejection:
            self._record_rejection(job_id, endpoint, rejection)
            raise
        except Exception as error:
            raise self._failure(endpoint, error, job_id) from error
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

    def _failure(self, endpoint: str, error: Exception, job_id: str) -> Exception:
        """What a request that raised becomes: the log's own failure as is (nothing more is written), else a `failed` record."""
        if isinstance(error, LogUnavailable):
            error.job_id = error.job_id or job_id
            return error
        return self.record_failure(endpoint=endpoint, error=error, job_id=job_id)

    def _write(self, job_id: str, lines: Sequence[str], metrics: str) -> None:
        """One request's record; a log that cannot take it raises LogUnavailable naming the request."""
        try:
            self.log.write(lines, metrics)
        except LogUnavailable as error:
            error.job_id = error.job_id or job_id
            raise

    def record_failure(self, *, endpoint: str, error: BaseException, job_id: str | None = None) -> RequestFailed:
        """The last guard: one `failed` line (the exception's class, never its text) and the failure metric."""
        job_id = job_id or self.new_id()
        error_type = type(error).__name__
        self._write(
            job_id,
            [
                failed_line(
                    timestamp_ms=self.clock_ms(),
                    request_id=job_id,
                    endpoint=endpoint,
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    error_type=error_type,
                )
            ],
            self.metrics.failure(),
        )
        return RequestFailed(job_id, error_type)

    def _record_rejection(self, job_id: str, endpoint: str, rejection: RequestRejected) -> None:
        rejection.job_id = job_id
        self._write(
            job_id,
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
            ],
            self.metrics.rejection(),
        )

    def _refuse_unscorable(self, rows: Sequence[Sequence[float | str]], finite: np.ndarray) -> RequestRejected:
        """The whole request is refused when any row's output is not finite: one answer, one record, never NaN."""
        bad = np.flatnonzero(~finite).tolist()
        details = []
        positions = self.baseline.numeric_positions
        for index in bad[:MAX_DETAILS]:
            if not positions:  # categories only: no number to point at
                details.append({"location": f"data[{index}]", "problem": "the model cannot score these categories"})
                continue
            numbers = [float(rows[index][position]) for position in positions]
            name, value, low, high = furthest_outside(numbers, self.baseline)
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

    def _answer(
        self,
        job_id: str,
        started: float,
        endpoint: str,
        rows: Sequence[Sequence[float | str]],
        array: np.ndarray | None,
        labels_only: bool,
        caller: str | None = None,
        categories: np.ndarray | None = None,
        unseen: Sequence[Sequence[str]] | None = None,
    ) -> str:
        """`categories` and `unseen` (per row, the features whose category is not listed): a mixed model's rows."""
        if self._schema is not None:
            if array is None or categories is None:
                array, categories = model_arrays(rows, self.baseline)
            return compact_json(self._predict(job_id, started, endpoint, rows, array, labels_only, caller, categories, unseen))
        reply = self._replies[labels_only]
        if len(rows) == 1 and reply is not None:
            return self._predict_one(job_id, started, endpoint, rows[0], reply, caller)  # type: ignore[arg-type]
        if array is None:
            array = np.array(rows, dtype=np.float32)
        return compact_json(self._predict(job_id, started, endpoint, rows, array, labels_only, caller))

    def _predict_one(
        self,
        job_id: str,
        started: float,
        endpoint: str,
        values: list[float],
        reply: OneRowReplyFormat,
        caller: str | None = None,
    ) -> str:
        """The one-row request, the common one: what `_predict` does for one row, in plain Python numbers.

        Byte for byte the same log line, metrics and reply as `_predict` (`test_one_row_path` compares them
        over thousands of rows); ~22 µs less a request in `bench/inference_bench.py` (80 → 58 µs).
        """
        result = self.model.predict_one(values)
        probabilities = [round(p, 4) for p in result.probabilities]
        score = round(result.outlier_score, 4)
        error = result.reconstruction_error
        if error is not None:
            error = bounded_error(error)
        if not math.isfinite(sum(probabilities) + score):
            raise self._refuse_unscorable([values], np.zeros(1, dtype=bool))
        is_outlier = result.outlier_score > 0  # the unrounded score decides, as in `_predict`
        class_index = result.class_index
        quoted_label = self._quoted_labels[class_index]
        latency_ms = (self.timer() - started) * 1000.0
        form = self._line_formats.get(endpoint)
        if form is None:
            form = self._line_formats[endpoint] = prediction_line_format(
                endpoint, self.baseline.model_name, self.baseline.model_version, self.baseline.feature_names,
                len(probabilities), error is not None,
            )  # fmt: skip
        request = quoted_id(job_id)
        line = form.line(
            self.clock_ms(), request, 0, is_outlier, score, quoted_label, class_index, round(latency_ms, 3), values,
            probabilities, error,
        )  # fmt: skip
        class_counts = [0] * len(self._quoted_labels)
        class_counts[class_index] = 1
        self.log.write(
            with_caller([line], caller),
            self.metrics.prediction(rows=1, outliers=int(is_outlier), latency_ms=latency_ms, class_counts=class_counts),
        )
        return reply.reply(request, quoted_label, probabilities, is_outlier, score)

    def _predict(
        self,
        job_id: str,
        started: float,
        endpoint: str,
        rows: Sequence[Sequence[float | str]],
        array: np.ndarray,
        labels_only: bool,
        caller: str | None = None,
        categories: np.ndarray | None = None,
        unseen: Sequence[Sequence[str]] | None = None,
    ) -> dict[str, Any]:
        result = self.model.predict(array) if categories is None else self.model.predict(array, categories)
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
        errors = None if result.reconstruction_error is None else [bounded_error(e) for e in result.reconstruction_error.tolist()]
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
            with_caller(
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
                    reconstruction_errors=errors,
                    unseen_categories=unseen,
                ),
                caller,
            ),
            self.metrics.prediction(
                rows=len(rows), outliers=sum(outlier_flags), latency_ms=latency_ms, class_counts=class_counts
            ),
        )

        return reply_document(
            job_id=job_id,
            baseline=self.baseline,
            labels=labels,
            probabilities=probabilities,
            is_outlier=outlier_flags,
            outlier_scores=outlier_scores,
            labels_only=labels_only,
        )
