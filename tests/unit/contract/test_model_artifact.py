"""A model folder that cannot be served is refused at load time with a message naming the problem."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from functions.contract.model_artifact import (
    MAX_FEATURES,
    PREDICTION_LINE_FIXED_KEYS,
    ModelArtifactError,
    load_model_artifact,
    parse_baseline,
)
from functions.contract.prediction_log import prediction_lines
from functions.inference.onnx_model import OnnxModel

MODELS = Path(__file__).resolve().parents[3] / "models"


def iris_document() -> dict[str, Any]:
    return json.loads((MODELS / "iris" / "baseline.json").read_text())


@pytest.mark.parametrize("model", ["iris", "wine"])
def test_committed_models_load_and_agree_with_their_onnx_files(model: str) -> None:
    artifact = load_model_artifact(MODELS / model)
    onnx_model = OnnxModel(artifact)
    assert onnx_model.n_features == len(artifact.baseline.feature_names)
    assert artifact.baseline.model_name == model


def test_wine_has_13_named_features() -> None:
    baseline = load_model_artifact(MODELS / "wine").baseline
    assert len(baseline.feature_names) == 13
    assert "od280_od315_of_diluted_wines" in baseline.feature_names
    assert baseline.label_names == ("class_0", "class_1", "class_2")


def test_training_cdf_interpolates_the_stored_quantiles() -> None:
    baseline = load_model_artifact(MODELS / "iris").baseline
    feature = baseline.feature("petal_length")
    levels = baseline.quantile_levels
    assert feature.cdf(feature.min - 1, levels) == 0.0
    assert feature.cdf(feature.max + 1, levels) == 1.0
    assert feature.cdf(feature.quantiles[50], levels) == pytest.approx(0.5, abs=0.02)
    values = [feature.cdf(v / 10, levels) for v in range(0, 80)]
    assert values == sorted(values)


def test_training_quantile_inverts_the_cdf_and_gives_the_median() -> None:
    baseline = load_model_artifact(MODELS / "iris").baseline
    levels = baseline.quantile_levels
    for feature in baseline.features:
        assert feature.quantile(0.5, levels) == feature.quantiles[levels.index(0.5)]
        assert feature.quantile(0.0, levels) == feature.min
        assert feature.quantile(1.0, levels) == feature.max
        between = feature.quantile(0.255, levels)
        assert feature.quantiles[25] <= between <= feature.quantiles[26]
    assert baseline.medians == [f.quantiles[50] for f in baseline.features]


def mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(iris_document())
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(schema_version=2), "schema_version 2 is not supported"),
        (lambda d: d.pop("labels"), "missing key 'labels'"),
        (lambda d: d.update(labels=["only"]), "at least 2"),
        (lambda d: d.update(labels=["a", "a", "b"]), "duplicates"),
        (lambda d: d["features"][0].update(name="Sepal Length"), "must match"),
        (lambda d: d["features"][1].update(name="sepal_length"), "unique"),
        (lambda d: d["features"][0].update(mean="big"), "finite number"),
        (lambda d: d["features"][0].update(quantiles=[1.0, 2.0]), "2 quantiles for 101"),
        (lambda d: d["features"][0].update(quantiles=list(reversed(d["features"][0]["quantiles"]))), "must not decrease"),
        (lambda d: d.update(features=[]), "non-empty"),
        (lambda d: d["prediction_distribution"].pop("setosa"), "one share per label"),
        (lambda d: d["prediction_distribution"].update(setosa=0.9), "sums to"),
        (lambda d: d["thresholds"].pop("outlier_ratio"), "missing key 'outlier_ratio'"),
        (lambda d: d["thresholds"].update(outlier_ratio=1.5), "outlier_ratio must be in (0, 1]"),
        (lambda d: d["thresholds"].update(min_rows=0), "min_rows must be at least 1"),
        (lambda d: d.update(quantile_levels=[0.0, 0.5, 0.4, 1.0]), "rise strictly"),
        (lambda d: d["model"].pop("version"), "missing key 'version'"),
        (lambda d: d["features"][0].update(display_name=""), "display_name must be a non-empty string"),
        (lambda d: d["holdout"].pop("accuracy"), "baseline.holdout: missing key 'accuracy'"),
        (lambda d: d["holdout"].update(outlier_rate=1.2), "baseline.holdout.outlier_rate must be in [0, 1]"),
        (lambda d: d["holdout"].update(rows=0), "baseline.holdout.rows must be at least 1"),
        (lambda d: d.update(holdout=[]), "baseline.holdout: expected an object"),
    ],
)
def test_malformed_baselines_are_refused_with_the_reason(change: Callable[[dict[str, Any]], None], says: str) -> None:
    with pytest.raises(ModelArtifactError) as caught:
        parse_baseline(mutate(change))
    assert says in str(caught.value)


def copy_model(tmp_path: Path, name: str = "iris") -> Path:
    target = tmp_path / name
    shutil.copytree(MODELS / name, target)
    return target


@pytest.mark.parametrize("missing", ["classifier.onnx", "outlier_detector.onnx", "baseline.json"])
def test_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    folder = copy_model(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(ModelArtifactError, match=f"missing {missing}"):
        load_model_artifact(folder)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="does not exist"):
        load_model_artifact(tmp_path / "nope")


def test_invalid_json_baseline_is_named(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "baseline.json").write_text("{not json")
    with pytest.raises(ModelArtifactError, match="not valid JSON"):
        load_model_artifact(folder)


def test_onnx_width_that_disagrees_with_the_baseline_is_refused(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    shutil.copy(MODELS / "wine" / "classifier.onnx", folder / "classifier.onnx")
    with pytest.raises(ModelArtifactError, match=r"input has 13 features but baseline\.json names 4"):
        OnnxModel(load_model_artifact(folder))


def test_label_count_that_disagrees_with_the_classifier_is_refused(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    document = iris_document()
    document["labels"] = ["setosa", "versicolor", "virginica", "unknown"]
    document["prediction_distribution"] = {"setosa": 0.25, "versicolor": 0.25, "virginica": 0.25, "unknown": 0.25}
    (folder / "baseline.json").write_text(json.dumps(document))
    with pytest.raises(ModelArtifactError, match=r"probabilities have shape \(3,\) but baseline\.json names 4 labels"):
        OnnxModel(load_model_artifact(folder))


def test_corrupt_onnx_file_is_refused(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "outlier_detector.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelArtifactError, match="cannot be loaded by onnxruntime"):
        OnnxModel(load_model_artifact(folder))


def test_display_names_and_holdout_figures_are_exposed() -> None:
    baseline = load_model_artifact(MODELS / "iris").baseline
    assert baseline.feature("sepal_length").display_name == "sepal length (cm)"
    assert baseline.holdout is not None
    assert baseline.holdout.rows == len((MODELS / "iris" / "holdout.csv").read_text().splitlines()) - 1
    assert 0.0 < baseline.holdout.mean_confidence <= 1.0


def test_folders_from_before_display_names_and_holdout_still_load() -> None:
    document = iris_document()
    document.pop("holdout")
    for feature in document["features"]:
        feature.pop("display_name")
    baseline = parse_baseline(document)
    assert baseline.holdout is None
    assert [f.display_name for f in baseline.features] == list(baseline.feature_names)


def wide_document(n_features: int, n_labels: int) -> dict[str, Any]:
    document = iris_document()
    template = document["features"][0]
    document["features"] = [{**template, "name": f"f{i}", "display_name": f"F {i}"} for i in range(n_features)]
    document.pop("relations", None)  # they name iris's features
    document["labels"] = [f"l{i}" for i in range(n_labels)]
    document["prediction_distribution"] = {f"l{i}": 1 / n_labels for i in range(n_labels)}
    return document


def test_the_field_count_is_what_a_prediction_line_really_flattens_to() -> None:
    (line,) = prediction_lines(
        timestamp_ms=1, request_id="r", endpoint="/predict", model="m", model_version="v", feature_names=["a", "b"],
        rows=[[1.0, 2.0]], labels=["x"], class_indices=[0], probabilities=[[0.9, 0.05, 0.05]], is_outlier=[False],
        outlier_scores=[-1.0], latency_ms=1.0,
    )  # fmt: skip
    record = json.loads(line)
    flattened = [k for k, v in record.items() if not isinstance(v, dict | list)]
    flattened += [f"features.{k}" for k in record["features"]] + [
        f"probabilities.{i}" for i in range(len(record["probabilities"]))
    ]
    # every fixed key of the line is counted (confidence too, which the inference side adds this wave)
    assert set(flattened) - {f"features.{k}" for k in "ab"} - {f"probabilities.{i}" for i in range(3)} <= set(
        PREDICTION_LINE_FIXED_KEYS
    )


def test_a_model_at_the_feature_limit_loads_and_one_past_it_is_refused() -> None:
    """One limit, whatever the label count: features past the Logs Insights field cap are parsed by the monitor."""
    assert parse_baseline(wide_document(MAX_FEATURES, 40)).n_features == MAX_FEATURES
    with pytest.raises(ModelArtifactError, match=rf"has {MAX_FEATURES + 1} features; at most {MAX_FEATURES}"):
        parse_baseline(wide_document(MAX_FEATURES + 1, 2))


def test_the_feature_limit_is_checked_when_a_folder_is_loaded_and_the_message_names_the_file(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "baseline.json").write_text(json.dumps(wide_document(MAX_FEATURES + 1, 3)))
    with pytest.raises(ModelArtifactError, match=rf"^{folder / 'baseline.json'}: the model has {MAX_FEATURES + 1} features"):
        load_model_artifact(folder)


def test_an_invalid_feature_name_in_a_folder_is_one_line_naming_the_folder_and_file(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    document = iris_document()
    document["features"][0]["name"] = "mean radius"
    (folder / "baseline.json").write_text(json.dumps(document))
    with pytest.raises(ModelArtifactError) as raised:
        load_model_artifact(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'baseline.json'}: baseline.features[0]: feature name 'mean radius'")
    assert "\n" not in message


def test_a_wrongly_typed_value_is_a_model_artifact_error_naming_the_file(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    document = iris_document()
    document["features"][0] = "sepal_length"  # a string where an object belongs
    (folder / "baseline.json").write_text(json.dumps(document))
    with pytest.raises(ModelArtifactError, match=rf"^{folder / 'baseline.json'}: "):
        load_model_artifact(folder)
