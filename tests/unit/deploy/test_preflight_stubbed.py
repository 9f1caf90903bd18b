"""The preflight's account checks whose APIs moto lacks (Lambda GetAccountSettings, AWS Chatbot), and the SNS
"PendingConfirmation" state moto never reports, answered by botocore's Stubber: real clients, canned replies,
and each reply shape validated against the service model.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("deploy_preflight", REPO / "scripts" / "deploy_preflight.py")
assert _spec is not None and _spec.loader is not None
preflight = importlib.util.module_from_spec(_spec)
sys.modules["deploy_preflight"] = preflight
_spec.loader.exec_module(preflight)

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ServerlessInference-iris-AlertsTopic"


def client(name: str) -> Any:
    return boto3.client(name, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stubbed() -> Iterator[Any]:
    made: list[Stubber] = []

    def make(name: str) -> tuple[Any, Stubber]:
        real = client(name)
        stubber = Stubber(real)
        stubber.activate()
        made.append(stubber)
        return real, stubber

    yield make
    for stubber in made:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def options(**context: str) -> Any:
    return preflight.DeployOptions.from_context(context)


def account_settings(quota: int, unreserved: int) -> dict[str, Any]:
    return {"AccountLimit": {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}}


# --- reserved concurrency (GetAccountSettings) ------------------------------------------------------------------
def test_a_quota_10_account_deploys_the_default_and_is_told_the_opt_in_would_not_fit(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(10, 10))
    finding = preflight.check_concurrency(lambda_client, options())
    assert finding.ready
    assert finding.line == (
        "concurrency: nothing reserved (the default); account quota 10, 10 unreserved; "
        "-c reserved_concurrency=true would not fit (needs 102 unreserved)"
    )


def test_the_opt_in_is_refused_where_the_account_cannot_keep_100_unreserved(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(10, 10))
    finding = preflight.check_concurrency(lambda_client, options(reserved_concurrency="true"))
    assert not finding.ready
    assert "drop -c reserved_concurrency=true" in finding.line and "quota 10, 10 unreserved" in finding.line


@pytest.mark.parametrize(("unreserved", "ready"), [(101, False), (102, True)])
def test_the_opt_in_boundary_is_100_unreserved_after_two_reservations(stubbed, unreserved, ready):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(1000, unreserved))
    assert preflight.check_concurrency(lambda_client, options(reserved_concurrency="true")).ready is ready


def test_the_opt_in_where_it_fits_says_what_it_reserves(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(1000, 1000))
    finding = preflight.check_concurrency(lambda_client, options(reserved_concurrency="true"))
    assert finding.ready and finding.line.startswith("concurrency: monitor and quality reserve 1 each")


def test_an_unreadable_concurrency_is_a_warning_not_a_refusal(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)
    finding = preflight.check_concurrency(lambda_client, options(reserved_concurrency="true"))
    assert finding.ready and "not checked (AccessDeniedException)" in finding.line


# --- AWS Chatbot: the Slack workspace must be authorized in the console first -------------------------------------
def test_an_unauthorized_slack_workspace_is_refused_with_the_console_step(stubbed):
    chatbot, stub = stubbed("chatbot")
    stub.add_response("describe_slack_workspaces", {"SlackWorkspaces": [{"SlackTeamId": "T0OTHER00", "SlackTeamName": "other"}]})
    finding = preflight.check_slack_workspace(chatbot, options(slack_workspace_id="T0123456789", slack_channel_id="C1"))
    assert not finding.ready
    assert "T0123456789 is not authorized in AWS Chatbot" in finding.line and "(authorized: T0OTHER00)" in finding.line
    assert "AWS Chatbot console" in finding.line


def test_an_authorized_slack_workspace_passes(stubbed):
    chatbot, stub = stubbed("chatbot")
    stub.add_response(
        "describe_slack_workspaces", {"SlackWorkspaces": [{"SlackTeamId": "T0123456789", "SlackTeamName": "ml-team"}]}
    )
    finding = preflight.check_slack_workspace(chatbot, options(slack_workspace_id="T0123456789"))
    assert finding.ready and finding.line == "Slack: workspace T0123456789 (ml-team) is authorized in AWS Chatbot"


def test_no_slack_asks_nothing_of_chatbot(stubbed):
    chatbot, _ = stubbed("chatbot")  # no response queued: any call would raise
    assert preflight.check_slack_workspace(chatbot, options()).ready


# --- the alert e-mail's confirmation (moto confirms every subscription at once) ------------------------------------
def test_a_pending_email_subscription_is_named_with_the_step_that_confirms_it(stubbed):
    cloudformation, cfn_stub = stubbed("cloudformation")
    sns, sns_stub = stubbed("sns")
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "ServerlessInference-iris",
                    "CreationTime": "2026-12-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": "AlertTopicArn", "OutputValue": TOPIC}],
                }
            ]
        },
        {"StackName": "ServerlessInference-iris"},
    )
    sns_stub.add_response(
        "list_subscriptions_by_topic",
        {"Subscriptions": [{"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "Endpoint": "oncall@example.com"}]},
        {"TopicArn": TOPIC},
    )
    finding = preflight.check_alert_email(cloudformation, sns, options(alert_email="oncall@example.com"))
    assert finding.ready and finding.warning  # the deploy can go; the mail still needs a click
    assert "oncall@example.com has NOT confirmed its subscription" in finding.line
    assert "Subscription Confirmation" in finding.line


# --- the checks together, in their fixed order -------------------------------------------------------------------
class StubbedSession:
    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients
        self.regions: dict[str, str] = {}

    def client(self, name: str, region_name: str, config: Any) -> Any:
        self.regions[name] = region_name
        return self.clients[name]


def test_account_checks_report_in_order_and_ask_chatbot_in_its_region(stubbed):
    lambda_client, lambda_stub = stubbed("lambda")
    apigateway, apigateway_stub = stubbed("apigateway")
    chatbot, chatbot_stub = stubbed("chatbot")
    lakeformation, lakeformation_stub = stubbed("lakeformation")
    lambda_stub.add_response("get_account_settings", account_settings(10, 10))
    apigateway_stub.add_response("get_account", {})
    chatbot_stub.add_response("describe_slack_workspaces", {"SlackWorkspaces": []})
    lakeformation_stub.add_client_error("get_data_lake_settings", "AccessDeniedException", http_status_code=403)
    session = StubbedSession(
        {
            "lambda": lambda_client,
            "apigateway": apigateway,
            "cloudformation": None,
            "sns": None,
            "chatbot": chatbot,
            "lakeformation": lakeformation,
        }
    )
    findings = preflight.account_checks(session, "eu-west-1", options(slack_workspace_id="T0123456789"))
    assert [f.check for f in findings] == ["concurrency", "api gateway role", "alert e-mail", "slack", "lake formation"]
    assert [f.ready for f in findings] == [True, True, True, False, True]
    assert findings[-1].line == "Lake Formation: not checked (AccessDeniedException)"
    assert session.regions["chatbot"] == preflight.CHATBOT_REGION and session.regions["lambda"] == "eu-west-1"


# --- every remaining branch: a refused or failed read is a warning line, never a refusal, and names what it skipped ---
def test_the_default_where_the_opt_in_would_fit_says_so(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(1000, 1000))
    finding = preflight.check_concurrency(lambda_client, options())
    assert finding.ready and finding.line.endswith("-c reserved_concurrency=true would fit")


def test_an_unreadable_concurrency_with_the_default_is_fine(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)
    finding = preflight.check_concurrency(lambda_client, options())
    assert finding.ready and "nothing reserved (the default); account not read (AccessDeniedException)" in finding.line


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, "the stack sets it (account not read: AccessDeniedException)"),
        (
            {"api_gateway_account_role": "false"},
            "not checked (AccessDeniedException); -c api_gateway_account_role=false needs one",
        ),
    ],
)
def test_an_unreadable_api_gateway_account_is_a_warning(stubbed, context, expected):
    apigateway, stub = stubbed("apigateway")
    stub.add_client_error("get_account", "AccessDeniedException", http_status_code=403)
    finding = preflight.check_api_gateway_role(apigateway, options(**context))
    assert finding.ready and expected in finding.line


def test_an_unreadable_topic_is_a_warning_that_still_names_the_confirmation(stubbed):
    cloudformation, stub = stubbed("cloudformation")
    stub.add_client_error("describe_stacks", "AccessDenied", http_status_code=403)
    finding = preflight.check_alert_email(cloudformation, None, options(alert_email="oncall@example.com"))
    assert finding.ready and "not checked (AccessDenied)" in finding.line and "Subscription Confirmation" in finding.line


def test_no_alert_email_asks_nothing(stubbed):
    cloudformation, _ = stubbed("cloudformation")  # no response queued: any call would raise
    finding = preflight.check_alert_email(cloudformation, None, options())
    assert finding.ready and finding.line.startswith("alert e-mail: none")


def test_an_unreachable_chatbot_is_a_warning_with_the_console_step(stubbed):
    chatbot, stub = stubbed("chatbot")
    stub.add_client_error("describe_slack_workspaces", "AccessDeniedException", http_status_code=403)
    finding = preflight.check_slack_workspace(chatbot, options(slack_workspace_id="T0123456789"))
    assert finding.ready and "not checked (AccessDeniedException)" in finding.line and "AWS Chatbot console" in finding.line


def test_a_bad_flag_value_is_refused_by_name():
    with pytest.raises(preflight.NotReady, match="-c api_gateway_account_role=perhaps: expected true or false"):
        options(api_gateway_account_role="perhaps")


def test_cdk_json_context_is_read_and_overridden_by_c_pairs(tmp_path):
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text('{"app": "python3 app.py", "context": {"reserved_concurrency": "true", "model": "wine"}}')
    context = preflight.deploy_context(cdk_json, ["model=iris"])
    assert context == {"reserved_concurrency": "true", "model": "iris"}
    assert preflight.DeployOptions.from_context(context).stack_name == "ServerlessInference-iris"
    with pytest.raises(preflight.NotReady, match="expected key=value"):
        preflight.deploy_context(cdk_json, ["model"])


# --- a Function URL's reservation (api=url reserves url_concurrency for the inference function) --------------------
def test_a_function_url_reservation_the_account_cannot_afford_is_refused_naming_the_fix(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(1000, 105))
    finding = preflight.check_concurrency(lambda_client, options(api="url"))
    assert not finding.ready and "api=url reserves 10" in finding.line and "-c url_concurrency=5" in finding.line


def test_a_function_url_reservation_that_fits_passes(stubbed):
    lambda_client, stub = stubbed("lambda")
    stub.add_response("get_account_settings", account_settings(1000, 110))
    assert preflight.check_concurrency(lambda_client, options(api="url")).ready


def test_a_front_door_option_synth_would_refuse_is_refused_by_the_preflight() -> None:
    with pytest.raises(preflight.NotReady, match="waf"):
        options(api="url", waf="true")
