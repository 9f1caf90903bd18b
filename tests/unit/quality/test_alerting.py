"""Alerts: ALARM once, persisting silent, recovery once; unjudged runs leave the state; the monitor's message layout."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.contract.model_artifact import Baseline
from functions.quality.alerting import FilePublisher, JsonFileCheckStore
from functions.quality.report import State, VersionQuality
from functions.quality.service import QualityJob, lookback_bounds
from tests.unit.quality.logs import baseline_of

END = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


class FixedSource:
    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self.confusion: list[list[int]] = []
        self.calls: list[tuple[str, int, int]] = []

    def read(self, model: str, start_ms: int, end_ms: int) -> list[dict[str, object]]:
        self.calls.append((model, start_ms, end_ms))
        version, labels = self.baseline.model_version, self.baseline.label_names
        rows: list[dict[str, object]] = []
        for i, actual in enumerate(labels):
            for j, predicted in enumerate(labels):
                if self.confusion and self.confusion[i][j]:
                    rows.append({"model_version": version, "kind": "labelled", "predicted": predicted, "actual": actual,
                                 "row_count": self.confusion[i][j], "median_delay_ms": 1000, "grouping_level": 0})  # fmt: skip
        if rows:
            rows.append({"model_version": version, "kind": None, "predicted": None, "actual": None, "row_count": 1,
                         "median_delay_ms": 1000, "grouping_level": 7})  # fmt: skip
        return rows

    def unreadable_lines(self, start_ms: int, end_ms: int) -> int:
        return 0


class FailingSource:
    def read(self, model: str, start_ms: int, end_ms: int) -> list[dict[str, object]]:
        raise RuntimeError("Athena query FAILED")


def job(tmp_path: Path, source: object, out: io.StringIO) -> QualityJob:
    return QualityJob(
        baseline=baseline_of("iris"),
        source=source,  # type: ignore[arg-type]
        state_store=JsonFileCheckStore(tmp_path / "state.json"),
        publisher=FilePublisher(tmp_path / "alerts.jsonl", out),
        lookback_days=7,
        where="local",
    )


def alerts(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().split("\n") if line] if path.exists() else []


HEALTHY = [[100, 0, 0], [0, 97, 3], [0, 3, 97]]
DRIFTED = [[100, 0, 0], [0, 97, 3], [0, 50, 50]]


def test_alarm_once_silent_while_persisting_recovery_once(tmp_path: Path) -> None:
    out = io.StringIO()
    source = FixedSource(baseline_of("iris"))
    quality_job = job(tmp_path, source, out)
    metrics: list[tuple[str, float, str]] = []

    source.confusion = HEALTHY
    assert quality_job.run(END, lambda *m: metrics.append(m), 0).evaluation.state is State.OK
    assert alerts(tmp_path) == []

    source.confusion = DRIFTED
    first = quality_job.run(END, lambda *m: None, 1)
    assert first.evaluation.state is State.ALARM
    assert quality_job.run(END, lambda *m: None, 2).notification is None  # persisting: silent
    source.confusion = HEALTHY
    recovered = quality_job.run(END, lambda *m: None, 3)
    assert recovered.notification is not None

    sent = alerts(tmp_path)
    assert [a["state"] for a in sent] == ["ALARM", "OK"]
    alarm = sent[0]
    assert alarm["subject"] == "ALARM: iris model realized_accuracy, realized_recall:virginica (local)"
    text = str(alarm["text"])
    assert text.startswith(
        f"Model: iris (version {baseline_of('iris').model_version})\nWhere: local\nWindow: 2026-11-18T15:00:00Z"
    )
    assert "Entered ALARM:\n- realized_accuracy: observed 0.8233 vs baseline 0.9733" in text
    assert "Check first: " in text
    assert "Sent by the quality service once per state change" in text
    assert source.calls[0] == ("iris", *lookback_bounds(END, 7))


def test_insufficient_data_and_no_traffic_leave_the_alarm_standing(tmp_path: Path) -> None:
    out = io.StringIO()
    source = FixedSource(baseline_of("iris"))
    quality_job = job(tmp_path, source, out)
    source.confusion = DRIFTED
    quality_job.run(END, lambda *m: None, 1)
    source.confusion = [[3, 0, 0], [0, 3, 0], [0, 0, 3]]  # 9 labelled rows: not judged
    assert quality_job.run(END, lambda *m: None, 2).evaluation.state is State.INSUFFICIENT_DATA
    source.confusion = []
    assert quality_job.run(END, lambda *m: None, 3).evaluation.state is State.NO_TRAFFIC
    assert [a["state"] for a in alerts(tmp_path)] == ["ALARM"]  # no data is not a recovery
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["iris#realized_accuracy"]["state"] == "ALARM"


def test_a_failed_query_raises_and_emits_nothing(tmp_path: Path) -> None:
    metrics: list[object] = []
    with pytest.raises(RuntimeError, match="FAILED"):
        job(tmp_path, FailingSource(), io.StringIO()).run(END, lambda *m: metrics.append(m), 0)
    assert metrics == []
    assert not (tmp_path / "state.json").exists()


def test_version_quality_type_is_what_the_source_rows_become() -> None:
    source = FixedSource(baseline_of("iris"))
    source.confusion = HEALTHY
    from functions.quality.report import parse_rows

    parsed = parse_rows(source.read("iris", 0, 1), baseline_of("iris").label_names)
    assert isinstance(parsed[baseline_of("iris").model_version], VersionQuality)
