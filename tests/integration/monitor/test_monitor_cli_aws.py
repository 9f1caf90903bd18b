"""`make monitor` with ALERT_TOPIC_ARN / ALERT_STATE_TABLE set: the local engine, AWS-side alert delivery and state."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from functions.contract import names
from functions.contract.model_artifact import ModelArtifact
from local.monitor import main
from tests.integration.monitor.conftest import AlertResources
from tests.unit.monitor.fakes import sample_traffic, write_log

MODELS = Path(__file__).resolve().parents[3] / "models"
START_MS = 1_764_082_800_000


def test_local_monitor_publishes_to_sns_and_keeps_state_in_dynamodb(
    iris_artifact: ModelArtifact, alert_resources: AlertResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(names.ENV_ALERT_TOPIC_ARN, alert_resources.topic_arn)
    monkeypatch.setenv(names.ENV_ALERT_STATE_TABLE, alert_resources.table)
    baseline = iris_artifact.baseline
    rng = np.random.default_rng(3)
    log_file = tmp_path / "predictions.jsonl"
    write_log(
        log_file,
        baseline,
        sample_traffic(baseline, 300, rng, class_shares=[0.9, 0.05, 0.05]),
        start_ms=START_MS,
        span_ms=120_000,
        rng=rng,
    )
    args = [
        "--log-file",
        str(log_file),
        "--model-dir",
        str(MODELS / "iris"),
        "--window-end",
        "last",
        "--alert-file",
        str(tmp_path / "alerts.jsonl"),
        "--state-file",
        str(tmp_path / "state.json"),
        "--json",
    ]
    summaries = []
    for _ in range(2):  # the second run judges the same window: stale, no second message
        out = io.StringIO()
        assert main(args, out) == 0
        summaries.append(json.loads(out.getvalue()))
        assert summaries[-1]["alarms"] == ["prediction_drift"]
    assert summaries[0]["published_to"] == f"SNS topic {alert_resources.topic_arn}"
    assert summaries[0]["state_saved_to"] == f"DynamoDB table {alert_resources.table}"
    assert summaries[1]["stale"] and summaries[1]["published_to"] is None
    (envelope,) = alert_resources.messages(expected=1)
    assert envelope["Subject"] == "ALARM: iris model prediction_drift (local)"
    assert "setosa" in envelope["Message"]
    assert alert_resources.state("iris#prediction_drift") == "ALARM"
    assert not (tmp_path / "alerts.jsonl").exists() and not (tmp_path / "state.json").exists()


def test_local_monitor_failed_publish_is_one_line_exit_4(
    alert_resources: AlertResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(names.ENV_ALERT_TOPIC_ARN, alert_resources.topic_arn + "-deleted")
    monkeypatch.setenv(names.ENV_ALERT_STATE_TABLE, alert_resources.table)
    from functions.contract.model_artifact import load_baseline

    baseline = load_baseline(MODELS / "iris" / "baseline.json")
    rng = np.random.default_rng(3)
    log_file = tmp_path / "predictions.jsonl"
    write_log(
        log_file, baseline, sample_traffic(baseline, 300, rng, outlier_rate=0.7), start_ms=START_MS, span_ms=120_000, rng=rng
    )
    code = main(["--log-file", str(log_file), "--model-dir", str(MODELS / "iris"), "--window-end", "last"], io.StringIO())
    err = capsys.readouterr().err
    assert code == 4 and err.count("\n") == 1 and "could not publish" in err and "(exit 4)" in err
    assert alert_resources.state("iris#outlier_ratio") is None  # restored: the next run sends it
