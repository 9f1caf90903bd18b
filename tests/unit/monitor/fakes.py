"""Generated windows with known answers, shared by the monitor's unit and integration tests and the benchmark.

Traffic is sampled from the baseline itself (inverse training CDF, training class
shares and outlier rate), so "no drift" is true by construction; drift is then
injected on purpose. `numpy_values` computes every spec with numpy: the
reference the engines are compared with.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline
from functions.monitor.aggregates import (
    ALIAS_CLASS_COUNTS,
    ALIAS_REJECTED,
    Func,
    WindowAggregates,
    build_specs,
)
from functions.monitor.insights import GROUP_COUNT_ALIAS, InsightsQuery


@dataclass
class Traffic:
    features: np.ndarray  # (n, k)
    labels: list[str]
    is_outlier: np.ndarray  # (n,) bool
    request_ids: list[str]
    rejected: int = 0


def sample_traffic(
    baseline: Baseline,
    n: int,
    rng: np.random.Generator,
    *,
    shift: Mapping[str, float] | None = None,  # feature -> multiplicative factor on values
    spread: Mapping[str, float] | None = None,  # feature -> factor on the distance from the training mean
    outlier_rate: float | None = None,
    class_shares: Sequence[float] | None = None,
    rejected: int = 0,
    rows_per_request: int = 1,
) -> Traffic:
    columns = []
    for feature in baseline.features:
        values = np.interp(rng.random(n), baseline.quantile_levels, feature.quantiles)
        if spread and feature.name in spread:
            values = feature.mean + (values - feature.mean) * spread[feature.name]
        if shift and feature.name in shift:
            values = values * shift[feature.name]
        columns.append(values)
    features = np.column_stack(columns) if n else np.zeros((0, baseline.n_features))
    shares = np.asarray(class_shares if class_shares is not None else baseline.class_distribution, dtype=float)
    labels = [baseline.label_names[i] for i in rng.choice(len(shares), size=n, p=shares / shares.sum())]
    rate = baseline.training_outlier_rate if outlier_rate is None else outlier_rate
    request_ids = [f"req-{i // rows_per_request:08d}" for i in range(n)]
    return Traffic(features, labels, rng.random(n) < rate, request_ids, rejected)


def numpy_values(baseline: Baseline, traffic: Traffic) -> tuple[dict[str, float | None], dict[str, int]]:
    """Every spec computed with numpy (sample std, linear quantiles): the known answer."""
    values: dict[str, float | None] = {}
    n = len(traffic.labels)
    index = {name: i for i, name in enumerate(baseline.feature_names)}
    for spec in build_specs(baseline):
        column = traffic.features[:, index[spec.feature]] if spec.feature else None
        if spec.alias == ALIAS_CLASS_COUNTS:
            continue
        if spec.alias == ALIAS_REJECTED:
            values[spec.alias] = float(traffic.rejected)
        elif spec.func is Func.COUNT:
            values[spec.alias] = float(n)
        elif spec.func is Func.SUM:
            values[spec.alias] = float(traffic.is_outlier.sum()) if n else None
        elif spec.func is Func.COUNT_DISTINCT:
            values[spec.alias] = float(len(set(traffic.request_ids)))
        elif column is None or n == 0:
            values[spec.alias] = None
        elif spec.func is Func.AVG:
            values[spec.alias] = float(column.mean())
        elif spec.func is Func.STDDEV:
            values[spec.alias] = float(column.std(ddof=1)) if n > 1 else None
        elif spec.func is Func.MIN:
            values[spec.alias] = float(column.min())
        elif spec.func is Func.MAX:
            values[spec.alias] = float(column.max())
        elif spec.func is Func.PCT:
            values[spec.alias] = float(np.quantile(column, (spec.percent or 0) / 100))
    counts: dict[str, int] = {}
    for label in traffic.labels:
        counts[label] = counts.get(label, 0) + 1
    return values, counts


def numpy_aggregates(baseline: Baseline, traffic: Traffic, start_ms: int = 0, end_ms: int = 120_000) -> WindowAggregates:
    values, counts = numpy_values(baseline, traffic)
    return WindowAggregates.from_values(baseline, values, counts, start_ms=start_ms, end_ms=end_ms)


def insights_results(
    queries: Sequence[InsightsQuery], values: Mapping[str, float | None], class_counts: Mapping[str, int], rejected: int
) -> dict[str, list[list[dict[str, str]]]]:
    """GetQueryResults `results` per query, shaped like Logs Insights: strings, absent fields for no value."""
    out: dict[str, list[list[dict[str, str]]]] = {}
    for query in queries:
        if query.grouped:
            rows = [
                [
                    {"field": "message", "value": "prediction"},
                    {"field": "prediction", "value": label},
                    {"field": GROUP_COUNT_ALIAS, "value": str(n)},
                ]
                for label, n in class_counts.items()
                if n
            ]
            if rejected:
                rows.append([{"field": "message", "value": "rejected"}, {"field": GROUP_COUNT_ALIAS, "value": str(rejected)}])
            out[query.name] = rows
        else:
            row = [
                {"field": s.alias, "value": repr(float(value))} for s in query.specs if (value := values.get(s.alias)) is not None
            ]
            out[query.name] = [row] if values.get("rows") else []
    return out


def write_log(
    path: Path,
    baseline: Baseline,
    traffic: Traffic,
    *,
    start_ms: int,
    span_ms: int,
    rng: np.random.Generator,
    mode: str = "a",
    endpoint: str = "/predict",
) -> None:
    """Contract-shaped lines (prediction_lines / rejected_line) spread over [start_ms, start_ms + span_ms)."""
    n = len(traffic.labels)
    stamps = np.sort(start_ms + rng.integers(0, max(span_ms, 1), size=n + traffic.rejected))
    k = len(baseline.label_names)
    lines: list[str] = []
    by_request: dict[str, list[int]] = {}
    for i, request_id in enumerate(traffic.request_ids):
        by_request.setdefault(request_id, []).append(i)
    for request_number, (request_id, rows) in enumerate(by_request.items()):
        labels = [traffic.labels[i] for i in rows]
        lines += log.prediction_lines(
            timestamp_ms=int(stamps[rows[0]]),
            request_id=request_id,
            endpoint=endpoint,
            model=baseline.model_name,
            model_version=baseline.model_version,
            feature_names=baseline.feature_names,
            rows=[[round(float(v), 4) for v in traffic.features[i]] for i in rows],
            labels=labels,
            class_indices=[baseline.label_names.index(label) for label in labels],
            probabilities=[[1.0 if j == baseline.label_names.index(label) else 0.0 for j in range(k)] for label in labels],
            is_outlier=[bool(traffic.is_outlier[i]) for i in rows],
            outlier_scores=[0.5 if traffic.is_outlier[i] else -0.5 for i in rows],
            latency_ms=0.2 + request_number % 7,
        )
    for j in range(traffic.rejected):
        lines.append(
            log.rejected_line(
                timestamp_ms=int(stamps[n + j]),
                request_id=str(uuid.UUID(int=int(rng.integers(0, 2**62)))),
                endpoint=endpoint,
                model=baseline.model_name,
                model_version=baseline.model_version,
                status=422,
                reason="row 0 has 3 values, expected 4",
            )
        )
    with path.open(mode, encoding="utf-8") as handle:
        if lines:
            handle.write("\n".join(lines) + "\n")
