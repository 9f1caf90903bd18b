"""`models.import_model`: classifiers built here with scikit-learn and LightGBM, exported by their converters as
users export them, become model folders the service loads and answers exactly as the original model."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from functions.contract.model_artifact import MAX_FEATURES, load_model_artifact
from functions.inference.onnx_model import OnnxModel
from models.import_model import ModelImportError, import_model, main
from models.train import TrainingDataError

FEATURES = ["tenure", "monthly_spend", "support_calls", "age"]


LABELS = ("churn", "stay", "upgrade")


def dataset(rows: int = 600, labels: tuple[str, ...] = LABELS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=rows, n_features=len(FEATURES), n_informative=3, n_redundant=0, n_classes=len(labels), random_state=seed
    )
    return x.astype(np.float32).astype(np.float64), np.array(labels)[y]


def write_csv(path: Path, x: np.ndarray, y: np.ndarray, names: list[str] = FEATURES, target: str = "label") -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, target])
        for row, label in zip(x, y, strict=True):
            writer.writerow([*(repr(float(v)) for v in row), label])
    return path


def served(folder: Path, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """What the inference service answers for these rows: labels and probabilities."""
    artifact = load_model_artifact(folder)
    batch = OnnxModel(artifact).predict(x.astype(np.float32))
    return [artifact.baseline.label_names[i] for i in batch.class_index], np.asarray(batch.probabilities)


@pytest.mark.parametrize("zipmap", [True, False])
def test_a_scikit_learn_classifier_is_imported_as_it_is(tmp_path: Path, zipmap: bool) -> None:
    x, y = dataset()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    exported = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": zipmap}}, target_opset=17)
    found = [o.name for o in exported.graph.output]
    assert found == (["output_label", "output_probability"] if zipmap else ["label", "probabilities"])
    onnx_path = tmp_path / "churn.onnx"
    onnx_path.write_bytes(exported.SerializeToString())
    baseline = import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "churn", target="label", name="churn")

    labels, probabilities = served(tmp_path / "churn", x)
    assert baseline["labels"] == list(model.classes_)
    np.testing.assert_allclose(probabilities, model.predict_proba(x), atol=1e-5)
    assert (np.array(labels) == model.predict(x)).mean() > 0.995  # ties within float32 may differ
    imported = baseline["model"]["imported"]
    assert ("ZipMap" in imported["outputs_found"] or "sequence(map)" in imported["outputs_found"]) == zipmap
    assert imported["classes_from"] == "the graph's class list"


def test_the_card_is_measured_on_the_reference_rows(tmp_path: Path) -> None:
    x, y = dataset(rows=800, seed=1)
    model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(x[:400], y[:400])
    onnx_path = tmp_path / "forest.onnx"
    onnx_path.write_bytes(to_onnx(model, x[:1].astype(np.float32), target_opset=17).SerializeToString())
    baseline = import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "forest", target="label", name="forest")
    predicted = model.predict(x)
    assert baseline["quality_reference"]["accuracy"] == pytest.approx(float((predicted == y).mean()), abs=2e-3)
    holdout = baseline["holdout"]
    rows = list(csv.DictReader((tmp_path / "forest" / "holdout.csv").open()))
    held_x = np.array([[float(r[name]) for name in FEATURES] for r in rows])
    held_y = np.array([r["label"] for r in rows])
    assert holdout["rows"] == len(rows) == 160
    assert holdout["accuracy"] == pytest.approx(float((model.predict(held_x) == held_y).mean()), abs=1e-4)
    assert holdout["mean_confidence"] == pytest.approx(float(model.predict_proba(held_x).max(axis=1).mean()), abs=1e-3)
    shares = baseline["prediction_distribution"]
    assert set(shares) == set(model.classes_) and sum(shares.values()) == pytest.approx(1.0)
    assert 0.0 < baseline["training_outlier_rate"] < 0.2 and baseline["model"]["calibration"]["calibrated"] is False
    assert [f["name"] for f in baseline["features"]] == FEATURES


def test_a_lightgbm_model_through_onnxmltools_is_imported(tmp_path: Path) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    onnxmltools = pytest.importorskip("onnxmltools")
    from onnxmltools.convert.common.data_types import FloatTensorType

    x, y_text = dataset(rows=900, labels=("0", "1", "2"), seed=2)
    y = y_text.astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1, random_state=0).fit(x, y)
    # onnxmltools 1.16 converts LightGBM up to opset 15
    input_type = [("input", FloatTensorType([None, len(FEATURES)]))]
    exported = onnxmltools.convert_lightgbm(model, initial_types=input_type, target_opset=15)
    onnx_path = tmp_path / "lgbm.onnx"
    onnx.save(exported, str(onnx_path))
    baseline = import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "lgbm", target="label", name="lgbm")
    labels, probabilities = served(tmp_path / "lgbm", x)
    assert baseline["labels"] == ["0", "1", "2"]
    np.testing.assert_allclose(probabilities, model.predict_proba(x.astype(np.float32)), atol=1e-4)
    assert (np.array(labels).astype(int) == model.predict(x.astype(np.float32))).mean() > 0.995


def test_a_regression_model_is_refused_naming_its_output(tmp_path: Path) -> None:
    x, y = dataset()
    model = LinearRegression().fit(x, np.arange(len(x)) % 7)
    onnx_path = tmp_path / "reg.onnx"
    onnx_path.write_bytes(to_onnx(model, x[:1].astype(np.float32), target_opset=17).SerializeToString())
    with pytest.raises(
        ModelImportError, match=r"a regression model, or a binary classifier .*\); found variable tensor\(float\)"
    ):
        import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "out", target="label", name="reg")
    assert not (tmp_path / "out").exists()


def _matmul_model(width: int, classes: int, softmax: bool, inputs: int = 1) -> onnx.ModelProto:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [width, classes], np.linspace(-1, 1, width * classes).tolist())
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])]
    graph_inputs += [helper.make_tensor_value_info(f"extra{i}", TensorProto.FLOAT, ["N", 1]) for i in range(inputs - 1)]
    output = helper.make_tensor_value_info("scores" if softmax else "logits", TensorProto.FLOAT, ["N", classes])
    graph = helper.make_graph(nodes, "hand", graph_inputs, [output], initializer=[weights])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)  # onnxruntime 1.31 reads <= 13


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (_matmul_model(4, 3, softmax=False), r"output 'logits' is not class probabilities .*export the model with its softmax"),
        (_matmul_model(5, 3, softmax=True), "the input takes 5 features, the reference data has 4 feature columns"),
        (_matmul_model(4, 3, softmax=True, inputs=2), r"needs one input tensor \(rows, features\), found 2: x tensor"),
        (_matmul_model(4, 2, softmax=True), "gives 2 probabilities per row but the reference data has 3 labels"),
    ],
)
def test_what_cannot_be_served_is_refused_in_one_line(tmp_path: Path, model: onnx.ModelProto, says: str) -> None:
    x, y = dataset()
    onnx_path = tmp_path / "hand.onnx"
    onnx.save(model, str(onnx_path))
    with pytest.raises(ModelImportError, match=says) as raised:
        import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "out", target="label", name="hand")
    assert "\n" not in str(raised.value) and str(raised.value).startswith(str(onnx_path))


def test_a_graph_without_class_names_takes_the_reference_labels_sorted_or_labels_given(tmp_path: Path) -> None:
    x, y = dataset()
    onnx_path = tmp_path / "hand.onnx"
    onnx.save(_matmul_model(4, 3, softmax=True), str(onnx_path))
    csv_path = write_csv(tmp_path / "ref.csv", x, y)
    sorted_labels = import_model(onnx_path, csv_path, tmp_path / "a", target="label", name="hand")
    assert sorted_labels["labels"] == ["churn", "stay", "upgrade"]
    assert sorted_labels["model"]["imported"]["classes_from"] == "the reference labels, sorted"
    given = import_model(onnx_path, csv_path, tmp_path / "b", target="label", name="hand", labels=["upgrade", "stay", "churn"])
    assert given["labels"] == ["upgrade", "stay", "churn"]
    with pytest.raises(ModelImportError, match=r"--labels up, stay, churn: must be distinct .*\(missing: upgrade\)"):
        import_model(onnx_path, csv_path, tmp_path / "c", target="label", name="hand", labels=["up", "stay", "churn"])
    labels, _ = served(tmp_path / "b", x[:5])
    logits = x[:5].astype(np.float32) @ np.linspace(-1, 1, 12).reshape(4, 3)
    expected = np.array(["upgrade", "stay", "churn"])[logits.argmax(axis=1)]
    assert labels == list(expected)


def test_a_model_past_the_feature_limit_is_refused_before_it_is_run(tmp_path: Path) -> None:
    width = MAX_FEATURES + 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, width))
    y = np.array(["a", "b"])[np.arange(40) % 2]
    onnx_path = tmp_path / "wide.onnx"
    onnx.save(_matmul_model(width, 2, softmax=True), str(onnx_path))
    names = [f"f{i}" for i in range(width)]
    with pytest.raises(TrainingDataError, match=rf"has {width} features; at most {MAX_FEATURES}"):
        import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y, names), tmp_path / "out", target="label", name="wide")


def test_the_command_line_prints_one_line_and_exits_2_on_a_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = dataset()
    onnx_path = tmp_path / "hand.onnx"
    onnx.save(_matmul_model(4, 3, softmax=False), str(onnx_path))
    args = ["--onnx", str(onnx_path), "--data", str(write_csv(tmp_path / "ref.csv", x, y)), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("models.import_model: ") and err.count("\n") == 1


def test_the_command_line_writes_the_folder_and_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = dataset()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    onnx_path = tmp_path / "churn.onnx"
    onnx_path.write_bytes(to_onnx(model, x[:1].astype(np.float32), target_opset=17).SerializeToString())
    args = ["--onnx", str(onnx_path), "--data", str(write_csv(tmp_path / "ref.csv", x, y)), "--name", "churn"]
    assert main([*args, "--out", str(tmp_path / "churn")]) == 0
    out = capsys.readouterr().out
    document: dict[str, Any] = json.loads((tmp_path / "churn" / "baseline.json").read_text())
    assert f"churn {document['model']['version']}: imported churn.onnx" in out and "hold-out accuracy" in out


def test_a_graph_input_named_like_a_service_output_is_renamed_with_its_readers(tmp_path: Path) -> None:
    x, y = dataset()
    model = _matmul_model(4, 3, softmax=True)
    model.graph.input[0].name = "label"  # the service's output name, taken by the converter for its input
    model.graph.node[0].input[0] = "label"
    onnx_path = tmp_path / "odd.onnx"
    onnx.save(model, str(onnx_path))
    import_model(onnx_path, write_csv(tmp_path / "ref.csv", x, y), tmp_path / "odd", target="label", name="odd")
    labels, probabilities = served(tmp_path / "odd", x[:3])
    logits = x[:3].astype(np.float32) @ np.linspace(-1, 1, 12).reshape(4, 3)
    assert labels == [LABELS[i] for i in logits.argmax(axis=1)]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
