"""Minute mode over the local log: each minute read once, late records re-read, future records, quiet services."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor.adapters import FilePublisher, JsonFileStateStore
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.minute_store import KIND_HOUR, JsonFileMinuteStore, series_name
from functions.monitor.minutes import HOUR_MS, MINUTE_MS, layout_key
from functions.monitor.timeline import MinuteMonitor, TimeSettings, parse_horizons
from local.monitor import DuckDbEngine, main
from tests.unit.monitor.fakes import sample_traffic, write_log

T0 = 1_764_079_200_000  # a whole hour
SEED = np.random.default_rng


def traffic(path: Path, b: Baseline, first_minute: int, minutes: int, rate: int, seed: int, factor: float = 1.0) -> None:
    rng = SEED(seed)
    for i in range(first_minute, first_minute + minutes):
        shift = {b.feature_names[2]: factor} if factor != 1.0 else None
        write_log(path, b, sample_traffic(b, rate, rng, shift=shift, confidence=0.9), start_ms=T0 + i * MINUTE_MS,
                  span_ms=MINUTE_MS, rng=rng)  # fmt: skip


def monitor(tmp_path: Path, b: Baseline, **settings: object) -> MinuteMonitor:
    engine = DuckDbEngine(b, tmp_path / "p.jsonl")
    return MinuteMonitor(
        baseline=b,
        source=engine,
        counter=engine,
        minute_store=JsonFileMinuteStore(tmp_path / "minutes.json"),
        state_store=JsonFileStateStore(tmp_path / "state.json"),
        publisher=FilePublisher(tmp_path / "alerts.jsonl", None),
        where="test",
        settings=TimeSettings(**{"max_reads_per_run": 200, **settings}),  # type: ignore[arg-type]
    )


def at(minute: int) -> int:
    return T0 + minute * MINUTE_MS


def noop(*_: object) -> None:
    return None


def test_each_minute_read_once_and_late_records_re_read(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    traffic(tmp_path / "p.jsonl", b, 0, 30, 20, 1)
    mon = monitor(tmp_path, b, horizons=(2, 15))
    first = mon.run(at(32), noop)  # minutes before 30 are settled (lag 2)
    assert first.minutes_read == 60 and first.minutes_reread == 0 and first.late_records == 0  # the recheck span, empty or not
    again = mon.run(at(33), noop)
    assert again.minutes_read == 1 and again.minutes_reread == 0  # minute 30 (empty): each minute read once
    # 7 records of minute 25 land late: the next run re-reads that minute only and counts them.
    write_log(tmp_path / "p.jsonl", b, sample_traffic(b, 7, SEED(9), confidence=0.9), start_ms=at(25), span_ms=MINUTE_MS,
              rng=SEED(9))  # fmt: skip
    late = mon.run(at(34), noop)
    assert late.minutes_reread == 1 and late.late_records == 7
    assert late.rows_seen == late.rows_counted == 30 * 20 + 7
    fifteen = next(j for j in late.judged if j.horizon == 15).evaluation.window
    assert fifteen.rows == (32 - 17) * 20 - 2 * 20 + 7  # minutes 17..31, 30 and 31 empty, plus the late rows


def test_drift_alarms_and_records_three_minutes_late_are_judged(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    path = tmp_path / "p.jsonl"
    traffic(path, b, 0, 60, 20, 2)
    mon = monitor(tmp_path, b, horizons=(2, 15, 60))
    assert mon.run(at(62), noop).status == "OK"
    statuses = []
    for minute in range(63, 80):
        traffic(path, b, minute - 5, 1, 20, minute, factor=1.6)  # minute m-5's rows land 3 minutes after it is settled
        statuses.append(mon.run(at(minute), noop).status)
    assert "ALARM" in statuses
    sent = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sent and sent[0]["state"] == "ALARM"
    assert mon.run(at(80), noop).late_records > 0


def test_hours_roll_up_and_a_day_window_sums_them(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    traffic(tmp_path / "p.jsonl", b, 0, 130, 5, 3)
    mon = monitor(tmp_path, b, horizons=(60, 1440))
    mon.run(at(62), noop)  # reads minutes 0..59 and rolls up hour 0
    mon.run(at(122), noop)  # minutes 60..119, hour 1
    store = JsonFileMinuteStore(tmp_path / "minutes.json")
    hours = store.load(series_name(b.model_name, layout_key(b), KIND_HOUR), T0, T0 + 3 * HOUR_MS)
    assert sorted(hours) == [T0, T0 + HOUR_MS] and hours[T0].minutes.rows == 300
    day = next(j for j in mon.run(at(123), noop).judged if j.horizon == 1440).evaluation.window
    assert day.rows == 121 * 5


def test_future_records_are_counted_and_alarm_above_the_share(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    path = tmp_path / "p.jsonl"
    traffic(path, b, 0, 20, 20, 4)
    write_log(path, b, sample_traffic(b, 30, SEED(5), confidence=0.9), start_ms=at(24 * 60), span_ms=1000, rng=SEED(5))
    result = monitor(tmp_path, b, horizons=(15,)).run(at(22), noop)
    assert result.future_records == 30
    clock = next(c for c in result.extra if c.check == "clock_skew")
    assert clock.status.value == "ALARM" and "clock_skew:ALARM" in result.summary()["notified"]


def test_a_service_that_stops_being_called_notifies(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    traffic(tmp_path / "p.jsonl", b, 0, 80, 3, 6)
    mon = monitor(tmp_path, b, horizons=(15, 60), no_traffic_minutes=15)
    assert mon.run(at(82), noop).summary()["extra_checks"]["no_traffic"] == "OK"
    quiet = [mon.run(at(m), noop) for m in range(83, 99)]
    assert [r.summary()["extra_checks"]["no_traffic"] for r in quiet][-1] == "ALARM"
    assert any("no_traffic:ALARM" in r.summary()["notified"] for r in quiet)
    assert all(r.summary()["extra_checks"]["no_traffic"] == "OK" for r in quiet[:11])  # 14 quiet minutes are not 15


def test_thin_traffic_before_a_quiet_spell_is_not_a_stop(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    for i in range(0, 80, 5):  # one minute in five has rows: not steady
        traffic(tmp_path / "p.jsonl", b, i, 1, 3, 7 + i)
    mon = monitor(tmp_path, b, horizons=(60,))
    assert all(mon.run(at(m), noop).summary()["extra_checks"]["no_traffic"] != "ALARM" for m in range(82, 100))


def test_horizons_setting_is_validated() -> None:
    assert parse_horizons("60, 2,15,1440") == (2, 15, 60, 1440)
    for bad in ("", "0", "2,x", "2000"):
        with pytest.raises(ValueError):
            parse_horizons(bad)


def test_cli_minute_mode_window_end_last_ignores_a_record_from_the_future(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    path = tmp_path / "p.jsonl"
    traffic(path, b, 0, 20, 30, 8, factor=1.6)  # an old drifted stretch
    write_log(path, b, sample_traffic(b, 1, SEED(1)), start_ms=4_102_444_800_000, span_ms=1, rng=SEED(1))  # year 2100
    out = io.StringIO()
    files = ["--state-file", str(tmp_path / "s.json"), "--alert-file", str(tmp_path / "a.jsonl")]
    args = ["--log-file", str(path), "--model-dir", "models/iris", "--window-end", "last", "--horizons", "2,15", *files]
    code = main([*args, "--json"], out=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert code == 0 and summary["window_end_ms"] == at(20) and summary["status"] == "ALARM"
    assert summary["horizons"][0]["rows"] > 0


def test_one_scan_by_minute_equals_one_read_per_minute(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    b = iris_artifact.baseline
    traffic(tmp_path / "p.jsonl", b, 0, 4, 25, 11, factor=1.2)
    engine = DuckDbEngine(b, tmp_path / "p.jsonl")
    starts = [at(i) for i in range(-1, 5)]
    batch = engine.read_minutes(starts)
    for start in starts:
        one = engine.read(start, start + MINUTE_MS)
        got = batch[start]
        assert (got.rows, got.outliers, got.requests, dict(got.class_counts)) == (
            one.rows, one.outliers, one.requests, dict(one.class_counts),
        )  # fmt: skip
        for g, w in zip(got.features, one.features, strict=True):
            assert (g.count, g.below) == (w.count, w.below) and g.mean == pytest.approx(w.mean) and g.std == pytest.approx(w.std)


def test_settings_read_the_time_side_once() -> None:
    from functions.contract import names
    from functions.monitor.settings import Settings, SettingsError
    from tests.unit.monitor.test_monitor_alerts import GOOD_ENV

    plain = Settings.from_env(GOOD_ENV)
    assert plain.minute_table == "" and plain.horizons == (2, 15, 60, 1440) and plain.settle_minutes == 2
    minute = Settings.from_env({**GOOD_ENV, names.ENV_MINUTE_TABLE: "t", names.ENV_MONITOR_HORIZONS: "5,60",
                                names.ENV_SETTLE_MINUTES: "3", names.ENV_NO_TRAFFIC_MINUTES: "20"})  # fmt: skip
    assert (minute.minute_table, minute.horizons, minute.settle_minutes, minute.no_traffic_minutes) == ("t", (5, 60), 3, 20)
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**GOOD_ENV, names.ENV_MONITOR_HORIZONS: "2,x", names.ENV_SETTLE_MINUTES: "-1"})
    assert names.ENV_MONITOR_HORIZONS in str(error.value) and names.ENV_SETTLE_MINUTES in str(error.value)


def test_future_query_counts_prediction_records_stamped_ahead(iris_artifact: ModelArtifact) -> None:
    from functions.monitor.insights import parse_count, render_future_query

    query = render_future_query(iris_artifact.baseline, 1_800_000_000_000)
    assert "timestamp >= 1800000000000" in query.text and 'model = "iris"' in query.text
    assert 'message = "prediction"' in query.text and query.text.endswith("stats count(*) as n")
    assert parse_count([]) == 0 and parse_count([[{"field": "n", "value": "4"}]]) == 4


def test_one_minute_at_a_time_stops_at_the_time_budget(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    """An engine without a batch read (Logs Insights): reads stop once the budget is spent; the next run goes on."""
    b = iris_artifact.baseline
    traffic(tmp_path / "p.jsonl", b, 0, 10, 5, 12)
    engine = DuckDbEngine(b, tmp_path / "p.jsonl")
    ticks = iter(range(0, 10_000, 15))  # every clock call: 15 s later

    class OneAtATime:
        def read(self, start_ms: int, end_ms: int) -> WindowAggregates:
            return engine.read(start_ms, end_ms)

    mon = monitor(tmp_path, b, horizons=(2,))
    mon.source = OneAtATime()
    mon.clock = lambda: float(next(ticks))
    assert mon.run(at(12), noop).minutes_read == 2  # budget 20 s: the first read, then one more at 15 s, none at 30 s
    assert mon.run(at(12), noop).minutes_read == 2
