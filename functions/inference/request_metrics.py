"""Per-request CloudWatch metrics as one Embedded Metric Format line, byte for byte what Powertools writes.

Powertools `Metrics.add_metric` validates every call: six of them cost ~42 µs
here, more than the two ONNX sessions together (~15 µs). The metric set of a
request is fixed (requests, predictions, outliers, latency, one count per label;
or requests and rejected, failed, feedback), so each document is rendered once at
cold start with Powertools' own layout and encoder settings
(`json.dumps(..., separators=(",", ":"))`: values as lists of floats, ASCII-escaped
strings, dimensions in the order they were added) and each request only fills in
the timestamp and the numbers (~2 µs). `test_request_metrics` compares every
document with Powertools' `serialize_metric_set` output for the same metrics,
byte for byte. Powertools `Metrics` still records the cold start; the monitor,
which runs once a minute, uses Powertools throughout.

A document is returned, not written: the service hands it to the log writer with
the request's lines, so a request costs one write to stdout. On Lambda that is one
system call, as the runtime flushes stdout on every write (awslambdaric's `Unbuffered`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from functions.contract import names

MAX_EMF_METRICS = 100  # per document (CloudWatch EMF specification; Powertools flushes at the same count)
_encode = json.JSONEncoder(separators=(",", ":")).encode  # Powertools' flush: json.dumps(..., separators=(",", ":"))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Template:
    """One EMF document with fixed metric names and units; `render` fills in the timestamp and values."""

    def __init__(self, namespace: str, dimensions: dict[str, str], metrics: Sequence[tuple[str, str]]) -> None:
        directive = [
            {"Namespace": namespace, "Dimensions": [list(dimensions)], "Metrics": [{"Name": n, "Unit": u} for n, u in metrics]}
        ]
        dimension_values = _encode(dimensions)[1:-1]
        numbers = ",".join(_encode(name).replace("%", "%%") + ":[%r]" for name, _ in metrics)
        middle = f',"CloudWatchMetrics":{_encode(directive)}}},{dimension_values},'.replace("%", "%%")
        self.size = len(metrics)
        self.format = '{"_aws":{"Timestamp":%d' + middle + numbers + "}\n"  # %r of a float is json's float text

    def render(self, timestamp_ms: int, values: Sequence[float]) -> str:
        if len(values) != self.size:
            raise ValueError(f"{len(values)} values for {self.size} metrics")
        return self.format % (timestamp_ms, *map(float, values))


class RequestMetrics:
    """Renders one EMF document per request, written with the request's log lines in one write.

    Dimensions are written in the order given (Powertools writes them in the order they were added).
    """

    def __init__(
        self,
        *,
        namespace: str,
        dimensions: dict[str, str],
        labels: Sequence[str],
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._clock_ms = clock_ms
        class_metrics = [(names.class_metric(label), "Count") for label in labels]
        prediction_metrics = [
            (names.METRIC_REQUESTS, "Count"),
            (names.METRIC_PREDICTIONS, "Count"),
            (names.METRIC_OUTLIERS, "Count"),
            (names.METRIC_LATENCY, "Milliseconds"),
            *class_metrics,
        ]
        if len(prediction_metrics) > MAX_EMF_METRICS:
            raise ValueError(f"{len(labels)} labels need {len(prediction_metrics)} metrics; EMF allows 100 per document")
        if len({name for name, _ in prediction_metrics}) != len(prediction_metrics):
            raise ValueError(f"labels {list(labels)} give two metrics the same name")
        dimensions = {str(key): str(value) for key, value in dimensions.items()}
        self._prediction = _Template(namespace, dimensions, prediction_metrics)
        self._rejection = _Template(namespace, dimensions, [(names.METRIC_REQUESTS, "Count"), (names.METRIC_REJECTED, "Count")])
        self._failure = _Template(namespace, dimensions, [(names.METRIC_REQUESTS, "Count"), (names.METRIC_FAILED, "Count")])
        self._feedback = _Template(namespace, dimensions, [(names.METRIC_FEEDBACK_LABELS, "Count")])

    def prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> str:
        return self._prediction.render(self._clock_ms(), (1, rows, outliers, round(latency_ms, 3), *class_counts))

    def rejection(self) -> str:
        return self._rejection.render(self._clock_ms(), (1, 1))

    def failure(self) -> str:
        return self._failure.render(self._clock_ms(), (1, 1))

    def feedback(self, *, labels: int) -> str:
        return self._feedback.render(self._clock_ms(), (labels,))


class LinesAreTheMetrics:
    """No document beside the lines: CloudWatch Logs metric filters count the same metrics from the contract lines
    (infra/line_metrics.py), so a request adds no byte for its metrics. `RequestMetrics` stays as the measured
    alternative (bench/api_cost.py prints what its document would cost)."""

    def prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> str:
        return ""

    def rejection(self) -> str:
        return ""

    def failure(self) -> str:
        return ""

    def feedback(self, *, labels: int) -> str:
        return ""
