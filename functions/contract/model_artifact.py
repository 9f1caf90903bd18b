"""The model artifact folder: the single source of truth for everything model-specific.

A folder holds `classifier.onnx`, `outlier_detector.onnx` and `baseline.json`
(the model card and training statistics written by `models/train.py`). The
inference service, the monitor, the dashboard and the alert texts all derive
feature names, labels and thresholds from here. A folder that is incomplete or
inconsistent is refused when it is loaded (cold start), never at a request.

This module only reads JSON (no onnxruntime), so the monitor can use it too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from functions.contract.names import BASELINE_FILE, CLASSIFIER_FILE, JOINT_DRIFT_FILE, OUTLIER_DETECTOR_FILE
from functions.contract.prediction_log import (
    KEY_CONFIDENCE,
    KEY_FEATURES,
    KEY_PROBABILITIES,
    MAX_CATEGORY_CHARS,
    PREDICTION_KEYS,
)

SCHEMA_VERSION = 1
# baseline.json's top-level `task`: a classifier (labels, probabilities) or a regressor (one number per row).
# Absent means classification: every folder written before regression models existed is a classifier.
TASK_CLASSIFICATION = "classification"
TASK_REGRESSION = "regression"
TASKS = (TASK_CLASSIFICATION, TASK_REGRESSION)
# Feature names become JSON keys in the log and field names in Logs Insights and SQL.
FEATURE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# "CloudWatch Logs Insights can extract a maximum of 200 log event fields from a JSON log"
# (Amazon CloudWatch Logs User Guide, "Supported logs and discovered fields", section "Fields in JSON logs",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html,
# checked 2026-11-25; older versions of the page said 100). A prediction line flattens to its fixed keys,
# then one `features.<name>` per feature, then one `probabilities.<i>` per label. The monitor reads the
# features past the cap with `parse @message` instead (functions/monitor/insights.py), so the cap does not
# bound the feature count.
LOGS_INSIGHTS_MAX_JSON_FIELDS = 200
PREDICTION_LINE_FIXED_KEYS = tuple(
    dict.fromkeys(key for key in (*PREDICTION_KEYS, KEY_CONFIDENCE) if key not in (KEY_FEATURES, KEY_PROBABILITIES))
)
# The widest model the whole path takes: training, import, serving, the demo, synth and the monitor. The one
# limit, checked wherever a model folder is written or loaded. The monitor's Logs Insights plan for it (one
# query per ~7 features, run a few at a time) is tested at exactly this width (tests/unit/monitor).
MAX_FEATURES = 200
# A feature's `type` in baseline.json: a number (the default; every folder written before categories existed) or
# a category, sent and logged as a string.
FEATURE_NUMERIC = "numeric"
FEATURE_CATEGORICAL = "categorical"
FEATURE_TYPES = (FEATURE_NUMERIC, FEATURE_CATEGORICAL)
# A categorical feature lists at most this many training categories (the most frequent); the rarer tail is its
# `other` share. The monitor's category counts, the one-hot encoding and OpenAPI's enum all follow the list.
MAX_CATEGORIES = 50


class ModelArtifactError(ValueError):
    """The model folder cannot be served or monitored; the message names the problem."""


class FeatureBaseline(NamedTuple):
    name: str
    count: int  # type: ignore[assignment]  # a field: shadows tuple.count, which nothing here calls
    mean: float
    std: float
    min: float
    max: float
    quantiles: tuple[float, ...]  # at Baseline.quantile_levels
    display_name: str  # the original column name ("sepal length (cm)"); the key itself when none was stored

    def quantile(self, level: float, levels: tuple[float, ...]) -> float:
        """Training quantile at `level`, interpolated between the stored ones (the inverse of `cdf`)."""
        for index in range(1, len(levels)):
            if level <= levels[index]:
                low, high = levels[index - 1], levels[index]
                share = (level - low) / (high - low)
                return self.quantiles[index - 1] + share * (self.quantiles[index] - self.quantiles[index - 1])
        return self.quantiles[-1]

    def cdf(self, value: float, levels: tuple[float, ...]) -> float:
        """Training CDF at `value`, interpolated between stored quantiles."""
        q = self.quantiles
        if value < q[0]:
            return 0.0
        if value >= q[-1]:
            return 1.0
        # first index with q[i] > value
        lo, hi = 0, len(q) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if q[mid] > value:
                hi = mid
            else:
                lo = mid + 1
        left_q, right_q = q[lo - 1], q[lo]
        left_p, right_p = levels[lo - 1], levels[lo]
        if right_q == left_q:
            return right_p
        return left_p + (right_p - left_p) * (value - left_q) / (right_q - left_q)


class CategoricalBaseline(NamedTuple):
    """A categorical feature's training shares: the listed categories and the rare tail (`other_share`).

    A value that is not listed (the training tail, or one training never saw) is `unseen`: one-hot encoded as all
    zeros by the model, counted by the monitor's `unseen_category` check against `other_share`."""

    name: str
    count: int  # type: ignore[assignment]  # a field: shadows tuple.count, which nothing here calls
    categories: tuple[str, ...]  # most frequent first
    shares: tuple[float, ...]  # training share of each listed category
    other_share: float  # training share of the values not listed
    display_name: str

    @property
    def mode(self) -> str:
        """The most frequent training category: the built-in sample row's value."""
        return self.categories[0]

    def share(self, category: str) -> float | None:
        """Training share of a listed category; None when it is not listed."""
        try:
            return self.shares[self.categories.index(category)]
        except ValueError:
            return None


class FeatureRelation(NamedTuple):
    """A numeric feature as a linear function of a few other numeric features, fitted on the training rows.

    The monitor's `relation_shift` check compares the window's mean of the feature with what the window's means of
    its predictors say it should be: a feature that moves against the features it travels with is a change a
    per-feature mean test sees only at a fraction of the power (its residual spread is sqrt(1 - r2) of the sd)."""

    feature: str
    intercept: float
    coefficients: tuple[tuple[str, float], ...]  # (predictor, coefficient) in the feature's own units
    residual_std: float  # training residuals' sd, with the fitted parameters' degrees of freedom taken off
    r2: float  # share of the feature's training variance the predictors explain

    def predicted_mean(self, means: Mapping[str, float]) -> float:
        """The feature's mean the predictors' means imply (a linear model's mean is the model at the means)."""
        return self.intercept + sum(coefficient * means[name] for name, coefficient in self.coefficients)


class Thresholds(NamedTuple):
    """Defaults the monitor judges with; stored with the model, tuned per model."""

    outlier_ratio: float  # alarm when the window's outlier share exceeds this
    mean_deviation: float  # relative deviation of a feature's window mean from its training mean
    distribution_distance: float  # L-infinity CDF distance (KS statistic) after the robust margin
    distribution_c_alpha: float  # robust margin factor: c_alpha * sqrt((n + m) / (n * m))
    prediction_drift: float  # total-variation distance of the class shares after the same margin
    rejected_ratio: float  # alarm when this share of requests is rejected
    min_rows: int  # fewer rows than this: distribution checks are not judged
    # --- monitor statistics (optional: baselines written before them load with these defaults) ---
    family_alpha: float = 3e-4  # false-alarm probability per window and check family, before the Bonferroni split
    distribution_alpha_factor: float = 0.1  # the distribution family gets this share of alpha (docs/monitor.md)
    effect_size_floor: float = 0.25  # mean shifts smaller than this many training sd never alarm, whatever n
    strong_factor: float = 1.5  # evidence this many times the critical value enters ALARM in one window
    alarm_windows: int = 2  # M: enter ALARM when M of the last N judged windows alarm...
    of_windows: int = 3  # N
    recovery_windows: int = 2  # K: ...and recover after K clean windows in a row (or one clearly clean one)
    max_notifications_per_hour: int = 2  # flapping bound per model; later changes wait and are sent as one
    unreadable_ratio: float = 0.01  # data quality: share of log lines that could not be parsed
    failed_ratio: float = 0.02  # share of accepted requests answered with a 500 ("failed" lines)
    accuracy_drop: float = 0.05  # estimated accuracy: smallest drop of mean confidence worth an alarm
    spread_floor: float = 0.05  # spread: |window sd / training sd - 1| below this never alarms, whatever n
    distribution_psi: float = 0.05  # distribution: population stability index below this never alarms
    prediction_psi: float = 0.02  # prediction drift: PSI of the class shares below this never alarms
    joint_drift_floor: float = 0.10  # joint drift: |mean reconstruction error shift| below this many reference sd
    category_psi: float = 0.05  # category drift: PSI of a categorical feature's shares below this never alarms
    unseen_category_floor: float = 0.01  # unseen categories: a rise of the unlisted share below this never alarms
    # spread and joint drift rely on a normal approximation (of ln s^2; of a skewed mean) that needs this many rows
    spread_min_rows: int = 100
    # (feature, cuts, training share below each cut): read from features[i].drift_cuts / drift_shares_below
    drift_buckets: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = ()

    def buckets(self, feature: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        for name, cuts, shares in self.drift_buckets:
            if name == feature:
                return cuts, shares
        return None


class HoldoutQuality(NamedTuple):
    """The classifier and detector on the held-out rows (`holdout.csv`): what healthy unseen traffic looks like."""

    rows: int
    accuracy: float
    mean_confidence: float  # mean top-class probability
    expected_calibration_error: float
    outlier_rate: float


class Baseline(NamedTuple):
    """The parsed `baseline.json`: model card plus training statistics."""

    model_name: str
    model_version: str
    description: str
    owner: str
    trained_at: str
    feature_names: tuple[str, ...]
    label_names: tuple[str, ...]
    features: tuple[FeatureBaseline, ...]
    quantile_levels: tuple[float, ...]
    training_rows: int
    class_distribution: tuple[float, ...]  # predicted-class shares on training data, label order
    training_outlier_rate: float
    thresholds: Thresholds
    document: dict[str, Any]  # the whole file, served as the model card by GET /metadata
    holdout: HoldoutQuality | None = None  # None for folders trained before hold-out figures were stored
    task: str = TASK_CLASSIFICATION
    # regression: the model's predictions on the training rows (the output-drift reference), and their cuts
    prediction_stats: FeatureBaseline | None = None
    prediction_buckets: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    # The categorical features, in input order. `feature_names` lists every feature in input order (what a request
    # row holds); `features` holds the numeric ones only, in input order, so every numeric statistic stays as it is.
    categorical: tuple[CategoricalBaseline, ...] = ()
    # numeric features the training rows tie to other numeric features (models/relations.py); () for older folders
    relations: tuple[FeatureRelation, ...] = ()

    @property
    def is_regression(self) -> bool:
        return self.task == TASK_REGRESSION

    @property
    def has_categories(self) -> bool:
        """Mixed input: the ONNX graphs take NUMERIC_INPUT and CATEGORICAL_INPUT (functions/contract/names.py)."""
        return bool(self.categorical)

    @property
    def feature_types(self) -> tuple[str, ...]:
        """Each feature's type, in input order."""
        categorical = {feature.name for feature in self.categorical}
        return tuple(FEATURE_CATEGORICAL if name in categorical else FEATURE_NUMERIC for name in self.feature_names)

    @property
    def numeric_positions(self) -> tuple[int, ...]:
        """Positions of the numeric features in a request row."""
        return tuple(i for i, kind in enumerate(self.feature_types) if kind == FEATURE_NUMERIC)

    @property
    def categorical_positions(self) -> tuple[int, ...]:
        """Positions of the categorical features in a request row."""
        return tuple(i for i, kind in enumerate(self.feature_types) if kind == FEATURE_CATEGORICAL)

    @property
    def sample_row(self) -> list[float | str]:
        """The built-in sample row, in input order: training medians and most frequent categories."""
        return self.row_with(self.medians)

    def row_with(self, numbers: Sequence[float]) -> list[float | str]:
        """A request row in input order: `numbers` for the numeric features, each categorical feature's most
        frequent category."""
        given = iter(numbers)
        modes = iter(feature.mode for feature in self.categorical)
        return [next(modes) if kind == FEATURE_CATEGORICAL else next(given) for kind in self.feature_types]

    def categorical_feature(self, name: str) -> CategoricalBaseline:
        for feature in self.categorical:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def medians(self) -> list[float]:
        """Each numeric feature's training median, in input order: the cold-start probe (`sample_row` adds the
        categories)."""
        return [feature.quantile(0.5, self.quantile_levels) for feature in self.features]

    def feature(self, name: str) -> FeatureBaseline:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


class ModelArtifact(NamedTuple):
    directory: Path
    baseline: Baseline

    @property
    def classifier_path(self) -> Path:
        return self.directory / CLASSIFIER_FILE

    @property
    def outlier_detector_path(self) -> Path:
        return self.directory / OUTLIER_DETECTOR_FILE

    @property
    def joint_drift_path(self) -> Path | None:
        """The joint-drift model (models/joint_drift.py), when the baseline describes one; None for older folders."""
        return self.directory / JOINT_DRIFT_FILE if "joint_drift" in self.baseline.document else None


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ModelArtifactError(f"{where}: missing key '{key}'")
    return mapping[key]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelArtifactError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def feature_field_position(index: int) -> int:
    """1-based position of feature `index`'s field in a prediction line, as Logs Insights counts extracted fields."""
    return len(PREDICTION_LINE_FIXED_KEYS) + index + 1


def check_feature_limit(n_features: int) -> None:
    """The one feature limit (MAX_FEATURES); the message carries both numbers."""
    if n_features > MAX_FEATURES:
        raise ModelArtifactError(
            f"the model has {n_features} features; at most {MAX_FEATURES} can be served and monitored "
            "(functions/contract/model_artifact.py MAX_FEATURES). Use fewer features."
        )


def check_feature_names(names: list[str] | tuple[str, ...]) -> None:
    """Feature names become JSON keys in the log and field names in Logs Insights and SQL."""
    for index, name in enumerate(names):
        if not isinstance(name, str) or not FEATURE_NAME_PATTERN.match(name):
            raise ModelArtifactError(
                f"features[{index}]: feature name {name!r} must match {FEATURE_NAME_PATTERN.pattern} "
                "(lower-case letters, digits and _, starting with a letter)"
            )
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ModelArtifactError(f"feature names must be unique, repeated: {', '.join(duplicates)}")


def _parse_holdout(raw: Any) -> HoldoutQuality | None:
    if raw is None:
        return None
    where = "baseline.holdout"
    if not isinstance(raw, dict):
        raise ModelArtifactError(f"{where}: expected an object")
    holdout = HoldoutQuality(
        rows=int(_number(_require(raw, "rows", where), f"{where}.rows")),
        accuracy=_number(_require(raw, "accuracy", where), f"{where}.accuracy"),
        mean_confidence=_number(_require(raw, "mean_confidence", where), f"{where}.mean_confidence"),
        expected_calibration_error=_number(
            _require(raw, "expected_calibration_error", where), f"{where}.expected_calibration_error"
        ),
        outlier_rate=_number(_require(raw, "outlier_rate", where), f"{where}.outlier_rate"),
    )
    if holdout.rows < 1:
        raise ModelArtifactError(f"{where}.rows must be at least 1")
    for name in ("accuracy", "mean_confidence", "expected_calibration_error", "outlier_rate"):
        if not 0.0 <= getattr(holdout, name) <= 1.0:
            raise ModelArtifactError(f"{where}.{name} must be in [0, 1]")
    return holdout


def _display_name(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ModelArtifactError(f"{where}: display_name must be a non-empty string, got {value!r}")
    return value


_MONITOR_NUMBERS = {  # optional threshold -> (low, high) inclusive bounds
    "family_alpha": (1e-12, 0.5),
    "distribution_alpha_factor": (1e-6, 1.0),
    "effect_size_floor": (0.0, 10.0),
    "strong_factor": (1.0, 100.0),
    "unreadable_ratio": (0.0, 1.0),
    "failed_ratio": (0.0, 1.0),
    "accuracy_drop": (0.0, 1.0),
    "spread_floor": (0.0, 10.0),
    "distribution_psi": (0.0, 10.0),
    "prediction_psi": (0.0, 10.0),
    "joint_drift_floor": (0.0, 10.0),
    "category_psi": (0.0, 10.0),
    "unseen_category_floor": (0.0, 1.0),
}
_MONITOR_COUNTS = ("alarm_windows", "of_windows", "recovery_windows", "max_notifications_per_hour", "spread_min_rows")


def _monitor_thresholds(raw: dict[str, Any], features: list[Any]) -> dict[str, Any]:
    """The optional monitor settings of `thresholds` (and each feature's drift cuts), validated; absent keys keep
    the dataclass defaults."""
    out: dict[str, Any] = {}
    for key, (low, high) in _MONITOR_NUMBERS.items():
        if key in raw:
            value = _number(raw[key], f"thresholds.{key}")
            if not low <= value <= high:
                raise ModelArtifactError(f"baseline.thresholds.{key} must be in [{low:g}, {high:g}]")
            out[key] = value
    for key in _MONITOR_COUNTS:
        if key in raw:
            value = _number(raw[key], f"thresholds.{key}")
            if value != int(value) or value < 1:
                raise ModelArtifactError(f"baseline.thresholds.{key} must be a whole number >= 1")
            out[key] = int(value)
    if out.get("alarm_windows", 2) > out.get("of_windows", 3):
        raise ModelArtifactError("baseline.thresholds.alarm_windows must not exceed of_windows")
    parsed = []
    for index, feature in enumerate(features):  # the monitor's cuts live beside each feature's statistics
        if not isinstance(feature, dict) or "drift_cuts" not in feature:
            continue
        where = f"features[{index}]"
        cuts = tuple(_number(v, f"{where}.drift_cuts") for v in feature["drift_cuts"])
        shares = tuple(_number(v, f"{where}.drift_shares_below") for v in _require(feature, "drift_shares_below", where))
        if not cuts or len(cuts) != len(shares) or any(b <= a for a, b in pairwise(cuts)):
            raise ModelArtifactError(f"baseline.{where}: drift_cuts must rise strictly and match drift_shares_below")
        if any(b < a for a, b in pairwise(shares)) or not 0.0 <= shares[0] <= shares[-1] <= 1.0:
            raise ModelArtifactError(f"baseline.{where}: drift_shares_below must rise within [0, 1]")
        parsed.append((str(feature.get("name")), cuts, shares))
    if parsed:
        out["drift_buckets"] = tuple(parsed)
    return out


def parse_baseline(document: dict[str, Any]) -> Baseline:
    """Validate and type a baseline document; raises ModelArtifactError naming the first problem."""
    if not isinstance(document, dict):
        raise ModelArtifactError("baseline: expected a JSON object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ModelArtifactError(f"baseline: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
    model = _require(document, "model", "baseline")
    task = document.get("task", TASK_CLASSIFICATION)
    if task not in TASKS:
        raise ModelArtifactError(f"baseline: 'task' must be one of {', '.join(TASKS)}, got {task!r}")
    labels = tuple(document.get("labels") or ()) if task == TASK_REGRESSION else tuple(_require(document, "labels", "baseline"))
    if task == TASK_REGRESSION and labels:
        raise ModelArtifactError("baseline: a regression model has no 'labels' (it predicts a number)")
    if task == TASK_CLASSIFICATION and (len(labels) < 2 or not all(isinstance(label, str) and label for label in labels)):
        raise ModelArtifactError(f"baseline: 'labels' must list at least 2 non-empty names, got {list(labels)!r}")
    if len(set(labels)) != len(labels):
        raise ModelArtifactError("baseline: 'labels' has duplicates")
    levels = tuple(_number(v, "baseline.quantile_levels") for v in _require(document, "quantile_levels", "baseline"))
    if len(levels) < 3 or levels[0] != 0.0 or levels[-1] != 1.0 or any(b <= a for a, b in pairwise(levels)):
        raise ModelArtifactError("baseline: 'quantile_levels' must rise strictly from 0.0 to 1.0")

    raw_features = _require(document, "features", "baseline")
    if not isinstance(raw_features, list) or not raw_features:
        raise ModelArtifactError("baseline: 'features' must be a non-empty list")
    features = []
    categorical = []
    all_names = []
    check_feature_limit(len(raw_features))
    for index, raw in enumerate(raw_features):
        where = f"baseline.features[{index}]"
        name = _require(raw, "name", where)
        if not isinstance(name, str) or not FEATURE_NAME_PATTERN.match(name):
            raise ModelArtifactError(f"{where}: feature name {name!r} must match {FEATURE_NAME_PATTERN.pattern}")
        all_names.append(name)
        kind = raw.get("type", FEATURE_NUMERIC)
        if kind not in FEATURE_TYPES:
            raise ModelArtifactError(f"{where}: 'type' must be one of {', '.join(FEATURE_TYPES)}, got {kind!r}")
        if kind == FEATURE_CATEGORICAL:
            categorical.append(parse_categorical_feature(raw, where))
            continue
        quantiles = tuple(_number(v, f"{where}.quantiles") for v in _require(raw, "quantiles", where))
        if len(quantiles) != len(levels):
            raise ModelArtifactError(f"{where}: {len(quantiles)} quantiles for {len(levels)} quantile_levels")
        if any(b < a for a, b in pairwise(quantiles)):
            raise ModelArtifactError(f"{where}: quantiles must not decrease")
        features.append(
            FeatureBaseline(
                name=name,
                count=int(_number(_require(raw, "count", where), where)),
                mean=_number(_require(raw, "mean", where), f"{where}.mean"),
                std=_number(_require(raw, "std", where), f"{where}.std"),
                min=_number(_require(raw, "min", where), f"{where}.min"),
                max=_number(_require(raw, "max", where), f"{where}.max"),
                quantiles=quantiles,
                display_name=_display_name(raw.get("display_name"), where) or name,
            )
        )
    names = tuple(all_names)
    if len(set(names)) != len(names):
        raise ModelArtifactError("baseline: feature names must be unique")

    prediction_stats, prediction_buckets = None, None
    if task == TASK_REGRESSION:
        shares: tuple[float, ...] = ()
        prediction_stats, prediction_buckets = parse_prediction_statistics(document, levels)
    else:
        distribution = _require(document, "prediction_distribution", "baseline")
        if not isinstance(distribution, dict) or set(distribution) != set(labels):
            raise ModelArtifactError("baseline: 'prediction_distribution' must have one share per label")
        shares = tuple(_number(distribution[label], "baseline.prediction_distribution") for label in labels)
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ModelArtifactError(f"baseline: 'prediction_distribution' sums to {sum(shares)}, expected 1")

    raw_thresholds = _require(document, "thresholds", "baseline")
    thresholds = Thresholds(
        outlier_ratio=_number(_require(raw_thresholds, "outlier_ratio", "baseline.thresholds"), "thresholds.outlier_ratio"),
        mean_deviation=_number(_require(raw_thresholds, "mean_deviation", "baseline.thresholds"), "thresholds.mean_deviation"),
        distribution_distance=_number(
            _require(raw_thresholds, "distribution_distance", "baseline.thresholds"), "thresholds.distribution_distance"
        ),
        distribution_c_alpha=_number(
            _require(raw_thresholds, "distribution_c_alpha", "baseline.thresholds"), "thresholds.distribution_c_alpha"
        ),
        prediction_drift=_number(
            _require(raw_thresholds, "prediction_drift", "baseline.thresholds"), "thresholds.prediction_drift"
        ),
        rejected_ratio=_number(_require(raw_thresholds, "rejected_ratio", "baseline.thresholds"), "thresholds.rejected_ratio"),
        min_rows=int(_number(_require(raw_thresholds, "min_rows", "baseline.thresholds"), "thresholds.min_rows")),
        **_monitor_thresholds(raw_thresholds, raw_features),
    )
    for field_name in ("outlier_ratio", "rejected_ratio", "mean_deviation", "distribution_distance", "prediction_drift"):
        if not 0.0 < getattr(thresholds, field_name) <= 1.0:
            raise ModelArtifactError(f"baseline.thresholds.{field_name} must be in (0, 1]")
    if thresholds.min_rows < 1:
        raise ModelArtifactError("baseline.thresholds.min_rows must be at least 1")

    return Baseline(
        model_name=str(_require(model, "name", "baseline.model")),
        model_version=str(_require(model, "version", "baseline.model")),
        description=str(model.get("description", "")),
        owner=str(model.get("owner", "")),
        trained_at=str(model.get("trained_at", "")),
        feature_names=names,
        label_names=labels,
        features=tuple(features),
        quantile_levels=levels,
        training_rows=int(_number(_require(document, "training_rows", "baseline"), "baseline.training_rows")),
        class_distribution=shares,
        training_outlier_rate=_number(_require(document, "training_outlier_rate", "baseline"), "baseline.training_outlier_rate"),
        thresholds=thresholds,
        document=document,
        holdout=None if task == TASK_REGRESSION else _parse_holdout(document.get("holdout")),
        task=task,
        prediction_stats=prediction_stats,
        prediction_buckets=prediction_buckets,
        categorical=tuple(categorical),
        relations=parse_relations(document.get("relations"), {feature.name for feature in features}),
    )


def parse_relations(raw: Any, numeric: set[str]) -> tuple[FeatureRelation, ...]:
    """The optional `relations` block: each entry ties a numeric feature to other numeric features."""
    if raw is None:
        return ()
    where = "baseline.relations"
    entries = _require(raw, "features", where) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ModelArtifactError(f"{where}: expected an object with a 'features' list")
    relations = []
    for index, entry in enumerate(entries):
        at = f"{where}.features[{index}]"
        if not isinstance(entry, dict):
            raise ModelArtifactError(f"{at}: expected an object")
        feature = _require(entry, "feature", at)
        coefficients = _require(entry, "coefficients", at)
        if feature not in numeric:
            raise ModelArtifactError(f"{at}: {feature!r} is not a numeric feature")
        if not isinstance(coefficients, dict) or not coefficients:
            raise ModelArtifactError(f"{at}: 'coefficients' must map at least one predictor to a number")
        for name in coefficients:
            if name not in numeric or name == feature:
                raise ModelArtifactError(f"{at}: predictor {name!r} must be another numeric feature")
        residual_std = _number(_require(entry, "residual_std", at), f"{at}.residual_std")
        r2 = _number(_require(entry, "r2", at), f"{at}.r2")
        if residual_std <= 0.0 or not 0.0 <= r2 < 1.0:
            raise ModelArtifactError(f"{at}: 'residual_std' must be > 0 and 'r2' in [0, 1)")
        relations.append(
            FeatureRelation(
                feature=feature,
                intercept=_number(_require(entry, "intercept", at), f"{at}.intercept"),
                coefficients=tuple((name, _number(value, f"{at}.coefficients")) for name, value in coefficients.items()),
                residual_std=residual_std,
                r2=r2,
            )
        )
    if len({relation.feature for relation in relations}) != len(relations):
        raise ModelArtifactError(f"{where}: a feature has two relations")
    return tuple(relations)


def parse_categorical_feature(raw: dict[str, Any], where: str) -> CategoricalBaseline:
    """A `type: categorical` entry of `features`: listed categories with their training shares and the tail's."""
    categories = _require(raw, "categories", where)
    if not isinstance(categories, list) or not categories or len(categories) > MAX_CATEGORIES:
        raise ModelArtifactError(f"{where}: 'categories' must list 1 to {MAX_CATEGORIES} categories")
    for value in categories:
        if not isinstance(value, str) or not value or len(value) > MAX_CATEGORY_CHARS:
            raise ModelArtifactError(
                f"{where}: every category must be a non-empty string of at most {MAX_CATEGORY_CHARS} characters, got {value!r}"
            )
    if len(set(categories)) != len(categories):
        raise ModelArtifactError(f"{where}: 'categories' has duplicates")
    shares = tuple(_number(v, f"{where}.shares") for v in _require(raw, "shares", where))
    other_share = _number(raw.get("other_share", 0.0), f"{where}.other_share")
    if len(shares) != len(categories):
        raise ModelArtifactError(f"{where}: {len(shares)} shares for {len(categories)} categories")
    if not all(0.0 <= share <= 1.0 for share in (*shares, other_share)) or abs(sum(shares) + other_share - 1.0) > 1e-6:
        raise ModelArtifactError(f"{where}: shares and other_share must lie in [0, 1] and sum to 1")
    return CategoricalBaseline(
        name=raw["name"],
        count=int(_number(_require(raw, "count", where), f"{where}.count")),
        categories=tuple(categories),
        shares=shares,
        other_share=other_share,
        display_name=_display_name(raw.get("display_name"), where) or raw["name"],
    )


def parse_prediction_statistics(
    document: dict[str, Any], levels: tuple[float, ...]
) -> tuple[FeatureBaseline, tuple[tuple[float, ...], tuple[float, ...]]]:
    """A regression baseline's `prediction_statistics`: the training predictions' summary and drift cuts."""
    where = "baseline.prediction_statistics"
    raw = _require(document, "prediction_statistics", "baseline")
    if not isinstance(raw, dict):
        raise ModelArtifactError(f"{where}: expected an object")
    quantiles = tuple(_number(v, f"{where}.quantiles") for v in _require(raw, "quantiles", where))
    if len(quantiles) != len(levels) or any(b < a for a, b in pairwise(quantiles)):
        raise ModelArtifactError(f"{where}: quantiles must not decrease and match quantile_levels")
    stats = FeatureBaseline(
        name="prediction",
        count=int(_number(_require(raw, "count", where), f"{where}.count")),
        mean=_number(_require(raw, "mean", where), f"{where}.mean"),
        std=_number(_require(raw, "std", where), f"{where}.std"),
        min=_number(_require(raw, "min", where), f"{where}.min"),
        max=_number(_require(raw, "max", where), f"{where}.max"),
        quantiles=quantiles,
        display_name="prediction",
    )
    cuts = tuple(_number(v, f"{where}.drift_cuts") for v in _require(raw, "drift_cuts", where))
    shares = tuple(_number(v, f"{where}.drift_shares_below") for v in _require(raw, "drift_shares_below", where))
    if not cuts or len(cuts) != len(shares) or any(b <= a for a, b in pairwise(cuts)):
        raise ModelArtifactError(f"{where}: drift_cuts must rise strictly and match drift_shares_below")
    if any(b < a for a, b in pairwise(shares)) or not 0.0 <= shares[0] <= shares[-1] <= 1.0:
        raise ModelArtifactError(f"{where}: drift_shares_below must rise within [0, 1]")
    return stats, (cuts, shares)


def load_baseline(path: Path) -> Baseline:
    """Every refusal is one line that starts with the file: `models/x/baseline.json: baseline.features[0]: ...`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelArtifactError(f"model folder {path.parent}: missing {path.name}") from error
    except json.JSONDecodeError as error:
        raise ModelArtifactError(f"{path}: not valid JSON ({error})") from error
    try:
        return parse_baseline(document)
    except ModelArtifactError as error:
        raise ModelArtifactError(f"{path}: {error}") from None
    except (TypeError, AttributeError, ValueError) as error:  # a value of the wrong JSON type deep in the document
        raise ModelArtifactError(f"{path}: not a valid baseline ({type(error).__name__}: {error})") from None


def load_model_artifact(directory: str | Path) -> ModelArtifact:
    """Read and check a model folder; the ONNX files themselves are checked by the inference service."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ModelArtifactError(f"model folder {folder} does not exist")
    for file_name in (CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE, BASELINE_FILE):
        if not (folder / file_name).is_file():
            raise ModelArtifactError(f"model folder {folder}: missing {file_name}")
    artifact = ModelArtifact(directory=folder, baseline=load_baseline(folder / BASELINE_FILE))
    if artifact.joint_drift_path is not None and not artifact.joint_drift_path.is_file():
        raise ModelArtifactError(f"model folder {folder}: baseline.json describes joint_drift but {JOINT_DRIFT_FILE} is missing")
    return artifact
