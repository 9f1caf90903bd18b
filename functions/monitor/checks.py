"""The drift checks: pure functions of the baseline and one window's aggregates.

Every check is sample-size aware, so a small window of normal traffic does not
fire (the complaint users raise about KS on tiny or huge samples):

- outlier / rejected ratio: the observed share must exceed the threshold by a
  binomial standard-error margin, z * sqrt(t * (1 - t) / n);
- mean shift (the seed's rule): the relative deviation must exceed
  thresholds.mean_deviation AND the absolute deviation must exceed
  z * std_train * sqrt(1/n + 1/m) (standard error of a difference of means);
- distribution: L-infinity distance between the window's CDF (from its min,
  deciles, max) and the training CDF, minus Deequ's robust margin
  c_alpha * sqrt((n + m) / (n * m)), compared with thresholds.distribution_distance;
- prediction drift: total variation between predicted-class shares and the
  training shares, minus the same margin, compared with thresholds.prediction_drift.

Fewer than thresholds.min_rows rows: these checks are NOT_JUDGED; an empty
window is NO_TRAFFIC, neither healthy nor in alarm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from functions.contract.model_artifact import Baseline, FeatureBaseline

from .aggregates import OTHER_CLASS, WINDOW_QUANTILE_LEVELS, FeatureWindow, WindowAggregates

# z for the standard-error margins (one-sided ~0.13 % per comparison): keeps the false-alarm rate per window
# around 1 % even for the 13-feature wine model, which runs 26 feature comparisons per window.
DEFAULT_Z = 3.0

CHECK_OUTLIER_RATIO = "outlier_ratio"
CHECK_REJECTED_RATIO = "rejected_ratio"
CHECK_PREDICTION_DRIFT = "prediction_drift"
CHECK_MEAN_SHIFT = "mean_shift"
CHECK_DISTRIBUTION = "distribution"


class Status(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    NOT_JUDGED = "NOT_JUDGED"


class Overall(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    NO_TRAFFIC = "NO_TRAFFIC"


@dataclass(frozen=True)
class CheckResult:
    check: str  # "outlier_ratio", "mean_shift:petal_length", ...
    status: Status
    observed: float | None  # what the window shows (share, mean, distance)
    baseline: float | None  # what training showed
    threshold: float
    margin: float | None  # sample-size allowance added to the threshold
    score: float | None  # the value the threshold judges (e.g. distance - margin); None when not judged
    detail: str
    hint: str  # what to check first

    @property
    def in_alarm(self) -> bool:
        return self.status is Status.ALARM


@dataclass(frozen=True)
class Evaluation:
    model: str
    model_version: str
    window: WindowAggregates
    overall: Overall
    checks: tuple[CheckResult, ...]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def alarms(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.in_alarm)


def robust_margin(c_alpha: float, n: int, m: int) -> float:
    """Deequ's robust KS margin: c_alpha * sqrt((n + m) / (n * m))."""
    return c_alpha * math.sqrt((n + m) / (n * m))


def binomial_margin(threshold: float, n: int, z: float) -> float:
    return z * math.sqrt(threshold * (1.0 - threshold) / n)


class PiecewiseCdf:
    """A CDF linear between (value, level) knots, with jumps where values tie; left and right limits."""

    def __init__(self, values: Sequence[float], levels: Sequence[float]) -> None:
        if len(values) != len(levels) or len(values) < 2:
            raise ValueError("need at least two knots")
        self.values = tuple(values)
        self.levels = tuple(levels)

    def right(self, x: float) -> float:
        """P(X <= x): same semantics as FeatureBaseline.cdf (ties take the highest level)."""
        q, p = self.values, self.levels
        if x < q[0]:
            return 0.0
        if x >= q[-1]:
            return 1.0
        lo, hi = 0, len(q) - 1
        while lo < hi:  # first index with q[i] > x
            mid = (lo + hi) // 2
            if q[mid] > x:
                hi = mid
            else:
                lo = mid + 1
        if q[lo] == q[lo - 1]:
            return p[lo]
        return p[lo - 1] + (p[lo] - p[lo - 1]) * (x - q[lo - 1]) / (q[lo] - q[lo - 1])

    def left(self, x: float) -> float:
        """P(X < x): at a tied knot, the lowest level of the tie."""
        q, p = self.values, self.levels
        if x <= q[0]:
            return 0.0
        if x > q[-1]:
            return 1.0
        lo, hi = 0, len(q) - 1
        while lo < hi:  # first index with q[i] >= x
            mid = (lo + hi) // 2
            if q[mid] >= x:
                hi = mid
            else:
                lo = mid + 1
        if q[lo] == x:
            return p[lo]
        return p[lo - 1] + (p[lo] - p[lo - 1]) * (x - q[lo - 1]) / (q[lo] - q[lo - 1])


def ks_distance(window: PiecewiseCdf, training: PiecewiseCdf) -> float:
    """Sup |F_window - F_training|: both are piecewise linear, so the sup is at a knot's left or right limit."""
    knots = sorted(set(window.values) | set(training.values))
    return max(max(abs(window.right(x) - training.right(x)), abs(window.left(x) - training.left(x))) for x in knots)


def _feature_hint(name: str) -> str:
    return (
        f"Compare recent requests' '{name}' values with the training range; look for a client change in units, "
        f"scaling or defaults, or a new population of users."
    )


def check_mean_shift(feature: FeatureBaseline, window: FeatureWindow, baseline: Baseline, z: float) -> CheckResult:
    t = baseline.thresholds
    name = f"{CHECK_MEAN_SHIFT}:{feature.name}"
    if window.count < t.min_rows or window.mean is None:
        return CheckResult(
            name,
            Status.NOT_JUDGED,
            window.mean,
            feature.mean,
            t.mean_deviation,
            None,
            None,
            f"{window.count} values < min_rows {t.min_rows}",
            _feature_hint(feature.name),
        )
    delta = window.mean - feature.mean
    scale = abs(feature.mean) if feature.mean != 0 else max(feature.std, 1e-12)
    relative = delta / scale
    standard_error = feature.std * math.sqrt(1.0 / window.count + 1.0 / max(baseline.training_rows, 1))
    margin = z * standard_error
    alarm = abs(relative) > t.mean_deviation and abs(delta) > margin
    return CheckResult(
        name,
        Status.ALARM if alarm else Status.OK,
        window.mean,
        feature.mean,
        t.mean_deviation,
        margin / scale,
        abs(relative),
        f"window mean {window.mean:.4g} vs training {feature.mean:.4g} ({relative:+.1%}); "
        f"alarm needs > {t.mean_deviation:.1%} and |diff| > {margin:.3g} ({z:g} standard errors, n={window.count})",
        _feature_hint(feature.name),
    )


def check_distribution(feature: FeatureBaseline, window: FeatureWindow, baseline: Baseline) -> CheckResult:
    t = baseline.thresholds
    name = f"{CHECK_DISTRIBUTION}:{feature.name}"
    if window.count < t.min_rows or window.quantiles is None:
        return CheckResult(
            name,
            Status.NOT_JUDGED,
            None,
            None,
            t.distribution_distance,
            None,
            None,
            f"{window.count} values < min_rows {t.min_rows}",
            _feature_hint(feature.name),
        )
    distance = ks_distance(
        PiecewiseCdf(window.quantiles, WINDOW_QUANTILE_LEVELS),
        PiecewiseCdf(feature.quantiles, baseline.quantile_levels),
    )
    margin = robust_margin(t.distribution_c_alpha, window.count, baseline.training_rows)
    score = distance - margin
    return CheckResult(
        name,
        Status.ALARM if score > t.distribution_distance else Status.OK,
        distance,
        0.0,
        t.distribution_distance,
        margin,
        score,
        f"KS distance {distance:.3f} to the training CDF, minus margin {margin:.3f} = {score:.3f} "
        f"(threshold {t.distribution_distance:g}, n={window.count}, m={baseline.training_rows}); "
        f"window median {window.quantiles[len(window.quantiles) // 2]:.4g}",
        _feature_hint(feature.name),
    )


def check_ratio(
    name: str, count: int, total: int, *, threshold: float, baseline_share: float | None, min_rows: int, z: float, hint: str
) -> CheckResult:
    if total < min_rows:
        observed = count / total if total else None
        return CheckResult(
            name, Status.NOT_JUDGED, observed, baseline_share, threshold, None, None, f"{total} < min_rows {min_rows}", hint
        )
    ratio = count / total
    margin = binomial_margin(threshold, total, z)
    score = ratio - margin
    return CheckResult(
        name,
        Status.ALARM if score > threshold else Status.OK,
        ratio,
        baseline_share,
        threshold,
        margin,
        score,
        f"{count} of {total} = {ratio:.1%}; alarm above {threshold:.1%} + margin {margin:.1%}",
        hint,
    )


def check_prediction_drift(window: WindowAggregates, baseline: Baseline) -> tuple[CheckResult, float | None]:
    t = baseline.thresholds
    total = sum(window.class_counts.values())
    hint = (
        "Look at which classes gained share: a shift in the incoming population, or a model/feature change "
        "upstream. Compare with the feature drift checks of the same window."
    )
    if total < t.min_rows:
        return (
            CheckResult(
                CHECK_PREDICTION_DRIFT,
                Status.NOT_JUDGED,
                None,
                0.0,
                t.prediction_drift,
                None,
                None,
                f"{total} rows < min_rows {t.min_rows}",
                hint,
            ),
            None,
        )
    expected = dict(zip(baseline.label_names, baseline.class_distribution, strict=True))
    labels = list(baseline.label_names) + ([OTHER_CLASS] if OTHER_CLASS in window.class_counts else [])
    shares = {label: window.class_counts.get(label, 0) / total for label in labels}
    tv = 0.5 * sum(abs(shares[label] - expected.get(label, 0.0)) for label in labels)
    margin = robust_margin(t.distribution_c_alpha, total, baseline.training_rows)
    score = tv - margin
    described = ", ".join(f"{label} {shares[label]:.0%} (train {expected.get(label, 0.0):.0%})" for label in labels)
    return (
        CheckResult(
            CHECK_PREDICTION_DRIFT,
            Status.ALARM if score > t.prediction_drift else Status.OK,
            tv,
            0.0,
            t.prediction_drift,
            margin,
            score,
            f"total variation {tv:.3f} minus margin {margin:.3f} = {score:.3f} (threshold {t.prediction_drift:g}); {described}",
            hint,
        ),
        tv,
    )


def evaluate(baseline: Baseline, window: WindowAggregates, *, z: float = DEFAULT_Z) -> Evaluation:
    """Judge one window. Metrics hold only numbers the window actually supports."""
    t = baseline.thresholds
    metrics: dict[str, float] = {"window_rows": float(window.rows)}
    if window.rows == 0 and window.rejected == 0:
        return Evaluation(baseline.model_name, baseline.model_version, window, Overall.NO_TRAFFIC, (), metrics)

    checks: list[CheckResult] = []
    outlier = check_ratio(
        CHECK_OUTLIER_RATIO,
        window.outliers,
        window.rows,
        threshold=t.outlier_ratio,
        baseline_share=baseline.training_outlier_rate,
        min_rows=t.min_rows,
        z=z,
        hint="Inspect the outlier rows' features (outlier_score > 0) in the prediction log: malformed clients, new "
        "ranges, or a unit change.",
    )
    checks.append(outlier)
    if window.rows:
        metrics["outlier_ratio"] = window.outliers / window.rows

    requests = window.requests + window.rejected
    rejected = check_ratio(
        CHECK_REJECTED_RATIO,
        window.rejected,
        requests,
        threshold=t.rejected_ratio,
        baseline_share=None,
        min_rows=t.min_rows,
        z=z,
        hint="Read the 'reason' of the rejected lines: a client sending a wrong row length, NaN or out-of-range values, "
        "or a recent API change.",
    )
    checks.append(rejected)
    if requests:
        metrics["rejected_ratio"] = window.rejected / requests

    drift, tv = check_prediction_drift(window, baseline)
    checks.append(drift)
    if tv is not None:
        metrics["prediction_drift"] = tv

    for feature in baseline.features:
        observed = window.feature(feature.name)
        mean = check_mean_shift(feature, observed, baseline, z)
        distribution = check_distribution(feature, observed, baseline)
        checks += [mean, distribution]
        if observed.mean is not None:
            scale = abs(feature.mean) if feature.mean != 0 else max(feature.std, 1e-12)
            metrics[f"mean_shift:{feature.name}"] = (observed.mean - feature.mean) / scale
        if distribution.observed is not None:
            metrics[f"distribution:{feature.name}"] = distribution.observed

    overall = Overall.ALARM if any(c.in_alarm for c in checks) else Overall.OK
    metrics["checks_in_alarm"] = float(sum(c.in_alarm for c in checks))
    return Evaluation(baseline.model_name, baseline.model_version, window, overall, tuple(checks), metrics)
