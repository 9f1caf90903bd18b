"""The monitor Lambda for a regression model: its output drift judged from Logs Insights answers (stubbed), the
alert on SNS (emulator) and the output-drift metrics in EMF."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

from functions.contract import names
from tests.integration.monitor.conftest import AlertResources
from tests.integration.monitor.test_monitor_handler import FIRST_RUN, MonitorLambda, cold_started_monitor, emf_blobs
from tests.unit.monitor.fakes import sample_traffic


@pytest.fixture
def diabetes_monitor(alert_resources: AlertResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorLambda]:
    yield from cold_started_monitor("diabetes", alert_resources, monkeypatch)


def test_output_drift_of_a_regression_model_alarms_and_recovers(
    diabetes_monitor: MonitorLambda, alert_resources: AlertResources, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = diabetes_monitor.baseline
    rng = np.random.default_rng(5)
    plan = [0.0, 1.5, 0.0, 0.0]  # predictions shifted by this many training-prediction sd
    summaries = []
    for k, shift in enumerate(plan):
        moment = FIRST_RUN + timedelta(minutes=2 * k, seconds=17)
        diabetes_monitor.feed(moment, sample_traffic(baseline, 400, rng, rows_per_request=4, prediction_shift=shift))
        summaries.append(diabetes_monitor.run(moment))
    diabetes_monitor.stub.assert_no_pending_responses()

    assert [s["status"] for s in summaries] == ["OK", "ALARM", "OK", "OK"]
    assert {"prediction_drift", "prediction_mean_shift"} <= set(summaries[1]["alarms"])
    envelopes = alert_resources.messages(expected=2)
    assert [e["Subject"].split(":")[0] for e in envelopes] == ["ALARM", "OK"]
    assert "prediction_drift" in envelopes[0]["Subject"] and "diabetes" in envelopes[0]["Subject"]

    blobs = emf_blobs(capsys.readouterr().out)
    assert blobs[1][names.METRIC_PREDICTION_DRIFT][0] > 0.3
    assert blobs[1][names.METRIC_PREDICTION_MEAN_SHIFT][0] == pytest.approx(1.5, abs=0.3)
    assert names.METRIC_ESTIMATED_ACCURACY not in blobs[1]  # no confidence: nothing estimated, nothing reported
