"""Training a regression model: reproducible files, an export that matches scikit-learn, the baseline the monitor
and the quality check read, and the regressor served as trained."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import ModelArtifactError, load_model_artifact, parse_baseline
from functions.inference.regression import RegressionOnnxModel
from models.regression import (
    check_regression_export,
    errors_summary,
    load_diabetes_dataset,
    onnx_regression_predict,
    train_regression,
)
from models.train import TrainingDataError

MODELS = Path(__file__).resolve().parents[3] / "models"
DIABETES = MODELS / "diabetes"


def test_retraining_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "diabetes"
    shutil.copytree(DIABETES, out)  # the stored trained_at is kept for the same version
    train_regression(load_diabetes_dataset(), out)
    for name in ("classifier.onnx", "outlier_detector.onnx", "baseline.json", "holdout.csv"):
        assert (out / name).read_bytes() == (DIABETES / name).read_bytes(), name


def test_baseline_holds_task_prediction_statistics_and_error_figures() -> None:
    document = json.loads((DIABETES / "baseline.json").read_text())
    assert document["task"] == "regression" and document["labels"] == []
    stats = document["prediction_statistics"]
    assert stats["count"] == document["training_rows"] and len(stats["drift_cuts"]) == len(stats["drift_shares_below"])
    for block in ("holdout", "quality_reference"):
        figures = document[block]
        assert figures["rmse"] == pytest.approx(np.sqrt(figures["mse"]), rel=1e-5)
        assert 0 < figures["mae"] <= figures["rmse"]
        assert 0.3 < figures["r2"] < 0.8  # a linear model on diabetes
    assert document["quality_reference"]["rows"] == 442  # out-of-fold training rows plus the hold-out


def test_holdout_figures_are_recomputed_from_the_committed_files() -> None:
    baseline = load_model_artifact(DIABETES).baseline
    table = np.loadtxt(DIABETES / "holdout.csv", delimiter=",", skiprows=1)
    x, y = table[:, :-1], table[:, -1]
    out = onnx_regression_predict(
        (DIABETES / "classifier.onnx").read_bytes(), (DIABETES / "outlier_detector.onnx").read_bytes(), x
    )
    recomputed = errors_summary(out["prediction"], y)
    for key in ("rows", "mae", "rmse", "r2"):
        assert recomputed[key] == pytest.approx(baseline.document["holdout"][key], rel=1e-5), key


def test_the_served_regressor_answers_what_the_onnx_file_computes() -> None:
    artifact = load_model_artifact(DIABETES)
    x = load_diabetes_dataset().x[:50]
    served = RegressionOnnxModel(artifact).predict(x.astype(np.float32))
    direct = onnx_regression_predict(artifact.classifier_path.read_bytes(), artifact.outlier_detector_path.read_bytes(), x)
    assert np.array_equal(served.prediction.astype(np.float64), direct["prediction"])
    assert np.array_equal(served.outlier_score, -direct["decision"].astype(np.float32))


def test_an_export_that_disagrees_with_scikit_learn_is_refused() -> None:
    class Off:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(len(x), 100.0)

    class Detector:
        def decision_function(self, x: np.ndarray) -> np.ndarray:
            return np.ones(len(x))

    x = np.zeros((4, 2))
    with pytest.raises(TrainingDataError, match="disagrees"):
        check_regression_export(Off(), Detector(), {"prediction": np.full(4, 101.0), "decision": np.ones(4)}, x, np.arange(4.0))
    with pytest.raises(TrainingDataError, match="1 outlier flags flipped"):
        flags = np.array([1.0, 1.0, 1.0, -1.0])
        check_regression_export(Off(), Detector(), {"prediction": np.full(4, 100.0), "decision": flags}, x, np.arange(4.0))


def test_too_few_rows_are_refused(tmp_path: Path) -> None:
    data = load_diabetes_dataset()
    small = type(data)(data.name, data.description, data.source, data.x[:20], data.y[:20], data.feature_names, [], None)
    with pytest.raises(TrainingDataError, match="at least"):
        train_regression(small, tmp_path / "small")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(task="ranking"), "'task' must be one of"),
        (lambda d: d.update(labels=["a", "b"]), "a regression model has no 'labels'"),
        (lambda d: d.pop("prediction_statistics"), "missing key 'prediction_statistics'"),
        (lambda d: d["prediction_statistics"]["drift_cuts"].reverse(), "drift_cuts must rise strictly"),
        (lambda d: d["prediction_statistics"].update(mean=float("nan")), "expected a finite number"),
    ],
)
def test_malformed_regression_baselines_are_refused(change, says: str) -> None:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(json.loads((DIABETES / "baseline.json").read_text()))
    change(document)
    with pytest.raises(ModelArtifactError, match=says):
        parse_baseline(document)


def test_a_classifier_baseline_without_task_is_a_classifier() -> None:
    document = json.loads((MODELS / "iris" / "baseline.json").read_text())
    assert "task" not in document
    baseline = parse_baseline(document)
    assert not baseline.is_regression and baseline.prediction_stats is None


def test_a_regressor_with_two_outputs_per_row_is_refused_at_load(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    folder = tmp_path / "two"
    shutil.copytree(DIABETES, folder)
    x = load_diabetes_dataset().x.astype(np.float32)
    two = LinearRegression().fit(x, np.column_stack([x[:, 0], x[:, 1]]))
    (folder / "classifier.onnx").write_bytes(to_onnx(two, x[:1], target_opset=17).SerializeToString())
    with pytest.raises(ModelArtifactError, match="2 values per row, expected 1"):
        RegressionOnnxModel(load_model_artifact(folder))
