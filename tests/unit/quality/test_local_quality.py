"""`make quality` and `make training-set` on generated local logs: report, alerts, a CSV that trains."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from local import quality
from models.train import load_csv_dataset, train
from tests.unit.quality.logs import MODELS, baseline_of, scenario


def run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return quality.main(args, out), out.getvalue()


def common(tmp_path: Path, log: Path, model: str = "iris") -> list[str]:
    return [
        "--log-file", str(log), "--model-dir", str(MODELS / model), "--end", "last",
        "--alert-file", str(tmp_path / "alerts.jsonl"), "--state-file", str(tmp_path / "state.json"),
    ]  # fmt: skip


@pytest.mark.parametrize("model", ["iris", "wine"])
def test_healthy_labelled_traffic_is_ok_and_sends_nothing(tmp_path: Path, model: str) -> None:
    baseline = baseline_of(model)
    log = scenario(baseline, seed=5, rows=600, wrong_share=0.02, unmatched=0).write(tmp_path / "log.jsonl")
    code, text = run(common(tmp_path, log, model))
    assert code == 0
    assert f"Realized quality of model {model} (version {baseline.model_version}): OK" in text
    assert "predicted ->" in text  # the confusion matrix
    assert not (tmp_path / "alerts.jsonl").exists()


def test_concept_drift_alarms_naming_accuracy_and_the_class_recall(tmp_path: Path) -> None:
    baseline = baseline_of("iris")
    drifted = scenario(baseline, seed=6, rows=600, wrong_share=0.02, relabel=("virginica", "versicolor", 0.6))
    log = drifted.write(tmp_path / "log.jsonl")
    code, text = run(common(tmp_path, log))
    assert code == 0
    assert ": ALARM" in text
    (alert,) = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().split("\n") if line]
    named = {c["check"] for c in alert["checks"]}
    assert {"realized_accuracy", "realized_recall:versicolor"} <= named
    assert "realized_recall:setosa" not in named
    code, text = run([*common(tmp_path, log), "--json"])
    assert json.loads(text)["notified"] == []  # persisting alarm: silent


def test_the_training_set_export_trains_a_model(tmp_path: Path) -> None:
    baseline = baseline_of("iris")
    truth = scenario(baseline, seed=7, rows=400, missing_share=0.1)
    log = truth.write(tmp_path / "log.jsonl")
    out_csv = tmp_path / "labelled.csv"
    code, text = run([*common(tmp_path, log), "--training-set", str(out_csv)])
    assert code == 0 and f"{len(truth.feature_labels)} labelled rows written" in text
    assert "--categorical" not in text  # numbers only
    with out_csv.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*baseline.feature_names, "label"]
    exported = sorted((tuple(float(v) for v in r[:-1]), r[-1]) for r in rows[1:])
    expected = sorted((tuple(f), label) for f, label in zip(truth.features, truth.feature_labels, strict=True))
    assert exported == expected
    data = load_csv_dataset(out_csv, target="label", name="iris_feedback", description="")
    assert data.feature_names == list(baseline.feature_names)
    train(data, tmp_path / "retrained")
    assert (tmp_path / "retrained" / "classifier.onnx").is_file()


def test_a_missing_log_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(common(tmp_path, tmp_path / "nope.jsonl"))
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
