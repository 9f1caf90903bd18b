"""The quality Lambda for a regression model: the shipped regression Athena text is sent, Athena's all-strings pages
(DuckDB's rows of the same SQL) are read as numbers, MAE/RMSE/R² alarm on SNS (emulator) and recover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.contract import names
from functions.contract.model_artifact import load_model_artifact
from functions.quality import sql
from functions.quality.local_engine import DuckDbRunner
from functions.quality.service import lookback_bounds, scheduled_end
from tests.integration.quality.conftest import Alerts
from tests.integration.quality.test_quality_handler import RUN_AT, QualityLambda, cold_started_quality, emf, scheduled_event
from tests.unit.quality.logs import MODELS
from tests.unit.quality.test_regression_quality import holdout_like, write_traffic

TABLES = ("diabetes_predictions", "diabetes_feedback")


class RegressionQualityLambda(QualityLambda):
    def feed(self, log: Path, state: str = "SUCCEEDED", scanned: int = 2048) -> None:
        start_ms, end_ms = lookback_bounds(scheduled_end(scheduled_event(RUN_AT)["time"]), 7)
        self.queries += 1
        qid = f"regression-query-{self.queries}"
        self.stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": qid},
            {"QueryString": sql.with_tables(sql.athena_template(regression=True), *TABLES), "WorkGroup": "quality",
             "QueryExecutionContext": {"Database": "inference_logs"},
             "ExecutionParameters": sql.athena_parameters(sql.parameters("diabetes", start_ms, end_ms))},
        )  # fmt: skip
        self.stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": qid, "Status": {"State": "SUCCEEDED"},
                                "Statistics": {"DataScannedInBytes": 2048}}},
            {"QueryExecutionId": qid},
        )  # fmt: skip
        rows = DuckDbRunner(log).run(sql.QUALITY_REGRESSION_SQL, sql.parameters("diabetes", start_ms, end_ms))
        columns = sql.REGRESSION_RESULT_COLUMNS
        header = [{"VarCharValue": c} for c in columns]
        data = [{"Data": [{} if row[c] is None else {"VarCharValue": str(row[c])} for c in columns]} for row in rows]
        self.stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": [{"Data": header}, *data],
                           "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]}}},
            {"QueryExecutionId": qid, "MaxResults": 1000},
        )  # fmt: skip
        self.feed_unreadable(DuckDbRunner(log).unreadable_lines() if log.is_file() else 0, start_ms, end_ms)


@pytest.fixture
def regression_lambda(alerts: Alerts, monkeypatch: pytest.MonkeyPatch) -> Iterator[QualityLambda]:
    yield from cold_started_quality("diabetes", alerts, monkeypatch, RegressionQualityLambda)


def test_raised_true_values_alarm_once_and_recover_once(
    regression_lambda: RegressionQualityLambda, alerts: Alerts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = load_model_artifact(MODELS / "diabetes").baseline
    healthy, drifted = tmp_path / "healthy.jsonl", tmp_path / "drifted.jsonl"
    write_traffic(healthy, baseline, *holdout_like(baseline, 150, 0.0, seed=8))
    write_traffic(drifted, baseline, *holdout_like(baseline, 150, 1.0, seed=8))
    summaries = []
    for log in (healthy, drifted, drifted, healthy):
        regression_lambda.feed(log)
        summaries.append(regression_lambda.run())
    regression_lambda.stub.assert_no_pending_responses()
    assert [s["status"] for s in summaries] == ["OK", "ALARM", "ALARM", "OK"]
    assert summaries[1]["notified"] == ["realized_mae:ALARM", "realized_rmse:ALARM", "realized_r2:ALARM"]
    assert summaries[1]["mae"] > summaries[0]["mae"] * 1.5
    envelopes = alerts.messages(expected=2)
    assert [e["Subject"].split(":")[0] for e in envelopes] == ["ALARM", "OK"]
    assert envelopes[0]["Subject"].startswith("ALARM: diabetes model realized_mae, realized_rmse, realized_r2")
    blobs = emf(capsys.readouterr().out)
    first = {k: v[0] if isinstance(v, list) else v for k, v in blobs[0].items()}
    assert first[names.METRIC_LABELLED_ROWS] == 150 and 0.0 < first["RealizedR2"] < 1.0
    assert json.dumps(first).count("RealizedAccuracy") == 0
