"""The run's order of events, with AWS and npx replaced: a failing or crashing check still tears down, KEEP=1
does not, a failed deploy tears down what exists, no credentials never deploys, a dry run calls nothing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from acceptance import runner as runner_module
from acceptance.config import RunConfig
from acceptance.deploy import StackOutputs
from acceptance.results import CheckResult, Status
from infra import constants as c

STACK = "ServerlessInference-acc-0123abcd"
OUTPUTS = {
    c.OUTPUT_API_URL: "https://abc.execute-api.us-east-1.amazonaws.com/v1/",
    c.OUTPUT_ALERT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:alerts",
    c.OUTPUT_INFERENCE_LOG_GROUP: "inference",
    c.OUTPUT_MONITOR_LOG_GROUP: "monitor",
    c.OUTPUT_ARCHIVE_BUCKET: "bucket",
    c.OUTPUT_GLUE_DATABASE: "db",
    c.OUTPUT_GLUE_TABLE: "predictions_iris",
    c.OUTPUT_ATHENA_WORKGROUP: "wg",
    c.OUTPUT_DASHBOARD_URL: "https://console",
}


def config(tmp_path: Path, *, keep: bool = False, dry_run: bool = False) -> RunConfig:
    env = {"ACCEPTANCE_STACK_NAME": STACK, "ACCEPTANCE_RESULTS_DIR": str(tmp_path), "AWS_REGION": "us-east-1"}
    env |= {"KEEP": "1"} if keep else {}
    env |= {"DRY_RUN": "1"} if dry_run else {}
    return RunConfig.from_env(env, now=datetime(2026, 11, 25, 18, 0, tzinfo=UTC))


class FakeSession:
    """Credentials present; STS answers through botocore's Stubber; every other client is a MagicMock."""

    region_name = "us-east-1"

    def __init__(self, credentials: object = object(), sts_error: str | None = None) -> None:
        self._credentials = credentials
        self.sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        self.stubber = Stubber(self.sts)
        if sts_error:
            self.stubber.add_client_error("get_caller_identity", service_error_code=sts_error, http_status_code=403)
        else:
            self.stubber.add_response(
                "get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/me", "UserId": "me"}
            )
        self.stubber.activate()
        self.clients: dict[str, Any] = {}

    def get_credentials(self) -> object:
        return self._credentials

    def client(self, service: str, **_: Any) -> Any:
        if service == "sts":
            return self.sts
        if service not in self.clients:
            client = mock.MagicMock(name=service)
            client.get_queue_attributes.return_value = {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q"}}
            self.clients[service] = client
        return self.clients[service]


class FakeDeployer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def deploy(self) -> StackOutputs:
        self.calls += 1
        if self.fail:
            raise RuntimeError("cdk deploy exited with 1")
        return StackOutputs.parse(OUTPUTS)


@pytest.fixture
def teardowns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record teardowns instead of calling AWS; the report says everything went."""
    calls: list[str] = []

    class FakeTeardown:
        def __init__(self, clients: Any, stack_name: str, **_: Any) -> None:
            self.stack_name = stack_name

        def run(self) -> Any:
            calls.append(self.stack_name)
            return mock.Mock(ok=True, deleted=[f"stack {self.stack_name}"], errors=[], left=[])

    monkeypatch.setattr(runner_module, "Teardown", FakeTeardown)
    monkeypatch.setattr(runner_module, "stack_resources", lambda *_: [{"ResourceType": "AWS::CloudWatch::Alarm"}])
    monkeypatch.setattr(runner_module.Runner, "_api_client", lambda *_: mock.MagicMock(requests=0))
    return calls


def passing(ctx: Any) -> list[CheckResult]:
    return [CheckResult("1 api", Status.PASS, "fine")]


def failing(ctx: Any) -> list[CheckResult]:
    return [CheckResult("2 log contract", Status.FAIL, "records differ")]


def dashboard(ctx: Any) -> list[CheckResult]:
    return [CheckResult("7 dashboard", Status.PASS, "fine")]


def crashing(ctx: Any) -> list[CheckResult]:
    raise TimeoutError("no answer")


CHECKS = (("1 api", "", passing), ("2 log contract", "", failing), ("3 insights", "", crashing), ("7 dashboard", "", dashboard))


def run(tmp_path: Path, session: Any, deployer: Any, **kwargs: Any) -> tuple[int, str, str, RunConfig]:
    out, err = io.StringIO(), io.StringIO()
    cfg = config(tmp_path, **kwargs)
    code = runner_module.Runner(cfg, session, deployer=deployer, checks=CHECKS, out=out, err=err, sleep=lambda _: None).run()
    return code, out.getvalue(), err.getvalue(), cfg


def test_a_failing_check_still_tears_down(tmp_path: Path, teardowns: list[str]) -> None:
    code, out, _, cfg = run(tmp_path, FakeSession(), FakeDeployer())
    assert code == 1
    assert teardowns == [STACK]
    report = json.loads(cfg.results_file.read_text())
    statuses = {row["name"]: row["status"] for row in report["rows"]}
    assert statuses == {
        "0 deploy": "PASS",
        "1 api": "PASS",
        "2 log contract": "FAIL",
        "3 insights": "ERROR",
        "7 dashboard": "PASS",
        "9 teardown": "PASS",
    }
    assert "TimeoutError: no answer" in out
    assert report["cost"]["total_usd"] >= 0 and report["passed"] is False
    assert report["run"]["api_type"] == "REST" and report["run"]["started_at"].startswith("2026-11-25T18:00")


def test_keep_keeps_the_stack(tmp_path: Path, teardowns: list[str]) -> None:
    code, out, _, cfg = run(tmp_path, FakeSession(), FakeDeployer(), keep=True)
    assert teardowns == []
    assert f"ACCEPTANCE_STACK_NAME={STACK}" in out and "--teardown" in out
    assert json.loads(cfg.results_file.read_text())["teardown"] == {"kept": True}
    assert code == 1


def test_a_failed_deploy_still_tears_down(tmp_path: Path, teardowns: list[str]) -> None:
    code, _, _, cfg = run(tmp_path, FakeSession(), FakeDeployer(fail=True))
    assert code == 1 and teardowns == [STACK]
    rows = json.loads(cfg.results_file.read_text())["rows"]
    assert [r["name"] for r in rows] == ["0 deploy", "9 teardown"] and rows[0]["status"] == "ERROR"


def test_all_passing_exits_zero(tmp_path: Path, teardowns: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    cfg = config(tmp_path)
    checks = (("1 api", "", passing),)
    code = runner_module.Runner(cfg, FakeSession(), deployer=FakeDeployer(), checks=checks, out=out, err=err).run()
    assert code == 0 and "PASSED" in out.getvalue()


def test_no_credentials_fails_fast_and_deploys_nothing(tmp_path: Path, teardowns: list[str]) -> None:
    deployer = FakeDeployer()
    code, _, err, cfg = run(tmp_path, FakeSession(credentials=None), deployer)
    assert code == 2 and deployer.calls == 0 and teardowns == []
    assert "no AWS credentials found" in err and "Nothing was deployed" in err
    assert not cfg.results_file.exists()


def test_refused_credentials_fail_fast(tmp_path: Path, teardowns: list[str]) -> None:
    deployer = FakeDeployer()
    code, _, err, _ = run(tmp_path, FakeSession(sts_error="ExpiredToken"), deployer)
    assert code == 2 and deployer.calls == 0
    assert "GetCallerIdentity" in err and "ExpiredToken" in err


def test_dry_run_prints_the_plan_without_calling_aws(tmp_path: Path) -> None:
    session = mock.Mock(spec=[])  # any attribute access would raise AttributeError
    deployer = FakeDeployer()
    code, out, _, _ = run(tmp_path, session, deployer, dry_run=True)
    assert code == 0 and deployer.calls == 0
    assert STACK in out and "retain_data=false" in out and "estimated cost of this run: $" in out
    for name, _, _ in runner_module.CHECKS:
        assert name in out
    plan = json.loads((tmp_path / f"{STACK}-plan.json").read_text())
    assert plan["stack_name"] == STACK and plan["expected_cost"]["total_usd"] > 0
