"""A model with categorical features is served through the contract's two ONNX inputs, and a folder whose graphs do
not take what its baseline describes is refused at cold start with a message naming the input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

from functions.contract.model_artifact import ModelArtifactError, load_model_artifact
from functions.contract.names import BASELINE_FILE, CATEGORICAL_INPUT, NUMERIC_INPUT
from functions.inference.onnx_model import OnnxModel
from functions.inference.regression import RegressionOnnxModel
from tests.fixtures.mixed_model import (
    mixed_baseline_document,
    mixed_model_dir,
    write_mixed_model,
    write_mixed_regression_model,
)

MEDIAN_ROW = [5.75, 3.0, 4.25, 1.3]


@pytest.fixture(scope="module")
def model() -> OnnxModel:
    return OnnxModel(load_model_artifact(mixed_model_dir()))


def predict(model: OnnxModel, numbers: list[list[float]], texts: list[list[str]]) -> Any:
    return model.predict(np.array(numbers, dtype=np.float32), np.array(texts, dtype=object))


def test_the_category_reaches_the_classifier(model: OnnxModel) -> None:
    result = predict(model, [MEDIAN_ROW, MEDIAN_ROW], [["basic", "eu"], ["team", "eu"]])
    assert result.class_index.tolist() == [1, 2]  # plan=team adds 10 to virginica's logit
    assert result.probabilities.shape == (2, 3) and result.reconstruction_error is not None


def test_an_unlisted_category_encodes_as_all_zeros_and_scores_further_out(model: OnnxModel) -> None:
    result = predict(model, [MEDIAN_ROW] * 3, [["basic", "eu"], ["gold", "eu"], ["gold", "mars"]])
    scores = result.outlier_score.tolist()
    assert scores[0] < scores[1] < scores[2]  # one more unlisted value moves the row one unit out
    assert scores[1] - scores[0] == pytest.approx(1.0) and scores[2] - scores[1] == pytest.approx(1.0)


def test_one_row_of_numbers_and_strings_in_input_order(model: OnnxModel) -> None:
    one = model.predict_one([5.75, 3.0, "team", 4.25, 1.3, "us"])
    batch = predict(model, [MEDIAN_ROW], [["team", "us"]])
    assert one.class_index == 2 == int(batch.class_index[0])
    assert one.probabilities == batch.probabilities[0].tolist()


def test_the_bound_one_row_path_stays_for_numbers_only_models(model: OnnxModel, iris_artifact: Any) -> None:
    assert model._one_row is None  # strings cannot be packed into the bound float buffer
    assert OnnxModel(iris_artifact)._one_row is not None


def refused(tmp_path: Path, **switches: Any) -> str:
    folder = write_mixed_model(tmp_path / "broken", **switches)
    with pytest.raises(ModelArtifactError) as caught:
        OnnxModel(load_model_artifact(folder))
    return str(caught.value)


def inputs(numeric: tuple[str, int, int], categorical: tuple[str, int, int] | None) -> list[Any]:
    declared = [helper.make_tensor_value_info(numeric[0], numeric[1], [None, numeric[2]])]
    if categorical is not None:
        declared.append(helper.make_tensor_value_info(categorical[0], categorical[1], [None, categorical[2]]))
    return declared


def test_a_graph_with_a_wrongly_named_input_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, classifier_inputs=inputs((NUMERIC_INPUT, TensorProto.FLOAT, 4), ("texts", TensorProto.STRING, 2)))
    assert "classifier.onnx: baseline.json lists categorical features (plan, region)" in message
    assert "'input' float32 (rows, 4) and 'categories' string (rows, 2)" in message
    assert "found 'input' tensor(float) [None, 4], 'texts' tensor(string) [None, 2]" in message


def test_a_graph_with_one_input_for_a_mixed_baseline_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "single"
    write_mixed_model(folder)
    iris = Path(__file__).resolve().parents[3] / "models" / "iris"
    (folder / "outlier_detector.onnx").write_bytes((iris / "outlier_detector.onnx").read_bytes())
    with pytest.raises(ModelArtifactError, match=r"outlier_detector\.onnx: baseline\.json lists categorical features"):
        OnnxModel(load_model_artifact(folder))


def test_a_categories_input_that_is_not_strings_is_refused(tmp_path: Path) -> None:
    message = refused(
        tmp_path, detector_inputs=inputs((NUMERIC_INPUT, TensorProto.FLOAT, 4), (CATEGORICAL_INPUT, TensorProto.FLOAT, 2))
    )
    assert message.endswith("outlier_detector.onnx: input 'categories' must be tensor(string) (string), found tensor(float)")


@pytest.mark.parametrize(
    ("numeric_width", "categorical_width", "says"),
    [
        (
            5,
            2,
            "input 'input' has 5 columns but baseline.json names 4 numeric features "
            "(sepal_length, sepal_width, petal_length, petal_width)",
        ),
        (4, 3, "input 'categories' has 3 columns but baseline.json names 2 categorical features (plan, region)"),
    ],
)
def test_an_input_of_the_wrong_width_is_refused_naming_the_features(
    tmp_path: Path, numeric_width: int, categorical_width: int, says: str
) -> None:
    message = refused(
        tmp_path,
        classifier_inputs=inputs(
            (NUMERIC_INPUT, TensorProto.FLOAT, numeric_width), (CATEGORICAL_INPUT, TensorProto.STRING, categorical_width)
        ),
    )
    assert message.endswith(says)


def test_a_two_input_graph_for_a_numbers_only_baseline_is_refused(tmp_path: Path) -> None:
    folder = write_mixed_model(tmp_path / "numbers")
    document = json.loads((folder / BASELINE_FILE).read_text())
    document["features"] = [f for f in document["features"] if f.get("type") != "categorical"]
    (folder / BASELINE_FILE).write_text(json.dumps(document))
    with pytest.raises(
        ModelArtifactError, match=r"expected one input tensor \(baseline\.json lists numeric features only\), found 2"
    ):
        OnnxModel(load_model_artifact(folder))


def test_the_cold_start_probe_is_the_sample_row(tmp_path: Path) -> None:
    """The probe feeds the most frequent categories: a model whose listed categories differ from the graph's still
    loads (an unlisted value is all zeros), and the probe's text is what `sample_row` says."""
    document = mixed_baseline_document()
    document["features"][2]["categories"] = ["zeta", "basic", "pro"]
    artifact = load_model_artifact(write_mixed_model(tmp_path / "probe", document=document))
    assert artifact.baseline.sample_row[2] == "zeta"
    model = OnnxModel(artifact)
    assert model.predict_one(artifact.baseline.sample_row).class_index == 1


def test_a_regression_model_takes_the_two_inputs_as_well() -> None:
    """The fixture's classifier graph, read as a regressor whose first output is not a float tensor, is refused by
    the regression checks only after its two inputs passed."""
    folder = mixed_model_dir()
    with pytest.raises(ModelArtifactError, match="first output must be a float tensor"):
        RegressionOnnxModel(load_model_artifact(folder))


def test_a_mixed_regressor_answers_one_row_of_numbers_and_strings_as_its_batch(tmp_path: Path) -> None:
    regressor = RegressionOnnxModel(load_model_artifact(write_mixed_regression_model(tmp_path / "mixed_regression")))
    one = regressor.predict_one([5.75, 3.0, "team", 4.25, 1.3, "us"])
    batch = regressor.predict(np.array([MEDIAN_ROW], dtype=np.float32), np.array([["team", "us"]], dtype=object))
    assert one.prediction.tolist() == batch.prediction.tolist()
    assert one.outlier_score.tolist() == batch.outlier_score.tolist()
