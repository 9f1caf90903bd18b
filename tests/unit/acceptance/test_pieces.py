"""Result table, configuration, cost estimate, archive parsing, log-record comparison and dashboard parsing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from acceptance import config as cfg
from acceptance.alert_queue import is_alarm, is_monitor_alert
from acceptance.checks.archive import judge_types, parse_archive_object
from acceptance.checks.dashboard import MetricRef, dashboard_metrics
from acceptance.checks.log_contract import compare_records
from acceptance.cost import ATHENA_MIN_BYTES_PER_QUERY, Usage, estimate
from acceptance.deploy import DeployError, StackOutputs
from acceptance.results import CheckResult, ResultTable, Status, worst
from acceptance.teardown import Teardown, TeardownRefused
from infra import constants as c


def test_result_table_renders_and_writes(tmp_path: Path) -> None:
    table = ResultTable("ServerlessInference-acc-0123abcd", "eu-west-1", "iris")
    table.add(CheckResult("1 api", Status.PASS, "ok", 1.25))
    table.add(CheckResult("3 insights probe: boolean_sum", Status.FAIL, "sum", observations=["AWS gave 20"]))
    table.add(CheckResult("6 archive: feedback table", Status.SKIP, "not present"))
    text = table.render()
    assert "3 insights probe: boolean_sum  FAIL" in text and "AWS gave 20" in text and "FAILED: 2 of 3" in text
    document = json.loads(table.write(tmp_path / "r.json").read_text())
    assert [r["status"] for r in document["rows"]] == ["PASS", "FAIL", "SKIP"] and document["passed"] is False
    assert not ResultTable("s", None, "iris").passed  # an empty table never passes
    assert worst([Status.PASS, Status.FAIL]) is Status.FAIL and worst([Status.SKIP]) is Status.SKIP


def test_stack_names_and_context() -> None:
    name = cfg.new_stack_name()
    assert cfg.is_acceptance_stack(name) and name.startswith("ServerlessInference-acc-")
    assert not cfg.is_acceptance_stack(c.STACK_NAME) and not cfg.is_acceptance_stack("ServerlessInference-acc-x")
    config = cfg.RunConfig.from_env({"ACCEPTANCE_STACK_NAME": name})
    assert config.cdk_context() == {"model": "iris", "stack_name": name, "retain_data": "false", "log_retention_days": "1"}
    with pytest.raises(cfg.ConfigError):
        cfg.RunConfig.from_env({"ACCEPTANCE_STACK_NAME": c.STACK_NAME})
    with pytest.raises(cfg.ConfigError):
        cfg.RunConfig.from_env({"MODEL": "nope"})


def test_acceptance_context_deploys_the_option_under_test() -> None:
    """ACCEPTANCE_CONTEXT="data_kms_key=true ...": the throw-away stack is deployed with it, so the option is proved."""
    name = cfg.new_stack_name()
    env = {"ACCEPTANCE_STACK_NAME": name, "ACCEPTANCE_CONTEXT": "data_kms_key=true, reserved_concurrency=true"}
    config = cfg.RunConfig.from_env(env)
    assert config.cdk_context() == {
        "model": "iris",
        "stack_name": name,
        "retain_data": "false",
        "log_retention_days": "1",
        "data_kms_key": "true",
        "reserved_concurrency": "true",
    }
    from acceptance.deploy import deploy_command

    command = deploy_command(config, config.results_dir / "out.json")
    assert " ".join(command).count("-c data_kms_key=true") == 1
    for bad in ("data_kms_key", "stack_name=ServerlessInference", "model=wine", "retain_data=true"):
        with pytest.raises(cfg.ConfigError, match="ACCEPTANCE_CONTEXT"):
            cfg.RunConfig.from_env({"ACCEPTANCE_STACK_NAME": name, "ACCEPTANCE_CONTEXT": bad})


def test_teardown_refuses_stacks_it_did_not_name() -> None:
    with pytest.raises(TeardownRefused):
        Teardown(lambda _: None, c.STACK_NAME)


def test_outputs_by_constant_keys_with_optional_api_key_and_type() -> None:
    outputs = {
        key: "x" for key in (c.OUTPUT_API_URL, c.OUTPUT_ALERT_TOPIC_ARN, c.OUTPUT_INFERENCE_LOG_GROUP, c.OUTPUT_MONITOR_LOG_GROUP)
    }
    with pytest.raises(DeployError, match=c.OUTPUT_ARCHIVE_BUCKET):
        StackOutputs.parse(outputs)
    outputs |= {
        k: "x"
        for k in (
            c.OUTPUT_ARCHIVE_BUCKET,
            c.OUTPUT_GLUE_DATABASE,
            c.OUTPUT_GLUE_TABLE,
            c.OUTPUT_ATHENA_WORKGROUP,
            c.OUTPUT_DASHBOARD_URL,
        )
    }
    parsed = StackOutputs.parse(outputs)
    assert parsed.api_type == "REST" and parsed.api_key_id is None and parsed.api_url == "x/"
    assert StackOutputs.parse({**outputs, "ApiType": "http", c.OUTPUT_API_KEY_ID: "k"}).api_type == "HTTP"
    assert StackOutputs.parse({**outputs, "ApiType": "url"}).api_type == "URL"


def test_a_function_url_is_signed_for_lambda_not_execute_api() -> None:
    import boto3

    from acceptance.http_api import sigv4_signer

    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1")
    url = "https://abc.lambda-url.us-east-1.on.aws/predict"
    for service in ("lambda", "execute-api"):
        headers = sigv4_signer(session, "us-east-1", service)("POST", url, b"{}", {"content-type": "application/json"})
        assert f"/us-east-1/{service}/aws4_request" in headers["Authorization"]


def test_cost_grows_with_use_and_charges_athena_minimum() -> None:
    idle = estimate(Usage())
    assert idle["total_usd"] == 0
    one_query = estimate(Usage(athena_queries=1))
    assert one_query["items_usd"]["athena"] == pytest.approx(ATHENA_MIN_BYTES_PER_QUERY / 1024**4 * 5.0, abs=1e-6)
    assert one_query["items_usd"]["athena"] > 0
    busy = estimate(Usage(api_requests=1_000_000, stack_hours=730, alarms=10, kms_keys=1))
    assert busy["items_usd"]["api_gateway"] == pytest.approx(3.5)
    assert busy["items_usd"]["cloudwatch_alarms_dashboard_metrics"] == pytest.approx(1.0)
    assert busy["total_usd"] == pytest.approx(sum(busy["items_usd"].values()), abs=1e-3)


def test_archive_objects_hold_only_contract_lines(iris_records: list[dict[str, Any]]) -> None:
    predictions = [r for r in iris_records if r["message"] == "prediction"][:3]
    good = gzip.compress(("\n".join(json.dumps(r) for r in predictions) + "\n").encode())
    records, strays = parse_archive_object(good)
    assert len(records) == 3 and strays == []
    envelope = json.dumps({"messageType": "DATA_MESSAGE", "logEvents": [{"message": json.dumps(predictions[0])}]})
    _, strays = parse_archive_object(gzip.compress((envelope + "\n").encode()))
    assert len(strays) == 1  # Firehose did not extract the message: the Glue table would read nothing
    columns = [{"Name": "request_id", "Type": "varchar"}, {"Name": "is_outlier", "Type": "varchar"}]
    problems = judge_types(columns)
    assert any("is_outlier" in p and "boolean" in p for p in problems) and any("row_index" in p for p in problems)


def test_cloud_records_must_equal_local_ones(iris_records: list[dict[str, Any]]) -> None:
    local = [r for r in iris_records if r["request_id"] == f"{0:032x}"]
    cloud = [dict(r, timestamp=1, latency_ms=9.9) for r in local]  # per-call values may differ
    assert compare_records(local[0]["request_id"], cloud, local, "prediction") == []
    assert any("records in CloudWatch" in p for p in compare_records(local[0]["request_id"], cloud[:-1], local, "prediction"))
    changed = [dict(cloud[0], outlier_score=0.5), *cloud[1:]]
    assert any("outlier_score" in p for p in compare_records(local[0]["request_id"], changed, local, "prediction"))
    reordered = [{k: r[k] for k in reversed(list(r))} for r in cloud]
    assert any("key order" in p for p in compare_records(local[0]["request_id"], reordered, local, "prediction"))
    duplicated = [*cloud[:-1], cloud[0]]
    assert any("exactly once" in p for p in compare_records(local[0]["request_id"], duplicated, local, "prediction"))


def test_dashboard_metrics_expand_dots_and_skip_expressions() -> None:
    body = {
        "widgets": [
            {"type": "text", "properties": {"markdown": "# x"}},
            {
                "type": "metric",
                "properties": {
                    "metrics": [
                        ["ServerlessInference", "Predictions", "service", "inference", "model", "iris", {"label": "rows"}],
                        [".", "Outliers", ".", ".", ".", ".", {"visible": False}],
                        [{"expression": "outliers / predictions", "id": "e1"}],
                        ["AWS/Lambda", "Errors", "FunctionName", "f"],
                    ]
                },
            },
            {"type": "log", "properties": {"query": "SOURCE '/aws/lambda/inference' | fields @timestamp"}},
        ]
    }
    metrics, groups = dashboard_metrics(body)
    inference = (("model", "iris"), ("service", "inference"))
    assert metrics == sorted(
        [
            MetricRef("ServerlessInference", "Predictions", inference),
            MetricRef("ServerlessInference", "Outliers", inference),
            MetricRef("AWS/Lambda", "Errors", (("FunctionName", "f"),)),
        ]
    )
    assert groups == ["/aws/lambda/inference"]


def test_queue_predicates() -> None:
    alarm = {"Message": json.dumps({"AlarmName": "A", "NewStateValue": "ALARM", "OldStateValue": "OK"})}
    assert is_alarm("A", "ALARM")(alarm) and not is_alarm("B", "ALARM")(alarm) and not is_alarm("A", "OK")(alarm)
    assert not is_alarm("A", "ALARM")({"Message": "plain text"})
    cut = {
        "Subject": "ALARM: iris model mean_shift:sepal_length, distribution:se...",
        "Message": "Entered ALARM:\n- outlier_ratio: observed",
    }
    assert is_monitor_alert("ALARM", "outlier_ratio")(cut)
    assert not is_monitor_alert("OK", "outlier_ratio")(cut)


def test_custom_metric_count_matches_the_cost_page(iris_artifact: Any, wine_artifact: Any) -> None:
    from acceptance.runner import custom_metric_count

    # docs/cost.md: 10 metric filters + ColdStart for iris (7 + 3 classes), monitor 5 + 2 per feature
    assert custom_metric_count(iris_artifact.baseline) == 10 + 1 + 13
    assert custom_metric_count(wine_artifact.baseline) == 10 + 1 + 31
