"""`models.import_model` with categorical columns: a graph taking the contract's two inputs is imported as it is;
one whose inputs do not match the reference CSV's column types is refused in one line naming both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from functions.contract.model_artifact import load_model_artifact
from functions.contract.names import CATEGORICAL_INPUT, NUMERIC_INPUT
from models.categories import CategoryEncoding, list_categories, with_category_inputs
from models.import_model import ModelImportError, import_model, main
from tests.unit.models.test_categorical_training import DEVICES, PLANS, mixed_rows, write_mixed_csv


def users_model(path: Path, rows: list[list[str]]) -> Path:
    """A classifier with its own one-hot encoding inside the graph (its own category order: sorted, not by
    frequency), taking `input` (usage, region) and `categories` (plan, device), as a user would bring it."""
    x = np.array([[float(r[0]), float(r[2])] for r in rows])
    categories = np.array([[r[1], r[3]] for r in rows], dtype=object)
    own = CategoryEncoding(
        2,
        tuple(
            list_categories(sorted(values) * 10, name=name, display_name=name)
            for name, values in (("plan", PLANS), ("device", DEVICES))
        ),
    )
    model = LogisticRegression(max_iter=2000).fit(own.encode(x, categories), [r[4] for r in rows])
    wide = own.encode(x, categories).astype(np.float32)
    exported = to_onnx(model, wide[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    path.write_bytes(with_category_inputs(exported.SerializeToString(), own).SerializeToString())
    return path


def test_a_graph_with_the_two_inputs_is_imported_and_answers_as_it_did(tmp_path: Path) -> None:
    rows = mixed_rows()
    onnx_path = users_model(tmp_path / "plans.onnx", rows)
    data = write_mixed_csv(tmp_path / "reference.csv", rows)
    baseline = import_model(onnx_path, data, tmp_path / "plans", target="label", name="plans")
    artifact = load_model_artifact(tmp_path / "plans")
    assert artifact.baseline.feature_types == ("numeric", "categorical", "numeric", "categorical")
    assert artifact.baseline.categorical_feature("plan").categories == PLANS  # the baseline's own listing: by frequency
    x = np.array([[float(r[0]), float(r[2])] for r in rows[:50]], dtype=np.float32)
    categories = np.array([[r[1], r[3]] for r in rows[:50]], dtype=str)
    feeds = {NUMERIC_INPUT: x, CATEGORICAL_INPUT: categories}
    original = onnxruntime.InferenceSession(onnx_path.read_bytes(), providers=["CPUExecutionProvider"])
    for name in ("classifier.onnx", "outlier_detector.onnx", "joint_drift.onnx"):
        served = onnxruntime.InferenceSession(str(tmp_path / "plans" / name), providers=["CPUExecutionProvider"])
        assert [i.name for i in served.get_inputs()] == [NUMERIC_INPUT, CATEGORICAL_INPUT]
    served = onnxruntime.InferenceSession(str(tmp_path / "plans" / "classifier.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(served.run(["probabilities"], feeds)[0], original.run(["probabilities"], feeds)[0], atol=1e-6)
    unseen = {NUMERIC_INPUT: x[:1], CATEGORICAL_INPUT: np.array([["unheard of", "fax"]])}
    np.testing.assert_allclose(served.run(["probabilities"], unseen)[0], original.run(["probabilities"], unseen)[0], atol=1e-6)
    assert baseline["model"]["imported"]["onnx"] == "plans.onnx"


def test_a_single_float_input_is_refused_for_a_csv_with_string_columns(tmp_path: Path) -> None:
    rows = mixed_rows()
    x = np.array([[float(r[0]), float(r[2])] for r in rows], dtype=np.float32)
    model = LogisticRegression().fit(x, [r[4] for r in rows])
    onnx_path = tmp_path / "numbers.onnx"
    onnx_path.write_bytes(to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=17).SerializeToString())
    with pytest.raises(
        ModelImportError,
        match=r"2 numeric columns \(usage, region\) and 2 categorical columns \(plan, device\), so the model must take "
        r"two inputs: 'input' tensor\(float\) \[N, 2\] and 'categories' tensor\(string\) \[N, 2\].*found X tensor\(float\)",
    ):
        import_model(onnx_path, write_mixed_csv(tmp_path / "r.csv", rows), tmp_path / "out", target="label", name="n")
    assert not (tmp_path / "out").exists()


def test_a_graph_taking_strings_is_refused_for_a_csv_of_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = mixed_rows()
    onnx_path = users_model(tmp_path / "plans.onnx", rows)
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("usage,region,a,b,label\n" + "\n".join(f"{r[0]},{r[2]},1,2,{r[4]}" for r in rows) + "\n")
    code = main(["--onnx", str(onnx_path), "--data", str(numbers), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the model takes strings (input tensor(float) [N, 2], categories tensor(string) [N, 2])" in err
    assert "every column of the reference data is a number; declare the categorical columns with --categorical" in err


def test_a_categories_input_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    rows = mixed_rows()
    onnx_path = users_model(tmp_path / "plans.onnx", rows)
    data = write_mixed_csv(tmp_path / "r.csv", rows)  # region declared categorical: 1 numeric, 3 categorical columns
    with pytest.raises(ModelImportError, match=r"input 'input' takes 2 columns; the reference data has 1 numeric columns"):
        import_model(onnx_path, data, tmp_path / "out", target="label", name="p", categorical=["region"])
