"""End to end for a regression model: `make demo MODEL=diabetes` (OK -> ALARM -> recovery -> quality ALARM) and a
CSV trained with --task regression served and demoed the same way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def run_demo(workdir: Path, *model: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.demo", *model, "--workdir", str(workdir)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_diabetes_demo_alarms_on_output_drift_recovers_and_alarms_on_realized_errors(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--model", "diabetes")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo OK" in done.stdout and "raised true values -> monitor OK, quality ALARM" in done.stdout
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [a["subject"].split(":")[0] for a in alerts] == ["ALARM", "OK", "ALARM"]
    alarmed = {c["check"] for c in alerts[0]["checks"]}
    assert {"rejected_ratio", "mean_shift:bmi", "prediction_mean_shift"} <= alarmed  # bmi moves the answers most
    assert {c["check"] for c in alerts[1]["checks"]} == alarmed  # each recovered
    assert {c["check"] for c in alerts[2]["checks"]} == {"realized_mae", "realized_rmse", "realized_r2"}
    records = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    predictions = [r for r in records if r["message"] == "prediction"]
    assert all(isinstance(r["prediction"], float) for r in predictions)
    feedback = [r for r in records if r["message"] == "feedback"]
    assert feedback and all(isinstance(r["label"], float) for r in feedback)


def test_a_csv_trained_with_task_regression_is_served_and_demoed(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    lines = [",".join([*bunch.feature_names, "progression"])]
    lines += [",".join([*(repr(float(v)) for v in row), repr(float(t))]) for row, t in zip(bunch.data, bunch.target, strict=True)]
    data = tmp_path / "progress.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "progress"
    trained = subprocess.run(
        [sys.executable, "-m", "models.train", "--csv", str(data), "--target", "progression", "--task", "regression",
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "regression, hold-out MAE" in trained.stdout
    baseline = json.loads((out / "baseline.json").read_text())
    assert baseline["task"] == "regression" and baseline["model"]["name"] == "progress"
    done = run_demo(tmp_path / "demo", "--model-dir", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_non_numeric_target_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("a,b,target\n" + "".join(f"{i},{i * 2},x{i % 3}\n" for i in range(60)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "models.train", "--csv", str(data), "--target", "target", "--task", "regression",
         "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "must be numeric" in done.stderr and done.stderr.count("\n") == 1
