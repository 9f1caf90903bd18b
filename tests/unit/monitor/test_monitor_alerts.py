"""Alert decisions: persistence (M of N, K clean), the flapping bound, stale runs, message formats, settings."""

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
from functions.contract.model_artifact import Baseline, ModelArtifact, Thresholds
from functions.monitor.adapters import JsonFileStateStore, StateConflictError, StateStoreError
from functions.monitor.alerts import (
    STATE_ALARM,
    STATE_OK,
    AlertState,
    CheckState,
    build_notification,
    decide,
    next_check_state,
    window_text,
)
from functions.monitor.checks import CheckResult, Evaluation, Status, evaluate
from functions.monitor.service import metric_points, scheduled_window_end, window_bounds
from functions.monitor.settings import Settings, SettingsError
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic

REPO = Path(__file__).resolve().parents[3]
MINUTE = 60_000


def evaluation(baseline: Baseline, seed: int, **drift: object) -> Evaluation:
    traffic = sample_traffic(baseline, 300, np.random.default_rng(seed), **drift)  # type: ignore[arg-type]
    return evaluate(baseline, numpy_aggregates(baseline, traffic, 1_764_082_800_000, 1_764_082_920_000))


def result(status: Status, strength: float) -> CheckResult:
    """A check result whose score is `strength` times its critical value of 4."""
    return CheckResult("c", status, None, None, 0.1, None, 4 * strength, "detail", "hint", 4.0, "condition")


T = Thresholds(0.2, 0.05, 0.1, 1.8, 0.1, 0.05, 30)  # defaults: enter 2 of 3 or strong (1.5), recover after 2 or clearly clean


def test_one_borderline_alarm_does_not_enter_two_of_three_do() -> None:
    first = next_check_state(CheckState(), result(Status.ALARM, 1.1), T, MINUTE)
    assert first.state == STATE_OK  # without the M-of-N rule this would already be ALARM
    second = next_check_state(first, result(Status.ALARM, 1.1), T, 2 * MINUTE)
    assert second.state == STATE_ALARM and second.since_ms == 2 * MINUTE


def test_strong_evidence_enters_at_once() -> None:
    assert next_check_state(CheckState(), result(Status.ALARM, 1.6), T, MINUTE).state == STATE_ALARM


def test_recovery_needs_k_clean_windows_or_one_clearly_clean() -> None:
    alarm = CheckState(STATE_ALARM, "AA", 0, MINUTE)
    borderline_clean = next_check_state(alarm, result(Status.OK, 0.8), T, 2 * MINUTE)
    assert borderline_clean.state == STATE_ALARM  # without the K rule this would recover
    assert next_check_state(borderline_clean, result(Status.OK, 0.8), T, 3 * MINUTE).state == STATE_OK
    assert next_check_state(alarm, result(Status.OK, 0.2), T, 2 * MINUTE).state == STATE_OK  # clearly clean


def test_one_window_does_not_recover_an_outlier_rise_it_cannot_put_under_the_floor() -> None:
    """outlier_shift at 12 of 283 rows flagged against a 0 % reference: half its critical value by score (clean), but
    4.2 points + half the critical value times the window's own error (1.2 points) is not under the 5-point floor."""
    alarm = CheckState(STATE_ALARM, "AA", 0, MINUTE)
    share = 12 / 283
    error = (share * (1 - share) / 283) ** 0.5

    def outlier_shift(window_error: float | None) -> CheckResult:
        return CheckResult(
            "outlier_shift", Status.OK, share, 0.0, 0.05, 0.1, 0.4 * 4.0, "detail", "hint", 4.0, "condition", window_error
        )

    assert next_check_state(alarm, outlier_shift(None), T, 2 * MINUTE).state == STATE_OK  # score alone: recovers
    assert next_check_state(alarm, outlier_shift(error), T, 2 * MINUTE).state == STATE_ALARM
    held = next_check_state(alarm, outlier_shift(error), T, 2 * MINUTE)
    assert next_check_state(held, outlier_shift(error), T, 3 * MINUTE).state == STATE_OK  # K clean windows still do


def test_flapping_series_sends_at_most_two_notifications_per_hour(iris_artifact: ModelArtifact) -> None:
    """Strong ALARM and clearly-clean windows alternating every minute for 3 hours."""
    baseline = iris_artifact.baseline
    drifted = evaluation(baseline, 1, outlier_rate=0.6)
    clean = evaluation(baseline, 2)
    state, sent = AlertState(), []
    for minute in range(1, 181):
        decision = decide(drifted if minute % 2 else clean, state, baseline.thresholds, minute * MINUTE)
        state = decision.state
        if decision.notify:
            sent.append(minute)
    assert sent and all(sum(1 for m in sent if start <= m < start + 60) <= 2 for start in range(1, 181))


def test_held_change_is_sent_when_the_budget_allows_and_a_flap_back_is_dropped(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    drifted, clean = evaluation(baseline, 1, outlier_rate=0.6), evaluation(baseline, 2)
    state = AlertState()
    kinds = []
    for minute, window in enumerate([drifted, clean, drifted], start=1):
        decision = decide(window, state, baseline.thresholds, minute * MINUTE)
        state = decision.state
        kinds.append((bool(decision.notify), decision.held))
    assert kinds[0][0] and kinds[1][0] and not kinds[2][0] and "outlier_ratio" in kinds[2][1]
    later = decide(drifted, state, baseline.thresholds, 62 * MINUTE)  # the hour has passed: the held ALARM goes out
    assert "outlier_ratio" in [t.check.check for t in later.notify if t.is_alarm]


def test_stale_or_repeated_window_decides_nothing(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    drifted = evaluation(baseline, 1, outlier_rate=0.6)
    first = decide(drifted, AlertState(), baseline.thresholds, 5 * MINUTE)
    assert first.notify
    for end in (5 * MINUTE, 4 * MINUTE):  # a retry of the same window, or a late run of an older one
        again = decide(drifted, first.state, baseline.thresholds, end)
        assert again.stale and not again.notify and again.state == first.state


def test_no_traffic_and_small_windows_do_not_recover(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    state = decide(evaluation(baseline, 1, outlier_rate=0.6), AlertState(), baseline.thresholds, MINUTE).state
    for minute, n in ((2, 0), (3, 5)):
        window = evaluate(baseline, numpy_aggregates(baseline, sample_traffic(baseline, n, np.random.default_rng(0))))
        decision = decide(window, state, baseline.thresholds, minute * MINUTE)
        assert not decision.notify and decision.state.checks["outlier_ratio"].state == STATE_ALARM
        state = decision.state


def test_notification_formats(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    drifted = evaluation(baseline, 4, outlier_rate=0.6, shift={"petal_length": 1.4}, class_shares=[0.9, 0.05, 0.05])
    decision = decide(drifted, AlertState(), baseline.thresholds, MINUTE)
    note = build_notification(drifted, decision.notify, where="us-east-1 /aws/lambda/inference-with-a-long-name")
    assert note.subject.startswith("ALARM: iris model ")
    assert len(note.subject) < 100 and note.subject.isascii() and "\n" not in note.subject
    window = "Window: 2025-11-25T15:00:00Z to 2025-11-25T15:02:00Z (2 min"
    for needle in (f"version {baseline.model_version}", window, "Rows: 300 predicted rows", "because", "observed", "Check first"):
        assert needle in note.text
    message = json.loads(note.sns_message())
    assert message["default"] == message["email"] == note.text
    chat = json.loads(message["https"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["title"] == note.subject and "petal_length" in chat["content"]["description"]
    assert 1 <= len(chat["content"]["nextSteps"]) <= 5


def test_short_windows_print_with_milliseconds_and_length() -> None:
    assert (
        window_text(1_764_082_800_000, 1_764_082_800_250)
        == "2025-11-25T15:00:00Z to 2025-11-25T15:00:00.250Z (0.25 s, end exclusive)"
    )


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
    assert len(metric_points(evaluation(wine_artifact.baseline, 6))) == 5 + 2 * 13 < 100  # one EMF blob, no confidence
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


def test_json_state_store_round_trip_conflict_and_corruption(tmp_path: Path) -> None:
    store = JsonFileStateStore(tmp_path / "state.json")
    assert store.load("iris") == AlertState()
    state = AlertState(version=1, last_window_end_ms=60_000, checks={"outlier_ratio": CheckState(STATE_ALARM, "AA", 0, 60_000)})
    store.save("iris", state, 0, 1)
    assert store.load("iris").checks["outlier_ratio"].state == STATE_ALARM and store.load("iris").version == 1
    with pytest.raises(StateConflictError):
        store.save("iris", state, 0, 2)  # a late run that read version 0 must not overwrite version 1
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(StateStoreError):
        store.load("iris")


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


def test_per_check_store_for_the_quality_function(tmp_path: Path) -> None:
    """The quality function keeps its simpler per-check state ('<model>#<check>' items) through these adapters."""
    from functions.monitor.adapters import JsonFileCheckStore
    from functions.monitor.alerts import check_id

    store = JsonFileCheckStore(tmp_path / "quality_state.json")
    assert store.load([check_id("iris", "realized_accuracy")]) == {}
    store.save({check_id("iris", "realized_accuracy"): (STATE_ALARM, "0.81 < 0.9")}, 1)
    assert store.load(["iris#realized_accuracy", "iris#other"]) == {"iris#realized_accuracy": STATE_ALARM}
    (tmp_path / "quality_state.json").write_text("{broken")
    with pytest.raises(StateStoreError):
        store.load(["iris#realized_accuracy"])


def test_a_stored_state_under_the_old_check_name_is_read_as_the_relative_mean_rule() -> None:
    """Alert states saved before the rename carry `seed_mean_shift:<f>`; they keep their ALARM under the new name."""
    from functions.monitor.alerts import AlertState

    stored = AlertState.from_json(
        json.dumps(
            {
                "version": 3,
                "last_window_end_ms": 120_000,
                "checks": {"seed_mean_shift:sepal_length": {"state": "ALARM"}, "mean_shift:sepal_length": {"state": "OK"}},
                "notified": {"seed_mean_shift:sepal_length": "ALARM"},
                "sent_ms": [],
            }
        )
    )
    assert set(stored.checks) == {"relative_mean_shift:sepal_length", "mean_shift:sepal_length"}
    assert stored.checks["relative_mean_shift:sepal_length"].state == "ALARM"
    assert stored.notified == {"relative_mean_shift:sepal_length": "ALARM"}
