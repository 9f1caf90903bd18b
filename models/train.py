"""Train a classifier and an outlier detector, export both to ONNX, write the baseline/model card.

Offline and reproducible: the data sets ship with scikit-learn and every random
choice is seeded. Usage::

    python -m models.train --dataset iris          # writes models/iris/
    python -m models.train --dataset wine --out /tmp/wine
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn
from onnx import helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from functions.contract.model_artifact import (
    FEATURE_CATEGORICAL,
    FEATURE_NAME_PATTERN,
    FEATURE_NUMERIC,
    SCHEMA_VERSION,
    ModelArtifactError,
    check_feature_limit,
    check_feature_names,
)
from functions.contract.names import (
    BASELINE_FILE,
    CATEGORICAL_INPUT,
    CLASSIFIER_FILE,
    JOINT_DRIFT_FILE,
    NUMERIC_INPUT,
    OUTLIER_DETECTOR_FILE,
)
from functions.contract.prediction_log import MAX_CATEGORY_CHARS
from models.categories import (
    CategoryEncoding,
    CategoryError,
    list_categories,
    prefix_disagreement,
    unseen_rows,
    with_category_inputs,
)
from models.joint_drift import fit_joint_drift
from models.relations import fit_relations

HOLDOUT_FILE = "holdout.csv"  # the held-out rows: feature keys in input order, then `label`
HOLDOUT_LABEL_COLUMN = "label"

MODELS_DIR = Path(__file__).resolve().parent
QUANTILE_LEVELS = [round(i / 100, 2) for i in range(101)]
ONNX_OPSET = 17
CV_FOLDS = 5
# The detector's decision threshold is set so that this share of cross-validated (out-of-fold) training rows is
# flagged: healthy unseen traffic then sits near 5 %, well under the monitor's 20 % alarm line (the issue asks
# for a held-out rate below half of it). nu only shapes the one-class SVM's boundary.
OUTLIER_TARGET_RATE = 0.05
# Calibration: the classifier is recalibrated when its cross-validated expected calibration error (top-class,
# 10 equal-width bins) exceeds max(ECE_FLOOR, the ECE a perfectly calibrated model shows on the same
# confidences 95 % of the time). The second term keeps a small training set's sampling noise from triggering it.
ECE_BINS = 10
ECE_FLOOR = 0.05
ECE_NOISE_LEVEL = 0.95
ECE_NOISE_DRAWS = 2000
ONNX_TOLERANCE = 1e-4  # largest probability difference accepted between scikit-learn and the exported ONNX
# The detector's scores have no fixed scale (a one-class SVM's grow with its support vectors), so its export is
# judged relative to the scores' spread, and by what the service does with them: the outlier flag.
ONNX_RELATIVE_TOLERANCE = 1e-4
# The one-class SVM's training time is quadratic in rows: larger training sets are sampled (seeded) down to this
# many rows for the detector. 5,000 rows fit in ~1 s here and describe a support of a few dozen features well.
MAX_DETECTOR_ROWS = 5_000
ECE_NOISE_CHUNK_VALUES = 4_000_000  # random draws generated at once by ece_noise_bound (32 MB)
# The monitor's defaults; the seed used 20 % outliers and 5 % mean deviation.
DEFAULT_THRESHOLDS = {
    "outlier_ratio": 0.20,
    "mean_deviation": 0.05,
    "distribution_distance": 0.10,
    "distribution_c_alpha": 1.8,
    "prediction_drift": 0.10,
    "rejected_ratio": 0.05,
    "min_rows": 30,
}


@dataclass(frozen=True)
class SklearnDataset:
    name: str
    loader: Callable[..., Any]
    description: str


DATASETS = {
    "iris": SklearnDataset("iris", load_iris, "Iris species from four flower measurements in cm (Fisher, 1936)."),
    "wine": SklearnDataset("wine", load_wine, "Wine cultivar from 13 chemical measurements (UCI wine recognition)."),
}


@dataclass(frozen=True)
class TrainingData:
    name: str
    description: str
    source: str
    x: np.ndarray  # (rows, numeric features) float64, the numeric features in input order
    y: np.ndarray  # (rows,) int64 class index into label_names
    feature_names: list[str]  # every feature, in input order
    label_names: list[str]
    display_names: list[str] | None = None  # the original column names, in input order
    # Mixed data: each feature's type in input order (None: all numeric), and the categorical features' values,
    # (rows, categorical features) strings in input order.
    feature_types: list[str] | None = None
    categories: np.ndarray | None = None

    def display(self) -> list[str]:
        return self.display_names or list(self.feature_names)

    @property
    def has_categories(self) -> bool:
        return self.categories is not None and FEATURE_CATEGORICAL in (self.feature_types or [])

    def _of_type(self, kind: str, values: list[str]) -> list[str]:
        types = self.feature_types or [FEATURE_NUMERIC] * len(self.feature_names)
        return [value for value, t in zip(values, types, strict=True) if t == kind]

    @property
    def numeric_names(self) -> list[str]:
        return self._of_type(FEATURE_NUMERIC, self.feature_names)

    @property
    def categorical_names(self) -> list[str]:
        return self._of_type(FEATURE_CATEGORICAL, self.feature_names)

    def numeric_display(self) -> list[str]:
        return self._of_type(FEATURE_NUMERIC, self.display())

    def categorical_display(self) -> list[str]:
        return self._of_type(FEATURE_CATEGORICAL, self.display())

    def rows(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(numeric values, categorical values or None) of the chosen rows."""
        return self.x[chosen], (self.categories[chosen] if self.categories is not None else None)


class TrainingDataError(ValueError):
    """The training data cannot become a servable model; the message says what to change."""


def load_sklearn_dataset(name: str) -> TrainingData:
    dataset = DATASETS[name]
    bunch = dataset.loader()
    return TrainingData(
        name=name,
        description=dataset.description,
        source=f"sklearn.datasets.load_{name}",
        x=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=checked_feature_keys(list(bunch.feature_names), where=name),
        label_names=[str(n) for n in bunch.target_names],
        display_names=[str(n) for n in bunch.feature_names],
    )


# The shipped mixed model: NannyML's synthetic multiclass data (Apache-2.0, bench/data/NANNYML-LICENSE), written by
# bench/nannyml_data.py. Trained on its reference period; the analysis period is the drift benchmark's traffic.
CREDIT_CARD = "credit_card"
CREDIT_CARD_DATA = MODELS_DIR.parent / "bench" / "data" / "nannyml_multiclass.csv.gz"
# NannyML's column order (its data frames and model), which is the model's input order
CREDIT_CARD_FEATURES = (
    "acq_channel",
    "app_behavioral_score",
    "requested_credit_limit",
    "app_channel",
    "credit_bureau_score",
    "stated_income",
    "is_customer",
)
CREDIT_CARD_CATEGORICAL = ("acq_channel", "app_channel", "is_customer")


def load_credit_card(path: Path = CREDIT_CARD_DATA) -> TrainingData:
    """The reference period of NannyML's synthetic multiclass data: 60,000 card applications, 4 numbers and 3
    categories (acquisition channel, application channel, existing customer), the card product as the label."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        table = csv.DictReader(handle)
        rows = [row for row in table if row["period"] == "reference"]
    labels = sorted({row["y_true"] for row in rows})
    types = [FEATURE_CATEGORICAL if f in CREDIT_CARD_CATEGORICAL else FEATURE_NUMERIC for f in CREDIT_CARD_FEATURES]
    numeric = [f for f in CREDIT_CARD_FEATURES if f not in CREDIT_CARD_CATEGORICAL]
    return TrainingData(
        name=CREDIT_CARD,
        description="Credit card product (prepaid, high street, upmarket) for an application: NannyML's synthetic "
        "multiclass data, reference period",
        source=f"{path.relative_to(MODELS_DIR.parent)} (NannyML 0.13.1 synthetic multiclass, reference period)",
        x=np.array([[float(row[f]) for f in numeric] for row in rows], dtype=np.float64),
        y=np.array([labels.index(row["y_true"]) for row in rows], dtype=np.int64),
        feature_names=list(CREDIT_CARD_FEATURES),
        label_names=labels,
        feature_types=types,
        categories=np.array([[row[f] for f in CREDIT_CARD_CATEGORICAL] for row in rows], dtype=object),
    )


def _csv_number(path: Path, line: int, column: str, text: str) -> float:
    """One feature cell as a float, or a refusal naming the line and column a person fixes in the file."""
    try:
        return float(text)
    except ValueError:
        what = "an empty cell" if not text.strip() else f"{text!r}, not a number"
        raise TrainingDataError(f"{path}: line {line}, column {column!r}: {what}; every feature value must be a number") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_category(path: Path, line: int, column: str, text: str) -> str:
    """One categorical cell as it is, or a refusal naming the line and column."""
    if not text.strip():
        raise TrainingDataError(
            f"{path}: line {line}, column {column!r}: an empty cell; every category must be a non-empty string"
        )
    if len(text) > MAX_CATEGORY_CHARS:
        raise TrainingDataError(
            f"{path}: line {line}, column {column!r}: a category of {len(text)} characters ({text[:20]!r}...); the "
            f"service logs and matches at most {MAX_CATEGORY_CHARS} characters, so shorten or group these values"
        )
    return text


def categorical_columns(
    path: Path, header: list[str], body: list[list[str]], columns: list[int], declared: list[str] | None
) -> set[int]:
    """Feature columns holding categories: declared ones (by column name or feature key), and any column with a
    non-empty value that is not a number."""
    chosen: set[int] = set()
    for wanted in declared or []:
        matches = [i for i in columns if wanted in (header[i], feature_key(header[i]))]
        if not matches:
            names = ", ".join(header[i] for i in columns)
            raise TrainingDataError(f"{path}: --categorical names {wanted!r}, which is not a feature column (features: {names})")
        chosen.update(matches)
    for i in columns:
        if any(row[i].strip() and not _is_number(row[i]) for row in body):
            chosen.add(i)
    return chosen


def load_csv_dataset(
    path: Path, *, target: str, name: str, description: str, categorical: list[str] | None = None
) -> TrainingData:
    """A CSV with a header row: feature columns and one label column named `target`.

    A column is categorical when one of its values is not a number, or when `categorical` names it (numeric-looking
    codes: zip codes, product ids); the others are numbers."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise TrainingDataError(f"{path}: empty file, expected a header row")
    header = rows[0]
    numbered = [(number, row) for number, row in enumerate(rows[1:], start=2) if row]  # file line numbers
    body = [row for _, row in numbered]
    if target not in header:
        raise TrainingDataError(f"{path}: no column named {target!r} (columns: {', '.join(header)})")
    if header.count(target) > 1:
        raise TrainingDataError(f"{path}: {header.count(target)} columns are named {target!r}")
    target_index = header.index(target)
    feature_columns = [i for i in range(len(header)) if i != target_index]
    for number, row in numbered:
        if len(row) != len(header):
            raise TrainingDataError(f"{path}: line {number} has {len(row)} values, the header has {len(header)}")
    keys = checked_feature_keys([header[i] for i in feature_columns], where=str(path))
    raw_labels = [row[target_index].strip() for row in body]
    if any(not label for label in raw_labels):
        raise TrainingDataError(f"{path}: empty value in the label column {target!r}")
    label_names = sorted(set(raw_labels))
    if categorical and target in categorical:
        raise TrainingDataError(f"{path}: --categorical names the label column {target!r}; it names feature columns only")
    category_columns = categorical_columns(path, header, body, feature_columns, categorical)
    numeric_columns = [i for i in feature_columns if i not in category_columns]
    x = np.array(
        [[_csv_number(path, number, header[i], row[i]) for i in numeric_columns] for number, row in numbered],
        dtype=np.float64,
    ).reshape(len(numbered), len(numeric_columns))
    if not np.isfinite(x).all():
        raise TrainingDataError(f"{path}: feature values must be finite numbers (found NaN or infinity)")
    mixed = bool(category_columns)
    categories = (
        np.array(
            [[_csv_category(path, number, header[i], row[i]) for i in sorted(category_columns)] for number, row in numbered],
            dtype=object,
        ).reshape(len(numbered), len(category_columns))
        if mixed
        else None
    )
    return TrainingData(
        name=name,
        description=description,
        source=str(path),
        x=x,
        y=np.array([label_names.index(label) for label in raw_labels], dtype=np.int64),
        feature_names=keys,
        label_names=label_names,
        display_names=[header[i] for i in feature_columns],
        feature_types=[FEATURE_CATEGORICAL if i in category_columns else FEATURE_NUMERIC for i in feature_columns]
        if mixed
        else None,
        categories=categories,
    )


def feature_key(raw_name: str) -> str:
    """'sepal length (cm)' -> 'sepal_length'; 'od280/od315_of_diluted_wines' -> 'od280_od315_of_diluted_wines'."""
    name = re.sub(r"\(.*?\)", "", raw_name).strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def checked_feature_keys(raw_names: list[str], *, where: str) -> list[str]:
    """Each column's key, refusing names the service would refuse later or two columns sharing one key."""
    keys = [feature_key(raw) for raw in raw_names]
    for raw, key in zip(raw_names, keys, strict=True):
        if not FEATURE_NAME_PATTERN.match(key):
            raise TrainingDataError(
                f"{where}: column {raw!r} becomes the feature key {key!r}, which is not valid (keys must match "
                f"{FEATURE_NAME_PATTERN.pattern}: start with a letter); rename the column"
            )
    seen: dict[str, str] = {}
    for raw, key in zip(raw_names, keys, strict=True):
        if key in seen:
            raise TrainingDataError(
                f"{where}: columns {seen[key]!r} and {raw!r} both become the feature key {key!r}; rename one of them"
            )
        seen[key] = raw
    return keys


def default_classifier(seed: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=5000, random_state=seed))


def default_detector(nu: float) -> Pipeline:
    # nu bounds the share of training points outside the support; the threshold is calibrated afterwards.
    return make_pipeline(StandardScaler(), OneClassSVM(nu=nu, gamma="scale"))


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-class ECE: the row-weighted gap between confidence and accuracy over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    bin_index = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = bin_index == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def ece_noise_bound(confidence: np.ndarray, *, seed: int, level: float = ECE_NOISE_LEVEL, draws: int = ECE_NOISE_DRAWS) -> float:
    """ECE that a perfectly calibrated model with these confidences still shows, at `level`: sampling noise alone."""
    rng = np.random.default_rng(seed)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    totals = np.zeros(draws)
    # Draws in chunks (the same random stream as one (draws, rows) array): bounded memory on large training sets.
    step = max(1, ECE_NOISE_CHUNK_VALUES // max(1, confidence.size))
    for first in range(0, draws, step):
        count = min(step, draws - first)
        correct = rng.random((count, confidence.size)) < confidence  # each row right with probability = its confidence
        for b in range(ECE_BINS):
            in_bin = bins == b
            if in_bin.any():
                totals[first : first + count] += in_bin.mean() * np.abs(
                    correct[:, in_bin].mean(axis=1) - confidence[in_bin].mean()
                )
    return float(np.quantile(totals, level))


def _folds(seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)


def calibrated_version(classifier: BaseEstimator, method: str, seed: int) -> BaseEstimator:
    """CalibratedClassifierCV around the classifier (inside a pipeline: around its last step).

    skl2onnx 1.20 exports CalibratedClassifierCV wrong when its base estimator is itself a Pipeline (max
    probability error 0.35 measured on a 3-class LogisticRegression pipeline), so preprocessing stays outside.
    """
    if isinstance(classifier, Pipeline):
        *steps, (name, final) = clone(classifier).steps
        return Pipeline([*steps, (name, CalibratedClassifierCV(final, method=method, cv=_folds(seed), ensemble=False))])
    return CalibratedClassifierCV(clone(classifier), method=method, cv=_folds(seed), ensemble=False)


def onnx_disagreement(classifier: Any, x: np.ndarray) -> float:
    """Largest probability difference between the fitted classifier and its ONNX export, on float32 inputs."""
    x32 = x.astype(np.float32)
    onnx_model = to_onnx(
        classifier, x32[:1], target_opset=ONNX_OPSET, options={id(_final_estimator(classifier)): {"zipmap": False}}
    )
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, {session.get_inputs()[0].name: x32})
    return float(np.abs(np.asarray(probabilities) - classifier.predict_proba(x32.astype(np.float64))).max())


def calibrate_classifier(classifier: BaseEstimator, x: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[Any, dict[str, Any]]:
    """Fit the classifier; replace it by a CalibratedClassifierCV when cross-validation shows it is poorly calibrated.

    Both methods skl2onnx can export (sigmoid, isotonic) are tried. One is kept only when its own
    cross-validated ECE is lower than the raw classifier's and its ONNX export reproduces scikit-learn.
    """
    out_of_fold = cross_val_predict(clone(classifier), x, y, cv=_folds(seed), method="predict_proba")
    ece = expected_calibration_error(out_of_fold, y)
    bound = max(ECE_FLOOR, ece_noise_bound(out_of_fold.max(axis=1), seed=seed))
    report: dict[str, Any] = {
        "measure": f"expected calibration error, top class, {ECE_BINS} equal-width bins, {CV_FOLDS}-fold cross-validated",
        "bound": round(bound, 4),
        "bound_rule": f"max({ECE_FLOOR}, {ECE_NOISE_LEVEL:.0%} ECE of a perfectly calibrated model with these confidences)",
        "cross_validated_ece": round(ece, 4),
        "calibrated": False,
        "method": None,
    }
    if ece <= bound:
        return clone(classifier).fit(x, y), report
    candidates = []
    for method in ("sigmoid", "isotonic"):
        candidate = calibrated_version(classifier, method, seed)
        candidate_ece = expected_calibration_error(
            cross_val_predict(candidate, x, y, cv=_folds(seed + 1), method="predict_proba"), y
        )
        report[f"cross_validated_ece_{method}"] = round(candidate_ece, 4)
        if candidate_ece < ece:
            candidates.append((candidate_ece, method))
    for _, method in sorted(candidates):
        fitted = calibrated_version(classifier, method, seed).fit(x, y)
        disagreement = onnx_disagreement(fitted, x)
        if disagreement <= ONNX_TOLERANCE:
            report.update(calibrated=True, method=method)
            return fitted, report
        report[f"{method}_not_exportable"] = f"ONNX probabilities differ from scikit-learn by {disagreement:.3g}"
    return clone(classifier).fit(x, y), report


class ThresholdedDetector(BaseEstimator):
    """A fitted outlier detector whose decision is shifted by a calibrated threshold: < 0 still means outlier."""

    def __init__(self, detector: Any, threshold: float) -> None:
        self.detector = detector
        self.threshold = threshold

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.detector.decision_function(x), dtype=np.float64) - self.threshold

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.where(self.decision_function(x) < 0, -1, 1)


def calibrate_detector(
    detector: BaseEstimator, x: np.ndarray, y: np.ndarray, *, seed: int, target_rate: float = OUTLIER_TARGET_RATE
) -> tuple[ThresholdedDetector, dict[str, Any]]:
    """Decision threshold from out-of-fold scores: each training row is scored by a detector that never saw it.

    Past MAX_DETECTOR_ROWS rows the detector learns from a seeded sample of them (its training is quadratic in rows).
    """
    all_rows = len(x)
    if all_rows > MAX_DETECTOR_ROWS:
        chosen = np.sort(np.random.default_rng(seed).choice(all_rows, size=MAX_DETECTOR_ROWS, replace=False))
        x, y = x[chosen], y[chosen]
    out_of_fold = np.empty(len(x))
    for fit_rows, score_rows in _folds(seed).split(x, y):
        out_of_fold[score_rows] = clone(detector).fit(x[fit_rows]).decision_function(x[score_rows])
    threshold = float(np.quantile(out_of_fold, target_rate))
    fitted = ThresholdedDetector(clone(detector).fit(x), threshold)
    report = {
        "method": f"{CV_FOLDS}-fold cross-validated decision scores on the training split",
        "target_rate": target_rate,
        "decision_threshold": round(threshold, 6),
        "cross_validated_rate": round(float((out_of_fold < threshold).mean()), 4),
        "training_rate_in_sample": round(float((fitted.decision_function(x) < 0).mean()), 4),
    }
    if all_rows > len(x):
        report["fit_rows"] = f"a seeded sample of {len(x)} of the {all_rows} training rows"
    return fitted, report


def quality_reference(
    classifier: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    labels: list[str],
    seed: int,
) -> dict[str, Any]:
    """Accuracy and per-class recall on every row the model type did not learn from: 5-fold out-of-fold predictions
    on the training split plus the hold-out. Five times the hold-out's rows, so the realized-quality check's
    reference is tight enough to notice one class losing a third of its recall (10 hold-out rows per class are not).
    """
    predicted = np.concatenate(
        [cross_val_predict(clone(classifier), x_train, y_train, cv=_folds(seed)), classifier.predict(x_test)]
    )
    actual = np.concatenate([y_train, y_test])
    per_class = {}
    for index, label in enumerate(labels):
        rows = actual == index
        per_class[label] = {"rows": int(rows.sum()), "recall": round(float((predicted[rows] == index).mean()), 4)}
    return {
        "source": f"{CV_FOLDS}-fold out-of-fold predictions on the training split, plus the hold-out",
        "rows": len(actual),
        "accuracy": round(float((predicted == actual).mean()), 4),
        "per_class": per_class,
    }


def train_models(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    nu: float,
    classifier: BaseEstimator | None = None,
    outlier_target_rate: float = OUTLIER_TARGET_RATE,
) -> tuple[Any, ThresholdedDetector, dict[str, Any]]:
    """The exported pair plus the calibration reports for the model card."""
    fitted_classifier, calibration = calibrate_classifier(
        default_classifier(seed) if classifier is None else classifier, x, y, seed=seed
    )
    detector, threshold = calibrate_detector(default_detector(nu), x, y, seed=seed, target_rate=outlier_target_rate)
    return fitted_classifier, detector, {"calibration": calibration, "outlier_threshold": threshold}


def _final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def shift_scores(model: onnx.ModelProto, threshold: float, output: str = "scores") -> None:
    """Bake the calibrated threshold into the detector graph: `scores` becomes the raw score minus it."""
    graph = model.graph
    producer = next(index for index, node in enumerate(graph.node) if output in node.output)
    raw = f"{output}_before_threshold"
    node = graph.node[producer]
    node.output[list(node.output).index(output)] = raw
    graph.initializer.append(numpy_helper.from_array(np.array([threshold], dtype=np.float32), name="decision_threshold"))
    graph.node.insert(producer + 1, helper.make_node("Sub", [raw, "decision_threshold"], [output], name="SubtractThreshold"))


def export_onnx(classifier: Any, outlier_detector: Any, sample: np.ndarray) -> tuple[bytes, bytes]:
    """Plain tensor outputs (no ZipMap), float32 input named `input`."""
    sample32 = sample[:1].astype(np.float32)
    classifier_onnx = to_onnx(
        classifier,
        sample32,
        target_opset=ONNX_OPSET,
        options={id(_final_estimator(classifier)): {"zipmap": False}},
        initial_types=None,
    )
    return _stable_bytes(classifier_onnx), export_detector(outlier_detector, sample)


def export_detector(outlier_detector: Any, sample: np.ndarray) -> bytes:
    """The outlier detector alone (its `scores` output carries a ThresholdedDetector's threshold)."""
    sample32 = sample[:1].astype(np.float32)
    if isinstance(outlier_detector, ThresholdedDetector):
        detector_onnx = to_onnx(outlier_detector.detector, sample32, target_opset=ONNX_OPSET)
        shift_scores(detector_onnx, outlier_detector.threshold)
        onnx.checker.check_model(detector_onnx)
    else:
        detector_onnx = to_onnx(outlier_detector, sample32, target_opset=ONNX_OPSET)
    return _stable_bytes(detector_onnx)


def wide_matrix(encoding: CategoryEncoding | None, x: np.ndarray, categories: np.ndarray | None) -> np.ndarray:
    """What the models learn on: the numbers plus the one-hot columns of the listed categories (or the numbers)."""
    return x if encoding is None or categories is None else encoding.encode(x, categories)


def encoded_graphs(encoding: CategoryEncoding | None, *graphs: bytes) -> tuple[bytes, ...]:
    """Each graph (exported for the encoded float matrix) behind the category prefix; unchanged without categories."""
    if encoding is None:
        return graphs
    return tuple(_stable_bytes(with_category_inputs(graph, encoding)) for graph in graphs)


def _stable_bytes(model: onnx.ModelProto) -> bytes:
    # skl2onnx lists opset imports in set order (varies with PYTHONHASHSEED): sort them so
    # the bytes, and so the content-hash version, are the same on every run.
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in opsets:
        model.opset_import.add(domain=domain, version=version)
    model.producer_name = "models/train.py"
    model.producer_version = skl2onnx.__version__
    return model.SerializeToString()


def onnx_feeds(session: onnxruntime.InferenceSession, x: np.ndarray, categories: np.ndarray | None = None) -> dict[str, Any]:
    """A session's inputs: the one float matrix, or the contract's two inputs when the model has categories."""
    x32 = np.asarray(x).astype(np.float32)
    if categories is None:
        return {session.get_inputs()[0].name: x32}
    return {NUMERIC_INPUT: x32, CATEGORICAL_INPUT: np.asarray(categories).astype(str)}


def onnx_predict(
    classifier_bytes: bytes, detector_bytes: bytes, x: np.ndarray, categories: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Run both ONNX models the way the inference service does."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    classifier = onnxruntime.InferenceSession(classifier_bytes, options, providers=["CPUExecutionProvider"])
    detector = onnxruntime.InferenceSession(detector_bytes, options, providers=["CPUExecutionProvider"])
    labels, probabilities = classifier.run(None, onnx_feeds(classifier, x, categories))
    detector_outputs = detector.run(None, onnx_feeds(detector, x, categories))
    scores = np.asarray(detector_outputs[1]).reshape(-1)
    return {"class_index": np.asarray(labels), "probabilities": np.asarray(probabilities), "decision": scores}


def flipped_outlier_flags(onnx_decision: np.ndarray, reference_decision: np.ndarray) -> tuple[int, float]:
    """(flags that differ outside the rounding band, largest decision gap relative to the scores' largest size).

    A row whose reference score lies within ONNX_RELATIVE_TOLERANCE of the scale from the boundary may fall either
    side in float32; any other flipped flag is a real disagreement.
    """
    gap = np.abs(onnx_decision - reference_decision)
    scale = float(np.abs(reference_decision).max()) if reference_decision.size else 0.0
    scale = scale or 1.0
    flipped = (onnx_decision < 0) != (reference_decision < 0)
    clear = np.abs(reference_decision) > ONNX_RELATIVE_TOLERANCE * scale
    return int((flipped & clear).sum()), (float(gap.max()) if gap.size else 0.0) / scale


def check_export(
    classifier: Any,
    detector: Any,
    classifier_bytes: bytes,
    detector_bytes: bytes,
    x: np.ndarray,
    categories: np.ndarray | None = None,
    encoding: CategoryEncoding | None = None,
) -> None:
    """The exported files compute what scikit-learn computes (on the float32 values the service feeds them).

    Probabilities are on a fixed scale and are compared absolutely; the detector's scores relative to their
    spread, and no outlier flag may flip except for rows on the boundary within the float32 rounding.
    With categories the graphs encode the strings themselves: they are run on the training rows plus rows whose
    categories no listing holds (all zeros in both), against scikit-learn on `encoding.encode` of the same rows.
    """
    x32 = x.astype(np.float32).astype(np.float64)
    if categories is not None and encoding is not None:
        unseen_x, unseen_categories = unseen_rows(x32, categories)
        x32, categories = np.vstack([x32, unseen_x]), np.vstack([categories, unseen_categories])
        reference = encoding.encode(x32, categories)
    else:
        reference = x32
    out = onnx_predict(classifier_bytes, detector_bytes, x32, categories)
    probability_gap = float(np.abs(out["probabilities"] - classifier.predict_proba(reference)).max())
    flipped, relative_gap = flipped_outlier_flags(out["decision"], detector.decision_function(reference))
    if probability_gap > ONNX_TOLERANCE or relative_gap > ONNX_RELATIVE_TOLERANCE or flipped:
        raise TrainingDataError(
            f"the ONNX export disagrees with scikit-learn (probabilities by {probability_gap:.3g}, outlier decision "
            f"by {relative_gap:.3g} of the scores' range, {flipped} of {len(x32)} outlier flags flipped); "
            "this model cannot be exported faithfully"
        )


def feature_statistics(x: np.ndarray, names: list[str], display_names: list[str]) -> list[dict[str, Any]]:
    stats = []
    for index, name in enumerate(names):
        column = x[:, index].astype(np.float64)
        stats.append(
            {
                "name": name,
                "display_name": display_names[index],
                "count": int(column.size),
                "missing": 0,
                "mean": float(column.mean()),
                "std": float(column.std(ddof=1)),
                "min": float(column.min()),
                "max": float(column.max()),
                "quantiles": [float(v) for v in np.quantile(column, QUANTILE_LEVELS)],
            }
        )
    return stats


def write_holdout_csv(
    path: Path,
    feature_names: list[str],
    label_names: list[str],
    x: np.ndarray,
    y: np.ndarray,
    data: TrainingData | None = None,
    categories: np.ndarray | None = None,
) -> None:
    """The held-out rows, readable by `--csv` training and by the demo's and benchmarks' traffic generators
    (categories as the strings they are, in their input positions)."""
    types = (data.feature_types if data is not None else None) or [FEATURE_NUMERIC] * len(feature_names)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*feature_names, HOLDOUT_LABEL_COLUMN])
        for index, (row, label) in enumerate(zip(x, y, strict=True)):
            numbers = iter(repr(float(v)) for v in row)
            strings = iter(categories[index] if categories is not None else ())
            cells = [next(strings) if kind == FEATURE_CATEGORICAL else next(numbers) for kind in types]
            writer.writerow([*cells, label_names[int(label)]])


def describe(model: Any) -> str:
    if isinstance(model, ThresholdedDetector):
        return f"{describe(model.detector)}, decision threshold {model.threshold:.6f}"
    if isinstance(model, CalibratedClassifierCV):
        return f"CalibratedClassifierCV(method={model.method!r}, ensemble={model.ensemble}) of {describe(model.estimator)}"
    if isinstance(model, Pipeline):
        return " + ".join(repr(step) for _, step in model.steps)
    return repr(model)


def holdout_quality(out: dict[str, np.ndarray], y: np.ndarray, label_names: list[str]) -> dict[str, Any]:
    """What healthy unseen traffic looks like; the realized-quality check compares labelled traffic with it."""
    probabilities = out["probabilities"].astype(np.float64)
    predicted = out["class_index"]
    per_class = {}
    for index, label in enumerate(label_names):
        actual, chosen = y == index, predicted == index
        per_class[label] = {
            "rows": int(actual.sum()),
            "recall": round(float((predicted[actual] == index).mean()), 4) if actual.any() else None,
            "precision": round(float((y[chosen] == index).mean()), 4) if chosen.any() else None,
        }
    return {
        "rows": len(y),
        "accuracy": round(float((out["class_index"] == y).mean()), 4),
        "mean_confidence": round(float(probabilities.max(axis=1).mean()), 4),
        "expected_calibration_error": round(expected_calibration_error(probabilities, y), 4),
        "outlier_rate": round(float((out["decision"] < 0).mean()), 4),
        "per_class": per_class,
    }


def resolve_trained_at(out_dir: Path, version: str, environ: dict[str, str] | None = None) -> str:
    """SOURCE_DATE_EPOCH when set; else the date already stored for these exact bytes; else now.

    So `make train` on an unchanged model rewrites the same bytes (the version is the files' hash), and a
    changed model gets the date it was really trained.
    """
    epoch = (environ if environ is not None else os.environ).get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), UTC).isoformat()
    try:
        previous = json.loads((out_dir / BASELINE_FILE).read_text(encoding="utf-8"))["model"]
        if previous.get("version") == version and previous.get("trained_at"):
            return str(previous["trained_at"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# --- monitor references (owned by the monitor; docs/monitor.md) -------------------------------------------------
def with_monitor_references(features: list[dict[str, Any]], x: np.ndarray) -> list[dict[str, Any]]:
    """Per feature, the cuts the monitor counts window rows below, and the exact training share below each cut."""
    from functions.monitor.stats import reference_buckets

    for index, feature in enumerate(features):
        column = x[:, index].astype(np.float64)
        cuts, shares = reference_buckets(column.tolist())
        feature["drift_cuts"] = list(cuts)
        feature["drift_shares_below"] = list(shares)
        # The spread check's null: the sampling variance of a variance depends on the fourth moment.
        centred = column - column.mean()
        variance = float((centred**2).mean())
        feature["kurtosis"] = float((centred**4).mean() / variance**2) if variance > 0 else 3.0
    return features


# --- end of monitor references ----------------------------------------------------------------------------------


def provenance(model_bytes: bytes, detector_bytes: bytes) -> dict[str, Any]:
    """The card's `libraries` and `files`: what made the two ONNX files, and their hashes."""
    return {
        "libraries": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "files": {
            "classifier": CLASSIFIER_FILE,
            "outlier_detector": OUTLIER_DETECTOR_FILE,
            "holdout": HOLDOUT_FILE,
            "sha256": {
                CLASSIFIER_FILE: hashlib.sha256(model_bytes).hexdigest(),
                OUTLIER_DETECTOR_FILE: hashlib.sha256(detector_bytes).hexdigest(),
            },
        },
    }


def build_baseline(
    *,
    data: TrainingData,
    classifier_description: str,
    detector_description: str,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classifier_bytes: bytes,
    detector_bytes: bytes,
    seed: int | None,
    owner: str,
    trained_at: str,
    reports: dict[str, Any],
    categories_train: np.ndarray | None = None,
    categories_test: np.ndarray | None = None,
    encoding: CategoryEncoding | None = None,
) -> dict[str, Any]:
    label_names = data.label_names
    reports = dict(reports)
    reference = reports.pop("quality_reference", None)
    version = hashlib.sha256(classifier_bytes + detector_bytes).hexdigest()[:12]
    train_out = onnx_predict(classifier_bytes, detector_bytes, x_train, categories_train)
    test_out = onnx_predict(classifier_bytes, detector_bytes, x_test, categories_test)
    counts = np.bincount(train_out["class_index"], minlength=len(label_names))
    shares = counts / counts.sum()
    holdout = holdout_quality(test_out, y_test, label_names)
    threshold = reports.get("outlier_threshold")
    # The monitor compares live traffic with this rate: unseen rows, so the cross-validated rate when calibrated.
    outlier_rate = threshold["cross_validated_rate"] if threshold else float((train_out["decision"] < 0).mean())
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": data.name,
            "version": version,
            "description": data.description,
            "owner": owner,
            "trained_at": trained_at,
            "task": "multiclass classification with an outlier detector",
            "dataset": data.source,
            "classifier": classifier_description,
            "outlier_detector": f"{detector_description}; outlier_score = -(decision_function - threshold), > 0 outlier",
            "seed": seed,
            **provenance(classifier_bytes, detector_bytes),
            "evaluation": {
                "holdout_rows": holdout["rows"],
                "holdout_accuracy": holdout["accuracy"],
                "holdout_outlier_rate": holdout["outlier_rate"],
                "training_outlier_rate_in_sample": round(float((train_out["decision"] < 0).mean()), 4),
            },
            **reports,
            "input": input_description(data, encoding),
            "outputs": {
                "classifier": ["label (int64 class index)", "probabilities (float32, label order)"],
                "outlier_detector": [
                    "label (1 inlier, -1 outlier)",
                    "scores (decision_function minus the calibrated threshold; < 0 outlier)",
                ],
            },
        },
        "labels": label_names,
        "training_rows": len(x_train),
        "quantile_levels": QUANTILE_LEVELS,
        "features": baseline_features(data, x_train, encoding),
        "prediction_distribution": {label: float(share) for label, share in zip(label_names, shares, strict=True)},
        "training_outlier_rate": outlier_rate,
        "holdout": holdout,
        **({"quality_reference": reference} if reference else {}),
        "thresholds": dict(DEFAULT_THRESHOLDS),
    }


def input_description(data: TrainingData, encoding: CategoryEncoding | None) -> dict[str, Any]:
    """The model card's `input`: one float matrix, or the contract's two inputs and how the graph encodes them."""
    if encoding is None:
        return {"dtype": "float32", "shape": [None, len(data.feature_names)], "order": data.feature_names}
    return {
        "order": data.feature_names,
        "types": list(data.feature_types or []),
        NUMERIC_INPUT: {"dtype": "float32", "shape": [None, encoding.n_numeric], "order": data.numeric_names},
        CATEGORICAL_INPUT: {"dtype": "string", "shape": [None, len(encoding.features)], "order": data.categorical_names},
        "encoding": f"inside each graph: ai.onnx.ml OneHotEncoder (zeros=1) per categorical feature over its listed "
        f"categories, after the numeric features ({encoding.width} columns); an unlisted value encodes as all zeros",
    }


def baseline_features(data: TrainingData, x_train: np.ndarray, encoding: CategoryEncoding | None) -> list[dict[str, Any]]:
    """`features`, in input order: the numeric statistics as always, a categorical feature's listing in its place."""
    numeric = with_monitor_references(feature_statistics(x_train, data.numeric_names, data.numeric_display()), x_train)
    if encoding is None:
        return numeric
    numbers, listed = iter(numeric), iter(encoding.features)
    return [next(listed).baseline_entry() if kind == FEATURE_CATEGORICAL else next(numbers) for kind in data.feature_types or []]


def category_encoding(data: TrainingData, categories_train: np.ndarray | None) -> CategoryEncoding | None:
    """The listing of each categorical feature on the training split (None: numbers only)."""
    if categories_train is None or not data.has_categories:
        return None
    try:
        features = tuple(
            list_categories(categories_train[:, index], name=name, display_name=display)
            for index, (name, display) in enumerate(zip(data.categorical_names, data.categorical_display(), strict=True))
        )
    except CategoryError as error:
        raise TrainingDataError(f"{data.source}: {error}") from None
    return CategoryEncoding(n_numeric=data.x.shape[1], features=features)


def export_model_folder(
    out_dir: Path,
    *,
    data: TrainingData,
    classifier: Any,
    outlier_detector: Any,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    owner: str,
    seed: int | None = None,
    reports: dict[str, Any] | None = None,
    categories_train: np.ndarray | None = None,
    categories_test: np.ndarray | None = None,
    encoding: CategoryEncoding | None = None,
) -> dict[str, Any]:
    """Write a servable model folder from any fitted scikit-learn classifier and outlier detector.

    The classifier needs `predict_proba`; the detector a `decision_function` (< 0 outside the
    training support), e.g. OneClassSVM or IsolationForest, or a ThresholdedDetector around one.
    The baseline's feature statistics come from `x_train`; its `holdout` figures from `x_test`.
    With categories both were fitted on `encoding.encode(x_train, categories_train)`; the exported graphs take
    the numbers and the strings and encode them the same way.
    """
    check_servable(data)
    if data.has_categories and (encoding is None or categories_train is None or categories_test is None):
        raise TrainingDataError(f"{data.source}: a model with categories needs their encoding and values to export")
    wide_train = encoding.encode(x_train, categories_train) if encoding is not None and categories_train is not None else x_train
    classifier_bytes, detector_bytes = encoded_graphs(encoding, *export_onnx(classifier, outlier_detector, wide_train))
    check_export(classifier, outlier_detector, classifier_bytes, detector_bytes, x_train, categories_train, encoding)
    return write_model_folder(
        out_dir,
        data=data,
        classifier_bytes=classifier_bytes,
        detector_bytes=detector_bytes,
        classifier_description=describe(classifier),
        detector_description=describe(outlier_detector),
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        owner=owner,
        seed=seed,
        reports=reports or {},
        categories_train=categories_train,
        categories_test=categories_test,
        encoding=encoding,
    )


def check_servable(data: TrainingData) -> None:
    """What the service would refuse when it loads the folder, refused before anything is written."""
    try:
        check_feature_limit(len(data.feature_names))
        check_feature_names(data.feature_names)
    except ModelArtifactError as error:
        raise TrainingDataError(f"{data.source}: {error}") from None
    types = data.feature_types or [FEATURE_NUMERIC] * len(data.feature_names)
    n_categorical = types.count(FEATURE_CATEGORICAL)
    given = 0 if data.categories is None else np.asarray(data.categories).shape[1]
    if len(types) != len(data.feature_names) or set(types) - {FEATURE_NUMERIC, FEATURE_CATEGORICAL}:
        raise TrainingDataError(f"{data.source}: feature_types must give numeric or categorical for each feature")
    if data.x.shape[1] != len(types) - n_categorical or given != n_categorical:
        raise TrainingDataError(
            f"{data.source}: {len(types) - n_categorical} numeric and {n_categorical} categorical features, but the data "
            f"holds {data.x.shape[1]} numeric and {given} categorical columns"
        )


def write_model_folder(
    out_dir: Path,
    *,
    data: TrainingData,
    classifier_bytes: bytes,
    detector_bytes: bytes,
    classifier_description: str,
    detector_description: str,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    owner: str,
    seed: int | None,
    reports: dict[str, Any],
    categories_train: np.ndarray | None = None,
    categories_test: np.ndarray | None = None,
    encoding: CategoryEncoding | None = None,
) -> dict[str, Any]:
    """The folder from ONNX bytes that follow the service's contract (trained here or imported)."""
    check_servable(data)
    version = hashlib.sha256(classifier_bytes + detector_bytes).hexdigest()[:12]
    baseline = build_baseline(
        data=data,
        classifier_description=classifier_description,
        detector_description=detector_description,
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        classifier_bytes=classifier_bytes,
        detector_bytes=detector_bytes,
        seed=seed,
        owner=owner,
        trained_at=resolve_trained_at(out_dir, version),
        reports=reports,
        categories_train=categories_train,
        categories_test=categories_test,
        encoding=encoding,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CLASSIFIER_FILE).write_bytes(classifier_bytes)
    (out_dir / OUTLIER_DETECTOR_FILE).write_bytes(detector_bytes)
    if encoding is not None and categories_train is not None and categories_test is not None:
        joint_drift_bytes, baseline["joint_drift"] = fit_joint_drift(
            encoding.encode(x_train, categories_train), encoding.encode(x_test, categories_test), seed=seed or 0
        )
        float_graph, (joint_drift_bytes,) = joint_drift_bytes, encoded_graphs(encoding, joint_drift_bytes)
        unseen_x, unseen_categories = unseen_rows(x_train, categories_train)
        gap = prefix_disagreement(
            joint_drift_bytes, float_graph, encoding,
            np.vstack([x_train, unseen_x]), np.vstack([categories_train, unseen_categories]),
        )  # fmt: skip
        if gap > ONNX_RELATIVE_TOLERANCE:
            raise TrainingDataError(
                f"the joint-drift graph's category encoding disagrees with the reference encoding by {gap:.3g} of "
                "its outputs' size; this model cannot be exported faithfully"
            )
    else:
        joint_drift_bytes, baseline["joint_drift"] = fit_joint_drift(x_train, x_test, seed=seed or 0)
    baseline["model"]["files"]["sha256"][JOINT_DRIFT_FILE] = hashlib.sha256(joint_drift_bytes).hexdigest()
    relations = fit_relations(x_train, data.numeric_names)
    if relations is not None:
        baseline["relations"] = relations
    (out_dir / JOINT_DRIFT_FILE).write_bytes(joint_drift_bytes)
    (out_dir / BASELINE_FILE).write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
    write_holdout_csv(out_dir / HOLDOUT_FILE, data.feature_names, data.label_names, x_test, y_test, data, categories_test)
    return baseline


def train(
    data: TrainingData,
    out_dir: Path,
    *,
    seed: int = 42,
    nu: float = 0.1,
    owner: str = "ml-platform",
    classifier: BaseEstimator | None = None,
    outlier_target_rate: float = OUTLIER_TARGET_RATE,
) -> dict[str, Any]:
    check_servable(data)
    if len(data.label_names) < 2:
        raise TrainingDataError(f"{data.source}: at least 2 labels are needed, found {data.label_names}")
    counts = np.bincount(data.y, minlength=len(data.label_names))
    if counts.min() < CV_FOLDS * 2:
        raise TrainingDataError(
            f"{data.source}: every label needs at least {CV_FOLDS * 2} rows (hold-out split and {CV_FOLDS}-fold "
            f"calibration); {data.label_names[int(counts.argmin())]!r} has {int(counts.min())}"
        )
    train_rows, test_rows = train_test_split(np.arange(len(data.y)), test_size=0.2, random_state=seed, stratify=data.y)
    (x_train, categories_train), (x_test, categories_test) = data.rows(train_rows), data.rows(test_rows)
    y_train, y_test = data.y[train_rows], data.y[test_rows]
    encoding = category_encoding(data, categories_train)
    # With categories every model learns on the numbers plus the one-hot columns of the listed categories.
    wide_train, wide_test = x_train, x_test
    if encoding is not None and categories_train is not None and categories_test is not None:
        wide_train, wide_test = encoding.encode(x_train, categories_train), encoding.encode(x_test, categories_test)
    fitted_classifier, detector, reports = train_models(
        wide_train, y_train, seed=seed, nu=nu, classifier=classifier, outlier_target_rate=outlier_target_rate
    )
    reports["quality_reference"] = quality_reference(
        fitted_classifier, wide_train, y_train, wide_test, y_test, data.label_names, seed
    )
    return export_model_folder(
        out_dir,
        data=data,
        classifier=fitted_classifier,
        outlier_detector=detector,
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        owner=owner,
        seed=seed,
        reports=reports,
        categories_train=categories_train,
        categories_test=categories_test,
        encoding=encoding,
    )


def refuse_to_overwrite(out_dir: Path, *, force: bool) -> None:
    """A model folder is served and deployed by name: replacing it silently would swap the model under its users."""
    if not force and out_dir.is_dir() and any(out_dir.iterdir()):
        raise TrainingDataError(
            f"{out_dir} already holds files (a model?); pass --force to replace them, or choose another --name or --out"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from models import regression  # regression models (docs/regression.md)

    parser.add_argument(
        "--dataset", choices=sorted([*DATASETS, CREDIT_CARD, *regression.REGRESSION_DATASETS]), default="iris",
        help="a data set scikit-learn ships (diabetes: a regression model), or credit_card (NannyML's, mixed types)",
    )  # fmt: skip
    parser.add_argument(
        "--task", choices=("classification", "regression"), default="classification",
        help="with --csv: regression when the target is a number to estimate",
    )  # fmt: skip
    parser.add_argument(
        "--csv", type=Path,
        help="train on your own CSV instead (header row; a column with a value that is not a number is categorical)",
    )  # fmt: skip
    parser.add_argument(
        "--categorical", default="",
        help="with --csv: comma-separated columns that are categories even though their values look like numbers",
    )  # fmt: skip
    parser.add_argument("--target", default="label", help="with --csv: the label column")
    parser.add_argument("--name", help="with --csv: model name (default: the file's stem)")
    parser.add_argument("--description", default="", help="with --csv: one line for the model card")
    parser.add_argument("--out", type=Path, help="output folder (default: models/<name>)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nu", type=float, default=0.1, help="one-class SVM nu: shapes the detector's boundary")
    parser.add_argument(
        "--outlier-rate", type=float, default=OUTLIER_TARGET_RATE, help="share of cross-validated training rows flagged"
    )
    parser.add_argument("--owner", default="ml-platform")
    parser.add_argument("--force", action="store_true", help="replace the model already in the output folder")
    args = parser.parse_args()
    try:
        if regression.asked_for(args):  # a number to estimate: models/regression.py
            print(regression.train_from_args(args, MODELS_DIR))
            return
        if args.csv:
            name = args.name or feature_key(args.csv.stem)
            data = load_csv_dataset(
                args.csv,
                target=args.target,
                name=name,
                description=args.description or f"Trained on {args.csv.name}",
                categorical=[column.strip() for column in args.categorical.split(",") if column.strip()],
            )
        elif args.dataset == CREDIT_CARD:
            data = load_credit_card()
        else:
            data = load_sklearn_dataset(args.dataset)
        out_dir = args.out or MODELS_DIR / data.name
        refuse_to_overwrite(out_dir, force=args.force)
        started = time.perf_counter()
        baseline = train(data, out_dir, seed=args.seed, nu=args.nu, owner=args.owner, outlier_target_rate=args.outlier_rate)
        seconds = time.perf_counter() - started
    except (TrainingDataError, regression.TrainingDataError, OSError) as error:  # run as __main__: two classes
        print(f"models.train: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    model, holdout = baseline["model"], baseline["holdout"]
    print(
        f"{model['name']} {model['version']}: {len(baseline['features'])} features, {len(baseline['labels'])} labels, "
        f"hold-out accuracy {holdout['accuracy']}, mean confidence {holdout['mean_confidence']}, "
        f"ECE {holdout['expected_calibration_error']}, outlier rate {holdout['outlier_rate']} "
        f"(calibrated classifier: {model['calibration']['calibrated']}) -> {out_dir}"
    )
    detector_rows = min(baseline["training_rows"], MAX_DETECTOR_ROWS)
    print(
        f"trained on {len(data.x)} rows in {seconds:.1f} s ({len(data.x) / seconds:,.0f} rows/s; "
        f"outlier detector fitted on {detector_rows} of {baseline['training_rows']} training rows)"
    )


if __name__ == "__main__":
    main()
