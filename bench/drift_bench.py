"""The monitor on a public drift benchmark: NannyML's synthetic multiclass data set, chunk by chunk.

    .venv/bin/python bench/drift_bench.py [--train-rows 12000] [--retrain]     (make bench-drift)

Data: the 7 features and the label of NannyML's `load_synthetic_multiclass_classification_dataset`
(60,000 reference rows, 60,000 analysis rows), committed as bench/data/nannyml_multiclass.csv.gz by
bench/nannyml_data.py (Apache-2.0, bench/data/NANNYML-LICENSE); nothing is downloaded. A model is trained
with `models.train` on a seeded sample of the reference rows (the one-class SVM does not scale to all 60,000;
the folder is cached under .build/drift_bench/ and reused while the data and the sample size are the same).
Each 6,000-row chunk is run through that model's own ONNX files (classifier, outlier detector, joint-drift
model) and judged alone as one monitor window, exactly as the engines would count it.

Printed per chunk: our verdict, the checks in ALARM, the drifted features they name, the alert NannyML 0.13.1's
univariate and multivariate (PCA reconstruction) calculators raise on the chunk with their defaults, as reported
by a run of NannyML on all of the data set's columns (not re-run here: NannyML is not installed), realized
accuracy (labels) and estimated accuracy (the monitor's: the window's mean confidence less the hold-out's
over-confidence). Figures are printed, never asserted.

Then the all-feature replay: the shipped mixed model models/credit_card (all 7 features, the 3 categorical ones
sent as strings; trained on the whole reference period, so its reference chunks are 80 % training rows) through
the product's own path: each chunk's rows are POSTed in 1,000-row JSON bodies to the inference service's
PredictionService (real request parsing, ONNX sessions and prediction lines, written to
.build/drift_bench/credit_card-predictions.jsonl), and each chunk's window is read back by the local monitor's
DuckDB engine (the one aggregate definition both engines use) and judged by `evaluate`. Printed per chunk: the
same columns as above, numeric and categorical features named; then estimated accuracy by two estimators (the
monitor's mean confidence, and a bench-only candidate: per-class isotonic calibration fitted on the model's
hold-out.csv, as NannyML's CBPA does) with a reliability table per confidence bin; each categorical feature's
category_drift condition on the analysis chunks; and where the confidence is too high (per predicted class and
per category, hold-out against analysis 0-4 and 5-9). Last, the concept check (`concept_check`): whether a
flexible reference-trained model's confidence could have estimated chunks 5-9 at all.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import itertools
import json
import os
import platform
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402

from functions.contract.model_artifact import FEATURE_CATEGORICAL, Baseline, load_baseline  # noqa: E402
from functions.contract.names import CLASSIFIER_FILE, JOINT_DRIFT_FILE, OUTLIER_DETECTOR_FILE  # noqa: E402
from functions.monitor.aggregates import OTHER_CLASS, FeatureWindow, WindowAggregates, feature_cuts  # noqa: E402
from functions.monitor.checks import Evaluation, estimated_accuracy, evaluate  # noqa: E402
from models.train import TrainingData, feature_key, train  # noqa: E402

DATA = REPO / "bench" / "data" / "nannyml_multiclass.csv.gz"
CACHE = REPO / ".build" / "drift_bench"
# The one-class SVM's nu: a small share of support vectors keeps its ONNX export within models.train's tolerance
# (float32 sums over ~1,000 support vectors drift by 2e-4); its threshold is calibrated to a 5 % rate anyway.
NU = 0.02
FEATURE_CHECKS = (
    "mean_shift",
    "spread",
    "distribution",
    "relative_mean_shift",
    "relation_shift",
    "category_drift",
    "unseen_category",
)
WINDOW_MS = 120_000
# What NannyML 0.13.1 alerts on for each chunk (univariate drift on each numeric feature, multivariate drift by
# PCA reconstruction error over all columns, categorical ones included), with its default thresholds; reported,
# not re-run here.
NANNYML_ALERTS = {
    **{("reference", k): "none" for k in range(10)},
    **{("analysis", k): "none" for k in range(3)},
    **{("analysis", k): "multivariate" for k in (3, 4)},
    **{("analysis", k): "univariate, all 4 features" for k in range(5, 10)},
}


def load_rows() -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(feature names, x, label index, label names, period, chunk)."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    target = header.index("y_true")
    features = header[2:target]  # the numeric features; the categorical ones follow the label
    labels = sorted({r[target] for r in body})
    # float32 values, as the service receives them (its ONNX input is float32): training then sees the same numbers
    x = np.array([[float(v) for v in r[2:target]] for r in body]).astype(np.float32).astype(np.float64)
    y = np.array([labels.index(r[target]) for r in body])
    return features, x, y, labels, np.array([r[0] for r in body]), np.array([int(r[1]) for r in body])


def trained_model(features: list[str], x: np.ndarray, y: np.ndarray, labels: list[str], rows: int, retrain: bool) -> Path:
    code = b"".join((REPO / "models" / name).read_bytes() for name in ("train.py", "joint_drift.py"))
    digest = hashlib.sha256(DATA.read_bytes() + code + f"{rows} {NU}".encode()).hexdigest()[:12]
    folder = CACHE / f"nannyml_multiclass-{rows}"
    stamp = folder / "inputs.sha256"
    if not retrain and stamp.is_file() and stamp.read_text() == digest and (folder / JOINT_DRIFT_FILE).is_file():
        return folder
    sample = np.random.default_rng(0).choice(len(x), size=min(rows, len(x)), replace=False)
    data = TrainingData(
        name="nannyml_multiclass",
        description=f"NannyML synthetic multiclass, {len(sample)} of the reference rows",
        source=str(DATA.relative_to(REPO)),
        x=x[sample],
        y=y[sample],
        feature_names=[feature_key(f) for f in features],
        label_names=labels,
    )
    started = time.perf_counter()
    train(data, folder, seed=42, nu=NU)
    stamp.write_text(digest)
    print(f"trained {folder.relative_to(REPO)} in {time.perf_counter() - started:.0f} s")
    return folder


class Served:
    """The model's three ONNX files, as the inference service runs them."""

    def __init__(self, folder: Path) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.sessions = [
            onnxruntime.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])
            for name in (CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE, JOINT_DRIFT_FILE)
        ]

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(class index, is_outlier, confidence, reconstruction_error) per row."""
        return self.run_feeds({self.sessions[0].get_inputs()[0].name: x})

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The classifier's probabilities (label order) for a numbers-only model."""
        return np.asarray(self.sessions[0].run(None, {self.sessions[0].get_inputs()[0].name: x.astype(np.float32)})[1])

    def run_feeds(self, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The same, for a model with the numeric and the category inputs: one array per input name."""
        feeds = {name: v.astype(np.float32) if v.dtype.kind == "f" else v for name, v in feeds.items()}
        classifier, detector, joint = self.sessions
        labels, probabilities = classifier.run(None, feeds)
        scores = np.asarray(detector.run(["scores"], feeds)[0]).reshape(-1)
        errors = np.asarray(joint.run(None, feeds)[0]).reshape(-1)
        return np.asarray(labels).reshape(-1), scores < 0, np.asarray(probabilities).max(axis=1), errors


def window(
    baseline: Baseline, x: np.ndarray, classes: np.ndarray, outliers: np.ndarray, confidence: np.ndarray, errors: np.ndarray
) -> WindowAggregates:
    """The aggregates both engines would return for these rows."""
    n = len(x)
    counts = {label: int((classes == i).sum()) for i, label in enumerate(baseline.label_names)}
    if n - sum(counts.values()):
        counts[OTHER_CLASS] = n - sum(counts.values())
    features = []
    for index, feature in enumerate(baseline.features):
        cuts, _ = feature_cuts(baseline, index)
        column = x[:, index]
        below = tuple(int((column < c).sum()) for c in cuts)
        features.append(FeatureWindow(feature.name, n, float(column.mean()), float(column.std(ddof=1)), below))
    return WindowAggregates(
        start_ms=0,
        end_ms=WINDOW_MS,
        rows=n,
        outliers=int(outliers.sum()),
        requests=n,
        rejected=0,
        class_counts=counts,
        features=tuple(features),
        confidence_count=n,
        confidence_mean=float(confidence.mean()),
        confidence_std=float(confidence.std(ddof=1)),
        reconstruction_count=n,
        reconstruction_mean=float(errors.mean()),
        reconstruction_std=float(errors.std(ddof=1)),
    )


def load_categories() -> tuple[list[str], np.ndarray]:
    """(categorical column names, their values) in the data's row order: the columns after the label."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    columns = header[header.index("y_true") + 1 :]
    return columns, np.array([r[header.index("y_true") + 1 :] for r in rows[1:]], dtype=str)


class ServedLog:
    """The product's own path for the all-feature replay: each chunk's rows are POSTed (as JSON bodies of at most
    MAX_ROWS_PER_REQUEST rows) to the inference service's PredictionService with the model's real ONNX sessions,
    which writes the prediction lines to a JSON-lines file; the local monitor's DuckDB engine reads each chunk's
    window back from it. Request parsing, log line, aggregate definitions and SQL are the product's, not the bench's."""

    def __init__(self, folder: Path, path: Path) -> None:
        from functions.contract.model_artifact import load_model_artifact
        from functions.contract.prediction_log import PredictionLogWriter
        from functions.inference.onnx_model import OnnxModel
        from functions.inference.prediction_service import PredictionService
        from functions.inference.request_metrics import LinesAreTheMetrics
        from functions.inference.request_parsing import MAX_ROWS_PER_REQUEST
        from functions.inference.settings import DEFAULT_MAX_BODY_BYTES

        artifact = load_model_artifact(folder)
        self.baseline = artifact.baseline
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._writer = PredictionLogWriter(self._devnull, str(path))
        self._now_ms = 0
        self.max_rows = MAX_ROWS_PER_REQUEST
        self.service = PredictionService(
            model=OnnxModel(artifact),
            baseline=self.baseline,
            log=self._writer,
            metrics=LinesAreTheMetrics(),
            max_rows=MAX_ROWS_PER_REQUEST,
            max_body_bytes=DEFAULT_MAX_BODY_BYTES,
            clock_ms=lambda: self._now_ms,
        )

    def post(self, rows: list[list[float | str]], at_ms: int) -> tuple[list[str], np.ndarray]:
        """(predicted label, probabilities in label order) per row, as the replies give them."""
        self._now_ms = at_ms
        labels: list[str] = []
        probabilities: list[list[float]] = []
        for first in range(0, len(rows), self.max_rows):
            body = json.dumps({"data": rows[first : first + self.max_rows]})
            reply = json.loads(
                self.service.predict_request(endpoint="/predict", body=body, content_type="application/json", labels_only=False)
            )
            for prediction in reply["predictions"]:
                labels.append(prediction["label"])
                probabilities.append([prediction["probabilities"][name] for name in self.baseline.label_names])
        return labels, np.array(probabilities)

    def window(self, start_ms: int, end_ms: int) -> WindowAggregates:
        from local.monitor import DuckDbEngine

        return DuckDbEngine(self.baseline, self.path).read(start_ms, end_ms)

    def close(self) -> None:
        self._writer.close()
        self._devnull.close()


def per_class_calibrators(probabilities: np.ndarray, truth: np.ndarray) -> list[Any]:
    """One isotonic map per class (that class's probability against 'the label is this class'), fitted on the
    hold-out: the calibration step of NannyML's CBPA for a multiclass model."""
    from sklearn.isotonic import IsotonicRegression

    return [
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probabilities[:, c], (truth == c).astype(float))
        for c in range(probabilities.shape[1])
    ]


def calibrated_accuracy(calibrators: list[Any], probabilities: np.ndarray) -> float:
    """CBPA's accuracy estimate: each row's calibrated probabilities (renormalised to sum to 1), the predicted
    class's one averaged over the rows."""
    calibrated = np.column_stack([f.predict(probabilities[:, c]) for c, f in enumerate(calibrators)])
    calibrated /= np.maximum(calibrated.sum(axis=1, keepdims=True), 1e-12)
    predicted = probabilities.argmax(axis=1)
    return float(calibrated[np.arange(len(predicted)), predicted].mean())


def body_rows(baseline: Baseline, numeric: list[str], x: np.ndarray, names: list[str], values: np.ndarray) -> list[list[Any]]:
    """Request rows in the model's input order: numbers for numeric features, the strings for categorical ones."""
    columns: list[list[Any]] = []
    for feature, kind in zip(baseline.feature_names, baseline.feature_types, strict=True):
        if kind == FEATURE_CATEGORICAL:
            columns.append(values[:, names.index(feature)].tolist())
        else:
            columns.append(x[:, numeric.index(feature)].tolist())
    return [list(row) for row in zip(*columns, strict=True)]


CONFIDENCE_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def reliability(confidence: np.ndarray, correct: np.ndarray) -> str:
    """Per confidence bin: share of rows, and mean confidence minus accuracy (positive: over-confident)."""
    cells = []
    for low, high in itertools.pairwise(CONFIDENCE_BINS):
        inside = (confidence >= low) & (confidence < high)
        if inside.sum() < 30:
            cells.append(f"{inside.mean():.2f} / -")
        else:
            cells.append(f"{inside.mean():.2f} / {float(confidence[inside].mean() - correct[inside].mean()):+.3f}")
    return " | ".join(cells)


def all_feature_replay(
    period: np.ndarray, chunk: np.ndarray, y: np.ndarray, x: np.ndarray, numeric: list[str], labels: list[str]
) -> None:
    """models/credit_card chunk by chunk through the served path and the local monitor: verdicts, features named,
    accuracy, and a candidate estimator (per-class calibration on the hold-out) beside the mean confidence."""
    folder = REPO / "models" / "credit_card"
    card = json.loads((folder / "baseline.json").read_text())
    names, values = load_categories()
    served = ServedLog(folder, CACHE / "credit_card-predictions.jsonl")
    baseline = served.baseline
    label_index = {name: i for i, name in enumerate(baseline.label_names)}
    truth = np.array([label_index[labels[i]] for i in y])
    started = time.perf_counter()

    with (folder / "holdout.csv").open(newline="", encoding="utf-8") as handle:
        holdout = list(csv.reader(handle))
    holdout_header, holdout_body = holdout[0], holdout[1:]
    label_column = holdout_header.index("label")
    holdout_rows: list[list[Any]] = [
        [r[i] if kind == FEATURE_CATEGORICAL else float(r[i]) for i, kind in enumerate(baseline.feature_types)]
        for r in holdout_body
    ]
    holdout_truth = np.array([label_index[r[label_column]] for r in holdout_body])
    hold_labels, hold_probabilities = served.post(holdout_rows, at_ms=0)  # before every chunk's window
    calibrators = per_class_calibrators(hold_probabilities, holdout_truth)
    hold_predicted = np.array([label_index[v] for v in hold_labels])
    hold_confidence = hold_probabilities.max(axis=1)

    print(
        f"\nall 7 features: models/credit_card {baseline.model_version} (hold-out {card['holdout']['rows']} rows: accuracy "
        f"{card['holdout']['accuracy']}, mean confidence {card['holdout']['mean_confidence']}; trained on the whole "
        "reference period, so its reference chunks are 80 % training rows), each chunk POSTed to the inference "
        "service and judged by the local monitor's DuckDB engine"
    )
    print(
        "\n| chunk | ours | checks in ALARM | features named | NannyML | realized accuracy | estimated accuracy | "
        "estimate - realized |\n|---|---|---|---|---|---|---|---|"
    )
    evidence = []
    category_checks: list[str] = []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {"analysis 0-4": [], "analysis 5-9": []}
    for number, (name, k) in enumerate((n, k) for n in ("reference", "analysis") for k in range(10)):
        rows = (period == name) & (chunk == k)
        start_ms = (number + 1) * WINDOW_MS
        predicted_labels, probabilities = served.post(body_rows(baseline, numeric, x[rows], names, values[rows]), start_ms)
        window_read = served.window(start_ms, start_ms + WINDOW_MS)
        evaluation = evaluate(baseline, window_read)
        kinds = Counter(c.check.split(":")[0] for c in evaluation.alarms)
        checks = ", ".join(f"{kind} ×{count}" if count > 1 else kind for kind, count in sorted(kinds.items()))
        named = named_features(evaluation)
        predicted = np.array([label_index[v] for v in predicted_labels])
        correct = predicted == truth[rows]
        realized = float(correct.mean())
        mean_confidence = float(window_read.confidence_mean or 0.0)
        estimated = estimated_accuracy(mean_confidence, baseline)  # what the monitor reports
        print(
            f"| {name} {k} | {evaluation.overall.value} | {checks or '-'} | "
            f"{f'{len(named)} of {baseline.n_features}: ' + ', '.join(named) if named else '-'} | "
            f"{NANNYML_ALERTS[(name, k)]} | {realized:.3f} | {estimated:.3f} | {estimated - realized:+.3f} |"
        )
        confidence = probabilities.max(axis=1)
        evidence.append(
            (f"{name} {k}", realized, mean_confidence, calibrated_accuracy(calibrators, probabilities), confidence, correct)
        )
        judged = {c.check: c for c in evaluation.checks}
        if name == "analysis":
            cells = [judged[f"category_drift:{f.name}"] for f in baseline.categorical]
            category_checks.append(f"| {name} {k} | " + " | ".join(f"{c.status.value}: {c.condition}" for c in cells) + " |")
            pooled["analysis 0-4" if k < 5 else "analysis 5-9"].append(
                (predicted, truth[rows], confidence, values[rows][:, [names.index(f.name) for f in baseline.categorical]])
            )
    served.close()

    print(
        "\nestimated accuracy, two estimators: the monitor's mean confidence, and per-class isotonic calibration fitted "
        "on the hold-out (CBPA-style, bench only); then per confidence bin: share of the chunk's rows / mean "
        "confidence - accuracy (positive: over-confident)"
    )
    bins = " | ".join(f"conf {low:.1f}-{min(high, 1.0):.1f}" for low, high in itertools.pairwise(CONFIDENCE_BINS))
    print(
        f"\n| chunk | realized | mean confidence - realized | calibrated - realized | {bins} |\n|---|---|---|---|"
        + "---|" * (len(CONFIDENCE_BINS) - 1)
    )
    hold_correct = hold_predicted == holdout_truth
    print(
        f"| hold-out | {float(hold_correct.mean()):.3f} | {float(hold_confidence.mean() - hold_correct.mean()):+.3f} | "
        f"{calibrated_accuracy(calibrators, hold_probabilities) - float(hold_correct.mean()):+.3f} (fitted here) | "
        f"{reliability(hold_confidence, hold_correct)} |"
    )
    for label, realized, estimated, calibrated, confidence, correct in evidence:
        print(
            f"| {label} | {realized:.3f} | {estimated - realized:+.3f} | {calibrated - realized:+.3f} | "
            f"{reliability(confidence, correct)} |"
        )
    print(
        "\ncategory_drift per categorical feature on the analysis chunks (condition as the alert states it)\n\n| chunk | "
        + " | ".join(f.name for f in baseline.categorical)
        + " |\n|---|"
        + "---|" * len(baseline.categorical)
    )
    print("\n".join(category_checks))

    hold_categories = np.array([[r[holdout_header.index(f.name)] for f in baseline.categorical] for r in holdout_body])
    segments = {"hold-out": (hold_predicted, holdout_truth, hold_confidence, hold_categories)}
    for label, parts in pooled.items():
        segments[label] = tuple(np.concatenate([part[i] for part in parts]) for i in range(4))  # type: ignore[assignment]
    print(
        "\nwhere the confidence is too high: per predicted class and per category, share of rows / mean confidence - "
        "accuracy (positive: over-confident)\n\n| segment | " + " | ".join(segments) + " |\n|---|" + "---|" * len(segments)
    )

    def gap_row(label: str, select: Any) -> str:
        cells = []
        for predicted, truth_part, confidence, _categories in segments.values():
            inside = select(predicted, _categories)
            share = float(inside.mean())
            over = float(confidence[inside].mean() - (predicted[inside] == truth_part[inside]).mean())
            cells.append(f"{share:.2f} / {over:+.3f}")
        return f"| {label} | " + " | ".join(cells) + " |"

    print(gap_row("all rows", lambda predicted, _c: np.ones(len(predicted), dtype=bool)))
    for index, class_name in enumerate(baseline.label_names):
        print(gap_row(f"predicted {class_name}", lambda predicted, _c, index=index: predicted == index))
    for column, feature in enumerate(baseline.categorical):
        for category in feature.categories:
            print(
                gap_row(
                    f"{feature.name} = {category}",
                    lambda _p, categories, column=column, category=category: categories[:, column] == category,
                )
            )
    print(f"\nall-feature replay {time.perf_counter() - started:.0f} s")


def concept_check(period: np.ndarray, chunk: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    """Whether all 7 features show anything in chunks 3-4 (a domain classifier per analysis chunk), and whether any
    reference-trained model could estimate chunks 5-9 from its confidence: a flexible model (gradient
    boosting, all 7 features) fitted on 48,000 reference rows, its mean confidence against realized accuracy per
    chunk; and, on half of analysis 5-9, its log loss against the same model fitted on the other half. Rows of
    5-9 lie inside the reference's range (their spreads narrow), so a clearly better fit from their own labels means
    P(label | features) moved: a change no estimator without labels can see."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    names, values = load_categories()
    codes = np.column_stack([np.unique(values[:, i], return_inverse=True)[1] for i in range(len(names))])
    features = np.column_stack([x, codes])
    categorical = [False] * x.shape[1] + [True] * len(names)
    rng = np.random.default_rng(1)

    def fitted(rows: np.ndarray) -> Any:
        model = HistGradientBoostingClassifier(
            categorical_features=categorical, max_iter=300, learning_rate=0.05, early_stopping=True, random_state=0
        )
        return model.fit(features[rows], y[rows])

    reference = rng.permutation(np.flatnonzero(period == "reference"))
    print(
        "\ndomain classifier (gradient boosting, all 7 features, 5-fold ROC AUC): each analysis chunk against 6,000 "
        "reference rows; 0.5 = indistinguishable\n\n| chunk | "
        + " | ".join(f"analysis {k}" for k in range(10))
        + " |\n|---|"
        + "---|" * 10
    )
    cells = []
    for k in range(10):
        rows = np.concatenate([reference[:6_000], np.flatnonzero((period == "analysis") & (chunk == k))])
        target = (period[rows] == "analysis").astype(int)
        domain = HistGradientBoostingClassifier(categorical_features=categorical, max_iter=100, random_state=0)
        cells.append(f"{float(cross_val_score(domain, features[rows], target, cv=5, scoring='roc_auc').mean()):.3f}")
    print("| ROC AUC | " + " | ".join(cells) + " |")
    model = fitted(reference[:48_000])
    print(
        "\nconcept check: gradient boosting on 48,000 reference rows (all 7 features), mean confidence - realized "
        "accuracy per chunk\n\n| rows | realized accuracy | mean confidence | confidence - realized |\n|---|---|---|---|"
    )
    chunks = [("reference hold-out (12,000)", reference[48_000:])] + [
        (f"analysis {k}", np.flatnonzero((period == "analysis") & (chunk == k))) for k in range(10)
    ]
    for label, rows in chunks:
        probabilities = model.predict_proba(features[rows])
        realized = float((probabilities.argmax(axis=1) == y[rows]).mean())
        confidence = float(probabilities.max(axis=1).mean())
        print(f"| {label} | {realized:.3f} | {confidence:.3f} | {confidence - realized:+.3f} |")
    drifted = rng.permutation(np.flatnonzero((period == "analysis") & (chunk >= 5)))
    half = len(drifted) // 2
    own = fitted(drifted[:half])
    judged = drifted[half:]
    print("\n| on half of analysis 5-9 | accuracy | mean confidence | log loss |\n|---|---|---|---|")
    for label, fit in (("trained on 48,000 reference rows", model), (f"trained on the other {half:,} rows of 5-9", own)):
        probabilities = fit.predict_proba(features[judged])
        truth = probabilities[np.arange(len(judged)), y[judged]]
        print(
            f"| {label} | {float((probabilities.argmax(axis=1) == y[judged]).mean()):.3f} | "
            f"{float(probabilities.max(axis=1).mean()):.3f} | {float(-np.log(np.maximum(truth, 1e-12)).mean()):.3f} |"
        )


def named_features(evaluation: Evaluation) -> list[str]:
    """The features the alarms name: numeric ones by their drift checks, categorical ones by theirs."""
    return sorted({c.check.split(":", 1)[1] for c in evaluation.alarms if c.check.split(":")[0] in FEATURE_CHECKS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-rows", type=int, default=12_000, help="reference rows sampled for training")
    parser.add_argument("--retrain", action="store_true", help="train again even if the cached folder matches")
    args = parser.parse_args()
    started = time.perf_counter()
    features, x, y, labels, period, chunk = load_rows()
    reference = period == "reference"
    folder = trained_model(features, x[reference], y[reference], labels, args.train_rows, args.retrain)
    baseline = load_baseline(folder / "baseline.json")
    card = json.loads((folder / "baseline.json").read_text())
    served = Served(folder)
    with (folder / "holdout.csv").open(newline="", encoding="utf-8") as handle:
        holdout = list(csv.reader(handle))[1:]
    calibrators = per_class_calibrators(
        served.probabilities(np.array([[float(v) for v in r[:-1]] for r in holdout])),
        np.array([baseline.label_names.index(r[-1]) for r in holdout]),
    )
    print(
        f"drift bench: {platform.node() or 'this machine'}, {platform.machine()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}; model {baseline.model_version} trained on {baseline.training_rows} rows "
        f"(hold-out {card['holdout']['rows']}: accuracy {card['holdout']['accuracy']}, mean confidence "
        f"{card['holdout']['mean_confidence']}); {card['joint_drift']['method']}"
    )
    print(
        "\n| chunk | ours | checks in ALARM | features named | NannyML | realized accuracy | estimated accuracy | "
        "estimate - realized | calibrated - realized (bench only) |\n|---|---|---|---|---|---|---|---|---|"
    )
    for name in ("reference", "analysis"):
        for k in range(10):
            rows = (period == name) & (chunk == k)
            classes, outliers, confidence, errors = served.run(x[rows])
            evaluation = evaluate(baseline, window(baseline, x[rows], classes, outliers, confidence, errors))
            kinds = Counter(c.check.split(":")[0] for c in evaluation.alarms)
            checks = ", ".join(f"{kind} ×{count}" if count > 1 else kind for kind, count in sorted(kinds.items()))
            named = named_features(evaluation)
            realized = float((classes == y[rows]).mean())
            estimated = estimated_accuracy(float(confidence.mean()), baseline)  # what the monitor reports
            calibrated = calibrated_accuracy(calibrators, served.probabilities(x[rows]))
            print(
                f"| {name} {k} | {evaluation.overall.value} | {checks or '-'} | "
                f"{f'{len(named)} of {len(features)}: ' + ', '.join(named) if named else '-'} | "
                f"{NANNYML_ALERTS[(name, k)]} | {realized:.3f} | {estimated:.3f} | {estimated - realized:+.3f} | "
                f"{calibrated - realized:+.3f} |"
            )
    all_feature_replay(period, chunk, y, x, features, labels)
    concept_check(period, chunk, y, x)
    print(f"\nbench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
