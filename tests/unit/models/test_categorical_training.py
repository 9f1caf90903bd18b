"""Training on mixed columns: which columns are categories, which categories are listed, and ONNX graphs that take
the numbers and the strings and compute what scikit-learn computes on the one-hot encoding, unseen values included."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from functions.contract.model_artifact import MAX_CATEGORIES, load_model_artifact
from functions.contract.names import CATEGORICAL_INPUT, NUMERIC_INPUT
from functions.contract.prediction_log import MAX_CATEGORY_CHARS
from models.categories import (
    MIN_CATEGORY_ROWS,
    CategoryEncoding,
    CategoryError,
    list_categories,
    prefix_disagreement,
    unseen_rows,
    with_category_inputs,
)
from models.joint_drift import JointDriftModel
from models.train import (
    TrainingDataError,
    category_encoding,
    check_export,
    export_onnx,
    load_credit_card,
    load_csv_dataset,
    onnx_predict,
    train,
    train_models,
)

MODELS = Path(__file__).resolve().parents[3] / "models"
PLANS = ("basic", "plus", "pro")
DEVICES = ("ios", "android", "web")


def mixed_rows(rows: int = 400, seed: int = 0) -> list[list[str]]:
    """usage (number), plan (category driving the label), region (a numeric-looking code), device, label."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        plan = str(rng.choice(PLANS, p=[0.5, 0.3, 0.2]))
        usage = rng.normal(10.0 + 5.0 * PLANS.index(plan), 3.0)
        label = "churn" if usage + rng.normal(0, 2) < 14 else "stay"
        out.append([repr(float(usage)), plan, str(rng.choice([101, 202, 303])), str(rng.choice(DEVICES)), label])
    return out


def write_mixed_csv(path: Path, rows: list[list[str]] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Usage (h)", "Plan", "region", "device", "label"])
        writer.writerows(rows if rows is not None else mixed_rows())
    return path


def session(model_bytes: bytes) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def test_a_column_with_a_value_that_is_not_a_number_is_categorical(tmp_path: Path) -> None:
    data = load_csv_dataset(write_mixed_csv(tmp_path / "m.csv"), target="label", name="m", description="")
    assert data.feature_names == ["usage", "plan", "region", "device"]
    assert data.feature_types == ["numeric", "categorical", "numeric", "categorical"]
    assert data.x.shape == (400, 2)  # usage and the numeric-looking region code
    assert data.categories is not None and data.categories.shape == (400, 2)
    assert set(data.categories[:, 0]) == set(PLANS) and set(data.categories[:, 1]) == set(DEVICES)


def test_numeric_looking_codes_are_categorical_when_declared(tmp_path: Path) -> None:
    path = write_mixed_csv(tmp_path / "m.csv")
    data = load_csv_dataset(path, target="label", name="m", description="", categorical=["region"])
    assert data.feature_types == ["numeric", "categorical", "categorical", "categorical"]
    assert data.categories is not None and set(data.categories[:, 1]) == {"101", "202", "303"}
    for declared in (["Usage (h)"], ["usage"]):  # the column's name or its feature key
        data = load_csv_dataset(path, target="label", name="m", description="", categorical=declared)
        assert data.feature_types == ["categorical", "categorical", "numeric", "categorical"]
    with pytest.raises(TrainingDataError, match=r"--categorical names 'zone', which is not a feature column \(features: Usage"):
        load_csv_dataset(path, target="label", name="m", description="", categorical=["zone"])
    with pytest.raises(TrainingDataError, match="--categorical names the label column 'label'"):
        load_csv_dataset(path, target="label", name="m", description="", categorical=["label"])


def test_a_numbers_only_csv_stays_numbers_only(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n")
    data = load_csv_dataset(path, target="label", name="n", description="")
    assert data.feature_types is None and data.categories is None and not data.has_categories


def test_an_empty_or_too_long_category_is_refused_with_its_line_and_column(tmp_path: Path) -> None:
    rows = mixed_rows(20)
    rows[3][1] = ""
    with pytest.raises(TrainingDataError, match=r"line 5, column 'Plan': an empty cell; every category must be a non-empty"):
        load_csv_dataset(write_mixed_csv(tmp_path / "e.csv", rows), target="label", name="e", description="")
    rows[3][1] = "x" * (MAX_CATEGORY_CHARS + 1)
    with pytest.raises(TrainingDataError, match=rf"line 5, column 'Plan': a category of {MAX_CATEGORY_CHARS + 1} characters"):
        load_csv_dataset(write_mixed_csv(tmp_path / "l.csv", rows), target="label", name="l", description="")
    rows[3][1] = "x" * MAX_CATEGORY_CHARS  # the bound itself is accepted
    load_csv_dataset(write_mixed_csv(tmp_path / "ok.csv", rows), target="label", name="ok", description="")


def test_categories_are_listed_most_frequent_first_and_the_rare_tail_is_the_other_share() -> None:
    values = ["b"] * 50 + ["a"] * 50 + ["c"] * 30 + ["rare"] * (MIN_CATEGORY_ROWS - 1) + ["once"]
    feature = list_categories(values, name="f", display_name="F")
    assert feature.categories == ("a", "b", "c")  # ties by value: the same order on every run
    assert feature.shares == (50 / 140, 50 / 140, 30 / 140)
    assert feature.other_share == pytest.approx(10 / 140)
    assert sum(feature.shares) + feature.other_share == pytest.approx(1.0)
    entry = feature.baseline_entry()
    assert entry["type"] == "categorical" and entry["display_name"] == "F" and entry["count"] == 140


def test_at_most_max_categories_are_listed_and_a_column_with_none_to_list_is_refused() -> None:
    many = [f"v{i:03d}" for i in range(MAX_CATEGORIES + 10) for _ in range(MIN_CATEGORY_ROWS)]
    feature = list_categories(many, name="f", display_name="f")
    assert len(feature.categories) == MAX_CATEGORIES
    assert feature.other_share == pytest.approx(10 / (MAX_CATEGORIES + 10))
    with pytest.raises(CategoryError, match="column 'customer id': no value covers 10 training rows"):
        list_categories([f"id{i}" for i in range(500)], name="customer_id", display_name="customer id")


def test_the_share_floor_keeps_a_category_of_a_large_data_set_in_the_tail() -> None:
    values = ["big"] * 9_000 + ["small"] * 40  # 40 rows but 0.44 % of them
    assert list_categories(values, name="f", display_name="f").categories == ("big",)


def trained_pieces(tmp_path: Path) -> tuple:
    """A mixed model trained the way `train` trains it, kept apart so the test can run each piece."""
    data = load_csv_dataset(write_mixed_csv(tmp_path / "m.csv"), target="label", name="m", description="")
    assert data.categories is not None
    encoding = category_encoding(data, data.categories)
    assert encoding is not None
    wide = encoding.encode(data.x, data.categories)
    classifier, detector, _ = train_models(wide, data.y, seed=0, nu=0.1)
    return data, encoding, wide, classifier, detector


def test_the_encoding_is_the_numbers_then_one_column_per_listed_category(tmp_path: Path) -> None:
    encoding = CategoryEncoding(1, (list_categories(["a"] * 20 + ["b"] * 10, name="f", display_name="f"),))
    encoded = encoding.encode(np.array([[1.5], [2.5], [3.5]]), np.array([["a"], ["b"], ["never"]], dtype=object))
    np.testing.assert_array_equal(encoded, [[1.5, 1, 0], [2.5, 0, 1], [3.5, 0, 0]])


def test_every_graph_takes_the_two_inputs_and_agrees_with_scikit_learn_on_unseen_values(tmp_path: Path) -> None:
    data, encoding, wide, classifier, detector = trained_pieces(tmp_path)
    classifier_bytes, detector_bytes = (
        with_category_inputs(g, encoding).SerializeToString() for g in export_onnx(classifier, detector, wide)
    )
    x, categories = unseen_rows(data.x, data.categories)
    x, categories = np.vstack([data.x, x]), np.vstack([data.categories, categories])
    assert (encoding.encode(x, categories)[len(data.x) :, 2:].sum(axis=1) < 2).all()  # unseen rows lose their ones
    for graph in (classifier_bytes, detector_bytes):
        inputs = {i.name: (i.type, i.shape) for i in session(graph).get_inputs()}
        assert inputs == {NUMERIC_INPUT: ("tensor(float)", ["N", 2]), CATEGORICAL_INPUT: ("tensor(string)", ["N", 2])}
    out = onnx_predict(classifier_bytes, detector_bytes, x, categories)
    reference = encoding.encode(x.astype(np.float32).astype(np.float64), categories)
    np.testing.assert_allclose(out["probabilities"], classifier.predict_proba(reference), atol=1e-5)
    np.testing.assert_array_equal(out["class_index"], classifier.predict(reference))
    np.testing.assert_allclose(out["decision"], detector.decision_function(reference), atol=1e-3)
    joint = JointDriftModel(wide)
    joint_session = session(with_category_inputs(joint.to_onnx(), encoding).SerializeToString())
    (errors,) = joint_session.run(None, {NUMERIC_INPUT: x.astype(np.float32), CATEGORICAL_INPUT: categories.astype(str)})
    np.testing.assert_allclose(np.asarray(errors).reshape(-1), joint.errors(reference), rtol=1e-4, atol=1e-4)


def test_the_export_check_refuses_graphs_that_encode_categories_differently(tmp_path: Path) -> None:
    data, encoding, wide, classifier, detector = trained_pieces(tmp_path)
    classifier_bytes, detector_bytes = (
        with_category_inputs(g, encoding).SerializeToString() for g in export_onnx(classifier, detector, wide)
    )
    check_export(classifier, detector, classifier_bytes, detector_bytes, data.x, data.categories, encoding)
    plan, device = encoding.features
    swapped = CategoryEncoding(encoding.n_numeric, (replace(plan, categories=plan.categories[::-1]), device))
    wrong = tuple(with_category_inputs(g, swapped).SerializeToString() for g in export_onnx(classifier, detector, wide))
    with pytest.raises(TrainingDataError, match="the ONNX export disagrees with scikit-learn"):
        check_export(classifier, detector, *wrong, data.x, data.categories, encoding)


def test_a_mixed_csv_becomes_a_folder_the_contract_loads(tmp_path: Path) -> None:
    data = load_csv_dataset(write_mixed_csv(tmp_path / "m.csv"), target="label", name="m", description="")
    baseline = train(data, tmp_path / "m")
    artifact = load_model_artifact(tmp_path / "m")
    assert artifact.baseline.feature_names == ("usage", "plan", "region", "device")
    assert artifact.baseline.feature_types == ("numeric", "categorical", "numeric", "categorical")
    plan = artifact.baseline.categorical_feature("plan")
    assert plan.categories == PLANS and plan.display_name == "Plan" and plan.count == 320  # the training split
    assert [f.name for f in artifact.baseline.features] == ["usage", "region"]
    assert baseline["model"]["input"][CATEGORICAL_INPUT]["order"] == ["plan", "device"]
    assert (
        baseline["joint_drift"]["method"].endswith("standardized residual")
        and "of 8 components" in baseline["joint_drift"]["method"]
    )
    for name in ("classifier.onnx", "outlier_detector.onnx", "joint_drift.onnx"):
        assert [i.name for i in session((tmp_path / "m" / name).read_bytes()).get_inputs()] == [NUMERIC_INPUT, CATEGORICAL_INPUT]
    with (tmp_path / "m" / "holdout.csv").open() as handle:
        held = list(csv.reader(handle))
    assert held[0] == ["usage", "plan", "region", "device", "label"]
    assert {row[1] for row in held[1:]} <= set(PLANS) and {row[3] for row in held[1:]} <= set(DEVICES)
    reread = load_csv_dataset(tmp_path / "m" / "holdout.csv", target="label", name="h", description="")
    out = onnx_predict(
        (tmp_path / "m" / "classifier.onnx").read_bytes(), (tmp_path / "m" / "outlier_detector.onnx").read_bytes(),
        reread.x, reread.categories,
    )  # fmt: skip
    assert float((out["class_index"] == reread.y).mean()) == baseline["holdout"]["accuracy"]


def test_the_command_line_declares_categorical_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models import train as train_module

    path = write_mixed_csv(tmp_path / "m.csv")
    original = sys.argv
    sys.argv = ["models.train", "--csv", str(path), "--categorical", "region", "--out", str(tmp_path / "out")]
    try:
        train_module.main()
    finally:
        sys.argv = original
    assert "4 features, 2 labels" in capsys.readouterr().out
    document = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert [f.get("type", "numeric") for f in document["features"]] == ["numeric", "categorical", "categorical", "categorical"]
    region = document["features"][2]
    assert set(region["categories"]) == {"101", "202", "303"}
    assert region["shares"] == sorted(region["shares"], reverse=True)


def test_the_shipped_credit_card_model_is_reproduced_byte_for_byte(tmp_path: Path) -> None:
    """`make train MODEL=credit_card` leaves the repository clean."""
    out = tmp_path / "credit_card"
    shutil.copytree(MODELS / "credit_card", out)
    train(load_credit_card(), out)
    for name in ("classifier.onnx", "outlier_detector.onnx", "joint_drift.onnx", "baseline.json", "holdout.csv"):
        assert (out / name).read_bytes() == (MODELS / "credit_card" / name).read_bytes(), name


def test_a_regression_model_takes_categories_through_the_same_prefix(tmp_path: Path) -> None:
    from models.regression import load_regression_csv, onnx_regression_predict, train_regression

    rng = np.random.default_rng(1)
    rows = [["usage", "plan", "spend"]]
    for _ in range(400):
        plan = str(rng.choice(PLANS))
        usage = rng.normal(10.0, 2.0)
        rows.append([repr(float(usage)), plan, repr(float(2 * usage + 20 * PLANS.index(plan) + rng.normal(0, 1)))])
    path = tmp_path / "spend.csv"
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    data = load_regression_csv(path, target="spend", name="spend", description="")
    baseline = train_regression(data, tmp_path / "spend")
    artifact = load_model_artifact(tmp_path / "spend")
    assert artifact.baseline.is_regression and artifact.baseline.feature_types == ("numeric", "categorical")
    assert artifact.baseline.categorical_feature("plan").categories == tuple(
        sorted(PLANS, key=lambda p: -sum(r[1] == p for r in rows))
    )
    regressor, detector = ((tmp_path / "spend" / name).read_bytes() for name in ("classifier.onnx", "outlier_detector.onnx"))
    x = np.array([[10.0]] * 4)
    out = onnx_regression_predict(regressor, detector, x, np.array([["basic"], ["plus"], ["pro"], ["enterprise"]], dtype=object))
    basic, plus, pro, unseen = out["prediction"]
    assert plus - basic == pytest.approx(20, abs=1) and pro - plus == pytest.approx(20, abs=1)
    assert basic < unseen < pro  # an unseen plan: all zeros, the model's intercept between the plans
    reread = load_regression_csv(tmp_path / "spend" / "holdout.csv", target="label", name="h", description="")
    held = onnx_regression_predict(regressor, detector, reread.x, reread.categories)
    assert float(np.abs(held["prediction"] - reread.y).mean()) == pytest.approx(baseline["holdout"]["mae"], abs=1e-5)


def test_the_joint_drift_prefix_is_checked_against_the_reference_encoding(tmp_path: Path) -> None:
    data, encoding, wide, _, _ = trained_pieces(tmp_path)
    float_graph = JointDriftModel(wide).to_onnx()
    x, categories = unseen_rows(data.x, data.categories)
    x, categories = np.vstack([data.x, x]), np.vstack([data.categories, categories])
    right = with_category_inputs(float_graph, encoding).SerializeToString()
    assert prefix_disagreement(right, float_graph, encoding, x, categories) <= 1e-6
    plan, device = encoding.features
    swapped = CategoryEncoding(encoding.n_numeric, (replace(plan, categories=plan.categories[::-1]), device))
    wrong = with_category_inputs(float_graph, swapped).SerializeToString()
    assert prefix_disagreement(wrong, float_graph, encoding, x, categories) > 1e-3


def test_the_committed_benchmark_data_keeps_its_numeric_columns_and_adds_the_categorical_ones() -> None:
    import gzip

    from models.train import CREDIT_CARD_DATA

    with gzip.open(CREDIT_CARD_DATA, "rt") as handle:
        header = handle.readline().strip().split(",")
    assert header == [
        "period", "chunk", "app_behavioral_score", "requested_credit_limit", "credit_bureau_score", "stated_income",
        "y_true", "acq_channel", "app_channel", "is_customer",
    ]  # fmt: skip
    data = load_credit_card()
    assert len(data.y) == 60_000 and data.x.shape == (60_000, 4)
    assert data.categorical_names == ["acq_channel", "app_channel", "is_customer"]
    assert data.categories is not None and set(data.categories[:, 2]) == {"True", "False"}
