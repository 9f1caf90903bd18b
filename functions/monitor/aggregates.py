"""The window aggregates, defined once as data.

Both engines render these specs: `insights.py` turns them into CloudWatch Logs
Insights queries (AWS), `local_sql.py` into one DuckDB statement over the
JSON-lines file (local). Neither engine aggregates in Python: they return one
value per scalar spec alias and one count per group of a grouped spec, and
`WindowAggregates.from_values` types them, so the checks see the same numbers
whichever engine read the window.

Every aggregate is a count, a mean or a standard deviation: no percentiles (an
11-point window summary biased the old distance) and no sum of booleans (AWS
documents `sum` for numbers only). A feature's distribution is read as counts
of rows below the training cuts (`Func.BELOW`), which both engines compute
exactly, ties included.

A categorical feature is read as two specs: the rows that carry a value (`Func.COUNT`) and the rows per
listed training category (`Func.COUNT_LISTED`: a grouped count over the listed values only, so its groups
never outnumber the list, whatever callers send). Every value that is not listed (training's rare tail, a
new value, a value beyond any cap) is `unseen`: rows with a value minus the listed counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

from .stats import reference_buckets

ALIAS_ROWS = "rows"
ALIAS_REQUESTS = "requests"
ALIAS_OUTLIER_GROUPS = "outlier_groups"  # count(*) by is_outlier
ALIAS_CLASS_COUNTS = "class_counts"  # count(*) by prediction
ALIAS_MESSAGE_COUNTS = "message_counts"  # count(*) by message: rejected and failed lines
ALIAS_CONFIDENCE_N = "conf_n"
ALIAS_CONFIDENCE_MEAN = "conf_mean"
ALIAS_CONFIDENCE_STD = "conf_std"
ALIAS_RECONSTRUCTION_N = "rec_n"
ALIAS_RECONSTRUCTION_MEAN = "rec_mean"
ALIAS_RECONSTRUCTION_STD = "rec_std"
OTHER_CLASS = "(other)"  # predicted labels the baseline does not know
# A regression model's output is read like a feature: count, mean, sd and rows below the training predictions' cuts.
PREDICTION_UNIT = "(prediction)"  # AggregateSpec.feature of those specs: one Logs Insights query holds them all
ANY_MESSAGE = "*"  # a spec over prediction, rejected and failed lines
COUNTED_MESSAGES = (log.MESSAGE_PREDICTION, log.MESSAGE_REJECTED, log.MESSAGE_FAILED)
# Logs Insights returns a JSON boolean as text; which spelling is not documented, so both are read.
TRUE_SPELLINGS = frozenset({"true", "1", "1.0"})
FALSE_SPELLINGS = frozenset({"false", "0", "0.0"})


class Func(StrEnum):
    COUNT = "count"  # count(*) when field is None, else non-null values of field
    AVG = "avg"
    STDDEV = "stddev"  # sample standard deviation
    COUNT_DISTINCT = "count_distinct"
    COUNT_BY = "count_by"  # count(*) grouped by `field`: one value per group
    BELOW = "below"  # number of rows whose `field` is strictly below `cut`
    COUNT_LISTED = "count_listed"  # count(*) grouped by `field` over rows whose value is one of `categories`


@dataclass(frozen=True)
class AggregateSpec:
    alias: str
    func: Func
    field: str | None  # dotted path in the log line, e.g. "features.petal_length"
    message: str  # which lines: log.MESSAGE_PREDICTION, or ANY_MESSAGE for COUNTED_MESSAGES
    feature: str | None = None  # the feature this spec describes, if any
    cut: float | None = None  # for BELOW
    categories: tuple[str, ...] = ()  # for COUNT_LISTED: the listed training categories


def feature_field(name: str) -> str:
    return f"{log.KEY_FEATURES}.{name}"


def feature_alias(index: int, stat: str) -> str:
    """Short aliases (`f3_b4`) keep the Logs Insights query text under its 10,000 characters."""
    return f"f{index}_{stat}"


def category_alias(position: int, stat: str) -> str:
    """`c3_n` (rows with a value) and `c3_listed` (rows per listed category) of the feature at input position 3."""
    return f"c{position}_{stat}"


def numeric_position(baseline: Baseline, name: str) -> int:
    """Index of a numeric feature in `baseline.features` (its cuts, its statistics), from its name."""
    for index, feature in enumerate(baseline.features):
        if feature.name == name:
            return index
    raise KeyError(name)


def feature_cuts(baseline: Baseline, index: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The feature's training cuts and shares below them; older baselines fall back to their stored quantiles."""
    feature = baseline.features[index]
    stored = baseline.thresholds.buckets(feature.name)
    if stored is not None:
        return stored
    # Approximate (ties within 1/100): the 101 stored quantiles stand in for the training values.
    return reference_buckets(feature.quantiles)


def prediction_alias(stat: str) -> str:
    return f"p_{stat}"


def prediction_specs(baseline: Baseline) -> list[AggregateSpec]:
    """A regression model's output distribution: the same statistics as a feature's, over `prediction`."""
    if baseline.prediction_buckets is None:
        return []
    message, field, unit = log.MESSAGE_PREDICTION, log.KEY_PREDICTION, PREDICTION_UNIT
    cuts, _ = baseline.prediction_buckets
    return [
        AggregateSpec(prediction_alias("n"), Func.COUNT, field, message, feature=unit),
        AggregateSpec(prediction_alias("mean"), Func.AVG, field, message, feature=unit),
        AggregateSpec(prediction_alias("std"), Func.STDDEV, field, message, feature=unit),
        *(
            AggregateSpec(prediction_alias(f"b{j}"), Func.BELOW, field, message, feature=unit, cut=cut)
            for j, cut in enumerate(cuts)
        ),
    ]


def has_joint_drift(baseline: Baseline) -> bool:
    """Only models that ship the joint-drift model write `reconstruction_error` into their lines."""
    return "joint_drift" in baseline.document


def build_specs(baseline: Baseline) -> tuple[AggregateSpec, ...]:
    """Every number the checks need for one window of `baseline`'s model.

    A classifier's output is its class counts and confidence; a regressor's is `prediction_specs` (grouping by a
    number would give a group per distinct value)."""
    prediction = log.MESSAGE_PREDICTION
    specs = [
        AggregateSpec(ALIAS_ROWS, Func.COUNT, None, prediction),
        AggregateSpec(ALIAS_REQUESTS, Func.COUNT_DISTINCT, log.KEY_REQUEST_ID, prediction),
    ]
    if not baseline.is_regression:
        specs += [
            AggregateSpec(ALIAS_CONFIDENCE_N, Func.COUNT, log.KEY_CONFIDENCE, prediction),
            AggregateSpec(ALIAS_CONFIDENCE_MEAN, Func.AVG, log.KEY_CONFIDENCE, prediction),
            AggregateSpec(ALIAS_CONFIDENCE_STD, Func.STDDEV, log.KEY_CONFIDENCE, prediction),
        ]
    specs.append(AggregateSpec(ALIAS_OUTLIER_GROUPS, Func.COUNT_BY, log.KEY_IS_OUTLIER, prediction))
    if not baseline.is_regression:
        specs.append(AggregateSpec(ALIAS_CLASS_COUNTS, Func.COUNT_BY, log.KEY_PREDICTION, prediction))
    specs.append(AggregateSpec(ALIAS_MESSAGE_COUNTS, Func.COUNT_BY, log.KEY_MESSAGE, ANY_MESSAGE))
    specs += prediction_specs(baseline)
    if has_joint_drift(baseline):
        specs += [
            AggregateSpec(ALIAS_RECONSTRUCTION_N, Func.COUNT, log.KEY_RECONSTRUCTION_ERROR, prediction),
            AggregateSpec(ALIAS_RECONSTRUCTION_MEAN, Func.AVG, log.KEY_RECONSTRUCTION_ERROR, prediction),
            AggregateSpec(ALIAS_RECONSTRUCTION_STD, Func.STDDEV, log.KEY_RECONSTRUCTION_ERROR, prediction),
        ]
    numeric = {feature.name: index for index, feature in enumerate(baseline.features)}
    for index, name in enumerate(baseline.feature_names):  # aliases by input position; cuts by numeric position
        field = feature_field(name)
        if name not in numeric:
            listed = baseline.categorical_feature(name).categories
            specs += [
                AggregateSpec(category_alias(index, "n"), Func.COUNT, field, prediction, feature=name),
                AggregateSpec(
                    category_alias(index, "listed"), Func.COUNT_LISTED, field, prediction, feature=name, categories=listed
                ),
            ]
            continue
        specs += [
            AggregateSpec(feature_alias(index, "n"), Func.COUNT, field, prediction, feature=name),
            AggregateSpec(feature_alias(index, "mean"), Func.AVG, field, prediction, feature=name),
            AggregateSpec(feature_alias(index, "std"), Func.STDDEV, field, prediction, feature=name),
        ]
        cuts, _ = feature_cuts(baseline, numeric[name])
        specs += [
            AggregateSpec(feature_alias(index, f"b{j}"), Func.BELOW, field, prediction, feature=name, cut=cut)
            for j, cut in enumerate(cuts)
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
    below: tuple[int, ...] | None  # rows below each training cut; None if no values


@dataclass(frozen=True)
class CategoryWindow:
    """A categorical feature over the window: rows with a value, rows per listed category (list order), the rest."""

    name: str
    count: int  # rows that carry a value for the feature
    listed: tuple[int, ...]  # rows per listed training category, in the baseline's order
    unseen: int  # rows whose value is not listed: count - sum(listed)


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
    failed: int = 0
    outlier_unreadable: int = 0  # rows whose is_outlier is neither spelling of true nor false
    confidence_count: int = 0
    confidence_mean: float | None = None
    confidence_std: float | None = None
    reconstruction_count: int = 0  # rows with a reconstruction_error (joint-drift model shipped)
    reconstruction_mean: float | None = None
    reconstruction_std: float | None = None
    unreadable_lines: int = 0  # local engine only: lines that are not JSON (whole file; they carry no timestamp)
    unreadable_statistics: tuple[str, ...] = ()  # aggregates that came back NaN, infinite or beyond float32
    total_lines: int | None = None  # local engine only: all lines of the file
    prediction: FeatureWindow | None = None  # a regression model's output values; None for a classifier
    categories: tuple[CategoryWindow, ...] = ()  # the categorical features, input order; () for a numbers-only model

    def feature(self, name: str) -> FeatureWindow:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def category(self, name: str) -> CategoryWindow:
        for feature in self.categories:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @classmethod
    def from_values(
        cls,
        baseline: Baseline,
        values: Mapping[str, float | None],
        groups: Mapping[str, Mapping[str, int]],
        *,
        start_ms: int,
        end_ms: int,
        unreadable_lines: int = 0,
        total_lines: int | None = None,
    ) -> WindowAggregates:
        """Type the engine's raw values; a missing count means 0, a missing statistic means 'no values'."""

        unreadable_statistics: list[str] = []

        def count(alias: str) -> int:
            value = values.get(alias)
            if value is None:
                return 0
            if not math.isfinite(value):  # a sum over a NaN in a line
                unreadable_statistics.append(alias)
                return 0
            if value < 0 or value != int(value):
                raise AggregateError(f"aggregate '{alias}' is not a count: {value!r}")
            return int(value)

        def stat(alias: str) -> float | None:
            """A statistic no logged value could give (NaN, Infinity, 1e308 in a line) is unreadable, never fatal."""
            value = values.get(alias)
            if value is None:
                return None
            if not math.isfinite(value) or abs(value) > log.LARGEST_LOGGED_VALUE:
                unreadable_statistics.append(alias)
                return None
            return float(value)

        def group(alias: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for key, n in groups.get(alias, {}).items():
                if n < 0 or n != int(n):
                    raise AggregateError(f"{alias}: {n!r} for {key!r} is not a count")
                out[key] = out.get(key, 0) + int(n)
            return out

        counts = {label: 0 for label in baseline.label_names}
        for label, n in group(ALIAS_CLASS_COUNTS).items():
            if label in counts:
                counts[label] += n
            elif n:
                counts[OTHER_CLASS] = counts.get(OTHER_CLASS, 0) + n
        outliers = inliers = unreadable = 0
        for key, n in group(ALIAS_OUTLIER_GROUPS).items():
            spelling = key.strip().lower()
            if spelling in TRUE_SPELLINGS:
                outliers += n
            elif spelling in FALSE_SPELLINGS:
                inliers += n
            else:
                unreadable += n
        rows = count(ALIAS_ROWS)
        unreadable += max(rows - outliers - inliers - unreadable, 0)  # lines with no is_outlier form no (documented) group
        messages = group(ALIAS_MESSAGE_COUNTS)

        features = []
        categories = []
        numeric = {feature.name: index for index, feature in enumerate(baseline.features)}
        for index, name in enumerate(baseline.feature_names):
            if name not in numeric:
                categories.append(
                    _category_window(baseline, name, count(category_alias(index, "n")), group(category_alias(index, "listed")))
                )
                continue
            n = count(feature_alias(index, "n"))
            cuts, _ = feature_cuts(baseline, numeric[name])
            below = tuple(count(feature_alias(index, f"b{j}")) for j in range(len(cuts)))
            if any(b > n for b in below):
                raise AggregateError(f"feature '{name}': more rows below a cut than values ({below} > {n})")
            features.append(
                FeatureWindow(
                    name=name,
                    count=n,
                    mean=stat(feature_alias(index, "mean")) if n else None,
                    std=stat(feature_alias(index, "std")) if n > 1 else None,
                    below=below if n else None,
                )
            )
        confidence_n = count(ALIAS_CONFIDENCE_N)
        prediction = None
        if baseline.prediction_buckets is not None:
            n = count(prediction_alias("n"))
            below = tuple(count(prediction_alias(f"b{j}")) for j in range(len(baseline.prediction_buckets[0])))
            if any(b > n for b in below):
                raise AggregateError(f"prediction: more rows below a cut than values ({below} > {n})")
            prediction = FeatureWindow(
                name=log.KEY_PREDICTION,
                count=n,
                mean=stat(prediction_alias("mean")) if n else None,
                std=stat(prediction_alias("std")) if n > 1 else None,
                below=below if n else None,
            )
        reconstruction_n = count(ALIAS_RECONSTRUCTION_N)
        return cls(
            start_ms=start_ms,
            end_ms=end_ms,
            rows=rows,
            outliers=outliers,
            requests=count(ALIAS_REQUESTS),
            rejected=messages.get(log.MESSAGE_REJECTED, 0),
            class_counts=counts,
            features=tuple(features),
            failed=messages.get(log.MESSAGE_FAILED, 0),
            outlier_unreadable=unreadable,
            confidence_count=confidence_n,
            confidence_mean=stat(ALIAS_CONFIDENCE_MEAN) if confidence_n else None,
            confidence_std=stat(ALIAS_CONFIDENCE_STD) if confidence_n > 1 else None,
            reconstruction_count=reconstruction_n,
            reconstruction_mean=stat(ALIAS_RECONSTRUCTION_MEAN) if reconstruction_n else None,
            reconstruction_std=stat(ALIAS_RECONSTRUCTION_STD) if reconstruction_n > 1 else None,
            unreadable_lines=unreadable_lines,
            total_lines=total_lines,
            unreadable_statistics=tuple(unreadable_statistics),
            prediction=prediction,
            categories=tuple(categories),
        )


def _category_window(baseline: Baseline, name: str, n: int, groups: Mapping[str, int]) -> CategoryWindow:
    """Listed counts in the baseline's order; a group for a value that is not listed (an engine that ignored the
    filter) adds to unseen, never to a listed category."""
    listed = tuple(groups.get(category, 0) for category in baseline.categorical_feature(name).categories)
    if sum(listed) > n:
        raise AggregateError(f"feature '{name}': more rows in listed categories than rows with a value ({sum(listed)} > {n})")
    return CategoryWindow(name=name, count=n, listed=listed, unseen=n - sum(listed))
