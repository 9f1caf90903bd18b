"""The committed ONNX files compute what scikit-learn computes, and training is reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import load_model_artifact
from functions.inference.onnx_model import OnnxModel
from models.train import export_onnx, load_csv_dataset, load_sklearn_dataset, onnx_predict, train, train_models

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_onnx_outputs_equal_scikit_learn_on_the_whole_data_set(dataset: str) -> None:
    data = load_sklearn_dataset(dataset)
    x, y = data.x, data.y
    # float32 is what the service feeds ONNX; scikit-learn sees the same rounded values.
    x = x.astype(np.float32).astype(np.float64)
    classifier, detector = train_models(x, y, seed=42, nu=0.1)
    classifier_bytes, detector_bytes = export_onnx(classifier, detector, x)
    out = onnx_predict(classifier_bytes, detector_bytes, x)
    np.testing.assert_array_equal(out["class_index"], classifier.predict(x))
    np.testing.assert_allclose(out["probabilities"], classifier.predict_proba(x), atol=1e-5)
    decision = detector.decision_function(x)
    np.testing.assert_allclose(out["decision"], decision, atol=1e-4)
    clear = np.abs(decision) > 1e-3  # points on the boundary may fall either side in float32
    np.testing.assert_array_equal((out["decision"] < 0)[clear], (detector.predict(x) == -1)[clear])


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_retraining_reproduces_the_committed_model(dataset: str, tmp_path: Path) -> None:
    baseline = train(load_sklearn_dataset(dataset), tmp_path)
    committed = json.loads((MODELS / dataset / "baseline.json").read_text())
    assert baseline["model"]["version"] == committed["model"]["version"]
    assert (tmp_path / "classifier.onnx").read_bytes() == (MODELS / dataset / "classifier.onnx").read_bytes()
    assert (tmp_path / "outlier_detector.onnx").read_bytes() == (MODELS / dataset / "outlier_detector.onnx").read_bytes()
    assert baseline["features"] == committed["features"]
    assert baseline["prediction_distribution"] == committed["prediction_distribution"]


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_baseline_describes_the_training_data(dataset: str) -> None:
    committed = json.loads((MODELS / dataset / "baseline.json").read_text())
    data = load_sklearn_dataset(dataset)
    assert [f["name"] for f in committed["features"]] == data.feature_names
    assert committed["labels"] == data.label_names
    assert 0.05 <= committed["training_outlier_rate"] <= 0.15  # nu = 0.1
    assert committed["thresholds"]["outlier_ratio"] == 0.20
    assert committed["thresholds"]["mean_deviation"] == 0.05
    assert committed["model"]["evaluation"]["holdout_accuracy"] >= 0.9
    for feature in committed["features"]:
        assert feature["min"] == feature["quantiles"][0]
        assert feature["max"] == feature["quantiles"][-1]
        assert feature["min"] <= feature["mean"] <= feature["max"]


def test_a_csv_of_your_own_becomes_a_servable_model_folder(tmp_path: Path) -> None:
    iris = load_sklearn_dataset("iris")
    lines = ["Petal Length (cm),petal width,sepal/length,species"]
    for row, label in zip(iris.x, iris.y, strict=True):
        lines.append(f"{row[2]},{row[3]},{row[0]},{iris.label_names[label].upper()}")
    csv_path = tmp_path / "flowers.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    data = load_csv_dataset(csv_path, target="species", name="flowers", description="three iris columns")
    assert data.feature_names == ["petal_length", "petal_width", "sepal_length"]
    assert data.label_names == ["SETOSA", "VERSICOLOR", "VIRGINICA"]
    train(data, tmp_path / "flowers")
    artifact = load_model_artifact(tmp_path / "flowers")
    assert artifact.baseline.model_name == "flowers"
    prediction = OnnxModel(artifact).predict(np.array([[1.4, 0.2, 5.1]], dtype=np.float32))
    assert artifact.baseline.label_names[int(prediction.class_index[0])] == "SETOSA"


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_the_held_out_rows_are_saved_with_the_model(dataset: str, tmp_path: Path) -> None:
    train(load_sklearn_dataset(dataset), tmp_path)
    committed = (MODELS / dataset / "holdout.csv").read_text()
    assert (tmp_path / "holdout.csv").read_text() == committed
    held_out = load_csv_dataset(MODELS / dataset / "holdout.csv", target="label", name=dataset, description="")
    data = load_sklearn_dataset(dataset)
    assert held_out.feature_names == data.feature_names
    assert len(held_out.x) == json.loads((MODELS / dataset / "baseline.json").read_text())["model"]["evaluation"]["holdout_rows"]
    # every held-out row is a row of the data set, with its label
    for row, label in zip(held_out.x, held_out.y, strict=True):
        matches = np.flatnonzero((data.x == row).all(axis=1))
        assert matches.size and held_out.label_names[label] in {data.label_names[data.y[m]] for m in matches}
