"""Generated windows with known answers, shared by the monitor's unit and integration tests and the benchmark.

Traffic is sampled from the baseline itself (inverse training CDF, training class
shares and outlier rate), so "no drift" is true by construction; drift is then
injected on purpose. `numpy_values` computes every spec with numpy: the
reference the engines are compared with.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline
from functions.monitor.aggregates import (
    ALIAS_CLASS_COUNTS,
    ALIAS_CONFIDENCE_MEAN,
    ALIAS_CONFIDENCE_N,
    ALIAS_CONFIDENCE_STD,
    ALIAS_MESSAGE_COUNTS,
    ALIAS_OUTLIER_GROUPS,
    ALIAS_RECONSTRUCTION_MEAN,
    ALIAS_RECONSTRUCTION_N,
    ALIAS_RECONSTRUCTION_STD,
    ALIAS_REQUESTS,
    ALIAS_ROWS,
    PREDICTION_UNIT,
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
    failed: int = 0
    confidence: np.ndarray | None = None  # (n,) top-class probability; None: lines without `confidence`
    predictions: np.ndarray | None = None  # (n,) a regression model's outputs (labels are then "")
    reconstruction: np.ndarray | None = None  # (n,) joint-drift score, 4 decimals; None: lines without it
    categories: list[list[str]] | None = None  # per row, the categorical features' values (input order); None: none


UNSEEN_PREFIX = "unseen-"  # sampled values of a category's unlisted tail: "unseen-0", "unseen-1", ...


@functools.cache
def _dataset_rows(name: str) -> np.ndarray | None:
    from models.regression import load_shipped_dataset

    data = load_shipped_dataset(name)
    return None if data is None else data.x


def training_pool(baseline: Baseline) -> np.ndarray | None:
    """The shipped model's own data set when its baseline ties features together (`relations`): traffic drawn
    from each feature's quantiles alone would break those ties, which is a change the monitor names. None for
    any other baseline (each feature drawn from its own training quantiles)."""
    if not baseline.relations:
        return None
    rows = _dataset_rows(baseline.model_name)
    if rows is None or rows.shape[1] != len(baseline.features):
        return None
    return rows


def sample_categories(
    baseline: Baseline,
    n: int,
    rng: np.random.Generator,
    shares: Mapping[str, Sequence[float]] | None = None,  # feature -> shares of its listed categories + the unseen
) -> list[list[str]] | None:
    """Each categorical feature's values drawn from its training shares (listed + other_share), or from `shares`;
    an unseen draw is one of 5 unlisted values."""
    if not baseline.categorical:
        return None
    columns = []
    for feature in baseline.categorical:
        p = np.asarray((shares or {}).get(feature.name, (*feature.shares, feature.other_share)), dtype=float)
        draws = rng.choice(len(p), size=n, p=p / p.sum())
        tail = rng.integers(0, 5, size=n)
        k = len(feature.categories)
        columns.append([feature.categories[d] if d < k else f"{UNSEEN_PREFIX}{t}" for d, t in zip(draws, tail, strict=True)])
    return [list(row) for row in zip(*columns, strict=True)]


def input_rows(baseline: Baseline, traffic: Traffic, rows: Sequence[int]) -> list[list[float | str]]:
    """Request rows in input order: numbers (4 decimals, as the log keeps them) and category strings."""
    out = []
    for i in rows:
        numbers = iter(round(float(v), 4) for v in traffic.features[i])
        strings = iter(traffic.categories[i] if traffic.categories is not None else ())
        out.append([next(strings) if kind == "categorical" else next(numbers) for kind in baseline.feature_types])
    return out


def sample_traffic(
    baseline: Baseline,
    n: int,
    rng: np.random.Generator,
    *,
    shift: Mapping[str, float] | None = None,  # feature -> multiplicative factor on values
    spread: Mapping[str, float] | None = None,  # feature -> factor on the distance from the training mean
    offset_sd: Mapping[str, float] | None = None,  # feature -> added to values, in training sd
    outlier_rate: float | None = None,
    class_shares: Sequence[float] | None = None,
    rejected: int = 0,
    failed: int = 0,
    rows_per_request: int = 1,
    confidence: float | None = None,  # mean top-class probability of the rows, None: no confidence field
    prediction_shift: float = 0.0,  # regression: added to the sampled predictions, in training prediction sd
    category_shares: Mapping[str, Sequence[float]] | None = None,  # feature -> listed shares + unseen share
) -> Traffic:
    columns = []
    pool = training_pool(baseline)
    for index, feature in enumerate(baseline.features):
        if pool is None:
            values = np.interp(rng.random(n), baseline.quantile_levels, feature.quantiles)
        else:  # a bootstrap of the model's own data set: its features move together, as real traffic does
            if index == 0:
                picked = pool[rng.integers(0, len(pool), size=n)]
            values = picked[:, index]
        if spread and feature.name in spread:
            values = feature.mean + (values - feature.mean) * spread[feature.name]
        if shift and feature.name in shift:
            values = values * shift[feature.name]
        if offset_sd and feature.name in offset_sd:
            values = values + offset_sd[feature.name] * feature.std
        columns.append(values)
    features = np.column_stack(columns) if n else np.zeros((0, len(baseline.features)))
    categories = sample_categories(baseline, n, rng, category_shares)
    rate = baseline.training_outlier_rate if outlier_rate is None else outlier_rate
    request_ids = [f"req-{i // rows_per_request:08d}" for i in range(n)]
    if baseline.prediction_stats is not None:  # a regression model: its outputs sampled from the training predictions
        stats = baseline.prediction_stats
        predictions = np.interp(rng.random(n), baseline.quantile_levels, stats.quantiles) + prediction_shift * stats.std
        return Traffic(features, [""] * n, rng.random(n) < rate, request_ids, rejected, failed, None, predictions)
    shares = np.asarray(class_shares if class_shares is not None else baseline.class_distribution, dtype=float)
    labels = [baseline.label_names[i] for i in rng.choice(len(shares), size=n, p=shares / shares.sum())]
    rate = baseline.training_outlier_rate if outlier_rate is None else outlier_rate
    request_ids = [f"req-{i // rows_per_request:08d}" for i in range(n)]
    conf = None if confidence is None else np.clip(confidence + rng.normal(0, 0.05, size=n), 0.34, 1.0)
    return Traffic(features, labels, rng.random(n) < rate, request_ids, rejected, failed, conf, categories=categories)


def numpy_values(baseline: Baseline, traffic: Traffic) -> tuple[dict[str, float | None], dict[str, dict[str, int]]]:
    """Every spec computed with numpy (sample std, exact counts below cuts): the known answer."""
    values: dict[str, float | None] = {}
    groups: dict[str, dict[str, int]] = {}
    n = len(traffic.labels)
    index = {feature.name: i for i, feature in enumerate(baseline.features)}
    categorical = {feature.name: i for i, feature in enumerate(baseline.categorical)}
    confidence = traffic.confidence
    for spec in build_specs(baseline):
        if spec.feature in categorical:
            values_of = [row[categorical[spec.feature]] for row in traffic.categories or []]
            if spec.func is Func.COUNT_LISTED:
                groups[spec.alias] = {c: values_of.count(c) for c in spec.categories if c in values_of}
            else:
                values[spec.alias] = float(len(values_of))
            continue
        if spec.feature == PREDICTION_UNIT:
            column = traffic.predictions
        else:
            column = traffic.features[:, index[spec.feature]] if spec.feature else None
        if spec.alias == ALIAS_CLASS_COUNTS:
            counts: dict[str, int] = {}
            for label in traffic.labels:
                counts[label] = counts.get(label, 0) + 1
            groups[spec.alias] = counts
        elif spec.alias == ALIAS_OUTLIER_GROUPS:
            flagged = int(traffic.is_outlier.sum())
            groups[spec.alias] = {k: v for k, v in (("true", flagged), ("false", n - flagged)) if v}
        elif spec.alias == ALIAS_MESSAGE_COUNTS:
            groups[spec.alias] = {k: v for k, v in (("rejected", traffic.rejected), ("failed", traffic.failed)) if v}
        elif spec.alias == ALIAS_ROWS:
            values[spec.alias] = float(n)
        elif spec.alias == ALIAS_REQUESTS:
            values[spec.alias] = float(len(set(traffic.request_ids)))
        elif spec.alias == ALIAS_CONFIDENCE_N:
            values[spec.alias] = float(n if confidence is not None else 0)
        elif spec.alias == ALIAS_CONFIDENCE_MEAN:
            values[spec.alias] = float(confidence.mean()) if confidence is not None and n else None
        elif spec.alias == ALIAS_CONFIDENCE_STD:
            values[spec.alias] = float(confidence.std(ddof=1)) if confidence is not None and n > 1 else None
        elif spec.alias == ALIAS_RECONSTRUCTION_N:
            values[spec.alias] = float(n if traffic.reconstruction is not None else 0)
        elif spec.alias == ALIAS_RECONSTRUCTION_MEAN:
            errors = traffic.reconstruction
            values[spec.alias] = float(errors.mean()) if errors is not None and n else None
        elif spec.alias == ALIAS_RECONSTRUCTION_STD:
            errors = traffic.reconstruction
            values[spec.alias] = float(errors.std(ddof=1)) if errors is not None and n > 1 else None
        elif column is None or n == 0:
            values[spec.alias] = 0.0 if spec.func in (Func.COUNT, Func.BELOW) else None
        elif spec.func is Func.COUNT:
            values[spec.alias] = float(n)
        elif spec.func is Func.AVG:
            values[spec.alias] = float(column.mean())
        elif spec.func is Func.STDDEV:
            values[spec.alias] = float(column.std(ddof=1)) if n > 1 else None
        elif spec.func is Func.BELOW:
            values[spec.alias] = float((column < (spec.cut or 0.0)).sum())
    return values, groups


def numpy_aggregates(baseline: Baseline, traffic: Traffic, start_ms: int = 0, end_ms: int = 120_000) -> WindowAggregates:
    values, groups = numpy_values(baseline, traffic)
    return WindowAggregates.from_values(baseline, values, groups, start_ms=start_ms, end_ms=end_ms)


def insights_results(
    queries: Sequence[InsightsQuery],
    values: Mapping[str, float | None],
    groups: Mapping[str, Mapping[str, int]],
    *,
    true_spelling: str = "true",
) -> dict[str, list[list[dict[str, str]]]]:
    """GetQueryResults `results` per query, shaped like Logs Insights: strings, absent fields for no value."""
    out: dict[str, list[list[dict[str, str]]]] = {}
    for query in queries:
        if query.name == "messages":
            out[query.name] = [
                [{"field": "message", "value": message}, {"field": GROUP_COUNT_ALIAS, "value": str(n)}]
                for message, n in groups.get(ALIAS_MESSAGE_COUNTS, {}).items()
                if n
            ]
        elif query.grouped:
            # Spread the outlier flags over the classes in proportion: only the marginals are checked.
            classes = dict(groups.get(ALIAS_CLASS_COUNTS, {}))
            flags = dict(groups.get(ALIAS_OUTLIER_GROUPS, {}))
            rows = []
            for flag, total in flags.items():
                flagged = total
                spelling = true_spelling if flag == "true" else ("0" if true_spelling == "1" else "false")
                if ALIAS_CLASS_COUNTS not in query_aliases(query):  # a regression model: grouped by is_outlier alone
                    rows.append([{"field": "is_outlier", "value": spelling}, {"field": GROUP_COUNT_ALIAS, "value": str(total)}])
                    continue
                for label in list(classes):
                    take = min(classes[label], flagged)
                    if take:
                        rows.append(
                            [
                                {"field": "is_outlier", "value": spelling},
                                {"field": "prediction", "value": label},
                                {"field": GROUP_COUNT_ALIAS, "value": str(take)},
                            ]
                        )
                    classes[label] -= take
                    flagged -= take
            out[query.name] = rows
        else:
            row = [
                {"field": s.alias, "value": repr(float(value))} for s in query.specs if (value := values.get(s.alias)) is not None
            ]
            out[query.name] = [row] if values.get("rows") else []
    return out


def query_aliases(query: InsightsQuery) -> set[str]:
    return {spec.alias for spec in query.specs}


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
    stamps = np.sort(start_ms + rng.integers(0, max(span_ms, 1), size=n + traffic.rejected + traffic.failed))
    k = len(baseline.label_names)
    lines: list[str] = []
    by_request: dict[str, list[int]] = {}
    for i, request_id in enumerate(traffic.request_ids):
        by_request.setdefault(request_id, []).append(i)
    for request_number, (request_id, rows) in enumerate(by_request.items()):
        if traffic.predictions is not None:
            lines += log.regression_prediction_lines(
                timestamp_ms=int(stamps[rows[0]]),
                request_id=request_id,
                endpoint=endpoint,
                model=baseline.model_name,
                model_version=baseline.model_version,
                feature_names=baseline.feature_names,
                rows=[[round(float(v), 4) for v in traffic.features[i]] for i in rows],
                predictions=[float(traffic.predictions[i]) for i in rows],
                is_outlier=[bool(traffic.is_outlier[i]) for i in rows],
                outlier_scores=[0.5 if traffic.is_outlier[i] else -0.5 for i in rows],
                latency_ms=0.2 + request_number % 7,
            )
            continue
        labels = [traffic.labels[i] for i in rows]
        lines += log.prediction_lines(
            timestamp_ms=int(stamps[rows[0]]),
            request_id=request_id,
            endpoint=endpoint,
            model=baseline.model_name,
            model_version=baseline.model_version,
            feature_names=baseline.feature_names,
            rows=input_rows(baseline, traffic, rows),  # type: ignore[arg-type]  # strings for categories
            labels=labels,
            class_indices=[baseline.label_names.index(label) for label in labels],
            probabilities=[[1.0 if j == baseline.label_names.index(label) else 0.0 for j in range(k)] for label in labels],
            is_outlier=[bool(traffic.is_outlier[i]) for i in rows],
            outlier_scores=[0.5 if traffic.is_outlier[i] else -0.5 for i in rows],
            latency_ms=0.2 + request_number % 7,
            reconstruction_errors=None if traffic.reconstruction is None else [float(traffic.reconstruction[i]) for i in rows],
        )
    # The contract writes the top probability as `confidence`: give it the traffic's value, or drop the key to stand
    # for a log written before this wave (traffic.confidence None).
    rewritten = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        if traffic.predictions is not None:  # a regression line has no confidence
            rewritten.append(line)
            continue
        if traffic.confidence is None:
            del record[log.KEY_CONFIDENCE]
        else:
            record[log.KEY_CONFIDENCE] = round(float(traffic.confidence[i]), 4)  # same key, same position
        unseen = [f.name for f in baseline.categorical if record[log.KEY_FEATURES][f.name] not in f.categories]
        if unseen:  # the contract's key for rows with an unlisted category, after probabilities
            record[log.KEY_UNSEEN_CATEGORIES] = unseen
        rewritten.append(json.dumps(record, separators=(",", ":")))
    lines = rewritten
    for j in range(traffic.failed):
        lines.append(
            json.dumps(
                {
                    log.KEY_MESSAGE: log.MESSAGE_FAILED, log.KEY_TIMESTAMP: int(stamps[n + traffic.rejected + j]),
                    log.KEY_REQUEST_ID: f"failed-{j}", log.KEY_ENDPOINT: endpoint, log.KEY_MODEL: baseline.model_name,
                    log.KEY_MODEL_VERSION: baseline.model_version, log.KEY_STATUS: 500, log.KEY_ERROR_TYPE: "RuntimeError",
                },
                separators=(",", ":"),
            )
        )  # fmt: skip
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
