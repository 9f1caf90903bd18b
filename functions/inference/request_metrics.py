"""Per-request CloudWatch metrics as one Embedded Metric Format line.

Powertools `Metrics.add_metric` validates every call: six of them cost ~42 µs
here, more than the two ONNX sessions together (~15 µs). The metric set of a
request is fixed (requests, predictions, outliers, rejected, latency, one count
per label), so its EMF header is rendered once at cold start and each request
only fills in the values (~4 µs). Powertools `Metrics` still records the cold
start; the monitor, which runs once a minute, uses Powertools throughout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import IO

from functions.contract import names


class RequestMetrics:
    """Writes one EMF document per request to the stream CloudWatch Logs reads (stdout in Lambda)."""

    def __init__(self, *, stream: IO[str], namespace: str, dimensions: dict[str, str], labels: Sequence[str]) -> None:
        self._stream = stream
        self._class_metrics = [names.class_metric(label) for label in labels]
        self._class_keys = [json.dumps(name) + ":" for name in self._class_metrics]  # labels may need escaping
        prediction_metrics = [
            (names.METRIC_REQUESTS, "Count"),
            (names.METRIC_PREDICTIONS, "Count"),
            (names.METRIC_OUTLIERS, "Count"),
            (names.METRIC_LATENCY, "Milliseconds"),
            *((name, "Count") for name in self._class_metrics),
        ]
        if len(prediction_metrics) > 100:  # EMF limit per document
            raise ValueError(f"{len(labels)} labels need {len(prediction_metrics)} metrics; EMF allows 100 per document")
        rejection_metrics = [(names.METRIC_REQUESTS, "Count"), (names.METRIC_REJECTED, "Count")]
        dimension_values = json.dumps(dimensions, separators=(",", ":"))[1:-1]

        def middle(metrics: list[tuple[str, str]]) -> str:
            directive = [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": n, "Unit": u} for n, u in metrics],
                }
            ]
            return f',"CloudWatchMetrics":{json.dumps(directive, separators=(",", ":"))}}},{dimension_values},'

        self._prediction_middle = middle(prediction_metrics)
        self._rejection_middle = middle(rejection_metrics)
        self._failure_middle = middle([(names.METRIC_REQUESTS, "Count"), (names.METRIC_FAILED, "Count")])
        self._feedback_middle = middle([(names.METRIC_FEEDBACK_LABELS, "Count")])

    def _emit(self, middle: str, values: str) -> None:
        self._stream.write(f'{{"_aws":{{"Timestamp":{time.time_ns() // 1_000_000}{middle}{values}}}\n')

    def record_prediction(self, *, rows: int, outliers: int, latency_ms: float, class_counts: Sequence[int]) -> None:
        counts = ",".join(f"{key}{count}" for key, count in zip(self._class_keys, class_counts, strict=True))
        self._emit(
            self._prediction_middle,
            f'"{names.METRIC_REQUESTS}":1,"{names.METRIC_PREDICTIONS}":{rows},"{names.METRIC_OUTLIERS}":{outliers},'
            f'"{names.METRIC_LATENCY}":{latency_ms:.3f},{counts}',
        )

    def record_rejection(self) -> None:
        self._emit(self._rejection_middle, f'"{names.METRIC_REQUESTS}":1,"{names.METRIC_REJECTED}":1')

    def record_failure(self) -> None:
        self._emit(self._failure_middle, f'"{names.METRIC_REQUESTS}":1,"{names.METRIC_FAILED}":1')

    def record_feedback(self, *, labels: int) -> None:
        self._emit(self._feedback_middle, f'"{names.METRIC_FEEDBACK_LABELS}":{labels}')
