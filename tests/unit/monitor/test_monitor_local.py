"""The local engine (DuckDB over the JSON-lines log) equals numpy, and the `make monitor` CLI end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor.aggregates import WindowAggregates
from local.monitor import DuckDbEngine, LocalMonitorError, main
from tests.unit.monitor.fakes import Traffic, numpy_aggregates, sample_traffic, write_log

START_MS = 1_764_082_800_000
WINDOW_MS = 120_000
MODELS = Path(__file__).resolve().parents[3] / "models"


def rounded(traffic: Traffic) -> Traffic:
    traffic.features = np.round(traffic.features, 4)  # the log writer keeps 4 decimals
    return traffic


def assert_same(got: WindowAggregates, want: WindowAggregates) -> None:
    assert (got.rows, got.outliers, got.requests, got.rejected, got.failed) == (
        want.rows, want.outliers, want.requests, want.rejected, want.failed,
    )  # fmt: skip
    assert dict(got.class_counts) == dict(want.class_counts)
    assert got.outlier_unreadable == 0 and got.confidence_count == want.confidence_count
    for got_value, want_value in ((got.confidence_mean, want.confidence_mean), (got.confidence_std, want.confidence_std)):
        assert got_value == pytest.approx(want_value, abs=1e-4)  # the log keeps 4 decimals of confidence
    assert got.reconstruction_count == want.reconstruction_count
    for got_value, want_value in (
        (got.reconstruction_mean, want.reconstruction_mean),
        (got.reconstruction_std, want.reconstruction_std),
    ):
        assert got_value == pytest.approx(want_value, abs=1e-9)
    for g, w in zip(got.features, want.features, strict=True):
        assert g.count == w.count and g.below == w.below
        for got_value, want_value in ((g.mean, w.mean), (g.std, w.std)):
            if want_value is None:
                assert got_value is None
            else:
                assert got_value == pytest.approx(want_value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("model", "n"), [("iris", 1), ("iris", 2), ("iris", 257), ("wine", 500)])
def test_duckdb_aggregates_equal_numpy(model: str, n: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    baseline: Baseline = request.getfixturevalue(f"{model}_artifact").baseline
    rng = np.random.default_rng(n)
    path = tmp_path / "predictions.jsonl"
    inside = rounded(sample_traffic(baseline, n, rng, rows_per_request=3, rejected=2, failed=1, confidence=0.9))
    inside.reconstruction = np.round(rng.gamma(2.0, 0.5, size=n), 4)  # the joint-drift score, as the service writes it
    write_log(path, baseline, inside, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    # Noise that must not count: before and after the window, and the end instant itself (end is exclusive).
    write_log(
        path,
        baseline,
        sample_traffic(baseline, 50, rng, shift={baseline.feature_names[0]: 9.0}, rejected=3),
        start_ms=START_MS - 60_000,
        span_ms=60_000,
        rng=rng,
    )
    write_log(path, baseline, sample_traffic(baseline, 50, rng, rejected=3), start_ms=START_MS + WINDOW_MS, span_ms=1, rng=rng)
    # Built-in sample probes inside the window (GET /predict/test...) are not traffic.
    for probe in log.SAMPLE_ENDPOINTS:
        probes = sample_traffic(baseline, 20, rng, shift={baseline.feature_names[0]: 9.0}, rejected=1)
        write_log(path, baseline, probes, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng, endpoint=probe)
    got = DuckDbEngine(baseline, path).read(START_MS, START_MS + WINDOW_MS)
    assert_same(got, numpy_aggregates(baseline, inside, START_MS, START_MS + WINDOW_MS))


def test_other_models_lines_are_ignored(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    path = tmp_path / "predictions.jsonl"
    iris_traffic = rounded(sample_traffic(iris_artifact.baseline, 40, rng))
    write_log(path, iris_artifact.baseline, iris_traffic, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    write_log(
        path,
        wine_artifact.baseline,
        sample_traffic(wine_artifact.baseline, 40, rng),
        start_ms=START_MS,
        span_ms=WINDOW_MS,
        rng=rng,
    )
    got = DuckDbEngine(iris_artifact.baseline, path).read(START_MS, START_MS + WINDOW_MS)
    assert_same(got, numpy_aggregates(iris_artifact.baseline, iris_traffic))


def test_empty_file_and_empty_window_are_no_rows(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    baseline = iris_artifact.baseline
    path = tmp_path / "predictions.jsonl"
    path.write_text("")
    engine = DuckDbEngine(baseline, path)
    assert engine.read(START_MS, START_MS + WINDOW_MS).rows == 0
    rng = np.random.default_rng(0)
    write_log(path, baseline, sample_traffic(baseline, 10, rng), start_ms=START_MS - 10 * WINDOW_MS, span_ms=1000, rng=rng)
    window = engine.read(START_MS, START_MS + WINDOW_MS)
    assert (window.rows, window.rejected, window.requests) == (0, 0, 0)
    assert all(f.below is None and f.mean is None for f in window.features)


def test_missing_file_raises(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    engine = DuckDbEngine(iris_artifact.baseline, tmp_path / "absent.jsonl")
    with pytest.raises(LocalMonitorError, match="does not exist"):
        engine.read(0, 1)


@pytest.mark.parametrize("bad", ['{"message": "prediction", "timestamp": ', "garbage, not JSON at all"])
def test_truncated_or_garbage_line_is_counted_and_the_window_still_judged(
    iris_artifact: ModelArtifact, tmp_path: Path, bad: str
) -> None:
    baseline = iris_artifact.baseline
    rng = np.random.default_rng(8)
    path = tmp_path / "predictions.jsonl"
    traffic = rounded(sample_traffic(baseline, 200, rng))
    write_log(path, baseline, traffic, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(bad)  # no newline: the server is still writing this line
    window = DuckDbEngine(baseline, path).read(START_MS, START_MS + WINDOW_MS)
    assert window.rows == 200 and window.unreadable_lines == 1 and window.total_lines == 201
    assert_same(window, numpy_aggregates(baseline, traffic, START_MS, START_MS + WINDOW_MS))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(["junk"] * 10) + "\n")
    code, out = run_cli([*cli_args(tmp_path, "iris", iso(START_MS + WINDOW_MS)), "--json"])
    summary = json.loads(out)
    assert code == 0 and summary["unreadable_lines"] == 11 and "data_quality" in summary["window_alarms"]


def run_cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(args, out)
    return code, out.getvalue()


def cli_args(tmp_path: Path, model: str, end: str, report: bool = False) -> list[str]:
    args = [
        "--log-file",
        str(tmp_path / "predictions.jsonl"),
        "--model-dir",
        str(MODELS / model),
        "--window-end",
        end,
        "--window-minutes",
        "2",
        "--alert-file",
        str(tmp_path / "alerts.jsonl"),
        "--state-file",
        str(tmp_path / "alert_state.json"),
    ]
    return [*args, "--report", str(tmp_path / "report.png")] if report else args


def iso(ms: int) -> str:
    return f"{np.datetime64(ms, 'ms')}Z"


def test_cli_names_the_drifted_wine_feature_and_alerts_once(
    wine_artifact: ModelArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    monkeypatch.delenv("ALERT_STATE_TABLE", raising=False)
    baseline = wine_artifact.baseline
    rng = np.random.default_rng(12)
    path = tmp_path / "predictions.jsonl"
    for k in range(3):  # three windows with the same drift in one feature
        traffic = sample_traffic(baseline, 400, rng, shift={"flavanoids": 1.8})
        write_log(path, baseline, traffic, start_ms=START_MS + k * WINDOW_MS, span_ms=WINDOW_MS, rng=rng)
    for k in (3, 4):  # healthy windows: the recovery needs K clean ones unless one is clearly clean
        healthy = sample_traffic(baseline, 400, rng)
        write_log(path, baseline, healthy, start_ms=START_MS + k * WINDOW_MS, span_ms=WINDOW_MS, rng=rng)

    summaries = []
    for k in range(5):
        code, out = run_cli([*cli_args(tmp_path, "wine", iso(START_MS + (k + 1) * WINDOW_MS), report=k == 0), "--json"])
        assert code == 0, out
        summaries.append(json.loads(out))
    named = {"mean_shift:flavanoids", "distribution:flavanoids", "relative_mean_shift:flavanoids"}
    assert named <= set(summaries[0]["alarms"])
    assert not any(a.startswith(("mean_shift:", "distribution:")) and "flavanoids" not in a for a in summaries[0]["alarms"])
    assert {f"{c}:ALARM" for c in named} <= set(summaries[0]["notified"])
    assert summaries[1]["notified"] == [] and summaries[2]["notified"] == []
    assert summaries[4]["status"] == "OK", summaries[4]["alarms"]
    assert {f"{c}:OK" for c in named} <= set(summaries[3]["notified"]) | set(summaries[4]["notified"])

    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().split("\n") if line]
    assert [a["state"] for a in alerts] == ["ALARM", "OK"]
    assert alerts[0]["subject"].startswith("ALARM: wine model distribution:flavanoids, mean_shift:flavanoids")
    assert "flavanoids" in alerts[0]["text"] and "Check first" in alerts[0]["text"]
    state = json.loads((tmp_path / "alert_state.json").read_text())
    assert state["wine"]["checks"]["mean_shift:flavanoids"]["state"] == "OK" and state["wine"]["version"] == 5
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_cli_window_end_last_and_no_traffic(
    iris_artifact: ModelArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    monkeypatch.delenv("ALERT_STATE_TABLE", raising=False)
    baseline = iris_artifact.baseline
    rng = np.random.default_rng(5)
    path = tmp_path / "predictions.jsonl"
    write_log(path, baseline, sample_traffic(baseline, 120, rng), start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    code, out = run_cli([*cli_args(tmp_path, "iris", "last"), "--json"])
    summary = json.loads(out)
    assert code == 0 and summary["rows"] > 0 and summary["status"] == "OK"
    code, out = run_cli([*cli_args(tmp_path, "iris", iso(START_MS - 10 * WINDOW_MS)), "--json"])
    assert code == 0 and json.loads(out)["status"] == "NO_TRAFFIC"
    assert not (tmp_path / "alerts.jsonl").exists()


def test_cli_fails_loudly_on_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli(cli_args(tmp_path, "iris", "now"))
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    bad_model = tmp_path / "model"
    bad_model.mkdir()
    (bad_model / "baseline.json").write_text('{"schema_version": 1}')
    (tmp_path / "predictions.jsonl").write_text("")
    args = cli_args(tmp_path, "iris", "now")
    args[args.index("--model-dir") + 1] = str(bad_model)
    code, _ = run_cli(args)
    assert code == 2
    assert "missing key" in capsys.readouterr().err


def test_rejected_line_shape_is_read(iris_artifact: ModelArtifact, tmp_path: Path) -> None:
    line = log.rejected_line(
        timestamp_ms=START_MS + 5, request_id="r1", endpoint="/predict", model="iris", model_version="v", status=422, reason="x"
    )
    path = tmp_path / "predictions.jsonl"
    path.write_text(line + "\n")
    window = DuckDbEngine(iris_artifact.baseline, path).read(START_MS, START_MS + WINDOW_MS)
    assert (window.rows, window.rejected) == (0, 1)


def test_cli_says_what_it_did_and_json_goes_to_a_file(
    iris_artifact: ModelArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    monkeypatch.delenv("ALERT_STATE_TABLE", raising=False)
    baseline = iris_artifact.baseline
    rng = np.random.default_rng(9)
    write_log(tmp_path / "predictions.jsonl", baseline, sample_traffic(baseline, 300, rng, outlier_rate=0.7),
              start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)  # fmt: skip
    summary_file = tmp_path / "out" / "summary.json"
    code, out = run_cli([*cli_args(tmp_path, "iris", iso(START_MS + WINDOW_MS)), "--json", str(summary_file)])
    assert code == 0
    assert f"published to alert file {tmp_path / 'alerts.jsonl'}" in out
    assert f"state saved to state file {tmp_path / 'alert_state.json'} (version 1)" in out
    assert "(2 min, end exclusive)" in out and "because z " in out
    assert json.loads(summary_file.read_text())["status"] == "ALARM"
    assert f"summary written to {summary_file}" in out


def test_cli_state_conflict_and_corrupt_state_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "predictions.jsonl").write_text("")
    (tmp_path / "alert_state.json").write_text("{broken")
    rng = np.random.default_rng(9)
    from functions.contract.model_artifact import load_baseline

    baseline = load_baseline(MODELS / "iris" / "baseline.json")
    write_log(tmp_path / "predictions.jsonl", baseline, sample_traffic(baseline, 100, rng), start_ms=START_MS, span_ms=WINDOW_MS,
              rng=rng)  # fmt: skip
    code, _ = run_cli(cli_args(tmp_path, "iris", iso(START_MS + WINDOW_MS)))
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and err.startswith("monitor: alert state:") and "(exit 3)" in err
