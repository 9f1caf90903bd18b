"""One line with a value no service could log: counted unreadable, judged by data_quality, never fatal.

The same lines go through the local monitor (DuckDB), the Logs Insights result parser (the strings
Logs Insights answers for statistics over such values), and the local quality CLI.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from functions.contract.model_artifact import load_model_artifact
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.checks import evaluate
from functions.monitor.insights import parse_scalar_results, render_queries
from local import monitor, quality

MODELS = Path(__file__).resolve().parents[3] / "models"
END_MS = 1_764_082_920_000
FEATURES = '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}'


def line(timestamp: str, *, features: str = FEATURES, confidence: str = "0.9", version: str = "v", rid: int = 999) -> str:
    return (
        f'{{"message":"prediction","timestamp":{timestamp},"request_id":"{rid:032x}","row":0,"endpoint":"/predict",'
        f'"model":"iris","model_version":"{version}","is_outlier":false,"outlier_score":-0.1,"prediction":"setosa",'
        f'"class_index":0,"confidence":{confidence},"latency_ms":0.1,"features":{features},"probabilities":[0.9,0.05,0.05]}}'
    )


GOOD_TS = str(END_MS - 30_000)
BAD_LINES = {
    "feature 1e308": line(GOOD_TS, features=FEATURES.replace("5.1", "1e308")),
    "feature Infinity": line(GOOD_TS, features=FEATURES.replace("5.1", "Infinity")),
    "feature -Infinity": line(GOOD_TS, features=FEATURES.replace("5.1", "-Infinity")),
    "feature NaN": line(GOOD_TS, features=FEATURES.replace("5.1", "NaN")),
    "confidence NaN": line(GOOD_TS, confidence="NaN"),
    "year 10000": line("253402300800000"),
    "timestamp 2^63-1": line(str(2**63 - 1)),
    "timestamp -2^63": line(str(-(2**63))),
    "timestamp 2^63": line(str(2**63)),
    "timestamp not a number": line('"soon"'),
}
TIMESTAMP_CASES = {name for name in BAD_LINES if "timestamp" in name or "year" in name}


def write(tmp_path: Path, bad: str, version: str = "v") -> Path:
    good = [line(str(END_MS - 60_000 + i), version=version, rid=i) for i in range(30)]
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join([*good, bad.replace('"model_version":"v"', f'"model_version":"{version}"')]) + "\n")
    return path


@pytest.mark.parametrize("end", ["last", "2025-11-25T15:02:00Z"])
@pytest.mark.parametrize("case", BAD_LINES)
def test_local_monitor_counts_the_line_unreadable_and_judges_it(tmp_path: Path, case: str, end: str) -> None:
    path = write(tmp_path, BAD_LINES[case])
    out = io.StringIO()
    code = monitor.main(
        [
            "--log-file", str(path), "--model-dir", str(MODELS / "iris"), "--window-end", end, "--window-minutes", "2",
            "--alert-file", str(tmp_path / "alerts.jsonl"), "--state-file", str(tmp_path / "state.json"), "--json",
        ],
        out,
    )  # fmt: skip
    assert code == 0, out.getvalue()
    summary = json.loads(out.getvalue())
    assert summary["unreadable_lines"] == 1
    assert summary["rows"] == 30  # the readable lines are judged as ever
    assert "data_quality" in summary["alarms"]


@pytest.mark.parametrize("end", ["last", "2025-11-25T15:02:00Z"])
@pytest.mark.parametrize("case", BAD_LINES)
def test_local_quality_skips_and_reports_the_line(tmp_path: Path, case: str, end: str) -> None:
    version = load_model_artifact(MODELS / "iris").baseline.model_version
    path = write(tmp_path, BAD_LINES[case], version=version)
    out = io.StringIO()
    code = quality.main(
        [
            "--log-file", str(path), "--model-dir", str(MODELS / "iris"), "--end", end,
            "--alert-file", str(tmp_path / "alerts.jsonl"), "--state-file", str(tmp_path / "state.json"), "--json",
        ],
        out,
    )  # fmt: skip
    assert code == 0, out.getvalue()
    summary = json.loads(out.getvalue())
    assert summary["predicted_rows"] == (31 if case not in TIMESTAMP_CASES else 30)  # quality reads no features
    assert summary["unreadable_lines"] == (1 if case in TIMESTAMP_CASES else 0)


@pytest.mark.parametrize("answer", ["NaN", "Infinity", "-Infinity", "1e308", "nan"])
def test_insights_statistics_over_such_values_are_unreadable_and_judged(answer: str) -> None:
    """Logs Insights answers a statistic as a string: one that is not finite is judged, never raised."""
    baseline = load_model_artifact(MODELS / "iris").baseline
    queries = render_queries(baseline, END_MS - 120_000, END_MS)
    values: dict[str, float | None] = {}
    for query in queries:
        if query.grouped:
            continue
        cells = []
        for spec in query.specs:
            raw = "30" if spec.alias in ("rows", "requests") or spec.alias.endswith("_n") else "0"
            if spec.alias in ("f0_mean", "f0_std", "conf_mean"):
                raw = answer
            cells.append({"field": spec.alias, "value": raw})
        values.update(parse_scalar_results(query, [cells]))
    groups = {"class_counts": {"setosa": 30}, "outlier_groups": {"false": 30}, "message_counts": {"prediction": 30}}
    window = WindowAggregates.from_values(baseline, values, groups, start_ms=END_MS - 120_000, end_ms=END_MS)
    assert {"f0_mean", "f0_std", "conf_mean"} <= set(window.unreadable_statistics)
    assert window.features[0].mean is None
    evaluation = evaluate(baseline, window)
    (quality_check,) = [c for c in evaluation.checks if c.check == "data_quality"]
    assert quality_check.in_alarm
    assert "not finite" in quality_check.detail


def twin_window(lines: list[str]) -> WindowAggregates:
    from functions.monitor.insights import InsightsEngine, InsightsRunner
    from tests.unit.monitor.insights_twin import InsightsTwin

    baseline = load_model_artifact(MODELS / "iris").baseline
    runner = InsightsRunner(
        client=InsightsTwin(lines), log_group="/aws/lambda/inference", timeout_seconds=5, sleep=lambda _s: None
    )
    return InsightsEngine(baseline, runner).read(END_MS - 120_000, END_MS)


def test_the_insights_twin_reads_healthy_lines_as_the_local_engine_does(tmp_path: Path) -> None:
    """The twin is itself checked: on readable lines it gives the DuckDB engine's aggregates."""
    baseline = load_model_artifact(MODELS / "iris").baseline
    path = write(tmp_path, line(str(END_MS - 10), rid=500))
    local = monitor.DuckDbEngine(baseline, path).read(END_MS - 120_000, END_MS)
    twin = twin_window(path.read_text().split("\n"))
    assert (twin.rows, twin.requests, twin.outliers, dict(twin.class_counts)) == (
        local.rows, local.requests, local.outliers, dict(local.class_counts),
    )  # fmt: skip
    for got, want in zip(twin.features, local.features, strict=True):
        assert (got.count, got.below) == (want.count, want.below)
        assert got.mean == pytest.approx(want.mean) and got.std == pytest.approx(want.std, abs=1e-12)


@pytest.mark.parametrize("case", [name for name in BAD_LINES if name not in TIMESTAMP_CASES])
def test_the_insights_path_survives_the_same_lines_and_judges_them(tmp_path: Path, case: str) -> None:
    """The Lambda's engine over the golden queries, run by the DuckDB twin on the same hostile lines."""
    baseline = load_model_artifact(MODELS / "iris").baseline
    path = write(tmp_path, BAD_LINES[case])
    window = twin_window(path.read_text().split("\n"))
    assert window.rows == 31
    assert window.unreadable_statistics  # NaN or an overflowing statistic: counted, not raised
    (quality_check,) = [c for c in evaluate(baseline, window).checks if c.check == "data_quality"]
    assert quality_check.in_alarm


@pytest.mark.parametrize("case", sorted(TIMESTAMP_CASES))
def test_the_insights_path_leaves_out_lines_whose_timestamp_is_outside_every_window(tmp_path: Path, case: str) -> None:
    window = twin_window(write(tmp_path, BAD_LINES[case]).read_text().split("\n"))
    assert window.rows == 30 and not window.unreadable_statistics
