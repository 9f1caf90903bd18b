"""The committed ONNX files compute what scikit-learn computes, training is reproducible, calibration is measured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from functions.contract.model_artifact import load_model_artifact
from functions.inference.onnx_model import OnnxModel
from models.train import (
    OUTLIER_TARGET_RATE,
    TrainingData,
    TrainingDataError,
    calibrate_classifier,
    check_export,
    default_classifier,
    expected_calibration_error,
    export_onnx,
    load_csv_dataset,
    load_sklearn_dataset,
    onnx_predict,
    resolve_trained_at,
    train,
    train_models,
)

MODELS = Path(__file__).resolve().parents[3] / "models"
MODEL_FILES = ("classifier.onnx", "outlier_detector.onnx", "baseline.json", "holdout.csv")


def committed(dataset: str) -> dict:
    return json.loads((MODELS / dataset / "baseline.json").read_text())


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_onnx_outputs_equal_scikit_learn_on_the_whole_data_set(dataset: str) -> None:
    data = load_sklearn_dataset(dataset)
    # float32 is what the service feeds ONNX; scikit-learn sees the same rounded values.
    x, y = data.x.astype(np.float32).astype(np.float64), data.y
    classifier, detector, _ = train_models(x, y, seed=42, nu=0.1)
    classifier_bytes, detector_bytes = export_onnx(classifier, detector, x)
    out = onnx_predict(classifier_bytes, detector_bytes, x)
    np.testing.assert_array_equal(out["class_index"], classifier.predict(x))
    np.testing.assert_allclose(out["probabilities"], classifier.predict_proba(x), atol=1e-5)
    decision = detector.decision_function(x)  # includes the calibrated threshold
    np.testing.assert_allclose(out["decision"], decision, atol=1e-4)
    assert detector.threshold != 0.0  # the threshold is really in both
    np.testing.assert_allclose(out["decision"], detector.detector.decision_function(x) - detector.threshold, atol=1e-4)
    clear = np.abs(decision) > 1e-3  # points on the boundary may fall either side in float32
    np.testing.assert_array_equal((out["decision"] < 0)[clear], (detector.predict(x) == -1)[clear])


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_retraining_reproduces_the_committed_files_byte_for_byte(dataset: str, tmp_path: Path) -> None:
    """`make train` leaves the repository clean: same data, same bytes, same trained_at."""
    out = tmp_path / dataset
    shutil.copytree(MODELS / dataset, out)
    train(load_sklearn_dataset(dataset), out)
    for name in MODEL_FILES:
        assert (out / name).read_bytes() == (MODELS / dataset / name).read_bytes(), name


def test_source_date_epoch_fixes_trained_at_and_a_fresh_folder_is_reproducible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    data = load_sklearn_dataset("iris")
    first = train(data, tmp_path / "a")
    train(data, tmp_path / "b")
    assert first["model"]["trained_at"] == "2025-11-24T16:00:00+00:00"
    for name in MODEL_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_trained_at_is_kept_only_for_the_same_version(tmp_path: Path) -> None:
    (tmp_path / "baseline.json").write_text(json.dumps({"model": {"version": "abc", "trained_at": "2020-01-01T00:00:00+00:00"}}))
    assert resolve_trained_at(tmp_path, "abc", environ={}) == "2020-01-01T00:00:00+00:00"
    assert resolve_trained_at(tmp_path, "other", environ={}) != "2020-01-01T00:00:00+00:00"
    assert resolve_trained_at(tmp_path, "abc", environ={"SOURCE_DATE_EPOCH": "0"}) == "1970-01-01T00:00:00+00:00"


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_baseline_describes_the_training_data(dataset: str) -> None:
    document = committed(dataset)
    data = load_sklearn_dataset(dataset)
    assert [f["name"] for f in document["features"]] == data.feature_names
    assert [f["display_name"] for f in document["features"]] == data.display_names
    assert document["labels"] == data.label_names
    assert document["thresholds"]["outlier_ratio"] == 0.20
    assert document["thresholds"]["mean_deviation"] == 0.05
    for feature in document["features"]:
        assert feature["min"] == feature["quantiles"][0]
        assert feature["max"] == feature["quantiles"][-1]
        assert feature["min"] <= feature["mean"] <= feature["max"]


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_healthy_unseen_traffic_sits_well_under_the_outlier_alarm_line(dataset: str) -> None:
    document = committed(dataset)
    alarm_line = document["thresholds"]["outlier_ratio"]
    threshold = document["model"]["outlier_threshold"]
    assert document["holdout"]["outlier_rate"] < alarm_line / 2  # the target: below 10 %
    # the baseline rate the monitor compares with comes from rows the detector did not see
    assert document["training_outlier_rate"] == threshold["cross_validated_rate"]
    assert abs(threshold["cross_validated_rate"] - OUTLIER_TARGET_RATE) < 0.02
    # and it is measured, not assumed: the committed files reproduce the hold-out figure
    held_out = load_csv_dataset(MODELS / dataset / "holdout.csv", target="label", name=dataset, description="")
    out = onnx_predict(
        (MODELS / dataset / "classifier.onnx").read_bytes(), (MODELS / dataset / "outlier_detector.onnx").read_bytes(), held_out.x
    )
    assert round(float((out["decision"] < 0).mean()), 4) == document["holdout"]["outlier_rate"]


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_holdout_figures_are_recomputed_from_the_committed_files(dataset: str) -> None:
    document = committed(dataset)
    held_out = load_csv_dataset(MODELS / dataset / "holdout.csv", target="label", name=dataset, description="")
    out = onnx_predict(
        (MODELS / dataset / "classifier.onnx").read_bytes(), (MODELS / dataset / "outlier_detector.onnx").read_bytes(), held_out.x
    )
    holdout = document["holdout"]
    assert holdout["rows"] == len(held_out.y) == document["model"]["evaluation"]["holdout_rows"]
    assert holdout["accuracy"] == round(float((out["class_index"] == held_out.y).mean()), 4)
    assert holdout["mean_confidence"] == round(float(out["probabilities"].max(axis=1).mean()), 4)
    assert holdout["expected_calibration_error"] == round(expected_calibration_error(out["probabilities"], held_out.y), 4)
    assert holdout["accuracy"] >= 0.9
    calibration = document["model"]["calibration"]
    # the shipped logistic regressions are well calibrated: recalibration was measured and not needed
    assert calibration["cross_validated_ece"] <= calibration["bound"]
    assert calibration["calibrated"] is False


def test_expected_calibration_error_on_a_hand_computed_case() -> None:
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    # bin 0.9: 2 rows, accuracy 0.5, confidence 0.9 -> 0.4; bin 0.6: 2 rows, accuracy 1.0, confidence 0.6 -> 0.4
    assert expected_calibration_error(probabilities, y) == pytest.approx(0.4)
    assert expected_calibration_error(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])) == 0.0


def test_a_poorly_calibrated_classifier_is_calibrated_before_export() -> None:
    # label noise makes a fully grown forest's votes overconfident
    x, y = make_classification(
        n_samples=400,
        n_features=12,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        flip_y=0.3,
        random_state=0,
    )
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    fitted, report = calibrate_classifier(forest, x, y, seed=42)
    assert report["cross_validated_ece"] > report["bound"]
    assert report["calibrated"] is True
    assert report[f"cross_validated_ece_{report['method']}"] < report["cross_validated_ece"]
    assert type(fitted).__name__ == "CalibratedClassifierCV"
    # and the calibrated model exports faithfully, with the detector
    _, detector, _ = train_models(x, y, seed=42, nu=0.1, classifier=forest)
    classifier_bytes, detector_bytes = export_onnx(fitted, detector, x)
    check_export(fitted, detector, classifier_bytes, detector_bytes, x)


def test_a_well_calibrated_classifier_is_left_alone() -> None:
    data = load_sklearn_dataset("wine")
    fitted, report = calibrate_classifier(default_classifier(42), data.x, data.y, seed=42)
    assert report["cross_validated_ece"] <= report["bound"]
    assert report["calibrated"] is False
    assert [name for name, _ in fitted.steps] == ["standardscaler", "logisticregression"]


def write_csv(path: Path, header: list[str], rows: int = 150) -> Path:
    iris = load_sklearn_dataset("iris")
    lines = [",".join(header)]
    for row, label in zip(iris.x[:rows], iris.y[:rows], strict=True):
        values = [str(v) for v in row[: len(header) - 1]]
        lines.append(",".join([*values, iris.label_names[label].upper()]))
    path.write_text("\n".join(lines) + "\n")
    return path


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
    assert [f.display_name for f in artifact.baseline.features] == ["Petal Length (cm)", "petal width", "sepal/length"]
    assert artifact.baseline.holdout is not None and artifact.baseline.holdout.rows == 30
    header = (tmp_path / "flowers" / "holdout.csv").read_text().splitlines()[0]
    assert header == "petal_length,petal_width,sepal_length,label"
    prediction = OnnxModel(artifact).predict(np.array([[1.4, 0.2, 5.1]], dtype=np.float32))
    assert artifact.baseline.label_names[int(prediction.class_index[0])] == "SETOSA"


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (["width (cm)", "width (mm)", "height", "species"], "'width (cm)' and 'width (mm)' both become the feature key 'width'"),
        (["Width", "width", "height", "species"], "both become the feature key 'width'"),
        (
            ["2nd.reading", "width", "height", "species"],
            "'2nd.reading' becomes the feature key '2nd_reading', which is not valid",
        ),
        (["(cm)", "width", "height", "species"], "becomes the feature key '', which is not valid"),
    ],
)
def test_csv_training_refuses_names_the_service_would_refuse(tmp_path: Path, header: list[str], says: str) -> None:
    path = write_csv(tmp_path / "data.csv", header)
    with pytest.raises(TrainingDataError, match=says.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_csv_dataset(path, target="species", name="data", description="")


def test_csv_training_refuses_a_ragged_file_and_a_label_too_rare_to_calibrate(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,label\n1,2,x\n1,y\n")
    with pytest.raises(TrainingDataError, match="line 3 has 2 values"):
        load_csv_dataset(path, target="label", name="ragged", description="")
    data = load_csv_dataset(
        write_csv(tmp_path / "few.csv", ["a", "b", "c", "species"], rows=105), target="species", name="few", description=""
    )
    with pytest.raises(TrainingDataError, match="'VIRGINICA' has 5"):
        train(data, tmp_path / "few")


def test_training_refuses_a_model_whose_log_line_exceeds_the_logs_insights_field_cap(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(190)]
    data = TrainingData("wide", "", "test", rng.normal(size=(100, 190)), np.arange(100) % 2, names, ["a", "b"])
    with pytest.raises(TrainingDataError, match="206 JSON fields"):
        train(data, tmp_path / "wide")


def test_the_main_entry_point_turns_a_refusal_into_a_one_line_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from models import train as train_module

    path = write_csv(tmp_path / "clash.csv", ["width (cm)", "width (mm)", "h", "species"])
    argv = ["models.train", "--csv", str(path), "--target", "species", "--out", str(tmp_path / "out")]
    original = sys.argv
    sys.argv = argv
    try:
        with pytest.raises(SystemExit) as raised:
            train_module.main()
    finally:
        sys.argv = original
    assert raised.value.code == 2
    assert "both become the feature key 'width'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_the_held_out_rows_are_saved_with_the_model(dataset: str, tmp_path: Path) -> None:
    train(load_sklearn_dataset(dataset), tmp_path)
    assert (tmp_path / "holdout.csv").read_text() == (MODELS / dataset / "holdout.csv").read_text()
    held_out = load_csv_dataset(MODELS / dataset / "holdout.csv", target="label", name=dataset, description="")
    data = load_sklearn_dataset(dataset)
    assert held_out.feature_names == data.feature_names
    assert len(held_out.x) == committed(dataset)["holdout"]["rows"]
    # every held-out row is a row of the data set, with its label
    for row, label in zip(held_out.x, held_out.y, strict=True):
        matches = np.flatnonzero((data.x == row).all(axis=1))
        assert matches.size and held_out.label_names[label] in {data.label_names[data.y[m]] for m in matches}


def test_an_export_that_disagrees_with_scikit_learn_is_refused() -> None:
    data = load_sklearn_dataset("iris")
    classifier, detector, _ = train_models(data.x, data.y, seed=42, nu=0.1)
    classifier_bytes, detector_bytes = export_onnx(classifier, detector, data.x)
    other, _, _ = train_models(data.x, data.y, seed=42, nu=0.1, classifier=RandomForestClassifier(n_estimators=5, random_state=0))
    with pytest.raises(TrainingDataError, match="the ONNX export disagrees with scikit-learn"):
        check_export(other, detector, classifier_bytes, detector_bytes, data.x)
