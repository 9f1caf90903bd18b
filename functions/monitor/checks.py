"""The checks: pure functions of the baseline and one window's aggregates (docs/monitor.md explains each choice).

Every statistical check computes a `score` and a `critical` value in the same
unit and alarms only when score > critical AND the effect is large enough to
matter (an effect-size floor), so large windows do not flag noise and small
windows do not flag chance:

- mean_shift:<f>       Welch's t of the window mean against the training mean (both samples' sizes), critical
                       value Bonferroni-split over the features; floor: |shift| >= effect_size_floor training sd.
- spread:<f>           ln of the window's variance over training's, against its standard error from both sizes and
                       the training kurtosis (no normality assumed); floor: |sd ratio - 1| >= spread_floor;
                       judged from spread_min_rows (100) rows, where the normal approximation of ln s^2 holds.
- relation_shift:<f>   the window's mean of a feature against what its training relation with other numeric features
                       (baseline `relations`, models/relations.py) predicts from their window means: z with the
                       training residual sd (widened by the features' largest sd ratio) and both sizes; floor: the
                       effect in training sd >= effect_size_floor; from spread_min_rows rows (a residual over a
                       mixture of classes has heavy tails in fewer). Only for features the relations block lists.
- distribution:<f>     largest gap between the window's and training's share of rows below the training cuts
                       (exact, tie-safe); critical value: two-sample KS at alpha / features, with the training size;
                       floor: population stability index over the same buckets >= distribution_psi.
- relative_mean_shift:<f>  relative mean change > mean_deviation (5 %), for runbooks written against that rule, and
                       the same t test must be significant.
- outlier_shift        the features together: the outlier detector's flagged share against its hold-out share
                       (two-proportion z with the hold-out size), two-sided: a rise of 5 points beyond the
                       window's margin of error, or a fall to half the hold-out rate.
- joint_drift          the window's mean PCA reconstruction error (`reconstruction_error`, models/joint_drift.py)
                       against its out-of-fold training mean, Welch t two-sided; floor: joint_drift_floor
                       reference sd, from spread_min_rows rows (the error is skewed). Only for models that ship
                       the joint-drift model.
- category_drift:<f>   a categorical feature's shares over its listed categories and the unseen bucket against
                       training's (shares, other_share): the largest two-proportion z over the buckets (exact binomial
                       in thin windows, both sizes in large ones), Bonferroni over the buckets, rare buckets pooled to
                       >= 5 expected rows; floor: PSI over the same buckets >= category_psi.
- unseen_category:<f>  the share of values not listed against other_share, one-sided: the exact conditional
                       binomial test of the window's unseen rows among all unseen rows (window + training tail);
                       floor: the share rose >= unseen_category_floor above other_share.
- outlier_ratio, rejected_ratio, failed_ratio: a share above a fixed line by more than a binomial z.
- prediction_drift     largest two-proportion z over the class shares; floor: PSI of the class shares >= prediction_psi.
                       A regression model: the KS distance of its predictions against the training predictions'
                       cuts (as distribution:<f>), floor prediction_drift; plus prediction_mean_shift (as mean_shift).
- estimated_accuracy   the window's mean confidence against the hold-out mean confidence, one-sided (the estimate
                       reported takes off the hold-out's over-confidence); floor:
                       a drop of at least accuracy_drop. NOT_JUDGED when the baseline has no hold-out figures.
- data_quality         features missing from rows, unreadable is_outlier values, unparseable log lines.

Window states: NO_TRAFFIC (no lines at all), INSUFFICIENT_DATA (fewer than min_rows rows and nothing in
alarm), ALARM, OK. A window too small to judge is never OK.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from functions.contract.model_artifact import Baseline, CategoricalBaseline, FeatureBaseline, FeatureRelation

from .aggregates import OTHER_CLASS, CategoryWindow, FeatureWindow, WindowAggregates, feature_cuts
from .stats import (
    binomial_lower_tail,
    binomial_upper_tail,
    bonferroni,
    buckets_from_below,
    ks_critical,
    ks_from_shares,
    log_variance_ratio_se,
    normal_critical,
    pooled_buckets,
    psi,
    t_critical,
    z_of_tail,
)

CHECK_OUTLIER_RATIO = "outlier_ratio"
CHECK_OUTLIER_SHIFT = "outlier_shift"
CHECK_REJECTED_RATIO = "rejected_ratio"
CHECK_FAILED_RATIO = "failed_ratio"
CHECK_PREDICTION_DRIFT = "prediction_drift"
CHECK_PREDICTION_MEAN_SHIFT = "prediction_mean_shift"  # regression: the predictions' mean against training
CHECK_MEAN_SHIFT = "mean_shift"
CHECK_RELATIVE_MEAN_SHIFT = "relative_mean_shift"
# Checks renamed since alert states were first stored: a stored state under an old name is read as the new one.
RENAMED_CHECKS = {"seed_mean_shift": CHECK_RELATIVE_MEAN_SHIFT}


def current_check_name(stored: str) -> str:
    """`seed_mean_shift:petal_length` in a stored alert state is today's `relative_mean_shift:petal_length`."""
    head, sep, tail = stored.partition(":")
    return RENAMED_CHECKS.get(head, head) + sep + tail


CHECK_DISTRIBUTION = "distribution"
CHECK_SPREAD = "spread"
CHECK_RELATION_SHIFT = "relation_shift"
CHECK_JOINT_DRIFT = "joint_drift"
CHECK_CATEGORY_DRIFT = "category_drift"
CHECK_UNSEEN_CATEGORY = "unseen_category"
CHECK_ESTIMATED_ACCURACY = "estimated_accuracy"
CHECK_DATA_QUALITY = "data_quality"


class Status(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"  # too few rows to judge
    NOT_JUDGED = "NOT_JUDGED"  # nothing to judge against (no reference, or the engine cannot read it)


class Overall(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    NO_TRAFFIC = "NO_TRAFFIC"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class CheckResult:
    check: str  # "outlier_ratio", "mean_shift:petal_length", ...
    status: Status
    observed: float | None  # what the window shows (share, mean, distance)
    baseline: float | None  # what the reference showed
    threshold: float  # the fixed line or floor the check compares with
    margin: float | None  # sample-size allowance (critical value minus the line), None when not judged
    score: float | None  # the test statistic; None when not judged
    detail: str
    hint: str  # what to check first
    critical: float | None = None  # the score's critical value
    condition: str = ""  # the condition that decided the status, e.g. "t 6.1 > 4.4 and |shift| 0.9 sd >= 0.25 sd"
    # The window's own standard error of `observed`, without the reference's: set by a check whose alarm needs the
    # effect beyond its margin of error, so a recovery needs the effect under the floor by the window's own error.
    window_error: float | None = None

    @property
    def in_alarm(self) -> bool:
        return self.status is Status.ALARM

    @property
    def judged(self) -> bool:
        return self.status in (Status.OK, Status.ALARM)

    @property
    def strength(self) -> float | None:
        """score / critical: >= 1 is significant; the alert rules read 'strong' and 'clearly clean' from it."""
        if self.score is None or not self.critical:
            return None
        return self.score / self.critical


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


def holdout_figures(baseline: Baseline) -> dict[str, float]:
    """The baseline's `holdout` block (models helper); empty for baselines trained before it existed."""
    raw: Any = baseline.document.get("holdout")
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key in ("rows", "accuracy", "mean_confidence", "outlier_rate"):
        value = raw.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


def estimated_accuracy(mean_confidence: float, baseline: Baseline) -> float:
    """The window's mean confidence less the hold-out's over-confidence (its mean confidence minus its accuracy).

    A model whose probabilities are calibrated on average still has the small offset its hold-out shows; taking it off
    is the label-free part of a confidence-based estimate (NannyML's CBPA calibrates the same way, per class). Without
    hold-out figures the estimate is the mean confidence itself."""
    reference = holdout_figures(baseline)
    if "accuracy" not in reference or "mean_confidence" not in reference:
        return mean_confidence
    return min(1.0, max(0.0, mean_confidence - (reference["mean_confidence"] - reference["accuracy"])))


def _not_judged(
    name: str, status: Status, threshold: float, detail: str, hint: str, observed: float | None = None
) -> CheckResult:
    return CheckResult(name, status, observed, None, threshold, None, None, detail, hint)


def _feature_hint(feature: FeatureBaseline) -> str:
    return (
        f"Compare recent requests' '{feature.name}' values with the training range; look for a client change in units, "
        f"scaling or defaults, or a new population of users."
    )


def _decide(score: float, critical: float, floor_ok: bool) -> Status:
    return Status.ALARM if score > critical and floor_ok else Status.OK


def check_share_above_line(
    name: str,
    count: int,
    total: int,
    *,
    line: float,
    baseline_share: float | None,
    min_rows: int,
    alpha: float,
    hint: str,
) -> CheckResult:
    """A share above a fixed line: z = (share - line) / sqrt(line (1 - line) / n) against a one-sided critical z."""
    if total < min_rows:
        observed = count / total if total else None
        return CheckResult(
            name, Status.INSUFFICIENT_DATA, observed, baseline_share, line, None, None, f"{total} < min_rows {min_rows}", hint
        )
    share = count / total
    standard_error = math.sqrt(line * (1.0 - line) / total)
    z = (share - line) / standard_error
    critical = normal_critical(alpha)
    status = _decide(z, critical, True)
    return CheckResult(
        name,
        status,
        share,
        baseline_share,
        line,
        critical * standard_error,
        z,
        f"{count} of {total} = {share:.1%}; alarm above {line:.1%} + {critical * standard_error:.1%} (z > {critical:.2f})",
        hint,
        critical,
        f"z {z:.2f} {'>' if z > critical else '<='} {critical:.2f}",
    )


def check_outlier_shift(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult:
    """The detector's flagged share against what it flags on held-out (or training) rows, both ways.

    A rise means rows outside the training support; a fall means traffic more concentrated than the reference
    (a narrower population, a default value filled in): either is a change the per-feature checks may miss.
    """
    t = baseline.thresholds
    hint = (
        "The features moved together: compare recent rows with training jointly (pairs of features, their "
        "correlation), not one at a time; the per-feature checks may all be OK. A fall in the outlier share "
        "means traffic narrower than training (one segment of users, a default filled in)."
    )
    holdout = holdout_figures(baseline)
    if "outlier_rate" in holdout and holdout.get("rows", 0) >= 1:
        p0, h, source = holdout["outlier_rate"], int(holdout["rows"]), "hold-out"
    else:
        p0, h, source = baseline.training_outlier_rate, baseline.training_rows, "training"
    rise_floor = 0.05
    if window.rows < t.min_rows:
        return _not_judged(
            CHECK_OUTLIER_SHIFT, Status.INSUFFICIENT_DATA, rise_floor, f"{window.rows} rows < min_rows {t.min_rows}", hint
        )
    share = window.outliers / window.rows
    p = min(max(p0, 1.0 / (2 * h)), 1 - 1.0 / (2 * h))  # a 0 % hold-out rate would make any outlier infinitely significant
    standard_error = math.sqrt(p * (1 - p) * (1.0 / window.rows + 1.0 / h))
    z = (share - p0) / standard_error
    critical = normal_critical(alpha / 2)
    # A rise counts when it clears the floor beyond its own margin of error: a short window's spike of an effect that
    # sits under the floor (one 15-minute window at 11 % where the traffic flags 4 %) neither alarms nor, once a
    # longer window measures the effect, "recovers" while the drift goes on.
    margin = critical * standard_error
    floor_ok = share - p0 - margin >= rise_floor or (p0 > 0 and share <= p0 / 2)
    return CheckResult(
        CHECK_OUTLIER_SHIFT,
        _decide(abs(z), critical, floor_ok),
        share,
        p0,
        rise_floor,
        margin,
        abs(z),
        f"outlier share {share:.1%} vs {source} {p0:.1%} (n={window.rows}, {source} rows {h}); "
        f"alarm when |z| > {critical:.2f} and the share rose >= {rise_floor:.0%} beyond its margin of error "
        f"({margin:.1%}) or fell to half",
        hint,
        critical,
        f"|z| {abs(z):.2f} {'>' if abs(z) > critical else '<='} {critical:.2f} and change {share - p0:+.1%} "
        f"(margin {margin:.1%}) {'clears' if floor_ok else 'within'} the floor (+{rise_floor:.0%} or half of {p0:.1%})",
        window_error=math.sqrt(p * (1 - p) / window.rows),
    )


def shift_in_sd(feature: FeatureBaseline, mean: float) -> float:
    """Window mean minus training mean, in training standard deviations (the MeanShift_<f> metric)."""
    return (mean - feature.mean) / (feature.std or 1e-12)


def welch(feature: FeatureBaseline, observed: FeatureWindow, m: int) -> tuple[float, float, float]:
    """(t, degrees of freedom, shift in training sd) of the window mean against the training mean."""
    assert observed.mean is not None
    n = observed.count
    s_window = observed.std if observed.std is not None else feature.std
    a, b = s_window**2 / n, feature.std**2 / m
    standard_error = math.sqrt(a + b) or 1e-12
    df = (a + b) ** 2 / ((a * a / (n - 1) if n > 1 else 0.0) + (b * b / (m - 1) if m > 1 else 0.0) or 1e-12)
    delta = observed.mean - feature.mean
    return delta / standard_error, df, shift_in_sd(feature, observed.mean)


def check_mean_shift(feature: FeatureBaseline, observed: FeatureWindow, baseline: Baseline, alpha: float) -> CheckResult:
    t = baseline.thresholds
    name = f"{CHECK_MEAN_SHIFT}:{feature.name}"
    if observed.count < t.min_rows or observed.mean is None:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.effect_size_floor, f"{observed.count} values < min_rows {t.min_rows}",
            _feature_hint(feature), observed.mean,
        )  # fmt: skip
    statistic, df, shift_sd = welch(feature, observed, baseline.training_rows)
    critical = t_critical(alpha / 2, df)
    floor_ok = abs(shift_sd) >= t.effect_size_floor
    return CheckResult(
        name,
        _decide(abs(statistic), critical, floor_ok),
        observed.mean,
        feature.mean,
        t.effect_size_floor,
        critical,
        abs(statistic),
        f"window mean {observed.mean:.4g} vs training {feature.mean:.4g} ({shift_sd:+.2f} sd, n={observed.count}, "
        f"m={baseline.training_rows}); alarm when |t| > {critical:.2f} and |shift| >= {t.effect_size_floor:g} sd",
        _feature_hint(feature),
        critical,
        f"|t| {abs(statistic):.2f} {'>' if abs(statistic) > critical else '<='} {critical:.2f} and |shift| "
        f"{abs(shift_sd):.2f} sd {'>=' if floor_ok else '<'} {t.effect_size_floor:g} sd",
    )


def feature_kurtosis(baseline: Baseline, index: int) -> float:
    """The training kurtosis stored by models/train.py; 3 (normal) for baselines written before it.

    `index` counts numeric features; the document lists every feature, so the entry is found by name."""
    raw: Any = baseline.document.get("features", [])
    name = baseline.features[index].name
    entry = next((f for f in raw if isinstance(f, dict) and f.get("name") == name), None)
    value = entry.get("kurtosis") if entry is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return 3.0


def check_spread(index: int, observed: FeatureWindow, baseline: Baseline, alpha: float) -> CheckResult:
    """Variance ratio: ln(s_w^2 / s_t^2) over its standard error, with both samples' sizes and the kurtosis."""
    t = baseline.thresholds
    feature = baseline.features[index]
    name = f"{CHECK_SPREAD}:{feature.name}"
    needed = max(t.min_rows, t.spread_min_rows)
    if observed.count < needed or observed.std is None or feature.std <= 0:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.spread_floor, f"{observed.count} values < spread_min_rows {needed}",
            _feature_hint(feature),
        )  # fmt: skip
    kurtosis = feature_kurtosis(baseline, index)
    ratio = observed.std / feature.std
    log_ratio = 2.0 * math.log(max(ratio, 1e-12))
    standard_error = log_variance_ratio_se(observed.count, baseline.training_rows, kurtosis)
    z = abs(log_ratio) / standard_error
    critical = normal_critical(alpha / 2)
    floor_ok = abs(ratio - 1.0) >= t.spread_floor
    return CheckResult(
        name,
        _decide(z, critical, floor_ok),
        ratio,
        1.0,
        t.spread_floor,
        critical,
        z,
        f"window sd {observed.std:.4g} vs training {feature.std:.4g} (ratio {ratio:.3f}, n={observed.count}, "
        f"m={baseline.training_rows}, kurtosis {kurtosis:.2f}); alarm when |z| > {critical:.2f} and "
        f"|ratio - 1| >= {t.spread_floor:g}",
        _feature_hint(feature),
        critical,
        f"|z| {z:.2f} {'>' if z > critical else '<='} {critical:.2f} and |sd ratio - 1| {abs(ratio - 1):.3f} "
        f"{'>=' if floor_ok else '<'} {t.spread_floor:g}",
    )


def check_relation_shift(
    relation: FeatureRelation,
    window: WindowAggregates,
    baseline: Baseline,
    alpha: float,
    movers: frozenset[str] = frozenset(),
) -> CheckResult:
    """The window's mean residual of a feature from its training relation with other features, against zero.

    A linear model's mean is the model at the means, so the window's per-feature means give the mean residual
    without any per-row field. Its standard error is the training residual sd with both sizes, widened by the
    largest window / training sd ratio of the features involved: a window whose features all spread out has a
    wider residual too, and that is `spread`'s to name, not this check's. The effect is in the feature's training
    sd, so the floor is mean_shift's.

    `movers` are predictors already known to have moved (named by another check): they enter at their training
    means, so a feature that only follows a moved predictor is not named as well."""
    t = baseline.thresholds
    feature = baseline.feature(relation.feature)
    name = f"{CHECK_RELATION_SHIFT}:{feature.name}"
    involved = [relation.feature, *(predictor for predictor, _ in relation.coefficients)]
    observed = {involved_name: window.feature(involved_name) for involved_name in involved}
    n = observed[relation.feature].count
    means = {key: value.mean for key, value in observed.items() if value.mean is not None}
    needed = max(t.min_rows, t.spread_min_rows)  # a residual of a mixture of classes is far from normal in few rows
    if n < needed or len(means) < len(involved) or any(value.count != n for value in observed.values()):
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.effect_size_floor,
            f"{n} rows with every value of {', '.join(involved)} < spread_min_rows {needed}", _relation_hint(relation),
        )  # fmt: skip
    widening = max(
        [1.0]
        + [
            value.std / baseline.feature(key).std
            for key, value in observed.items()
            if value.std is not None and baseline.feature(key).std > 0
        ]
    )
    held = [name for name, _ in relation.coefficients if name in movers]
    expected = relation.predicted_mean({**means, **{name: baseline.feature(name).mean for name in held}})
    residual = means[relation.feature] - expected
    # A held predictor enters at its training mean, not at the window mean it would have had unmoved: that
    # mean's own sampling error (coefficient x its sd, summed: the held features may move together) is now in
    # the residual, and with collinear predictors (diabetes: s5 = 2.25 s1 - 1.85 s2 ...) it dwarfs the residual sd.
    held_sd = 0.0
    for predictor, coefficient in relation.coefficients:
        if predictor in held:
            window_sd = observed[predictor].std
            held_sd += abs(coefficient) * (window_sd if window_sd is not None else baseline.feature(predictor).std)
    residual_sd = math.hypot(relation.residual_std * widening, held_sd)
    standard_error = residual_sd * math.sqrt(1.0 / n + 1.0 / baseline.training_rows)
    statistic = abs(residual) / standard_error
    critical = t_critical(alpha / 2, max(1, baseline.training_rows - len(relation.coefficients) - 1))
    shift_sd = residual / feature.std if feature.std > 0 else 0.0
    floor_ok = abs(shift_sd) >= t.effect_size_floor
    predictors = ", ".join(predictor for predictor, _ in relation.coefficients)
    return CheckResult(
        name,
        _decide(statistic, critical, floor_ok),
        shift_sd,
        0.0,
        t.effect_size_floor,
        critical,
        statistic,
        f"window mean {means[relation.feature]:.4g} vs {expected:.4g} that {predictors} predict ({shift_sd:+.2f} sd, "
        f"r2 {relation.r2:.2f}, n={n}, m={baseline.training_rows}"
        + (f"; {', '.join(held)} at training means: moved, named by another check" if held else "")
        + f"); alarm when |z| > {critical:.2f} and |shift| >= "
        f"{t.effect_size_floor:g} sd",
        _relation_hint(relation),
        critical,
        f"|z| {statistic:.2f} {'>' if statistic > critical else '<='} {critical:.2f} and |shift| {abs(shift_sd):.2f} sd "
        f"{'>=' if floor_ok else '<'} {t.effect_size_floor:g} sd",
    )


def relation_shifts(window: WindowAggregates, baseline: Baseline, alpha: float, moved: frozenset[str]) -> list[CheckResult]:
    """Every relation's check, each feature named only when its own move explains its alarm.

    One feature that moves shifts its own residual and the residuals of the features it helps predict. The
    strongest alarm is taken first and its feature counts as moved; every later relation is judged again with
    the moved features at their training means, so a feature whose alarm only echoes a moved predictor is OK.
    `moved` starts with the features mean_shift already named."""
    first = [check_relation_shift(relation, window, baseline, alpha, moved) for relation in baseline.relations]
    order = sorted(range(len(first)), key=lambda i: -(first[i].strength or 0.0) if first[i].in_alarm else 0.0)
    results = list(first)
    movers = set(moved)
    for i in order:
        if not first[i].in_alarm:
            continue
        relation = baseline.relations[i]
        results[i] = check_relation_shift(relation, window, baseline, alpha, frozenset(movers - {relation.feature}))
        if results[i].in_alarm:
            movers.add(relation.feature)
    return results


def _relation_hint(relation: FeatureRelation) -> str:
    predictors = ", ".join(predictor for predictor, _ in relation.coefficients)
    return (
        f"'{relation.feature}' no longer sits where {predictors} put it in training: one of them changed on its own "
        "(a unit or scale change in one field, a client computing it differently); the mean_shift and spread checks "
        "of these features say which moved."
    )


def check_relative_mean_shift(feature: FeatureBaseline, observed: FeatureWindow, baseline: Baseline, alpha: float) -> CheckResult:
    """The relative 5 % rule, also requiring the t test: its relative scale depends on where zero lies."""
    t = baseline.thresholds
    name = f"{CHECK_RELATIVE_MEAN_SHIFT}:{feature.name}"
    if observed.count < t.min_rows or observed.mean is None:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.mean_deviation, f"{observed.count} values < min_rows {t.min_rows}",
            _feature_hint(feature), observed.mean,
        )  # fmt: skip
    statistic, df, _ = welch(feature, observed, baseline.training_rows)
    critical = t_critical(alpha / 2, df)
    scale = abs(feature.mean) if feature.mean != 0 else max(feature.std, 1e-12)
    relative = (observed.mean - feature.mean) / scale
    relative_ok = abs(relative) > t.mean_deviation
    return CheckResult(
        name,
        _decide(abs(statistic), critical, relative_ok),
        observed.mean,
        feature.mean,
        t.mean_deviation,
        critical,
        abs(statistic),
        f"relative change {relative:+.1%} (rule: > {t.mean_deviation:.0%}); |t| {abs(statistic):.2f} vs {critical:.2f}",
        _feature_hint(feature),
        critical,
        f"|relative| {abs(relative):.1%} {'>' if relative_ok else '<='} {t.mean_deviation:.0%} and |t| {abs(statistic):.2f} "
        f"{'>' if abs(statistic) > critical else '<='} {critical:.2f}",
    )


def check_distribution(index: int, observed: FeatureWindow, baseline: Baseline, alpha: float) -> CheckResult:
    t = baseline.thresholds
    feature = baseline.features[index]
    name = f"{CHECK_DISTRIBUTION}:{feature.name}"
    if observed.count < t.min_rows or observed.below is None:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.distribution_distance, f"{observed.count} values < min_rows {t.min_rows}",
            _feature_hint(feature),
        )  # fmt: skip
    cuts, shares = feature_cuts(baseline, index)
    below = observed.below
    distance = ks_from_shares(below, observed.count, shares)
    critical = ks_critical(alpha, observed.count, baseline.training_rows)
    stability = psi(buckets_from_below(below, observed.count), buckets_from_below(shares, 1.0), baseline.training_rows)
    floor_ok = stability >= t.distribution_psi
    worst = max(range(len(cuts)), key=lambda j: abs(below[j] / observed.count - shares[j]))
    return CheckResult(
        name,
        _decide(distance, critical, floor_ok),
        distance,
        0.0,
        t.distribution_psi,
        critical,
        distance,
        f"share below {cuts[worst]:.4g}: window {below[worst] / observed.count:.1%} vs training {shares[worst]:.1%}; "
        f"distance {distance:.3f}, critical {critical:.3f} (n={observed.count}, m={baseline.training_rows}), "
        f"PSI {stability:.3f}, floor {t.distribution_psi:g}",
        _feature_hint(feature),
        critical,
        f"distance {distance:.3f} {'>' if distance > critical else '<='} {critical:.3f} and PSI {stability:.3f} "
        f"{'>=' if floor_ok else '<'} {t.distribution_psi:g}",
    )


def check_prediction_drift(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult:
    t = baseline.thresholds
    total = sum(window.class_counts.values())
    hint = (
        "Look at which classes gained share: a shift in the incoming population, or a model/feature change "
        "upstream. Compare with the feature drift checks of the same window."
    )
    if total < t.min_rows:
        return _not_judged(
            CHECK_PREDICTION_DRIFT, Status.INSUFFICIENT_DATA, t.prediction_psi, f"{total} rows < min_rows {t.min_rows}", hint
        )
    expected = dict(zip(baseline.label_names, baseline.class_distribution, strict=True))
    labels = list(baseline.label_names) + ([OTHER_CLASS] if window.class_counts.get(OTHER_CLASS) else [])
    shares = {label: window.class_counts.get(label, 0) / total for label in labels}
    tv = 0.5 * sum(abs(shares[label] - expected.get(label, 0.0)) for label in labels)
    m = baseline.training_rows
    z = 0.0
    for label in labels:
        p = min(max(expected.get(label, 0.0), 1.0 / (2 * m)), 1 - 1.0 / (2 * m))
        z = max(z, abs(shares[label] - expected.get(label, 0.0)) / math.sqrt(p * (1 - p) * (1.0 / total + 1.0 / m)))
    critical = normal_critical(bonferroni(alpha, len(labels)) / 2)
    stability = psi([window.class_counts.get(label, 0) for label in labels], [expected.get(label, 0.0) for label in labels], m)
    floor_ok = stability >= t.prediction_psi
    described = ", ".join(f"{label} {shares[label]:.0%} (train {expected.get(label, 0.0):.0%})" for label in labels)
    return CheckResult(
        CHECK_PREDICTION_DRIFT,
        _decide(z, critical, floor_ok),
        tv,
        0.0,
        t.prediction_psi,
        critical,
        z,
        f"total variation {tv:.3f}, PSI {stability:.3f}, largest class z {z:.2f} (critical {critical:.2f}, PSI floor "
        f"{t.prediction_psi:g}); {described}",
        hint,
        critical,
        f"z {z:.2f} {'>' if z > critical else '<='} {critical:.2f} and PSI {stability:.3f} "
        f"{'>=' if floor_ok else '<'} {t.prediction_psi:g}",
    )


def _category_hint(feature: CategoricalBaseline) -> str:
    return (
        f"Compare recent requests' '{feature.name}' values with the training categories ({', '.join(feature.categories[:5])}"
        f"{', ...' if len(feature.categories) > 5 else ''}): a new segment of users, a client that changed its spelling, "
        "case or defaults, or an upstream system that added values."
    )


def _reference_rows(feature: CategoricalBaseline, baseline: Baseline) -> int:
    return feature.count if feature.count > 0 else baseline.training_rows


def category_window(window: WindowAggregates, feature: CategoricalBaseline) -> CategoryWindow:
    """The window's counts for the feature; none read means no values (judged as missing, never as healthy)."""
    for observed in window.categories:
        if observed.name == feature.name:
            return observed
    return CategoryWindow(feature.name, 0, (0,) * len(feature.categories), 0)


def check_category_drift(feature: CategoricalBaseline, observed: CategoryWindow, baseline: Baseline, alpha: float) -> CheckResult:
    """The window's category shares (listed + unseen) against training's: the largest two-proportion z over the
    buckets, two-sided, Bonferroni over them (as prediction_drift); each bucket's z is the smaller of the exact
    binomial one (the window's own sampling error: right in thin windows) and the normal one with both sizes (the
    training shares' error too: right in large windows)."""
    t = baseline.thresholds
    name = f"{CHECK_CATEGORY_DRIFT}:{feature.name}"
    n, m = observed.count, _reference_rows(feature, baseline)
    if n < t.min_rows:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.category_psi, f"{n} values < min_rows {t.min_rows}", _category_hint(feature)
        )
    counts = [*observed.listed, observed.unseen]
    shares = [*feature.shares, feature.other_share]
    buckets = pooled_buckets(shares, n, m)
    if len(buckets) < 2:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.category_psi,
            f"{n} values: too few for two buckets of >= 5 expected rows", _category_hint(feature),
        )  # fmt: skip
    window_counts = [sum(counts[j] for j in bucket) for bucket in buckets]
    reference_shares = [sum(shares[j] for j in bucket) for bucket in buckets]
    scores = [bucket_z(count, n, share, m) for count, share in zip(window_counts, reference_shares, strict=True)]
    worst = max(range(len(buckets)), key=lambda b: scores[b])
    z = scores[worst]
    critical = normal_critical(bonferroni(alpha, len(buckets)) / 2)
    stability = psi(window_counts, reference_shares, m)
    floor_ok = stability >= t.category_psi
    labels = [*feature.categories, "(unseen)"]
    named = "+".join(labels[j] for j in buckets[worst])
    return CheckResult(
        name,
        _decide(z, critical, floor_ok),
        stability,
        0.0,
        t.category_psi,
        critical,
        z,
        f"'{named}' {window_counts[worst] / n:.1%} of {n} rows vs training {reference_shares[worst]:.1%} (m={m}); "
        f"largest z over {len(buckets)} buckets {z:.2f}, critical {critical:.2f}, PSI {stability:.3f}, floor {t.category_psi:g}",
        _category_hint(feature),
        critical,
        f"z {z:.2f} {'>' if z > critical else '<='} {critical:.2f} and PSI {stability:.3f} "
        f"{'>=' if floor_ok else '<'} {t.category_psi:g}",
    )


def bucket_z(count: int, n: int, p0: float, m: int) -> float:
    """|z| of one bucket's window share against its training share: the smaller of the exact binomial z and the
    two-proportion z with the training size m (its share guarded from 0 and 1 by half a training row)."""
    share = count / n
    tail = binomial_upper_tail(count, n, p0) if share > p0 else binomial_lower_tail(count, n, p0)
    exact = z_of_tail(tail)
    p = min(max(p0, 1.0 / (2 * m)), 1 - 1.0 / (2 * m))
    normal = abs(share - p0) / math.sqrt(p * (1 - p) * (1.0 / n + 1.0 / m))
    return max(min(exact, normal), 0.0)


def check_unseen_category(
    feature: CategoricalBaseline, observed: CategoryWindow, baseline: Baseline, alpha: float
) -> CheckResult:
    """The share of values training did not list, against its tail share `other_share`, one-sided (a rise).

    Unseen values are rare, where a normal z misjudges (one unseen row among 500 against none in 10,000 training
    rows has z 4.5 but a probability of 5 %): the test is exact."""
    t = baseline.thresholds
    name = f"{CHECK_UNSEEN_CATEGORY}:{feature.name}"
    n, m, p0 = observed.count, _reference_rows(feature, baseline), feature.other_share
    if n < t.min_rows:
        return _not_judged(
            name, Status.INSUFFICIENT_DATA, t.unseen_category_floor, f"{n} values < min_rows {t.min_rows}",
            _category_hint(feature),
        )  # fmt: skip
    share = observed.unseen / n
    # Conditional on all unseen rows (window's plus training's tail), the window's part is Binomial(total, n/(n+m))
    # under no change: exact at any count, both sizes in it, and a 0 % tail needs no guard.
    reference = round(p0 * m)
    z = z_of_tail(binomial_upper_tail(observed.unseen, observed.unseen + reference, n / (n + m))) if share > p0 else 0.0
    critical = normal_critical(alpha)
    floor_ok = share - p0 >= t.unseen_category_floor
    return CheckResult(
        name,
        _decide(z, critical, floor_ok),
        share,
        p0,
        t.unseen_category_floor,
        critical,
        z,
        f"{observed.unseen} of {n} values not among the {len(feature.categories)} training categories ({share:.1%}) vs "
        f"training's unlisted share {p0:.1%} (m={m}); alarm when z > {critical:.2f} and the share rose >= "
        f"{t.unseen_category_floor:.1%}",
        _category_hint(feature),
        critical,
        f"z {z:.2f} {'>' if z > critical else '<='} {critical:.2f} and rise {share - p0:+.1%} "
        f"{'>=' if floor_ok else '<'} {t.unseen_category_floor:.1%}",
    )


PREDICTION_HINT = (
    "The model's answers moved: compare recent predictions with the training predictions (GET /metadata, "
    "prediction_statistics) and the feature checks of the same window; a population or upstream change shows in both."
)


def check_prediction_distribution(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult:
    """A regression model's output drift: the KS distance of the window's predictions from the training
    predictions', read from rows below the stored cuts (exact, tie-safe), with the training size in the critical value."""
    t = baseline.thresholds
    observed = window.prediction
    if baseline.prediction_buckets is None or observed is None:
        return _not_judged(
            CHECK_PREDICTION_DRIFT, Status.NOT_JUDGED, t.prediction_drift, "no prediction statistics", PREDICTION_HINT
        )
    if observed.count < t.min_rows or observed.below is None:
        return _not_judged(
            CHECK_PREDICTION_DRIFT, Status.INSUFFICIENT_DATA, t.prediction_drift,
            f"{observed.count} predictions < min_rows {t.min_rows}", PREDICTION_HINT,
        )  # fmt: skip
    cuts, shares = baseline.prediction_buckets
    below = observed.below
    distance = ks_from_shares(below, observed.count, shares)
    critical = ks_critical(alpha, observed.count, baseline.training_rows)
    floor_ok = distance >= t.prediction_drift
    worst = max(range(len(cuts)), key=lambda j: abs(below[j] / observed.count - shares[j]))
    return CheckResult(
        CHECK_PREDICTION_DRIFT,
        _decide(distance, critical, floor_ok),
        distance,
        0.0,
        t.prediction_drift,
        critical,
        distance,
        f"share of predictions below {cuts[worst]:.4g}: window {below[worst] / observed.count:.1%} vs training "
        f"{shares[worst]:.1%}; distance {distance:.3f}, critical {critical:.3f} (n={observed.count}, "
        f"m={baseline.training_rows}), floor {t.prediction_drift:g}",
        PREDICTION_HINT,
        critical,
        f"distance {distance:.3f} {'>' if distance > critical else '<='} {critical:.3f} and "
        f"{'>=' if floor_ok else '<'} {t.prediction_drift:g}",
    )


def check_prediction_mean_shift(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult:
    """Welch's t of the window's mean prediction against the training predictions' mean (as mean_shift:<f>)."""
    stats, observed = baseline.prediction_stats, window.prediction
    if stats is None or observed is None:
        return _not_judged(
            CHECK_PREDICTION_MEAN_SHIFT, Status.NOT_JUDGED, baseline.thresholds.effect_size_floor,
            "no prediction statistics", PREDICTION_HINT,
        )  # fmt: skip
    result = check_mean_shift(stats, observed, baseline, alpha)
    return dataclasses.replace(result, check=CHECK_PREDICTION_MEAN_SHIFT, hint=PREDICTION_HINT)


def check_estimated_accuracy(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult:
    """Confidence-based performance estimation: a calibrated model's accuracy is its mean top-class probability."""
    t = baseline.thresholds
    hint = (
        "The model is less sure than on held-out data: look for inputs near class boundaries or a new population; "
        "compare with realized accuracy once labels arrive (POST /feedback)."
    )
    reference = holdout_figures(baseline)
    if "mean_confidence" not in reference:
        return _not_judged(
            CHECK_ESTIMATED_ACCURACY, Status.NOT_JUDGED, t.accuracy_drop, "baseline has no hold-out mean confidence", hint
        )
    if window.confidence_count == 0 and window.rows >= t.min_rows:
        return _not_judged(
            CHECK_ESTIMATED_ACCURACY, Status.NOT_JUDGED, t.accuracy_drop, "no 'confidence' in the window's prediction lines", hint
        )
    if window.confidence_count < t.min_rows or window.confidence_mean is None:
        return _not_judged(
            CHECK_ESTIMATED_ACCURACY, Status.INSUFFICIENT_DATA, t.accuracy_drop,
            f"{window.confidence_count} values < min_rows {t.min_rows}", hint,
        )  # fmt: skip
    expected = reference["mean_confidence"]
    estimate = estimated_accuracy(window.confidence_mean, baseline)
    h = max(int(reference.get("rows", baseline.training_rows)), 2)
    spread = window.confidence_std if window.confidence_std is not None else 0.0
    spread = max(spread, 0.01)  # a window of identical confidences still has the hold-out's sampling error
    n = window.confidence_count
    standard_error = spread * math.sqrt(1.0 / n + 1.0 / h)
    drop = expected - window.confidence_mean
    z = drop / standard_error
    critical = t_critical(alpha, min(n, h) - 1)
    floor_ok = drop >= t.accuracy_drop
    return CheckResult(
        CHECK_ESTIMATED_ACCURACY,
        _decide(z, critical, floor_ok),
        window.confidence_mean,
        expected,
        t.accuracy_drop,
        critical,
        z,
        f"estimated accuracy {estimate:.3f} (mean confidence {window.confidence_mean:.3f} vs hold-out {expected:.3f}; "
        f"hold-out accuracy {reference.get('accuracy', expected):.3f}; n={n}, hold-out {h}); "
        f"alarm when the drop's t > {critical:.2f} and the drop >= {t.accuracy_drop:g}",
        hint,
        critical,
        f"t {z:.2f} {'>' if z > critical else '<='} {critical:.2f} and drop {drop:+.3f} "
        f"{'>=' if floor_ok else '<'} {t.accuracy_drop:g}",
    )


def joint_drift_reference(baseline: Baseline) -> dict[str, float] | None:
    """The baseline's `joint_drift.reference` (rows, mean, std), or None when the model has no joint-drift model."""
    block: Any = baseline.document.get("joint_drift")
    raw = block.get("reference") if isinstance(block, dict) else None
    if not isinstance(raw, dict):
        return None
    out = {}
    for key in ("rows", "mean", "std"):
        value = raw.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return None
        out[key] = float(value)
    return out if out["rows"] >= 2 and out["std"] > 0 else None


def check_joint_drift(window: WindowAggregates, baseline: Baseline, alpha: float) -> CheckResult | None:
    """The features together: the window's mean reconstruction error against the reference's, Welch t, two-sided.

    None when the model ships no joint-drift model (nothing to judge, and nothing reported as healthy)."""
    reference = joint_drift_reference(baseline)
    if reference is None:
        return None
    t = baseline.thresholds
    hint = (
        "Rows moved off the plane the training rows span: the features' relation changed (a correlation, a new "
        "mix of segments) even if each feature looks as before. Compare pairs of features with training."
    )
    if window.reconstruction_count == 0 and window.rows >= t.min_rows:
        return _not_judged(
            CHECK_JOINT_DRIFT, Status.NOT_JUDGED, t.joint_drift_floor,
            "no 'reconstruction_error' in the window's prediction lines (served by a build without the joint-drift model?)",
            hint,
        )  # fmt: skip
    n, needed = window.reconstruction_count, max(t.min_rows, t.spread_min_rows)
    if n < needed or window.reconstruction_mean is None:
        return _not_judged(
            CHECK_JOINT_DRIFT, Status.INSUFFICIENT_DATA, t.joint_drift_floor, f"{n} values < spread_min_rows {needed}", hint
        )
    m, mean, sd = int(reference["rows"]), reference["mean"], reference["std"]
    s_window = window.reconstruction_std if window.reconstruction_std is not None else sd
    a, b = s_window**2 / n, sd**2 / m
    standard_error = math.sqrt(a + b) or 1e-12
    df = (a + b) ** 2 / ((a * a / (n - 1) if n > 1 else 0.0) + b * b / (m - 1) or 1e-12)
    shift = (window.reconstruction_mean - mean) / sd
    statistic = abs(window.reconstruction_mean - mean) / standard_error
    critical = t_critical(alpha / 2, df)
    floor_ok = abs(shift) >= t.joint_drift_floor
    return CheckResult(
        CHECK_JOINT_DRIFT,
        _decide(statistic, critical, floor_ok),
        window.reconstruction_mean,
        mean,
        t.joint_drift_floor,
        critical,
        statistic,
        f"mean reconstruction error {window.reconstruction_mean:.4g} vs reference {mean:.4g} ({shift:+.2f} reference sd, "
        f"n={n}, m={m}); alarm when |t| > {critical:.2f} and |shift| >= {t.joint_drift_floor:g} sd",
        hint,
        critical,
        f"|t| {statistic:.2f} {'>' if statistic > critical else '<='} {critical:.2f} and |shift| {abs(shift):.2f} sd "
        f"{'>=' if floor_ok else '<'} {t.joint_drift_floor:g} sd",
    )


def check_data_quality(window: WindowAggregates, baseline: Baseline) -> CheckResult:
    """Deterministic: a feature missing from rows, or lines nobody can read, is a data problem at any n."""
    t = baseline.thresholds
    hint = "Read the raw log lines: a client or logging change dropped or renamed fields, or lines are being truncated."
    problems: list[str] = []
    worst = 0.0
    if window.rows:
        output = (window.prediction,) if window.prediction is not None else ()  # a regressor's numeric prediction
        categories = tuple(category_window(window, category) for category in baseline.categorical)
        for feature in (*window.features, *output, *categories):
            missing = (window.rows - feature.count) / window.rows
            worst = max(worst, missing)
            if missing > t.unreadable_ratio:
                problems.append(f"'{feature.name}' missing in {window.rows - feature.count} of {window.rows} rows")
        unreadable_flags = window.outlier_unreadable / window.rows
        worst = max(worst, unreadable_flags)
        if unreadable_flags > t.unreadable_ratio:
            problems.append(f"is_outlier unreadable in {window.outlier_unreadable} of {window.rows} rows")
    if window.total_lines:
        share = window.unreadable_lines / window.total_lines
        worst = max(worst, share)
        if share > t.unreadable_ratio:
            problems.append(f"{window.unreadable_lines} of {window.total_lines} log lines are not JSON or hold unreadable values")
    if window.unreadable_statistics:
        worst = max(worst, 1.0)
        problems.append(
            f"{', '.join(window.unreadable_statistics)} not finite: a logged value is NaN, Infinity or beyond float32's range"
        )
    if not window.rows and not window.total_lines:
        return _not_judged(CHECK_DATA_QUALITY, Status.INSUFFICIENT_DATA, t.unreadable_ratio, "no prediction rows", hint)
    readable = f"; {window.unreadable_lines} unreadable line(s) skipped" if window.unreadable_lines else ""
    return CheckResult(
        CHECK_DATA_QUALITY,
        Status.ALARM if problems else Status.OK,
        worst,
        0.0,
        t.unreadable_ratio,
        0.0,
        worst,
        ("; ".join(problems) if problems else "every row has every feature and a readable is_outlier") + readable,
        hint,
        t.unreadable_ratio,
        f"worst missing/unreadable share {worst:.1%} {'>' if problems else '<='} {t.unreadable_ratio:.1%}",
    )


def evaluate(baseline: Baseline, window: WindowAggregates, alpha: float | None = None) -> Evaluation:
    """Judge one window. Metrics hold only numbers the window actually supports.

    `alpha` replaces the baseline's family alpha when one run judges several windows (the horizons share it).
    """
    t = baseline.thresholds
    alpha = t.family_alpha if alpha is None else alpha
    k = baseline.n_features
    metrics: dict[str, float] = {"window_rows": float(window.rows)}
    if window.rows == 0 and window.rejected == 0 and window.failed == 0:
        checks: tuple[CheckResult, ...] = ()
        if window.unreadable_lines or window.unreadable_statistics:
            checks = (check_data_quality(window, baseline),)
        overall = Overall.ALARM if any(c.in_alarm for c in checks) else Overall.NO_TRAFFIC
        if overall is not Overall.NO_TRAFFIC:  # judged: the alarm count is published, as for any judged window
            metrics["checks_in_alarm"] = float(sum(c.in_alarm for c in checks))
        return Evaluation(baseline.model_name, baseline.model_version, window, overall, checks, metrics)

    results: list[CheckResult] = [
        check_share_above_line(
            CHECK_OUTLIER_RATIO, window.outliers, window.rows, line=t.outlier_ratio,
            baseline_share=holdout_figures(baseline).get("outlier_rate", baseline.training_outlier_rate),
            min_rows=t.min_rows, alpha=alpha,
            hint="Inspect the outlier rows' features (outlier_score > 0) in the prediction log: malformed clients, new "
            "ranges, or a unit change.",
        ),
        check_outlier_shift(window, baseline, alpha),
    ]  # fmt: skip
    joint = check_joint_drift(window, baseline, alpha)
    if joint is not None:
        results.append(joint)
        if joint.judged and joint.observed is not None and joint.baseline is not None:
            reference = joint_drift_reference(baseline)
            metrics["joint_drift"] = (joint.observed - joint.baseline) / (reference or {"std": 1.0})["std"]
    if window.rows:
        metrics["outlier_ratio"] = window.outliers / window.rows
    requests = window.requests + window.rejected + window.failed
    results.append(
        check_share_above_line(
            CHECK_REJECTED_RATIO, window.rejected, requests, line=t.rejected_ratio, baseline_share=None,
            min_rows=t.min_rows, alpha=alpha,
            hint="Read the 'reason' of the rejected lines: a client sending a wrong row length, NaN or out-of-range values, "
            "or a recent API change.",
        )
    )  # fmt: skip
    results.append(
        check_share_above_line(
            CHECK_FAILED_RATIO, window.failed, requests, line=t.failed_ratio, baseline_share=None,
            min_rows=t.min_rows, alpha=alpha,
            hint="Read the 'error_type' of the failed lines and the function's errors: the service could not answer "
            "requests it accepted (model file, memory, timeout).",
        )
    )  # fmt: skip
    if requests:
        metrics["rejected_ratio"] = window.rejected / requests
        metrics["failed_ratio"] = window.failed / requests
    if baseline.is_regression:  # the output is a number: its distribution and mean against the training predictions
        drift = check_prediction_distribution(window, baseline, alpha * t.distribution_alpha_factor)
        shift = check_prediction_mean_shift(window, baseline, alpha)
        results += [drift, shift]
        if window.prediction is not None and window.prediction.mean is not None and baseline.prediction_stats:
            metrics["prediction_mean_shift"] = shift_in_sd(baseline.prediction_stats, window.prediction.mean)
        results.append(
            _not_judged(
                CHECK_ESTIMATED_ACCURACY, Status.NOT_JUDGED, t.accuracy_drop,
                "a regression model has no confidence to estimate accuracy from; realized quality needs labels",
                "Send true values through POST /feedback: the quality job reports MAE, RMSE and R².",
            )
        )  # fmt: skip
    else:
        drift = check_prediction_drift(window, baseline, alpha)
        results.append(drift)
        accuracy = check_estimated_accuracy(window, baseline, alpha)
        results.append(accuracy)
        if window.confidence_mean is not None:
            metrics["estimated_accuracy"] = estimated_accuracy(window.confidence_mean, baseline)
    if drift.judged and drift.observed is not None:
        metrics["prediction_drift"] = drift.observed

    feature_alpha = bonferroni(alpha, k)
    for index, feature in enumerate(baseline.features):
        observed = window.feature(feature.name)
        mean = check_mean_shift(feature, observed, baseline, feature_alpha)
        distribution = check_distribution(index, observed, baseline, feature_alpha * t.distribution_alpha_factor)
        relative = check_relative_mean_shift(feature, observed, baseline, feature_alpha)
        spread = check_spread(index, observed, baseline, feature_alpha)
        results += [mean, spread, distribution, relative]
        if spread.judged and spread.observed is not None:
            metrics[f"spread:{feature.name}"] = spread.observed
        if observed.mean is not None and observed.count >= 2:
            metrics[f"mean_shift:{feature.name}"] = shift_in_sd(feature, observed.mean)
        if distribution.judged and distribution.observed is not None:
            metrics[f"distribution:{feature.name}"] = distribution.observed
    moved = frozenset(r.check.partition(":")[2] for r in results if r.in_alarm and r.check.startswith(CHECK_MEAN_SHIFT + ":"))
    results += relation_shifts(window, baseline, feature_alpha, moved)
    for category in baseline.categorical:
        observed_category = category_window(window, category)
        drift = check_category_drift(category, observed_category, baseline, feature_alpha)
        unseen = check_unseen_category(category, observed_category, baseline, feature_alpha)
        results += [drift, unseen]
        if drift.judged and drift.observed is not None:
            metrics[f"{CHECK_CATEGORY_DRIFT}:{category.name}"] = drift.observed
        if unseen.judged and unseen.observed is not None:
            metrics[f"{CHECK_UNSEEN_CATEGORY}:{category.name}"] = unseen.observed
    results.append(check_data_quality(window, baseline))

    if any(c.in_alarm for c in results):
        overall = Overall.ALARM
    elif window.rows >= t.min_rows:
        overall = Overall.OK
    else:
        overall = Overall.INSUFFICIENT_DATA
    metrics["checks_in_alarm"] = float(sum(c.in_alarm for c in results))
    return Evaluation(baseline.model_name, baseline.model_version, window, overall, tuple(results), metrics)
