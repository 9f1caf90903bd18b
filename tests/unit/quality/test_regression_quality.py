"""Realized MAE, RMSE and R² of a regression model: the one SQL in DuckDB (and its Athena text), judged with the
same states and interval rule as accuracy."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline, load_model_artifact
from functions.quality import sql
from functions.quality.local_engine import DuckDbRunner
from functions.quality.regression import (
    CHECK_MAE,
    CHECK_R2,
    CHECK_RMSE,
    RegressionVersionQuality,
    evaluate_regression,
    parse_regression_rows,
    regression_metric_points,
)
from functions.quality.report import QualityEvaluation, State, report_text
from functions.quality.service import AthenaSource
from local.quality import DuckDbSource, main

MODELS = Path(__file__).resolve().parents[3] / "models"
START_MS = 1_764_000_000_000
END_MS = START_MS + 3_600_000


@pytest.fixture(scope="module")
def diabetes() -> Baseline:
    return load_model_artifact(MODELS / "diabetes").baseline


def write_traffic(path: Path, baseline: Baseline, predictions: np.ndarray, actual: np.ndarray | None) -> None:
    """One request per row; a feedback line with the true value for each row when `actual` is given."""
    lines: list[str] = []
    for i, value in enumerate(predictions):
        job = f"{i:032x}"
        lines += log.regression_prediction_lines(
            timestamp_ms=START_MS + i, request_id=job, endpoint="/predict", model=baseline.model_name,
            model_version=baseline.model_version, feature_names=baseline.feature_names, rows=[[0.0] * baseline.n_features],
            predictions=[float(value)], is_outlier=[False], outlier_scores=[-0.5], latency_ms=0.1,
        )  # fmt: skip
        if actual is not None:
            lines += log.feedback_lines(
                timestamp_ms=START_MS + 60_000 + i, model=baseline.model_name, model_version=baseline.model_version,
                items=[(job, 0, float(actual[i]), None)],
            )  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def judged(
    baseline: Baseline, path: Path, min_labelled: int | None = None
) -> tuple[QualityEvaluation, dict[str, RegressionVersionQuality]]:
    rows = DuckDbSource(DuckDbRunner(path), regression=True).read(baseline.model_name, START_MS, END_MS)
    versions = parse_regression_rows(rows)
    return evaluate_regression(baseline, versions, START_MS, END_MS, min_labelled=min_labelled), versions


def test_the_shipped_athena_text_is_the_transpiled_sql_and_casts_the_string_columns() -> None:
    text = sql.athena_template(regression=True)
    assert text == sql.transpile(sql.QUALITY_REGRESSION_SQL, "athena")
    # prediction and label are string columns in the Glue tables: both are cast before any arithmetic
    assert "TRY_CAST(f.label AS DOUBLE)" in text and "TRY_CAST(p.prediction AS DOUBLE)" in text
    source = AthenaSource(runner=None, predictions_table="diabetes_predictions", feedback_table="diabetes_feedback",  # type: ignore[arg-type]
                          regression=True)  # fmt: skip
    assert '"diabetes_predictions"' in source.sql and "sum_fourth_power_error" in source.sql


def test_sql_sums_equal_numpy_with_unlabelled_unmatched_and_non_numeric_feedback(diabetes: Baseline, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    predicted = rng.normal(150, 50, 120)
    actual = predicted + rng.normal(0, 40, 120)
    path = tmp_path / "log.jsonl"
    write_traffic(path, diabetes, predicted, None)
    feedback = log.feedback_lines(
        timestamp_ms=START_MS + 90_000, model=diabetes.model_name, model_version=diabetes.model_version,
        items=[(f"{i:032x}", 0, float(actual[i]), None) for i in range(100)]  # 20 rows stay unlabelled
        + [("f" * 32, 0, 1.0, None)],  # feedback for no prediction
    )  # fmt: skip
    odd = json.dumps({"message": "feedback", "timestamp": START_MS + 95_000, "request_id": f"{100:032x}", "row": 0,
                      "model": diabetes.model_name, "model_version": diabetes.model_version, "label": "n/a"})  # fmt: skip
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join([*feedback, odd]) + "\n")
    _, versions = judged(diabetes, path)
    figures = versions[diabetes.model_version]
    error = actual[:100] - predicted[:100]
    assert (figures.predicted_rows, figures.labelled_rows, figures.scored_rows, figures.unmatched_feedback) == (120, 101, 100, 1)
    assert figures.mae == pytest.approx(np.abs(error).mean(), rel=1e-9)
    assert figures.rmse == pytest.approx(math.sqrt((error**2).mean()), rel=1e-9)
    assert figures.r2 == pytest.approx(1 - (error**2).mean() / actual[:100].var(), rel=1e-9)


def holdout_like(baseline: Baseline, n: int, shift_sd: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions from the training predictions' quantiles; true values off by errors like the reference's."""
    rng = np.random.default_rng(seed)
    stats = baseline.prediction_stats
    assert stats is not None
    predicted = np.interp(rng.random(n), baseline.quantile_levels, stats.quantiles)
    reference = baseline.document["quality_reference"]
    target_sd = math.sqrt(reference["target_variance"])
    actual = predicted + rng.normal(0, reference["rmse"], n) + shift_sd * target_sd
    return predicted, actual


def test_healthy_labels_are_ok_and_shifted_truth_alarms_on_every_figure(diabetes: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_traffic(path, diabetes, *holdout_like(diabetes, 100, 0.0, seed=1))
    healthy, _ = judged(diabetes, path)
    assert healthy.state is State.OK and {c.check: c.state for c in healthy.checks} == {
        CHECK_MAE: State.OK,
        CHECK_RMSE: State.OK,
        CHECK_R2: State.OK,
    }
    write_traffic(path, diabetes, *holdout_like(diabetes, 100, 1.0, seed=1))
    drifted, _ = judged(diabetes, path)
    assert drifted.state is State.ALARM
    assert {c.check for c in drifted.alarms} == {CHECK_MAE, CHECK_RMSE, CHECK_R2}
    points = dict((name, value) for name, value, _ in regression_metric_points(drifted))
    assert points["RealizedMAE"] > diabetes.document["quality_reference"]["mae"] * 1.5
    assert "MAE" in report_text(drifted) and "R²" in report_text(drifted)


def test_too_few_labels_and_no_traffic_are_never_ok(diabetes: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    predicted, actual = holdout_like(diabetes, 10, 3.0, seed=2)
    write_traffic(path, diabetes, predicted, actual)
    few, _ = judged(diabetes, path)
    assert few.state is State.INSUFFICIENT_DATA and all(c.state is State.INSUFFICIENT_DATA for c in few.checks)
    path.write_text("", encoding="utf-8")
    none, _ = judged(diabetes, path)
    assert none.state is State.NO_TRAFFIC


def test_local_cli_judges_a_regression_log(diabetes: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_traffic(path, diabetes, *holdout_like(diabetes, 80, 1.0, seed=4))
    out = io.StringIO()
    code = main(["--log-file", str(path), "--model-dir", str(MODELS / "diabetes"), "--end", "last", "--json",
                 "--alert-file", str(tmp_path / "alerts.jsonl"), "--state-file", str(tmp_path / "state.json")], out)  # fmt: skip
    summary = json.loads(out.getvalue().strip().splitlines()[-1])  # the alert is printed first
    assert code == 0 and summary["status"] == "ALARM" and CHECK_MAE in summary["alarms"] and summary["mae"] > 0
    assert (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_the_training_set_export_writes_true_values_and_says_task_regression(diabetes: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_traffic(path, diabetes, *holdout_like(diabetes, 40, 0.0, seed=6))
    out, csv_file = io.StringIO(), tmp_path / "labelled.csv"
    code = main(["--log-file", str(path), "--model-dir", str(MODELS / "diabetes"), "--end", "last",
                 "--training-set", str(csv_file)], out)  # fmt: skip
    assert code == 0 and "40 labelled rows" in out.getvalue() and out.getvalue().count("--task regression") == 1
    header, *rows = csv_file.read_text(encoding="utf-8").splitlines()
    assert header.split(",")[-1] == "label" and len(rows) == 40
    assert all(math.isfinite(float(row.split(",")[-1])) for row in rows)
