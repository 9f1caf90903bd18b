"""Train a classifier and an outlier detector, export both to ONNX, write the baseline/model card.

Offline and reproducible: the data sets ship with scikit-learn and every random
choice is seeded. Usage::

    python -m models.train --dataset iris          # writes models/iris/
    python -m models.train --dataset wine --out /tmp/wine
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import re
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
from skl2onnx import to_onnx
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from functions.contract.model_artifact import SCHEMA_VERSION
from functions.contract.names import BASELINE_FILE, CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE

MODELS_DIR = Path(__file__).resolve().parent
QUANTILE_LEVELS = [round(i / 100, 2) for i in range(101)]
ONNX_OPSET = 17
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
    x: np.ndarray  # (rows, features) float64
    y: np.ndarray  # (rows,) int64 class index into label_names
    feature_names: list[str]
    label_names: list[str]


def load_sklearn_dataset(name: str) -> TrainingData:
    dataset = DATASETS[name]
    bunch = dataset.loader()
    return TrainingData(
        name=name,
        description=dataset.description,
        source=f"sklearn.datasets.load_{name}",
        x=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=[feature_key(n) for n in bunch.feature_names],
        label_names=[str(n) for n in bunch.target_names],
    )


def load_csv_dataset(path: Path, *, target: str, name: str, description: str) -> TrainingData:
    """A CSV with a header row: numeric feature columns and one label column named `target`."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [row for row in rows[1:] if row]
    if target not in header:
        raise SystemExit(f"{path}: no column named {target!r} (columns: {', '.join(header)})")
    target_index = header.index(target)
    feature_columns = [i for i in range(len(header)) if i != target_index]
    raw_labels = [row[target_index] for row in body]
    label_names = sorted(set(raw_labels))
    try:
        x = np.array([[float(row[i]) for i in feature_columns] for row in body], dtype=np.float64)
    except ValueError as error:
        raise SystemExit(f"{path}: every feature column must be numeric ({error})") from None
    return TrainingData(
        name=name,
        description=description,
        source=str(path),
        x=x,
        y=np.array([label_names.index(label) for label in raw_labels], dtype=np.int64),
        feature_names=[feature_key(header[i]) for i in feature_columns],
        label_names=label_names,
    )


def feature_key(raw_name: str) -> str:
    """'sepal length (cm)' -> 'sepal_length'; 'od280/od315_of_diluted_wines' -> 'od280_od315_of_diluted_wines'."""
    name = re.sub(r"\(.*?\)", "", raw_name).strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def train_models(x: np.ndarray, y: np.ndarray, *, seed: int, nu: float) -> tuple[Pipeline, Pipeline]:
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=5000, random_state=seed))
    classifier.fit(x, y)
    # nu bounds the share of training points outside the support: about 10 % flagged.
    outlier_detector = make_pipeline(StandardScaler(), OneClassSVM(nu=nu, gamma="scale"))
    outlier_detector.fit(x)
    return classifier, outlier_detector


def export_onnx(classifier: Pipeline, outlier_detector: Pipeline, sample: np.ndarray) -> tuple[bytes, bytes]:
    """Plain tensor outputs (no ZipMap), float32 input named `input`."""
    sample32 = sample[:1].astype(np.float32)
    classifier_onnx = to_onnx(
        classifier,
        sample32,
        target_opset=ONNX_OPSET,
        options={id(classifier.steps[-1][1]): {"zipmap": False}},
        initial_types=None,
    )
    detector_onnx = to_onnx(outlier_detector, sample32, target_opset=ONNX_OPSET)
    for model in (classifier_onnx, detector_onnx):
        # skl2onnx lists opset imports in set order (varies with PYTHONHASHSEED): sort them so
        # the bytes, and so the content-hash version, are the same on every run.
        opsets = sorted((o.domain, o.version) for o in model.opset_import)
        del model.opset_import[:]
        for domain, version in opsets:
            model.opset_import.add(domain=domain, version=version)
        model.producer_name = "models/train.py"
        model.producer_version = skl2onnx.__version__
    return classifier_onnx.SerializeToString(), detector_onnx.SerializeToString()


def onnx_predict(classifier_bytes: bytes, detector_bytes: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run both ONNX models the way the inference service does."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    classifier = onnxruntime.InferenceSession(classifier_bytes, options, providers=["CPUExecutionProvider"])
    detector = onnxruntime.InferenceSession(detector_bytes, options, providers=["CPUExecutionProvider"])
    x32 = x.astype(np.float32)
    labels, probabilities = classifier.run(None, {classifier.get_inputs()[0].name: x32})
    detector_outputs = detector.run(None, {detector.get_inputs()[0].name: x32})
    scores = np.asarray(detector_outputs[1]).reshape(-1)
    return {"class_index": np.asarray(labels), "probabilities": np.asarray(probabilities), "decision": scores}


def feature_statistics(x: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    stats = []
    for index, name in enumerate(names):
        column = x[:, index].astype(np.float64)
        stats.append(
            {
                "name": name,
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


# --- monitor references (owned by the monitor; docs/monitor.md) -------------------------------------------------
def with_monitor_references(features: list[dict[str, Any]], x: np.ndarray) -> list[dict[str, Any]]:
    """Per feature, the cuts the monitor counts window rows below, and the exact training share below each cut."""
    from functions.monitor.stats import reference_buckets

    for index, feature in enumerate(features):
        cuts, shares = reference_buckets(x[:, index].tolist())
        feature["drift_cuts"] = list(cuts)
        feature["drift_shares_below"] = list(shares)
    return features


# --- end of monitor references ----------------------------------------------------------------------------------


def describe(pipeline: Pipeline) -> str:
    return " + ".join(repr(step) for _, step in pipeline.steps)


def build_baseline(
    *,
    name: str,
    description: str,
    source: str,
    classifier_description: str,
    detector_description: str,
    feature_names: list[str],
    label_names: list[str],
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classifier_bytes: bytes,
    detector_bytes: bytes,
    seed: int | None,
    owner: str,
    trained_at: str,
) -> dict[str, Any]:
    version = hashlib.sha256(classifier_bytes + detector_bytes).hexdigest()[:12]
    train_out = onnx_predict(classifier_bytes, detector_bytes, x_train)
    test_out = onnx_predict(classifier_bytes, detector_bytes, x_test)
    counts = np.bincount(train_out["class_index"], minlength=len(label_names))
    shares = counts / counts.sum()
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": name,
            "version": version,
            "description": description,
            "owner": owner,
            "trained_at": trained_at,
            "task": "multiclass classification with an outlier detector",
            "dataset": source,
            "classifier": classifier_description,
            "outlier_detector": f"{detector_description}; outlier_score = -decision_function",
            "seed": seed,
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
                "sha256": {
                    CLASSIFIER_FILE: hashlib.sha256(classifier_bytes).hexdigest(),
                    OUTLIER_DETECTOR_FILE: hashlib.sha256(detector_bytes).hexdigest(),
                },
            },
            "evaluation": {
                "holdout_rows": len(y_test),
                "holdout_accuracy": round(float((test_out["class_index"] == y_test).mean()), 4),
            },
            "input": {"dtype": "float32", "shape": [None, len(feature_names)], "order": feature_names},
            "outputs": {
                "classifier": ["label (int64 class index)", "probabilities (float32, label order)"],
                "outlier_detector": ["label (1 inlier, -1 outlier)", "scores (decision_function; < 0 outlier)"],
            },
        },
        "labels": label_names,
        "training_rows": len(x_train),
        "quantile_levels": QUANTILE_LEVELS,
        "features": with_monitor_references(feature_statistics(x_train, feature_names), x_train),
        "prediction_distribution": {label: float(share) for label, share in zip(label_names, shares, strict=True)},
        "training_outlier_rate": float((train_out["decision"] < 0).mean()),
        "thresholds": dict(DEFAULT_THRESHOLDS),
    }


def export_model_folder(
    out_dir: Path,
    *,
    data: TrainingData,
    classifier: Pipeline,
    outlier_detector: Pipeline,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    owner: str,
    seed: int | None = None,
) -> dict[str, Any]:
    """Write a servable model folder from any fitted scikit-learn classifier and outlier detector.

    The classifier needs `predict_proba`; the detector a `decision_function` (< 0 outside the
    training support), e.g. OneClassSVM or IsolationForest. The baseline is computed from
    `x_train`, the data the models learned from.
    """
    classifier_bytes, detector_bytes = export_onnx(classifier, outlier_detector, x_train)
    baseline = build_baseline(
        name=data.name,
        description=data.description,
        source=data.source,
        classifier_description=describe(classifier),
        detector_description=describe(outlier_detector),
        feature_names=data.feature_names,
        label_names=data.label_names,
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        classifier_bytes=classifier_bytes,
        detector_bytes=detector_bytes,
        seed=seed,
        owner=owner,
        trained_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CLASSIFIER_FILE).write_bytes(classifier_bytes)
    (out_dir / OUTLIER_DETECTOR_FILE).write_bytes(detector_bytes)
    (out_dir / BASELINE_FILE).write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
    return baseline


def train(data: TrainingData, out_dir: Path, *, seed: int = 42, nu: float = 0.1, owner: str = "ml-platform") -> dict[str, Any]:
    x_train, x_test, y_train, y_test = train_test_split(data.x, data.y, test_size=0.2, random_state=seed, stratify=data.y)
    classifier, outlier_detector = train_models(x_train, y_train, seed=seed, nu=nu)
    return export_model_folder(
        out_dir,
        data=data,
        classifier=classifier,
        outlier_detector=outlier_detector,
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        owner=owner,
        seed=seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="iris", help="a data set scikit-learn ships")
    parser.add_argument("--csv", type=Path, help="train on your own CSV instead (header row, numeric features)")
    parser.add_argument("--target", default="label", help="with --csv: the label column")
    parser.add_argument("--name", help="with --csv: model name (default: the file's stem)")
    parser.add_argument("--description", default="", help="with --csv: one line for the model card")
    parser.add_argument("--out", type=Path, help="output folder (default: models/<name>)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nu", type=float, default=0.1, help="one-class SVM nu: share of training points flagged")
    parser.add_argument("--owner", default="ml-platform")
    args = parser.parse_args()
    if args.csv:
        name = args.name or feature_key(args.csv.stem)
        data = load_csv_dataset(
            args.csv, target=args.target, name=name, description=args.description or f"Trained on {args.csv.name}"
        )
    else:
        data = load_sklearn_dataset(args.dataset)
    out_dir = args.out or MODELS_DIR / data.name
    baseline = train(data, out_dir, seed=args.seed, nu=args.nu, owner=args.owner)
    model = baseline["model"]
    print(
        f"{model['name']} {model['version']}: {len(baseline['features'])} features, {len(baseline['labels'])} labels, "
        f"holdout accuracy {model['evaluation']['holdout_accuracy']}, "
        f"training outlier rate {baseline['training_outlier_rate']:.3f} -> {out_dir}"
    )


if __name__ == "__main__":
    main()
