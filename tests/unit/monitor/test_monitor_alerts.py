"""Alert decisions (no storm), message formats, settings and the Lambda's import footprint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from functions.contract import names
from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor.adapters import JsonFileStateStore, StateStoreError
from functions.monitor.alerts import STATE_ALARM, STATE_OK, build_notification, check_id, decide
from functions.monitor.checks import Evaluation, evaluate
from functions.monitor.service import metric_points, scheduled_window_end, window_bounds
from functions.monitor.settings import Settings, SettingsError
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic

REPO = Path(__file__).resolve().parents[3]


def evaluation(baseline: Baseline, seed: int, **drift: object) -> Evaluation:
    traffic = sample_traffic(baseline, 300, np.random.default_rng(seed), **drift)  # type: ignore[arg-type]
    return evaluate(baseline, numpy_aggregates(baseline, traffic, 1_764_082_800_000, 1_764_082_920_000))


def test_alarm_then_persisting_then_recovery(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    drifted = evaluation(baseline, 1, outlier_rate=0.6)
    first = decide(drifted, {})
    assert [(t.check.check, t.previous, t.current) for t in first] == [("outlier_ratio", STATE_OK, STATE_ALARM)]
    stored = {check_id("iris", t.check.check): t.current for t in first}
    assert decide(evaluation(baseline, 2, outlier_rate=0.6), stored) == ()  # persisting: silent
    recovered = decide(evaluation(baseline, 3), stored)
    assert [(t.check.check, t.current) for t in recovered] == [("outlier_ratio", STATE_OK)]


def test_no_traffic_and_not_judged_do_not_recover(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    stored = {check_id("iris", "outlier_ratio"): STATE_ALARM}
    empty = evaluate(baseline, numpy_aggregates(baseline, sample_traffic(baseline, 0, np.random.default_rng(0))))
    small = evaluate(baseline, numpy_aggregates(baseline, sample_traffic(baseline, 5, np.random.default_rng(0))))
    assert decide(empty, stored) == () and decide(small, stored) == ()


def test_notification_formats(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    drifted = evaluation(baseline, 4, outlier_rate=0.6, shift={"petal_length": 1.4}, class_shares=[0.9, 0.05, 0.05])
    note = build_notification(drifted, decide(drifted, {}), where="us-east-1 /aws/lambda/inference-with-a-long-name")
    assert note.subject.startswith("ALARM: iris model outlier_ratio, prediction_drift")
    assert len(note.subject) < 100 and note.subject.isascii() and "\n" not in note.subject
    for needle in (
        "version 92b1afb9328d",
        "Window: 2025-11-25T15:00:00Z",
        "Rows: 300 predicted rows",
        "observed",
        "baseline",
        "Check first",
    ):
        assert needle in note.text
    message = json.loads(note.sns_message())
    assert message["default"] == message["email"] == note.text
    chat = json.loads(message["https"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["title"] == note.subject and "petal_length" in chat["content"]["description"]
    assert 1 <= len(chat["content"]["nextSteps"]) <= 5
    recovered = evaluation(baseline, 5)
    ok = build_notification(recovered, decide(recovered, {check_id("iris", "outlier_ratio"): STATE_ALARM}), where="local")
    assert ok.subject == "OK: iris model outlier_ratio (local)"
    assert "Recovered (OK)" in ok.text and "Check first" not in ok.text


def test_metric_points_use_contract_names(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact) -> None:
    points = {name: value for name, value, _ in metric_points(evaluation(iris_artifact.baseline, 6))}
    assert {
        names.METRIC_WINDOW_ROWS,
        names.METRIC_OUTLIER_RATIO,
        names.METRIC_REJECTED_RATIO,
        names.METRIC_PREDICTION_DRIFT,
        names.METRIC_CHECKS_IN_ALARM,
    } <= set(points)
    assert {names.drift_metric(f) for f in iris_artifact.baseline.feature_names} <= set(points)
    assert {names.mean_shift_metric(f) for f in iris_artifact.baseline.feature_names} <= set(points)
    assert points[names.METRIC_WINDOW_ROWS] == 300
    assert len(metric_points(evaluation(wine_artifact.baseline, 6))) == 5 + 2 * 13 < 100  # one EMF blob
    empty = evaluate(
        iris_artifact.baseline,
        numpy_aggregates(iris_artifact.baseline, sample_traffic(iris_artifact.baseline, 0, np.random.default_rng(0))),
    )
    assert metric_points(empty) == [(names.METRIC_WINDOW_ROWS, 0.0, "Count")]


def test_scheduled_window() -> None:
    end = scheduled_window_end("2026-11-25T15:06:00Z")
    end_ms = int(datetime(2026, 11, 25, 15, 6, tzinfo=UTC).timestamp() * 1000)
    assert window_bounds(end, 2) == (end_ms - 120_000, end_ms)
    assert scheduled_window_end("2026-11-25T15:06:42Z") == end  # a late or retried run judges the same window
    with pytest.raises(ValueError, match="time"):
        scheduled_window_end("yesterday")


def test_json_state_store_round_trip_and_corruption(tmp_path: Path) -> None:
    store = JsonFileStateStore(tmp_path / "state.json")
    assert store.load(["iris#outlier_ratio"]) == {}
    store.save({"iris#outlier_ratio": (STATE_ALARM, "30 %")}, 1)
    assert store.load(["iris#outlier_ratio", "iris#other"]) == {"iris#outlier_ratio": STATE_ALARM}
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(StateStoreError):
        store.load(["iris#outlier_ratio"])


GOOD_ENV = {
    names.ENV_MODEL_DIR: "models/iris",
    names.ENV_INFERENCE_LOG_GROUP: "/aws/lambda/inference",
    names.ENV_ALERT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:alerts",
    names.ENV_ALERT_STATE_TABLE: "alert-state",
}


def test_settings_defaults_and_validation() -> None:
    settings = Settings.from_env(GOOD_ENV)
    assert (settings.window_minutes, settings.query_timeout_seconds) == (2, 60.0)
    assert settings.metrics_namespace == names.METRICS_NAMESPACE and settings.service_name == names.MONITOR_SERVICE
    with pytest.raises(SettingsError) as error:
        Settings.from_env({names.ENV_WINDOW_MINUTES: "0", names.ENV_ALERT_TOPIC_ARN: "alerts"})
    message = str(error.value)
    for needle in (
        names.ENV_MODEL_DIR,
        names.ENV_INFERENCE_LOG_GROUP,
        names.ENV_ALERT_STATE_TABLE,
        "not an SNS topic ARN",
        f"{names.ENV_WINDOW_MINUTES}='0'",
    ):
        assert needle in message


def test_lambda_import_path_never_loads_local_only_packages() -> None:
    env = {
        **os.environ,
        **GOOD_ENV,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PYTHONPATH": str(REPO),
    }
    forbidden = "{'duckdb', 'matplotlib', 'pandas', 'numpy'}"
    code = f"import sys, functions.monitor.handler as h; print(sorted({forbidden} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_malformed_baseline_fails_the_cold_start(tmp_path: Path) -> None:
    (tmp_path / names.BASELINE_FILE).write_text('{"schema_version": 1, "model": {}}')
    env = {
        **os.environ,
        **GOOD_ENV,
        names.ENV_MODEL_DIR: str(tmp_path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import functions.monitor.handler"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ModelArtifactError" in result.stderr and "missing key 'labels'" in result.stderr
