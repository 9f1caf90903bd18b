"""End to end on the local stack: the README's first command, for both shipped models.

Starts the local API as its own process, sends normal, drifted and normal traffic over loopback,
runs the local monitor after each phase and checks what it judged and what it notified.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("model", "drifted_feature"), [("iris", "sepal_length"), ("wine", "alcohol")])
def test_demo_alarms_on_drift_and_recovers(tmp_path: Path, model: str, drifted_feature: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local.demo", "--model", model, "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo OK" in done.stdout

    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert len(alerts) == 2, "one ALARM notice and one recovery notice, nothing else"
    alarm, recovery = (json.dumps(alert) for alert in alerts)
    for check in ("outlier_ratio", "rejected_ratio", f"mean_shift:{drifted_feature}", f"distribution:{drifted_feature}"):
        assert check in alarm
        assert check in recovery
    assert alerts[0]["subject"].startswith("ALARM")
    assert alerts[1]["subject"].startswith("OK")

    records = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert sum(r["message"] == "prediction" for r in records) == 1200
    assert {r["model"] for r in records} == {model}
    assert (tmp_path / "drift_report.png").stat().st_size > 10_000
