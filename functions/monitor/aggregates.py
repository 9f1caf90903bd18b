"""The window aggregates, defined once as data.

Both engines render these specs: `insights.py` turns them into CloudWatch Logs
Insights queries (AWS), `local_sql.py` into one DuckDB statement over the
JSON-lines file (local). Neither engine aggregates in Python: they return one
value per spec alias and `WindowAggregates.from_values` types them, so the
checks see the same numbers whichever engine read the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

# Window quantile levels: the deciles in percent (`pct`), plus min and max as levels 0 and 1.
DECILE_PERCENTS: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)
WINDOW_QUANTILE_LEVELS: tuple[float, ...] = (0.0, *(p / 100 for p in DECILE_PERCENTS), 1.0)

ALIAS_ROWS = "rows"
ALIAS_OUTLIERS = "outliers"
ALIAS_REQUESTS = "requests"
ALIAS_REJECTED = "rejected"
ALIAS_CLASS_COUNTS = "class_counts"
OTHER_CLASS = "(other)"  # predicted labels the baseline does not know


class Func(StrEnum):
    COUNT = "count"  # count(*) when field is None, else non-null values of field
    SUM = "sum"
    AVG = "avg"
    STDDEV = "stddev"  # sample standard deviation
    MIN = "min"
    MAX = "max"
    PCT = "pct"
    COUNT_DISTINCT = "count_distinct"
    COUNT_BY = "count_by"  # count(*) grouped by `field`: one value per group


@dataclass(frozen=True)
class AggregateSpec:
    alias: str
    func: Func
    field: str | None  # dotted path in the log line, e.g. "features.petal_length"
    message: str  # which lines: log.MESSAGE_PREDICTION or log.MESSAGE_REJECTED
    percent: int | None = None  # for PCT
    feature: str | None = None  # the feature this spec describes, if any


def feature_field(name: str) -> str:
    return f"{log.KEY_FEATURES}.{name}"


def feature_alias(name: str, stat: str) -> str:
    return f"{name}__{stat}"


def build_specs(baseline: Baseline) -> tuple[AggregateSpec, ...]:
    """Every number the checks need for one window of `baseline`'s model."""
    prediction, rejected = log.MESSAGE_PREDICTION, log.MESSAGE_REJECTED
    specs = [
        AggregateSpec(ALIAS_ROWS, Func.COUNT, None, prediction),
        AggregateSpec(ALIAS_OUTLIERS, Func.SUM, log.KEY_IS_OUTLIER, prediction),
        AggregateSpec(ALIAS_REQUESTS, Func.COUNT_DISTINCT, log.KEY_REQUEST_ID, prediction),
        AggregateSpec(ALIAS_REJECTED, Func.COUNT, None, rejected),
        AggregateSpec(ALIAS_CLASS_COUNTS, Func.COUNT_BY, log.KEY_PREDICTION, prediction),
    ]
    for name in baseline.feature_names:
        field = feature_field(name)
        specs += [
            AggregateSpec(feature_alias(name, "n"), Func.COUNT, field, prediction, feature=name),
            AggregateSpec(feature_alias(name, "mean"), Func.AVG, field, prediction, feature=name),
            AggregateSpec(feature_alias(name, "std"), Func.STDDEV, field, prediction, feature=name),
            AggregateSpec(feature_alias(name, "min"), Func.MIN, field, prediction, feature=name),
            AggregateSpec(feature_alias(name, "max"), Func.MAX, field, prediction, feature=name),
        ]
        specs += [
            AggregateSpec(feature_alias(name, f"p{p}"), Func.PCT, field, prediction, percent=p, feature=name)
            for p in DECILE_PERCENTS
        ]
    return tuple(specs)


class AggregateError(ValueError):
    """An engine returned something the specs cannot be read from: never judged as healthy."""


@dataclass(frozen=True)
class FeatureWindow:
    name: str
    count: int
    mean: float | None
    std: float | None
    quantiles: tuple[float, ...] | None  # at WINDOW_QUANTILE_LEVELS (min, deciles, max); None if no values


@dataclass(frozen=True)
class WindowAggregates:
    start_ms: int  # inclusive
    end_ms: int  # exclusive
    rows: int
    outliers: int
    requests: int
    rejected: int
    class_counts: Mapping[str, int]  # baseline labels (always present) plus OTHER_CLASS when unknown labels appear
    features: tuple[FeatureWindow, ...]

    def feature(self, name: str) -> FeatureWindow:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @classmethod
    def from_values(
        cls,
        baseline: Baseline,
        values: Mapping[str, float | None],
        class_counts: Mapping[str, int],
        *,
        start_ms: int,
        end_ms: int,
    ) -> WindowAggregates:
        """Type the engine's raw values; a missing count is an error, a missing statistic means 'no values'."""

        def count(alias: str) -> int:
            value = values.get(alias)
            if value is None:
                return 0
            if not math.isfinite(value) or value < 0 or value != int(value):
                raise AggregateError(f"aggregate '{alias}' is not a count: {value!r}")
            return int(value)

        def stat(alias: str) -> float | None:
            value = values.get(alias)
            if value is None:
                return None
            if not math.isfinite(value):
                raise AggregateError(f"aggregate '{alias}' is not finite: {value!r}")
            return float(value)

        rows = count(ALIAS_ROWS)
        counts = {label: 0 for label in baseline.label_names}
        for label, n in class_counts.items():
            if n < 0:
                raise AggregateError(f"negative class count for {label!r}")
            if label in counts:
                counts[label] += int(n)
            elif n:
                counts[OTHER_CLASS] = counts.get(OTHER_CLASS, 0) + int(n)
        # Logs Insights reads the class counts in a separate query, so late-ingested lines may make their total
        # differ slightly from `rows`; the prediction-drift check normalises by the class counts' own total.

        features = []
        for name in baseline.feature_names:
            n = count(feature_alias(name, "n"))
            points = [stat(feature_alias(name, "min"))]
            points += [stat(feature_alias(name, f"p{p}")) for p in DECILE_PERCENTS]
            points.append(stat(feature_alias(name, "max")))
            quantiles: tuple[float, ...] | None = None
            if n > 0:
                if any(p is None for p in points):
                    raise AggregateError(f"feature '{name}': {n} values but quantiles are missing")
                quantiles = tuple(sorted(p for p in points if p is not None))  # engines may round pct
            features.append(
                FeatureWindow(
                    name=name,
                    count=n,
                    mean=stat(feature_alias(name, "mean")) if n else None,
                    std=stat(feature_alias(name, "std")) if n > 1 else None,
                    quantiles=quantiles,
                )
            )
        return cls(
            start_ms=start_ms,
            end_ms=end_ms,
            rows=rows,
            outliers=count(ALIAS_OUTLIERS),
            requests=count(ALIAS_REQUESTS),
            rejected=count(ALIAS_REJECTED),
            class_counts=counts,
            features=tuple(features),
        )
