"""Regression models: a regressor whose output is one number per row, plus the same outlier detector.

`models.train --dataset diabetes` and `models.train --csv data.csv --task regression` end here. The folder
has the classifier's place (`classifier.onnx` holds the regressor: one float output, one value per row), the
outlier detector, `holdout.csv` (features, then the numeric `label`) and a baseline with `"task": "regression"`:
the training predictions' statistics and drift cuts (the monitor's output-drift reference) instead of class
shares, and hold-out MAE, RMSE and R² (the realized-quality reference) instead of accuracy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import skl2onnx
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.contract.model_artifact import SCHEMA_VERSION, TASK_REGRESSION, ModelArtifactError, check_feature_limit
from functions.contract.names import BASELINE_FILE, CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE
from models.categories import unseen_rows
from models.relations import fit_relations
from models.train import (
    CV_FOLDS,
    DATASETS,
    DEFAULT_THRESHOLDS,
    HOLDOUT_FILE,
    HOLDOUT_LABEL_COLUMN,
    ONNX_OPSET,
    OUTLIER_TARGET_RATE,
    QUANTILE_LEVELS,
    ThresholdedDetector,
    TrainingData,
    TrainingDataError,
    baseline_features,
    calibrate_detector,
    category_encoding,
    checked_feature_keys,
    default_detector,
    describe,
    encoded_graphs,
    feature_key,
    feature_statistics,
    input_description,
    load_csv_dataset,
    load_sklearn_dataset,
    onnx_feeds,
    provenance,
    resolve_trained_at,
    shift_scores,
    wide_matrix,
    with_monitor_references,
    write_holdout_csv,
)

REGRESSION_DATASETS = {
    "diabetes": "Disease progression one year after baseline from 10 measurements (Efron et al., 2004).",
}
STRATA = 5  # target quantile bins: the hold-out split and the detector's folds keep the target's spread
MIN_ROWS = CV_FOLDS * STRATA * 2
# Largest |ONNX - scikit-learn| prediction accepted, relative to the target's standard deviation.
ONNX_RELATIVE_TOLERANCE = 1e-4


def load_diabetes_dataset() -> TrainingData:
    bunch = load_diabetes()
    names = [str(n) for n in bunch.feature_names]
    return TrainingData(
        name="diabetes",
        description=REGRESSION_DATASETS["diabetes"],
        source="sklearn.datasets.load_diabetes",
        x=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.float64),  # the target itself, not a class index
        feature_names=checked_feature_keys(names, where="diabetes"),
        label_names=[],
        display_names=names,
    )


def load_shipped_dataset(name: str) -> TrainingData | None:
    """The data set a shipped model was trained on (diabetes here, a classifier's in models.train), None for any
    other name: benches and tests resample its rows, whose features move together as real traffic's do."""
    if name == "diabetes":
        return load_diabetes_dataset()
    return load_sklearn_dataset(name) if name in DATASETS else None


def load_regression_csv(
    path: Path, *, target: str, name: str, description: str, categorical: list[str] | None = None
) -> TrainingData:
    """The CSV reader of classification (categorical columns included), then the target column read as numbers."""
    data = load_csv_dataset(path, target=target, name=name, description=description, categorical=categorical)
    try:
        values = [float(label) for label in data.label_names]
    except ValueError as error:
        raise TrainingDataError(f"{path}: with --task regression the column {target!r} must be numeric ({error})") from None
    y = np.array([values[index] for index in data.y], dtype=np.float64)
    if not np.isfinite(y).all():
        raise TrainingDataError(f"{path}: the target column {target!r} must hold finite numbers")
    return replace(data, y=y, label_names=[])


def default_regressor() -> Pipeline:
    """Ridge with its penalty chosen by efficient leave-one-out: exports exactly to ONNX (a linear graph)."""
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))


def strata(y: np.ndarray) -> np.ndarray:
    """Target quantile bins: what stratified splits and folds balance on for a continuous target."""
    edges = np.quantile(y, np.linspace(0, 1, STRATA + 1)[1:-1])
    return np.searchsorted(edges, y, side="right")


def errors_summary(predicted: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE, R² and the spreads the quality check's intervals need (per-row |error| and error²)."""
    error = predicted.astype(np.float64) - actual.astype(np.float64)
    absolute, squared = np.abs(error), error**2
    variance = float(actual.var())
    n = len(actual)
    return {
        "rows": n,
        "mae": round(float(absolute.mean()), 6),
        "rmse": round(float(math.sqrt(squared.mean())), 6),
        "r2": round(1.0 - float(squared.mean()) / variance, 6) if variance > 0 else None,
        "mae_sd": round(float(absolute.std(ddof=1)), 6) if n > 1 else 0.0,
        "mse": round(float(squared.mean()), 6),
        "mse_sd": round(float(squared.std(ddof=1)), 6) if n > 1 else 0.0,
        "target_mean": round(float(actual.mean()), 6),
        "target_variance": round(variance, 6),
    }


def export_regression_onnx(regressor: Any, detector: ThresholdedDetector, sample: np.ndarray) -> tuple[bytes, bytes]:
    """The regressor (one float output, renamed `prediction`) and the thresholded detector, bytes reproducible."""
    sample32 = sample[:1].astype(np.float32)
    regressor_onnx = to_onnx(regressor, sample32, target_opset=ONNX_OPSET)
    output = regressor_onnx.graph.output[0].name
    for node in regressor_onnx.graph.node:
        node.output[:] = ["prediction" if name == output else name for name in node.output]
    regressor_onnx.graph.output[0].name = "prediction"
    detector_onnx = to_onnx(detector.detector, sample32, target_opset=ONNX_OPSET)
    shift_scores(detector_onnx, detector.threshold)
    for model in (regressor_onnx, detector_onnx):
        onnx.checker.check_model(model)
        opsets = sorted((o.domain, o.version) for o in model.opset_import)
        del model.opset_import[:]
        for domain, version in opsets:
            model.opset_import.add(domain=domain, version=version)
        model.producer_name = "models/regression.py"
        model.producer_version = skl2onnx.__version__
    return regressor_onnx.SerializeToString(), detector_onnx.SerializeToString()


def onnx_regression_predict(
    regressor_bytes: bytes, detector_bytes: bytes, x: np.ndarray, categories: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Run both ONNX models the way the inference service does."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    regressor = onnxruntime.InferenceSession(regressor_bytes, options, providers=["CPUExecutionProvider"])
    detector = onnxruntime.InferenceSession(detector_bytes, options, providers=["CPUExecutionProvider"])
    (prediction,) = regressor.run(None, onnx_feeds(regressor, x, categories))
    scores = np.asarray(detector.run(None, onnx_feeds(detector, x, categories))[1]).reshape(-1)
    return {"prediction": np.asarray(prediction, dtype=np.float64).reshape(-1), "decision": scores}


def check_regression_export(regressor: Any, detector: Any, out: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
    """The exported regressor computes what scikit-learn computes, within a tolerance relative to the target's spread."""
    x32 = x.astype(np.float32).astype(np.float64)
    scale = float(np.std(y)) or 1.0
    prediction_gap = float(np.abs(out["prediction"] - regressor.predict(x32)).max()) / scale
    flips = int(((out["decision"] < 0) != (detector.decision_function(x32) < 0)).sum())
    if prediction_gap > ONNX_RELATIVE_TOLERANCE or flips > 0:
        raise TrainingDataError(
            f"the ONNX export disagrees with scikit-learn (predictions by {prediction_gap:.3g} target sd, "
            f"{flips} outlier flags flipped); this model cannot be exported faithfully"
        )


def prediction_statistics(predictions: np.ndarray) -> dict[str, Any]:
    """The training predictions as a feature: summary, quantiles and the monitor's drift cuts."""
    (stats,) = with_monitor_references(
        feature_statistics(predictions.reshape(-1, 1), ["prediction"], ["prediction"]), predictions.reshape(-1, 1)
    )
    del stats["name"], stats["display_name"]
    return stats


def train_regression(
    data: TrainingData,
    out_dir: Path,
    *,
    seed: int = 42,
    nu: float = 0.1,
    owner: str = "ml-platform",
    regressor: BaseEstimator | None = None,
    outlier_target_rate: float = OUTLIER_TARGET_RATE,
) -> dict[str, Any]:
    """Fit, export, check and write a regression model folder; returns the baseline document."""
    if len(data.y) < MIN_ROWS:
        raise TrainingDataError(f"{data.source}: a regression model needs at least {MIN_ROWS} rows, found {len(data.y)}")
    try:
        check_feature_limit(len(data.feature_names))
    except ModelArtifactError as error:
        raise TrainingDataError(str(error)) from None
    y = data.y.astype(np.float64)
    train_rows, test_rows = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=strata(y))
    (x_train, categories_train), (x_test, categories_test) = data.rows(train_rows), data.rows(test_rows)
    y_train, y_test = y[train_rows], y[test_rows]
    # With categories the models learn on the numbers plus the one-hot columns of the listed categories, and the
    # exported graphs take the two contract inputs and encode the strings themselves (models/categories.py).
    encoding = category_encoding(data, categories_train)
    wide_train = wide_matrix(encoding, x_train, categories_train)
    model = clone(regressor if regressor is not None else default_regressor()).fit(wide_train, y_train)
    detector, threshold = calibrate_detector(
        default_detector(nu), wide_train, strata(y_train), seed=seed, target_rate=outlier_target_rate
    )
    regressor_bytes, detector_bytes = encoded_graphs(encoding, *export_regression_onnx(model, detector, wide_train))
    train_out = onnx_regression_predict(regressor_bytes, detector_bytes, x_train, categories_train)
    test_out = onnx_regression_predict(regressor_bytes, detector_bytes, x_test, categories_test)
    check_regression_export(model, detector, train_out, wide_train, y_train)
    if encoding is not None and categories_train is not None:  # values no listing holds encode as all zeros in both
        unseen_x, unseen_categories = unseen_rows(x_train, categories_train)
        unseen_out = onnx_regression_predict(regressor_bytes, detector_bytes, unseen_x, unseen_categories)
        check_regression_export(model, detector, unseen_out, wide_matrix(encoding, unseen_x, unseen_categories), y_train)
    out_of_fold = cross_val_predict(
        clone(regressor if regressor is not None else default_regressor()),
        wide_train,
        y_train,
        cv=KFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed),
    )
    reference = errors_summary(np.concatenate([out_of_fold, test_out["prediction"]]), np.concatenate([y_train, y_test])) | {
        "source": f"{CV_FOLDS}-fold out-of-fold predictions on the training split, plus the hold-out"
    }
    holdout = errors_summary(test_out["prediction"], y_test) | {
        "outlier_rate": round(float((test_out["decision"] < 0).mean()), 4)
    }
    version = hashlib.sha256(regressor_bytes + detector_bytes).hexdigest()[:12]
    baseline = {
        "schema_version": SCHEMA_VERSION,
        "task": TASK_REGRESSION,
        "model": {
            "name": data.name,
            "version": version,
            "description": data.description,
            "owner": owner,
            "trained_at": resolve_trained_at(out_dir, version),
            "task": "regression with an outlier detector",
            "dataset": data.source,
            "regressor": describe(model),
            "outlier_detector": f"{describe(detector)}; outlier_score = -(decision_function - threshold), > 0 outlier",
            "seed": seed,
            **provenance(regressor_bytes, detector_bytes),
            "evaluation": {
                "holdout_rows": holdout["rows"],
                "holdout_mae": holdout["mae"],
                "holdout_rmse": holdout["rmse"],
                "holdout_r2": holdout["r2"],
                "holdout_outlier_rate": holdout["outlier_rate"],
                "training_outlier_rate_in_sample": round(float((train_out["decision"] < 0).mean()), 4),
            },
            "outlier_threshold": threshold,
            "input": input_description(data, encoding),
            "outputs": {
                "classifier": ["prediction (float32, one value per row: the regressor's estimate)"],
                "outlier_detector": [
                    "label (1 inlier, -1 outlier)",
                    "scores (decision_function minus the calibrated threshold; < 0 outlier)",
                ],
            },
        },
        "labels": [],
        "training_rows": len(x_train),
        "quantile_levels": QUANTILE_LEVELS,
        "features": baseline_features(data, x_train, encoding),
        "prediction_statistics": prediction_statistics(train_out["prediction"]),
        "training_outlier_rate": threshold["cross_validated_rate"],
        "holdout": holdout,
        "quality_reference": reference,
        "thresholds": dict(DEFAULT_THRESHOLDS),
    }
    relations = fit_relations(x_train, data.numeric_names)
    if relations is not None:
        baseline["relations"] = relations
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CLASSIFIER_FILE).write_bytes(regressor_bytes)
    (out_dir / OUTLIER_DETECTOR_FILE).write_bytes(detector_bytes)
    (out_dir / BASELINE_FILE).write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
    write_regression_holdout(out_dir / HOLDOUT_FILE, data, x_test, y_test, categories_test)
    return baseline


def write_regression_holdout(
    path: Path, data: TrainingData, x: np.ndarray, y: np.ndarray, categories: np.ndarray | None = None
) -> None:
    if categories is not None:  # strings may need quoting: the classification writer, each target as its own label
        targets = [repr(float(target)) for target in y]
        write_holdout_csv(path, data.feature_names, targets, x, np.arange(len(y)), data, categories)
        return
    lines = [",".join([*data.feature_names, HOLDOUT_LABEL_COLUMN])]
    lines += [",".join([*(repr(float(v)) for v in row), repr(float(target))]) for row, target in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def asked_for(args: argparse.Namespace) -> bool:
    """`models.train`'s arguments ask for a regression model: `--task regression` with `--csv`, or its data set."""
    return bool(args.task == "regression") if args.csv else args.dataset in REGRESSION_DATASETS


def train_from_args(args: argparse.Namespace, models_dir: Path) -> str:
    """Train from `models.train`'s arguments; the summary line it prints."""
    if args.csv:
        data = load_regression_csv(
            args.csv, target=args.target, name=args.name or feature_key(args.csv.stem),
            description=args.description or f"Trained on {args.csv.name}",
            categorical=[column.strip() for column in args.categorical.split(",") if column.strip()],
        )  # fmt: skip
    else:
        data = load_diabetes_dataset()
    out_dir = args.out or models_dir / data.name
    baseline = train_regression(
        data, out_dir, seed=args.seed, nu=args.nu, owner=args.owner, outlier_target_rate=args.outlier_rate
    )
    return summary_line(baseline, out_dir)


def summary_line(baseline: dict[str, Any], out_dir: Path) -> str:
    model, holdout = baseline["model"], baseline["holdout"]
    return (
        f"{model['name']} {model['version']}: {len(baseline['features'])} features, regression, hold-out "
        f"MAE {holdout['mae']:.4g}, RMSE {holdout['rmse']:.4g}, R² {holdout['r2']:.3f}, "
        f"outlier rate {holdout['outlier_rate']} -> {out_dir}"
    )
