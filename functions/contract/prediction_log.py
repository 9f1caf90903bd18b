"""The prediction log contract: one JSON line per predicted row, one per rejected or failed request, one per label.

The monitor's queries (Logs Insights in AWS, DuckDB locally), the log archive's
table and the tests all read these keys, so they are written down here once.
Records are flat on purpose: Logs Insights `stats` aggregates top-level and
dotted fields (`features.petal_length`, `probabilities.0`); booleans read as 1/0.

The fields the monitor reads come first: Logs Insights extracts a capped number of
fields per event, in the order they appear in the line.

A prediction line (417 bytes for iris, with a 32-character request id;
`test_prediction_log` measures it)::

    {"message":"prediction","timestamp":1764082881123,"request_id":"9f1c…",
     "row":0,"endpoint":"/predict","model":"iris","model_version":"3b1e9c0d2a41",
     "is_outlier":false,"outlier_score":-0.4121,"prediction":"setosa","class_index":0,
     "confidence":0.979,"latency_ms":0.143,
     "features":{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2},
     "probabilities":[0.979,0.021,0.0]}

Behind a Lambda Function URL (no access log) the line ends with the signing IAM principal::

     ...,"probabilities":[0.979,0.021,0.0],"caller":"arn:aws:sts::123456789012:assumed-role/client/session"}

A model with categorical features logs their values as strings (cut to MAX_CATEGORY_CHARS), and a row with a
category its baseline does not list names those features after `probabilities`::

     ...,"features":{"sepal_length":5.8,"plan":"enterprise","region":"eu"},"probabilities":[0.98,0.02,0.0],
     "unseen_categories":["plan"]}

A rejected line::

    {"message":"rejected","timestamp":…,"request_id":"…","endpoint":"/predict",
     "model":"iris","model_version":"…","status":422,"reason":"row 0 has 3 values, expected 4"}

A failed line (an accepted request answered with a JSON 500; never the exception's text)::

    {"message":"failed","timestamp":…,"request_id":"…","endpoint":"/predict",
     "model":"iris","model_version":"…","status":500,"error_type":"RuntimeError"}

A regression model's prediction line has no class_index, confidence or probabilities; `prediction` is the
estimate, a number::

    {"message":"prediction",…,"is_outlier":false,"outlier_score":-0.2,"prediction":151.2,"latency_ms":0.1,
     "features":{"age":0.038,…}}

A feedback line (one per labelled row; request_id is the prediction's job_id)::

    {"message":"feedback","timestamp":…,"request_id":"9f1c…","row":0,
     "model":"iris","model_version":"…","label":"setosa","label_index":0}

and for a regression model the true value, a number, with no label_index::

    {"message":"feedback",…,"model":"diabetes","model_version":"…","label":135.0}
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import sys
import threading
from collections.abc import Sequence
from itertools import chain
from typing import IO, Any, cast

from functions.contract.json_text import compact_json, echoed

LARGEST_LOGGED_VALUE = 3.4028234663852886e38  # float32's largest: the service refuses any feature beyond it
LAST_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last moment datetime can hold
MAX_REASON_CHARS = 1024  # a rejected line's reason is cut here, whatever built it (client strings are cut sooner)
MAX_ENDPOINT_CHARS = 200
# A categorical feature's value is logged (and fed to the model) cut to this many characters: a caller cannot
# bloat the log through a category. Training refuses longer categories, so a cut value is never a listed one.
MAX_CATEGORY_CHARS = 64

MESSAGE_PREDICTION = "prediction"
MESSAGE_REJECTED = "rejected"
MESSAGE_FAILED = "failed"  # an accepted request the service could not answer (JSON 500); one line per request
MESSAGE_FEEDBACK = "feedback"  # one ground-truth label for one predicted row (POST /feedback)

KEY_MESSAGE = "message"
KEY_TIMESTAMP = "timestamp"  # epoch milliseconds (int); CloudWatch also stamps @timestamp
KEY_REQUEST_ID = "request_id"  # equals the response's job_id
KEY_ROW = "row"
KEY_ENDPOINT = "endpoint"
KEY_MODEL = "model"
KEY_MODEL_VERSION = "model_version"
KEY_FEATURES = "features"  # object keyed by feature name, values as the client sent them
KEY_PREDICTION = "prediction"  # label; a number for a regression model
KEY_CLASS_INDEX = "class_index"
KEY_PROBABILITIES = "probabilities"  # list in label order
KEY_IS_OUTLIER = "is_outlier"
KEY_OUTLIER_SCORE = "outlier_score"  # > 0 means outside the training support
KEY_LATENCY_MS = "latency_ms"  # whole-request handling time, same on every row of a request
KEY_CONFIDENCE = "confidence"  # top class probability of the row (label-free quality estimate)
# distance of the row from the plane the training rows span (models/joint_drift.py); only models that ship
# joint_drift.onnx write it, and the monitor's joint_drift check reads it
KEY_RECONSTRUCTION_ERROR = "reconstruction_error"
KEY_STATUS = "status"
KEY_REASON = "reason"
KEY_ERROR_TYPE = "error_type"  # failed lines: the exception class name, never its message
KEY_LABEL = "label"  # feedback lines: the true label, one of the model's labels (regression: the true value)
KEY_LABEL_INDEX = "label_index"  # feedback lines: its index in the model's label order
KEY_CALLER = "caller"  # prediction lines behind a Function URL: the signing IAM principal's ARN (last key)
# prediction lines of a row whose categorical value(s) training did not list: the features' names, in input order
# (absent when every category was listed). Written after `features` and `probabilities`, before `caller`.
KEY_UNSEEN_CATEGORIES = "unseen_categories"

# GET /predict/test and /predict/test/label answer a built-in sample (the training medians): health probes,
# not traffic. They are logged like any prediction, and the monitor leaves them out of every window.
SAMPLE_ENDPOINTS = ("/predict/test", "/predict/test/label")

PREDICTION_KEYS = (
    KEY_MESSAGE,
    KEY_TIMESTAMP,
    KEY_REQUEST_ID,
    KEY_ROW,
    KEY_ENDPOINT,
    KEY_MODEL,
    KEY_MODEL_VERSION,
    KEY_IS_OUTLIER,
    KEY_OUTLIER_SCORE,
    KEY_PREDICTION,
    KEY_CLASS_INDEX,
    KEY_CONFIDENCE,
    KEY_RECONSTRUCTION_ERROR,  # only when the model ships a joint-drift model
    KEY_LATENCY_MS,
    KEY_FEATURES,
    KEY_PROBABILITIES,
)
# Keys a prediction line carries only in some deployments: `caller` behind a Function URL (after every other key).
OPTIONAL_PREDICTION_KEYS = (KEY_UNSEEN_CATEGORIES, KEY_CALLER)
REJECTED_KEYS = (
    KEY_MESSAGE,
    KEY_TIMESTAMP,
    KEY_REQUEST_ID,
    KEY_ENDPOINT,
    KEY_MODEL,
    KEY_MODEL_VERSION,
    KEY_STATUS,
    KEY_REASON,
)

FAILED_KEYS = (
    KEY_MESSAGE,
    KEY_TIMESTAMP,
    KEY_REQUEST_ID,
    KEY_ENDPOINT,
    KEY_MODEL,
    KEY_MODEL_VERSION,
    KEY_STATUS,
    KEY_ERROR_TYPE,
)
FEEDBACK_KEYS = (
    KEY_MESSAGE,
    KEY_TIMESTAMP,
    KEY_REQUEST_ID,
    KEY_ROW,
    KEY_MODEL,
    KEY_MODEL_VERSION,
    KEY_LABEL,
    KEY_LABEL_INDEX,
)


def prediction_lines(
    *,
    timestamp_ms: int,
    request_id: str,
    endpoint: str,
    model: str,
    model_version: str,
    feature_names: Sequence[str],
    rows: Sequence[Sequence[float | str]],
    labels: Sequence[str],
    class_indices: Sequence[int],
    probabilities: Sequence[Sequence[float]],
    is_outlier: Sequence[bool],
    outlier_scores: Sequence[float],
    latency_ms: float,
    reconstruction_errors: Sequence[float] | None = None,
    unseen_categories: Sequence[Sequence[str]] | None = None,
) -> list[str]:
    """Serialise one request's rows; the whole batch is written with one call.

    `reconstruction_errors` (the joint-drift model's per-row score) is written after `confidence` when given.
    A categorical feature's value is a string, written cut to MAX_CATEGORY_CHARS; `unseen_categories` (per row,
    the features whose value training did not list) adds the key to the rows that have any.

    `confidence` is the largest of the row's (rounded) probabilities, so it always equals one of them.
    Raises ValueError on a non-finite number: a line is never written with NaN in it.

    When every number is a plain finite float or int (what the service passes), each line is one
    %-format built once per endpoint, model and width (the constant text encoded by `json`, a `%r`
    slot per number, which is the text `json` writes for it): byte for byte what `json` writes for
    the same record (`test_prediction_log` checks it), at about half the cost of encoding a
    dict per row. Anything else goes through `json` itself.
    """
    latency = round(latency_ms, 3)
    scores = outlier_scores if reconstruction_errors is None else [*outlier_scores, *reconstruction_errors]
    if unseen_categories is not None and not any(unseen_categories):
        unseen_categories = None
    if unseen_categories is None and _plain_numbers(rows, probabilities, scores, latency) and set(map(type, is_outlier)) <= _BOOL:
        numbers = cast(Sequence[Sequence[float]], rows)  # _plain_numbers found numbers only
        return _assembled_lines(
            timestamp_ms, request_id, endpoint, model, model_version, feature_names, numbers, labels, class_indices,
            probabilities, is_outlier, outlier_scores, latency, reconstruction_errors,
        )  # fmt: skip
    lines = []
    for row_index, values in enumerate(rows):
        record: dict[str, Any] = {
            KEY_MESSAGE: MESSAGE_PREDICTION,
            KEY_TIMESTAMP: timestamp_ms,
            KEY_REQUEST_ID: request_id,
            KEY_ROW: row_index,
            KEY_ENDPOINT: endpoint,
            KEY_MODEL: model,
            KEY_MODEL_VERSION: model_version,
            KEY_IS_OUTLIER: is_outlier[row_index],
            KEY_OUTLIER_SCORE: outlier_scores[row_index],
            KEY_PREDICTION: labels[row_index],
            KEY_CLASS_INDEX: class_indices[row_index],
            KEY_CONFIDENCE: max(probabilities[row_index]),
            **({} if reconstruction_errors is None else {KEY_RECONSTRUCTION_ERROR: reconstruction_errors[row_index]}),
            KEY_LATENCY_MS: latency,
            KEY_FEATURES: logged_features(feature_names, values),
            KEY_PROBABILITIES: probabilities[row_index],
        }
        if unseen_categories is not None and unseen_categories[row_index]:
            record[KEY_UNSEEN_CATEGORIES] = list(unseen_categories[row_index])
        lines.append(compact_json(record))
    return lines


def logged_features(feature_names: Sequence[str], values: Sequence[float | str]) -> dict[str, float | str]:
    """The `features` object: numbers as they are, categories (strings) cut to MAX_CATEGORY_CHARS, whoever cut them
    before, so no caller can bloat a line through a category."""
    features = dict(zip(feature_names, values, strict=True))
    for name, value in features.items():
        if type(value) is str and len(value) > MAX_CATEGORY_CHARS:
            features[name] = value[:MAX_CATEGORY_CHARS]
    return features


_PLAIN = frozenset((float, int))
_BOOL = frozenset((bool,))


def _plain_numbers(
    rows: Sequence[Sequence[float | str]], probabilities: Sequence[Sequence[float]], scores: Sequence[float], latency: float
) -> bool:
    """Every number a built-in float or int (no bool, no NumPy scalar), and all finite."""
    if type(latency) not in _PLAIN:
        return False
    flat = [*chain.from_iterable(rows), *chain.from_iterable(probabilities), *scores]
    if not set(map(type, flat)) <= _PLAIN:
        return False
    return math.isfinite(math.fsum(map(abs, cast(list[float], flat))) + latency) if flat else math.isfinite(latency)


_QUOTED: dict[str, str] = {}  # labels: a handful per process


def quoted_text(text: str) -> str:
    """`json.dumps(text)`, remembered: the encoder's Python-level call costs more than the assembly itself."""
    encoded = _QUOTED.get(text)
    if encoded is None:
        encoded = compact_json(text)
        if len(_QUOTED) < 1024:
            _QUOTED[text] = encoded
    return encoded


def quoted_id(request_id: str) -> str:
    """`json.dumps(request_id)`, without the encoder's call for the usual id (32 hex characters)."""
    return f'"{request_id}"' if request_id.isascii() and request_id.isalnum() else compact_json(request_id)


class PredictionLineFormat:
    """One endpoint's prediction line as one %-format: the constant text encoded once, a slot per value
    (%r of a finite float or an int is the text json writes for it). `line` is the one place that
    knows the slots' order; every number it is given must be a finite float or int."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        model_version: str,
        feature_names: Sequence[str],
        n_probabilities: int,
        with_reconstruction: bool = False,
    ):
        def text(value: str) -> str:
            return compact_json(value).replace("%", "%%")

        features = ",".join(f"{text(name)}:%r" for name in feature_names)
        self.n_probabilities = n_probabilities
        self.with_reconstruction = with_reconstruction
        reconstruction = f',"{KEY_RECONSTRUCTION_ERROR}":%r' if with_reconstruction else ""
        self.format = (
            f'{{"{KEY_MESSAGE}":"{MESSAGE_PREDICTION}","{KEY_TIMESTAMP}":%d,"{KEY_REQUEST_ID}":%s,"{KEY_ROW}":%d,'
            f'"{KEY_ENDPOINT}":{text(endpoint)},"{KEY_MODEL}":{text(model)},"{KEY_MODEL_VERSION}":{text(model_version)},'
            f'"{KEY_IS_OUTLIER}":%s,"{KEY_OUTLIER_SCORE}":%r,"{KEY_PREDICTION}":%s,"{KEY_CLASS_INDEX}":%d,'
            f'"{KEY_CONFIDENCE}":%r{reconstruction},"{KEY_LATENCY_MS}":%r,"{KEY_FEATURES}":{{{features}}},'
            f'"{KEY_PROBABILITIES}":[{",".join(["%r"] * n_probabilities)}]}}'
        )

    def line(
        self,
        timestamp_ms: int,
        quoted_request_id: str,
        row: int,
        is_outlier: bool,
        outlier_score: float,
        quoted_label: str,
        class_index: int,
        latency_ms: float,
        values: Sequence[float],
        probabilities: Sequence[float],
        reconstruction_error: float | None = None,
    ) -> str:
        """`quoted_*` are JSON strings already (`quoted_id`, `quoted_text`); confidence is max(probabilities);
        `reconstruction_error` is required exactly when the format was built `with_reconstruction`."""
        if self.with_reconstruction:
            return self.format % (
                timestamp_ms, quoted_request_id, row, "true" if is_outlier else "false", outlier_score, quoted_label,
                class_index, max(probabilities), reconstruction_error, latency_ms, *values, *probabilities,
            )  # fmt: skip
        return self.format % (
            timestamp_ms,
            quoted_request_id,
            row,
            "true" if is_outlier else "false",
            outlier_score,
            quoted_label,
            class_index,
            max(probabilities),
            latency_ms,
            *values,
            *probabilities,
        )


_FORMATS: dict[tuple[str, str, str, tuple[str, ...], int, bool], PredictionLineFormat] = {}  # per endpoint, model, width


def prediction_line_format(
    endpoint: str,
    model: str,
    model_version: str,
    feature_names: Sequence[str],
    n_probabilities: int,
    with_reconstruction: bool = False,
) -> PredictionLineFormat:
    key = (endpoint, model, model_version, tuple(feature_names), n_probabilities, with_reconstruction)
    form = _FORMATS.get(key)
    if form is None:
        form = PredictionLineFormat(endpoint, model, model_version, feature_names, n_probabilities, with_reconstruction)
        if len(_FORMATS) < 1024:
            _FORMATS[key] = form
    return form


def _assembled_lines(
    timestamp_ms: int,
    request_id: str,
    endpoint: str,
    model: str,
    model_version: str,
    feature_names: Sequence[str],
    rows: Sequence[Sequence[float]],
    labels: Sequence[str],
    class_indices: Sequence[int],
    probabilities: Sequence[Sequence[float]],
    is_outlier: Sequence[bool],
    outlier_scores: Sequence[float],
    latency: float,
    reconstruction_errors: Sequence[float] | None = None,
) -> list[str]:
    request = quoted_id(request_id)
    with_reconstruction = reconstruction_errors is not None
    names = tuple(feature_names)
    timestamp = int(timestamp_ms)
    lines = []
    form: PredictionLineFormat | None = None
    for row_index, values in enumerate(rows):
        if len(values) != len(names):
            raise ValueError(f"row {row_index} has {len(values)} values for {len(names)} feature names")
        row_probabilities = probabilities[row_index]
        if form is None or len(row_probabilities) != form.n_probabilities:
            form = prediction_line_format(endpoint, model, model_version, names, len(row_probabilities), with_reconstruction)
        lines.append(
            form.line(
                timestamp,
                request,
                row_index,
                is_outlier[row_index],
                outlier_scores[row_index],
                quoted_text(labels[row_index]),
                int(class_indices[row_index]),
                latency,
                values,
                row_probabilities,
                None if reconstruction_errors is None else reconstruction_errors[row_index],
            )
        )
    return lines


def with_caller(lines: list[str], caller: str | None) -> list[str]:
    """The lines with `"caller":<arn>` as their last key; unchanged when there is no caller.

    Last, so the monitor's fields keep their places (Logs Insights extracts a capped number of fields per line, in
    order) and the line's fixed format stays one %-format.
    """
    if caller is None:
        return lines
    tail = f',"{KEY_CALLER}":{quoted_text(caller)}}}'
    return [line[:-1] + tail for line in lines]


def rejected_line(
    *,
    timestamp_ms: int,
    request_id: str,
    endpoint: str,
    model: str,
    model_version: str,
    status: int,
    reason: str,
) -> str:
    """Endpoint and reason may carry client text: both are bounded, so the line is too."""
    return compact_json(
        {
            KEY_MESSAGE: MESSAGE_REJECTED,
            KEY_TIMESTAMP: timestamp_ms,
            KEY_REQUEST_ID: request_id,
            KEY_ENDPOINT: echoed(endpoint, MAX_ENDPOINT_CHARS),
            KEY_MODEL: model,
            KEY_MODEL_VERSION: model_version,
            KEY_STATUS: status,
            KEY_REASON: echoed(reason, MAX_REASON_CHARS),
        }
    )


def failed_line(
    *,
    timestamp_ms: int,
    request_id: str,
    endpoint: str,
    model: str,
    model_version: str,
    error_type: str,
    status: int = 500,
) -> str:
    """The one record of a request that was accepted but could not be answered: the class name only,
    since an exception's message may carry request data."""
    return compact_json(
        {
            KEY_MESSAGE: MESSAGE_FAILED,
            KEY_TIMESTAMP: timestamp_ms,
            KEY_REQUEST_ID: request_id,
            KEY_ENDPOINT: echoed(endpoint, MAX_ENDPOINT_CHARS),
            KEY_MODEL: model,
            KEY_MODEL_VERSION: model_version,
            KEY_STATUS: status,
            KEY_ERROR_TYPE: error_type,
        }
    )


def feedback_lines(
    *,
    timestamp_ms: int,
    model: str,
    model_version: str,
    items: Sequence[tuple[str, int, str | float, int | None]],
) -> list[str]:
    """One line per (job_id, row, label, label_index); request_id is the labelled prediction's job_id.

    A regression model's label is the true value (a number) and it has no label_index (None: left out)."""
    return [
        compact_json(
            {
                KEY_MESSAGE: MESSAGE_FEEDBACK,
                KEY_TIMESTAMP: timestamp_ms,
                KEY_REQUEST_ID: job_id,
                KEY_ROW: row,
                KEY_MODEL: model,
                KEY_MODEL_VERSION: model_version,
                KEY_LABEL: label,
                **({} if label_index is None else {KEY_LABEL_INDEX: label_index}),
            }
        )
        for job_id, row, label, label_index in items
    ]


class LogUnavailable(RuntimeError):
    """The local log file could not take a request's lines: nothing of the request was written anywhere.

    The API answers 503 with the request's id; `job_id` is set by the service that knows it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.job_id: str | None = None


# A regressor ships no joint-drift model (models/regression.py), so its lines carry no reconstruction_error.
REGRESSION_PREDICTION_KEYS = tuple(
    key for key in PREDICTION_KEYS if key not in (KEY_CLASS_INDEX, KEY_CONFIDENCE, KEY_PROBABILITIES, KEY_RECONSTRUCTION_ERROR)
)


def regression_prediction_lines(
    *,
    timestamp_ms: int,
    request_id: str,
    endpoint: str,
    model: str,
    model_version: str,
    feature_names: Sequence[str],
    rows: Sequence[Sequence[float | str]],
    predictions: Sequence[float],
    is_outlier: Sequence[bool],
    outlier_scores: Sequence[float],
    latency_ms: float,
    unseen_categories: Sequence[Sequence[str]] | None = None,
) -> list[str]:
    """A regression model's lines: `prediction` is the estimate (a number). Raises ValueError on a non-finite one.

    Categories and `unseen_categories` as in `prediction_lines`."""
    latency = round(latency_ms, 3)
    return [
        compact_json(
            {
                KEY_MESSAGE: MESSAGE_PREDICTION,
                KEY_TIMESTAMP: timestamp_ms,
                KEY_REQUEST_ID: request_id,
                KEY_ROW: row_index,
                KEY_ENDPOINT: endpoint,
                KEY_MODEL: model,
                KEY_MODEL_VERSION: model_version,
                KEY_IS_OUTLIER: is_outlier[row_index],
                KEY_OUTLIER_SCORE: outlier_scores[row_index],
                KEY_PREDICTION: predictions[row_index],
                KEY_LATENCY_MS: latency,
                KEY_FEATURES: logged_features(feature_names, values),
                **(
                    {KEY_UNSEEN_CATEGORIES: list(unseen_categories[row_index])}
                    if unseen_categories is not None and unseen_categories[row_index]
                    else {}
                ),
            }
        )
        for row_index, values in enumerate(rows)
    ]


class PredictionLogWriter:
    """Writes contract lines to stdout (shipped to CloudWatch Logs by Lambda) and, locally, to a file.

    One `write` per request keeps a batch's lines and the request's metrics document (EMF, `metrics`)
    together and costs one system call; the local file gets the contract lines only. Lambda makes each
    line of stdout its own log event (the same assumption a 1,000-row batch has always made; `make
    acceptance` reads both back in a real account: the lines with FilterLogEvents, the metrics with
    ListMetrics).

    The file is written first, unbuffered, in one `os.write`: when it fails (a full disk), a short write is
    cut back, stdout gets nothing, `warnings` gets one line and `LogUnavailable` is raised, so no request is
    half recorded and no buffer flushes a refused request's rows later. A file deleted or renamed under the
    running server is reopened at its path before the next write, as `logging.handlers.WatchedFileHandler` does.
    """

    def __init__(self, stream: IO[str], file_path: str | None = None, warnings: IO[str] | None = None) -> None:
        self._stream = stream
        self._path = file_path
        self._warnings = warnings
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()  # the local server answers from several threads
        if file_path:
            self._open()

    def _open(self) -> int:
        assert self._path is not None
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        status = os.fstat(fd)
        self._fd, self._identity = fd, (status.st_dev, status.st_ino)
        return fd

    def _current_fd(self) -> int:
        """The open file, or a new one when the path names another file (rotated) or none (deleted)."""
        assert self._path is not None
        try:
            status = os.stat(self._path)
            same = (status.st_dev, status.st_ino) == self._identity
        except FileNotFoundError:
            same = False
        if same and self._fd is not None:
            return self._fd
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        return self._open()

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        fd = None
        try:
            fd = self._current_fd()
            size = os.fstat(fd).st_size
            written = os.write(fd, data)
            if written != len(data):  # a full disk took part of it: take it back, so no record is half there
                os.ftruncate(fd, size)
                raise OSError(errno.ENOSPC, f"only {written} of {len(data)} bytes written")
        except OSError as error:
            message = f"cannot write the prediction log {self._path}: {error.strerror or error}"
            warnings = self._warnings if self._warnings is not None else sys.stderr
            print(f"prediction log: {message}; the request is answered 503 and not recorded", file=warnings, flush=True)
            raise LogUnavailable(message) from error

    def write(self, lines: Sequence[str], metrics: str = "") -> None:
        if not lines and not metrics:
            return
        # every line ends with a newline, then the document: one copy of the text
        text = "\n".join([*lines, metrics]) if lines else metrics
        with self._lock:
            if self._path is not None and lines:
                self._append(text[: len(text) - len(metrics)])
            self._stream.write(text)
            self._stream.flush()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
