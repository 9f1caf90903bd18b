"""The API and log-contract checks end to end over real HTTP: the inference handler behind the local server on
127.0.0.1 stands in for API Gateway + Lambda, and each handler call's stdout lines are shipped to a log group on
moto's server, as Lambda ships them to CloudWatch Logs. The local server has no authentication, so the API
check must fail on exactly that and nothing else."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from acceptance.checks.api import check_api
from acceptance.checks.log_contract import check_log_contract
from acceptance.cloudwatch import LogReader
from acceptance.config import RunConfig
from acceptance.context import RunContext
from acceptance.cost import Usage
from acceptance.http_api import ApiClient
from acceptance.results import Status
from functions.contract import names
from local.server import make_server

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture
def served(clients: Callable[[str], Any], iris_artifact: Any) -> Iterator[tuple[str, str]]:
    """(base URL, log group): the handler on a free loopback port, its stdout shipped to moto's CloudWatch Logs."""
    from functions.inference.handler import create_handler
    from functions.inference.settings import InferenceSettings

    stdout = io.StringIO()
    settings = InferenceSettings.from_env({names.ENV_MODEL_DIR: str(MODELS / "iris")})
    handler = create_handler(settings, stdout=stdout)
    logs = clients("logs")
    group, stream = f"/aws/lambda/acc-{uuid.uuid4().hex[:8]}", "2026/11/25/[$LATEST]0"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def lambda_like(event: dict[str, Any], context: Any) -> dict[str, Any]:
        reply = handler(event, context)
        text, _ = stdout.getvalue(), stdout.seek(0)
        stdout.truncate(0)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.split("\n") if line.strip()]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        return reply

    server = make_server(lambda_like, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", group
    finally:
        server.shutdown()
        server.server_close()


def context(clients: Callable[[str], Any], baseline: Any, url: str, group: str) -> RunContext:
    return RunContext(
        config=RunConfig.from_env({"ACCEPTANCE_STACK_NAME": f"ServerlessInference-acc-{uuid.uuid4().hex[:8]}"}),
        clients=clients,
        outputs=mock.Mock(inference_log_group=group),
        baseline=baseline,
        api=ApiClient(url, api_key="ignored-by-the-local-server"),
        queue=mock.Mock(),
        logs=LogReader(clients("logs"), sleep=lambda _: None),
        probe_log=mock.Mock(),
        usage=Usage(),
        region="us-east-1",
        account="123456789012",
        log=lambda _: None,
    )


def test_api_check_over_http_fails_only_on_the_missing_auth(
    served: tuple[str, str], clients: Callable[[str], Any], iris_artifact: Any
) -> None:
    url, group = served
    [result] = check_api(context(clients, iris_artifact.baseline, url, group))
    assert result.status is Status.FAIL
    problems = [o for o in result.observations if "answered" in o and "expected" in o]
    assert problems == [
        "GET /health without credentials answered 200, expected 401 or 403",
        "POST /predict without credentials answered 200, expected 401 or 403",
    ]


def test_log_contract_check_passes_when_the_shipped_lines_equal_the_local_ones(
    served: tuple[str, str], clients: Callable[[str], Any], iris_artifact: Any
) -> None:
    url, group = served
    [result] = check_log_contract(context(clients, iris_artifact.baseline, url, group))
    assert result.status is Status.PASS, result.observations
    assert any(o.startswith("prediction: 3 record(s)") for o in result.observations)
    assert any(o.startswith("rejected: 1 record(s)") for o in result.observations)


class FakeInsights:
    """Logs Insights played by DuckDB over the records really stored in moto (moto does not evaluate `stats`).

    `overrides` plays an AWS that computes some aggregate differently (e.g. reads every outlier flag as false)."""

    def __init__(self, logs: Any, baseline: Any, overrides: dict[str, str] | None = None) -> None:
        self.logs, self.baseline, self.overrides = logs, baseline, overrides or {}
        self.answers: dict[str, Any] = {}

    def start_query(self, *, logGroupName: str, queryString: str, **_: Any) -> dict[str, str]:  # noqa: N803
        import re

        from acceptance import monitor_queries as mq
        from tests.unit.acceptance.fakes import fake_insights

        match = re.search(r"timestamp >= (\d+) and timestamp < (\d+)", queryString)
        assert match, queryString
        start, end = int(match.group(1)), int(match.group(2))
        [name] = [q.name for q in mq.insights_queries(self.baseline, start, end) if q.text == queryString]
        records = LogReader(self.logs).records(logGroupName, start - 5_000, end + 5_000)
        query_id = uuid.uuid4().hex
        self.answers[query_id] = fake_insights(self.baseline, records, start, end, self.overrides)[name]
        return {"queryId": query_id}

    def get_query_results(self, *, queryId: str) -> dict[str, Any]:  # noqa: N803
        return {"status": "Complete", "results": self.answers[queryId]}

    def stop_query(self, **_: Any) -> None:
        return None


@pytest.mark.parametrize(("overrides", "status"), [({}, Status.PASS), ({"is_outlier:true": "false"}, Status.FAIL)])
def test_insights_check_compares_the_monitor_queries_with_duckdb(
    served: tuple[str, str], clients: Callable[[str], Any], iris_artifact: Any, overrides: dict[str, str], status: Status
) -> None:
    from acceptance.checks.insights import check_monitor_queries

    url, group = served
    ctx = context(clients, iris_artifact.baseline, url, group)
    insights = FakeInsights(clients("logs"), iris_artifact.baseline, overrides)
    ctx.clients = lambda service: insights if service == "logs" else clients(service)
    [result] = check_monitor_queries(ctx)
    assert result.status is status, result.observations
    if status is Status.FAIL:
        assert result.summary.startswith("3 of ") and any(o.startswith("DIFF window.outliers") for o in result.observations)
    else:
        assert result.data["comparisons"] and ctx.shared["window_requests"] == 11


def test_delivery_delay_row_over_http_and_moto(
    served: tuple[str, str], clients: Callable[[str], Any], iris_artifact: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The delivery-delay row end to end: lines shipped at once (as this harness does) are found on the first polls."""
    from acceptance.checks import delivery

    monkeypatch.setattr(delivery, "REQUESTS", 8)
    monkeypatch.setattr(delivery, "SEND_INTERVAL_SECONDS", 0.05)
    monkeypatch.setattr(delivery, "POLL_SECONDS", 0.05)
    url, group = served
    [result] = delivery.check_delivery(context(clients, iris_artifact.baseline, url, group))
    assert result.status is Status.PASS, result.summary
    assert result.data["sent"] == result.data["seen"] == 8
    assert result.data["later_than_monitor_period"] == 0
    with capsys.disabled():
        print(f"\n  {result.status.value:<5} {result.name}: {result.summary}")
