"""Minute aggregates: every number the checks use, in an additive form, so any window is a sum of minutes.

The engines keep their one aggregate definition (`aggregates.build_specs`: counts, means, standard
deviations, counts below the training cuts, grouped counts). A closed minute is read once with them and
turned here into sums: a mean and a sample standard deviation over n values become the sum of deviations
from the training mean and the sum of their squares (shifted sums: no cancellation for features far
from zero). Adding minutes and turning the sum back gives the window's mean and standard deviation
exactly as if the engine had read the whole window; counts and counts below cuts add as they are, and so
do a categorical feature's rows with a value and rows per listed category (its unseen rows are the difference).

A minute is a flat vector of numbers in a layout fixed by the baseline (`minute_layout`), so summing
is elementwise and a stored minute of another model version (another layout) is recognised and ignored.
Pure: no clocks, no AWS.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

from .aggregates import (
    OTHER_CLASS,
    AggregateError,
    CategoryWindow,
    FeatureWindow,
    WindowAggregates,
    feature_cuts,
    has_joint_drift,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

# Scalar slots first; then class counts; then per feature n, s, q and the counts below each cut.
SCALARS = (
    "rows",
    "outliers",
    "outlier_unreadable",
    "requests",
    "rejected",
    "failed",
    "conf_n",
    "conf_s",
    "conf_q",
    "unreadable_lines",
    "total_lines",
    "unreadable_statistics",  # statistics an engine returned NaN, infinite or beyond float32 (data_quality judges)
)


def minute_layout(baseline: Baseline) -> tuple[str, ...]:
    """Slot names of a minute vector for this baseline (its labels, features and cuts)."""
    names = list(SCALARS)
    names += [f"class:{label}" for label in baseline.label_names] + [f"class:{OTHER_CLASS}"]
    for index, feature in enumerate(baseline.features):
        cuts, _ = feature_cuts(baseline, index)
        names += [f"f:{feature.name}:n", f"f:{feature.name}:s", f"f:{feature.name}:q"]
        names += [f"f:{feature.name}:b{j}" for j in range(len(cuts))]
    if baseline.prediction_buckets is not None:  # a regressor's output, read like a feature
        names += ["p:n", "p:s", "p:q"] + [f"p:b{j}" for j in range(len(baseline.prediction_buckets[0]))]
    if has_joint_drift(baseline):  # the per-row reconstruction error (joint drift), summed like the confidence
        names += ["rec_n", "rec_s", "rec_q"]
    for category in baseline.categorical:  # rows with a value and rows per listed category; unseen is the rest
        names += [f"k:{category.name}:n"] + [f"k:{category.name}:c{j}" for j in range(len(category.categories))]
    return tuple(names)


def _prediction_center(baseline: Baseline) -> float:
    return baseline.prediction_stats.mean if baseline.prediction_stats is not None else 0.0


def layout_key(baseline: Baseline) -> str:
    """Short fingerprint of the layout and the shift points: stored minutes of another baseline do not add up."""
    text = "|".join(minute_layout(baseline)) + "|" + ",".join(repr(f.mean) for f in baseline.features)
    return f"{baseline.model_version}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Minutes:
    """The sum of one or more minutes: a vector in `minute_layout(baseline)` order, [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    values: tuple[float, ...]

    def add(self, other: Minutes) -> Minutes:
        if len(other.values) != len(self.values):
            raise AggregateError("minutes of different layouts cannot be added")
        return Minutes(
            min(self.start_ms, other.start_ms),
            max(self.end_ms, other.end_ms),
            tuple(a + b for a, b in zip(self.values, other.values, strict=True)),
        )

    @property
    def rows(self) -> int:
        return int(self.values[0])


def empty(baseline: Baseline, start_ms: int, end_ms: int) -> Minutes:
    return Minutes(start_ms, end_ms, (0.0,) * len(minute_layout(baseline)))


def from_window(baseline: Baseline, window: WindowAggregates) -> Minutes:
    """An engine's answer for one minute as additive sums."""

    def sums(n: int, mean: float | None, std: float | None, center: float) -> tuple[float, float]:
        if n == 0 or mean is None:
            return 0.0, 0.0
        d = mean - center
        variance = std * std if std is not None else 0.0
        return n * d, (n - 1) * variance + n * d * d

    def summed(observed: FeatureWindow, center: float, n_cuts: int) -> list[float]:
        """n, shifted sums and counts below cuts; a statistic the engine could not read adds nothing (it is counted
        in `unreadable_statistics` instead, so the window's moments are never built from a guess)."""
        if observed.count and observed.mean is None:
            return [0, 0.0, 0.0] + [0] * n_cuts
        s, q = sums(observed.count, observed.mean, observed.std, center)
        return [observed.count, s, q] + (list(observed.below) if observed.below is not None else [0] * n_cuts)

    conf_s, conf_q = sums(window.confidence_count, window.confidence_mean, window.confidence_std, 0.0)
    values = [
        window.rows,
        window.outliers,
        window.outlier_unreadable,
        window.requests,
        window.rejected,
        window.failed,
        window.confidence_count,
        conf_s,
        conf_q,
        window.unreadable_lines,
        window.total_lines or 0,
        len(window.unreadable_statistics),
    ]
    values += [window.class_counts.get(label, 0) for label in baseline.label_names]
    values.append(window.class_counts.get(OTHER_CLASS, 0))
    for index, feature in enumerate(baseline.features):
        values += summed(window.feature(feature.name), feature.mean, len(feature_cuts(baseline, index)[0]))
    if baseline.prediction_buckets is not None:
        n_cuts = len(baseline.prediction_buckets[0])
        observed = window.prediction or FeatureWindow(log.KEY_PREDICTION, 0, None, None, None)
        values += summed(observed, _prediction_center(baseline), n_cuts)
    if has_joint_drift(baseline):
        errors = FeatureWindow(
            log.KEY_RECONSTRUCTION_ERROR, window.reconstruction_count, window.reconstruction_mean, window.reconstruction_std, None
        )
        values += summed(errors, 0.0, 0)
    for category in baseline.categorical:
        counted = window.category(category.name) if window.categories else None
        values += [counted.count, *counted.listed] if counted else [0] * (1 + len(category.categories))
    return Minutes(window.start_ms, window.end_ms, tuple(float(v) for v in values))


def total(baseline: Baseline, parts: Iterable[Minutes], start_ms: int, end_ms: int) -> Minutes:
    """The sum of `parts` as the window [start_ms, end_ms) (parts outside it must be left out by the caller)."""
    out = empty(baseline, start_ms, end_ms)
    acc = list(out.values)
    for part in parts:
        if len(part.values) != len(acc):
            raise AggregateError("a stored minute has another layout")
        for i, v in enumerate(part.values):
            acc[i] += v
    return Minutes(start_ms, end_ms, tuple(acc))


def to_window(baseline: Baseline, minutes: Minutes) -> WindowAggregates:
    """The window the checks judge, from summed minutes."""
    v = minutes.values
    slot = {name: i for i, name in enumerate(minute_layout(baseline))}

    def count(name: str) -> int:
        return round(v[slot[name]])

    def moments(n: int, s: float, q: float, center: float) -> tuple[float | None, float | None]:
        if n == 0:
            return None, None
        mean = center + s / n
        if n < 2:
            return mean, None
        variance = max((q - s * s / n) / (n - 1), 0.0)
        return mean, math.sqrt(variance)

    counts = {label: count(f"class:{label}") for label in baseline.label_names}
    other = count(f"class:{OTHER_CLASS}")
    if other:
        counts[OTHER_CLASS] = other
    features = []
    for index, feature in enumerate(baseline.features):
        cuts, _ = feature_cuts(baseline, index)
        n = count(f"f:{feature.name}:n")
        mean, std = moments(n, v[slot[f"f:{feature.name}:s"]], v[slot[f"f:{feature.name}:q"]], feature.mean)
        below = tuple(count(f"f:{feature.name}:b{j}") for j in range(len(cuts)))
        features.append(FeatureWindow(feature.name, n, mean, std, below if n else None))
    conf_n = count("conf_n")
    conf_mean, conf_std = moments(conf_n, v[slot["conf_s"]], v[slot["conf_q"]], 0.0)
    total_lines = count("total_lines")
    prediction = None
    if baseline.prediction_buckets is not None:
        n = count("p:n")
        mean, std = moments(n, v[slot["p:s"]], v[slot["p:q"]], _prediction_center(baseline))
        below = tuple(count(f"p:b{j}") for j in range(len(baseline.prediction_buckets[0])))
        prediction = FeatureWindow(log.KEY_PREDICTION, n, mean, std, below if n else None)
    unreadable_statistics = count("unreadable_statistics")
    rec_n = count("rec_n") if has_joint_drift(baseline) else 0
    rec_mean, rec_std = moments(rec_n, v[slot["rec_s"]], v[slot["rec_q"]], 0.0) if rec_n else (None, None)
    categories = []
    for category in baseline.categorical:
        n = count(f"k:{category.name}:n")
        listed = tuple(count(f"k:{category.name}:c{j}") for j in range(len(category.categories)))
        categories.append(CategoryWindow(category.name, n, listed, max(n - sum(listed), 0)))
    return WindowAggregates(
        start_ms=minutes.start_ms,
        end_ms=minutes.end_ms,
        rows=count("rows"),
        outliers=count("outliers"),
        requests=count("requests"),
        rejected=count("rejected"),
        class_counts=counts,
        features=tuple(features),
        failed=count("failed"),
        outlier_unreadable=count("outlier_unreadable"),
        confidence_count=conf_n,
        confidence_mean=conf_mean,
        confidence_std=conf_std,
        unreadable_lines=count("unreadable_lines"),
        total_lines=total_lines or None,
        prediction=prediction,
        reconstruction_count=rec_n,
        reconstruction_mean=rec_mean,
        reconstruction_std=rec_std,
        unreadable_statistics=(f"{unreadable_statistics} minute statistic(s)",) if unreadable_statistics else (),
        categories=tuple(categories),
    )


def floor_minute(ms: int) -> int:
    return ms - ms % MINUTE_MS


def minute_starts(start_ms: int, end_ms: int) -> range:
    """Starts of the whole minutes in [start_ms, end_ms)."""
    return range(floor_minute(start_ms + MINUTE_MS - 1), end_ms - MINUTE_MS + 1, MINUTE_MS)


def to_json(minutes: Minutes) -> list[float | int]:
    """Compact: whole numbers as ints (most slots are counts)."""
    return [int(x) if x == int(x) and abs(x) < 2**53 else x for x in minutes.values]


def from_json(start_ms: int, end_ms: int, raw: Sequence[float], size: int) -> Minutes:
    if len(raw) != size or not all(isinstance(x, int | float) and math.isfinite(x) for x in raw):
        raise AggregateError("stored minute is not a vector of this layout")
    return Minutes(start_ms, end_ms, tuple(float(x) for x in raw))
