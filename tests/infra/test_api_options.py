"""The API front doors (issue 11): REST with API key / IAM / Cognito JWT, with and without WAF; HTTP API with JWT and IAM.

One app holds one stack per combination, synthesized once per session (tests/infra/conftest.py), with cdk-nag's AwsSolutions and
ServerlessChecks packs: AwsSolutions must have nothing left unacknowledged anywhere, and ServerlessChecks nothing
on the API constructs (the function- and queue-level ServerlessChecks findings belong to the infrastructure work).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cfnlint.api import ManualArgs, lint_file

from functions.contract import names
from infra import api_access_log
from infra import constants as c
from infra.api_options import ApiAuth, ApiOptions, ApiType, QuotaPeriod
from infra.line_metrics import line_metrics
from infra.settings import StackSettings
from infra.waf import MANAGED_RULE_GROUPS, REDACTED_HEADERS, WAF_LOG_GROUP_PREFIX
from tests.infra.conftest import COGNITO_ISSUER, COMBINATIONS, EXTRA, HTTP, OIDC_ISSUER, REST, URL, ApiCombinations
from tests.infra.test_lint_and_nag import CFN_LINT_IGNORED
from tests.infra.test_packaging import run_app

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synth(api_combinations: ApiCombinations) -> ApiCombinations:
    """The session's API combinations app (tests/infra/conftest.py), also walked by tests/infra/test_arrows.py."""
    return api_combinations


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str, fragment: str = "") -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in resources(template, resource_type).items() if fragment in k}
    assert len(found) == 1, f"expected one {resource_type} matching {fragment!r}, found {sorted(found)}"
    return next(iter(found.items()))


def function_id(template: dict[str, Any]) -> str:
    (found,) = [
        k for k, v in resources(template, "AWS::Lambda::Function").items() if v["Properties"]["Handler"] == c.INFERENCE_HANDLER
    ]
    return found


# --- options: what is refused, and why ------------------------------------------------------------------------
def test_defaults_are_todays_rest_api_with_key():
    options = ApiOptions()
    assert (options.api_type, options.auth, options.waf, options.quota_limit) == (ApiType.REST, ApiAuth.API_KEY, False, None)
    http = ApiOptions.from_context(cdk.App(context={"api": "http"}).node)
    assert http.auth is ApiAuth.JWT and http.creates_user_pool  # HTTP APIs have no keys: JWT with a stack-made pool


def test_context_is_parsed_into_options():
    node = cdk.App(
        context={
            "api": "http",
            "api_auth": "jwt",
            "jwt_issuer": OIDC_ISSUER,
            "jwt_audience": "a, b",
            "cors_origins": ["https://x.example.com"],
            "api_rate_limit": "50",
            "api_burst_limit": "80",
        }
    ).node
    options = ApiOptions.from_context(node)
    assert options.jwt_audience == ("a", "b")
    assert options.cors_origins == ("https://x.example.com",)
    assert (options.rate_limit, options.burst_limit) == (50, 80)
    assert not options.creates_user_pool
    rest = ApiOptions.from_context(
        cdk.App(context={"waf": "true", "waf_rate_limit": "300", "api_quota_limit": "1000", "api_quota_period": "week"}).node
    )
    assert (rest.waf, rest.waf_rate_limit, rest.quota_limit, rest.quota_period) == (True, 300, 1000, QuotaPeriod.WEEK)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"api": "graphql"}, "context 'api'"),
        ({"api_auth": "cognito"}, "context 'api_auth'"),
        ({"api": "http", "api_auth": "api_key"}, "HTTP APIs have no API keys"),
        ({"api": "http", "waf": "true"}, "cannot be associated with an HTTP API"),
        ({"cors_origins": "https://x.example.com"}, "HTTP API only"),
        ({"api_auth": "jwt", "jwt_issuer": OIDC_ISSUER}, "only from a Cognito user pool"),
        ({"api": "http", "jwt_issuer": OIDC_ISSUER}, "needs at least one audience"),
        ({"api": "http", "jwt_issuer": "http://insecure.example.com", "jwt_audience": "a"}, "https://"),
        ({"api": "http", "jwt_audience": "a"}, "needs 'jwt_issuer'"),
        ({"api_auth": "iam", "jwt_issuer": COGNITO_ISSUER}, "need api_auth=jwt"),
        ({"api_auth": "iam", "api_quota_limit": "100"}, "quotas are kept per API key"),
        ({"api_quota_limit": "lots"}, "not a whole number"),
        ({"api_quota_period": "YEAR"}, "api_quota_period"),
        ({"waf": "true", "waf_rate_limit": "5"}, "below the minimum 10"),
        ({"api": "url", "api_auth": "jwt"}, "a Function URL authenticates with api_auth=iam"),
        ({"api": "url", "api_auth": "api_key"}, "a Function URL authenticates with api_auth=iam"),
        ({"api": "url", "waf": "true"}, "context 'waf': not available with api=url"),
        ({"api": "url", "cors_origins": "https://x.example.com"}, "browsers cannot sign"),
        ({"api": "url", "url_concurrency": "0"}, "below the minimum 1"),
        ({"waf": "maybe"}, "context 'waf'"),
    ],
)
def test_impossible_combinations_are_refused_with_the_reason(context, message):
    with pytest.raises(ValueError, match=message):
        ApiOptions.from_context(cdk.App(context=context).node)


def test_settings_carry_the_api_options_and_auth(stub_layer_dir):
    settings = StackSettings.from_context(cdk.App(context={"api": "http", "api_auth": "iam"}).node, REPO_ROOT)
    assert settings.api.api_type is ApiType.HTTP
    assert settings.api_auth is ApiAuth.IAM


# --- access log: one JSON object per request with the caller's identity ------------------------------------------
@pytest.mark.parametrize("http", [False, True])
@pytest.mark.parametrize("auth", list(ApiAuth))
def test_access_log_format_is_json_with_one_caller_key(http, auth):
    log_format = api_access_log.access_log_format(http=http, auth=auth)
    fields = json.loads(log_format)  # valid JSON even before API Gateway fills it in
    for key in ("requestId", "ip", "status", "caller", "error"):
        assert key in fields, key
    assert fields["caller"] == api_access_log.CALLER_VARIABLES[auth]  # the stack's one way to authenticate
    assert not {"apiKeyId", "userArn", "jwtSub"} & set(fields)  # the other two would be "-" on every line
    assert all(isinstance(value, str) and value.startswith("$context.") for value in fields.values())
    assert "$context.identity.apiKey" not in fields.values()  # the key's value is a secret; only its id is logged


def test_rest_access_log_names_the_key_id(synth):
    for name in REST:
        _, stage = only(synth.templates[name], "AWS::ApiGateway::Stage")
        fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
        assert fields["caller"] == api_access_log.CALLER_VARIABLES[COMBINATIONS[name].auth], name
        # the WAF's verdict only where a WAF is: elsewhere it would be "-" on every line, billed per byte
        assert ("wafResponse" in fields) == COMBINATIONS[name].waf, name


# --- REST ------------------------------------------------------------------------------------------------------
def test_rest_key_has_usage_plan_with_quota_and_throttle_from_context(synth):
    template = synth.templates["RestKey"]
    methods = resources(template, "AWS::ApiGateway::Method")
    assert len(methods) == 2 and all(m["Properties"]["ApiKeyRequired"] is True for m in methods.values())
    _, plan = only(template, "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Quota"] == {"Limit": 50_000, "Period": "DAY"}
    assert plan["Properties"]["Throttle"] == {"RateLimit": 20, "BurstLimit": 40}
    _, stage = only(template, "AWS::ApiGateway::Stage")
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] == 20
    assert c.OUTPUT_API_KEY_ID in template["Outputs"]
    assert template["Outputs"][c.OUTPUT_API_TYPE]["Value"] == "rest"
    assert template["Outputs"][c.OUTPUT_API_AUTH]["Value"] == "api_key"
    _, plan_without_quota = only(synth.templates["RestKeyWaf"], "AWS::ApiGateway::UsagePlan")
    assert "Quota" not in plan_without_quota["Properties"]


def test_rest_iam_uses_sigv4_and_has_no_key(synth):
    template = synth.templates["RestIam"]
    assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in resources(template, "AWS::ApiGateway::Method").values())
    assert not resources(template, "AWS::ApiGateway::ApiKey")
    assert not resources(template, "AWS::Cognito::UserPool")


def test_rest_jwt_uses_a_cognito_authorizer_on_every_method(synth):
    template = synth.templates["RestJwt"]
    pool_id, pool = only(template, "AWS::Cognito::UserPool")
    authorizer_id, authorizer = only(template, "AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    for method in resources(template, "AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
        assert not method["Properties"].get("ApiKeyRequired")
    assert not resources(template, "AWS::ApiGateway::ApiKey")
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    _, client = only(template, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert "ALLOW_USER_PASSWORD_AUTH" in props["ExplicitAuthFlows"]
    assert props["GenerateSecret"] is False  # the AWS CLI can fetch a token without computing a secret hash
    assert "AllowedOAuthFlows" not in props  # no hosted UI or redirect flows
    assert {c.OUTPUT_USER_POOL_ID, c.OUTPUT_USER_POOL_CLIENT_ID} <= set(template["Outputs"])


def test_rest_jwt_with_a_cognito_issuer_imports_that_pool(synth):
    template = synth.templates["RestJwtIssuerWaf"]
    assert not resources(template, "AWS::Cognito::UserPool")
    _, authorizer = only(template, "AWS::ApiGateway::Authorizer")
    (arn,) = authorizer["Properties"]["ProviderARNs"]
    assert "userpool/eu-west-1_AbCdEf123" in json.dumps(arn) and ":cognito-idp:eu-west-1:" in json.dumps(arn)
    assert c.OUTPUT_USER_POOL_ID not in template["Outputs"]


@pytest.mark.parametrize("name", ["RestKeyWaf", "RestJwtIssuerWaf"])
def test_waf_guards_the_stage_with_managed_rules_rate_limit_and_logging(synth, name):
    template = synth.templates[name]
    acl_id, acl = only(template, "AWS::WAFv2::WebACL")
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    rate = rules["RateLimitPerIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == COMBINATIONS[name].waf_rate_limit
    for group in MANAGED_RULE_GROUPS:
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", group)
        assert rules[group]["OverrideAction"] == {"None": {}}  # the group's own block actions apply
    # 1,000-row requests are larger than the common rule set's 8 KB body limit: that rule only counts.
    overrides = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert rate["Priority"] < rules["AWSManagedRulesCommonRuleSet"]["Priority"]

    _, association = only(template, "AWS::WAFv2::WebACLAssociation")
    stage_id, _ = only(template, "AWS::ApiGateway::Stage")
    api_id, _ = only(template, "AWS::ApiGateway::RestApi")
    target = json.dumps(association["Properties"]["ResourceArn"])
    assert api_id in target and stage_id in target and "/restapis/" in target
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}

    _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
    log_group_id, log_group = only(template, "AWS::Logs::LogGroup", "Waf")
    assert log_group["Properties"]["LogGroupName"].startswith(WAF_LOG_GROUP_PREFIX)
    assert log_group_id in json.dumps(logging["Properties"]["LogDestinationConfigs"])
    redacted = [field["SingleHeader"]["Name"] for field in logging["Properties"]["RedactedFields"]]
    assert sorted(redacted) == sorted(REDACTED_HEADERS)  # credentials never reach the WAF log
    log_filter = logging["Properties"]["LoggingFilter"]
    assert log_filter["DefaultBehavior"] == "DROP"
    kept = {cond["ActionCondition"]["Action"] for cond in log_filter["Filters"][0]["Conditions"]}
    assert kept == {"BLOCK", "COUNT"}
    assert {c.OUTPUT_WEB_ACL_ARN, c.OUTPUT_WAF_LOG_GROUP} <= set(template["Outputs"])


def test_no_waf_unless_asked(synth):
    for name in ("RestKey", "RestIam", "RestJwt", *HTTP):
        assert not resources(synth.templates[name], "AWS::WAFv2::WebACL"), name


def test_only_rest_apis_have_an_execution_log_group(synth):
    for name in REST:
        only(synth.templates[name], "AWS::Logs::LogGroup", "ExecutionLogs")
    for name in HTTP:  # HTTP APIs have access logs only
        assert not [k for k in resources(synth.templates[name], "AWS::Logs::LogGroup") if "ExecutionLogs" in k], name


# --- HTTP API ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", HTTP)
def test_http_api_routes_reach_the_function_with_payload_2(synth, name):
    template = synth.templates[name]
    assert not resources(template, "AWS::ApiGateway::RestApi")
    assert not resources(template, "AWS::ApiGateway::Account")  # HTTP API access logs need no account-level role
    api_id, api = only(template, "AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "HTTP"
    assert api["Properties"]["Name"] == f"{name}-iris"
    integration_id, integration = only(template, "AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    if EXTRA.get(name, {}).get("snap_start"):
        alias_id, _ = only(template, "AWS::Lambda::Alias")
        assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}  # SnapStart restores published versions only
    else:
        assert integration["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [function_id(template), "Arn"]}
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == {"GET /", "POST /", "GET /{proxy+}", "POST /{proxy+}"}
    expected_auth = "AWS_IAM" if COMBINATIONS[name].auth is ApiAuth.IAM else "JWT"
    for route in routes.values():
        assert route["AuthorizationType"] == expected_auth  # every route, no anonymous path
        assert integration_id in json.dumps(route["Target"])
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permissions and all(api_id in json.dumps(p["SourceArn"]) for p in permissions)


@pytest.mark.parametrize("name", HTTP)
def test_http_stage_is_default_throttled_and_logs_the_caller(synth, name):
    template = synth.templates[name]
    _, stage = only(template, "AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}
    log_group_id, _ = only(template, "AWS::Logs::LogGroup", "AccessLogs")
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert fields["caller"] == api_access_log.CALLER_VARIABLES[COMBINATIONS[name].auth], name
    assert fields["error"] == "$context.error.responseType $context.authorizer.error"  # why a JWT was refused
    assert template["Outputs"][c.OUTPUT_API_TYPE]["Value"] == "http"
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    url = template["Outputs"][c.OUTPUT_API_URL]["Value"]["Fn::Join"][1]
    assert url == [{"Fn::GetAtt": [api_id, "ApiEndpoint"]}, "/"]  # clients append "predict", as with REST


def test_http_jwt_with_stack_pool_checks_issuer_and_audience(synth):
    template = synth.templates["HttpJwt"]
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    client_id, _ = only(template, "AWS::Cognito::UserPoolClient")
    _, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": client_id}]
    issuer = json.dumps(props["JwtConfiguration"]["Issuer"])
    assert "https://cognito-idp." in issuer and pool_id in issuer
    _, api = only(template, "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["https://app.example.com"]
    assert "authorization" in cors["AllowHeaders"]


def test_http_jwt_with_an_external_issuer(synth):
    template = synth.templates["HttpJwtIssuer"]
    assert not resources(template, "AWS::Cognito::UserPool")
    _, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"]["JwtConfiguration"] == {"Issuer": OIDC_ISSUER, "Audience": ["inference"]}
    _, api = only(template, "AWS::ApiGatewayV2::Api")
    assert "CorsConfiguration" not in api["Properties"]  # no CORS unless origins are given


def test_http_iam_has_no_authorizer_resource(synth):
    template = synth.templates["HttpIam"]
    assert not resources(template, "AWS::ApiGatewayV2::Authorizer")
    assert not resources(template, "AWS::Cognito::UserPool")


def test_url_options_default_to_iam_and_ten_reserved_environments():
    url = ApiOptions.from_context(cdk.App(context={"api": "url"}).node)
    assert (url.api_type, url.auth, url.url_concurrency) == (ApiType.URL, ApiAuth.IAM, 10)
    assert ApiOptions.from_context(cdk.App(context={"api": "url", "url_concurrency": "3"}).node).url_concurrency == 3


# --- Function URL -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", URL)
def test_function_url_is_iam_only_throttled_by_reserved_concurrency_and_logs_the_caller(synth, name):
    template = synth.templates[name]
    _, url = only(template, "AWS::Lambda::Url")
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [function_id(template), "Arn"]}
    function = template["Resources"][function_id(template)]["Properties"]
    assert function["ReservedConcurrentExecutions"] == COMBINATIONS[name].url_concurrency
    assert function["Environment"]["Variables"][names.ENV_LOG_CALLER] == "true"  # no access log: the lines name the caller
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::ApiGateway")]
    assert not resources(template, "AWS::Lambda::Permission") or all(
        "apigateway" not in json.dumps(p) for p in resources(template, "AWS::Lambda::Permission").values()
    )
    assert not [k for k in resources(template, "AWS::Logs::LogGroup") if "AccessLogs" in k]
    assert template["Outputs"][c.OUTPUT_API_TYPE]["Value"] == "url"
    assert c.OUTPUT_ACCESS_LOG_GROUP not in template["Outputs"]
    url_id, _ = only(template, "AWS::Lambda::Url")
    assert template["Outputs"][c.OUTPUT_API_URL]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_only_the_function_url_sets_reserved_concurrency_and_the_caller(synth):
    for name in (*REST, *HTTP):
        function = synth.templates[name]["Resources"][function_id(synth.templates[name])]["Properties"]
        assert "ReservedConcurrentExecutions" not in function, name  # API Gateway's stage throttle instead
        assert names.ENV_LOG_CALLER not in function["Environment"]["Variables"], name


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_platform_lines_are_dropped_and_metrics_are_filters_on_the_lines(synth, name):
    template = synth.templates[name]
    function = template["Resources"][function_id(template)]["Properties"]
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert function["LoggingConfig"]["SystemLogLevel"] == "WARN"  # START/END/REPORT are INFO
    assert function["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    group = function["LoggingConfig"]["LogGroup"]
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]
        for f in resources(template, "AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == group
    }
    expected = {metric.name: metric for metric in line_metrics(("setosa", "versicolor", "virginica"))}
    assert set(filters) == set(expected)
    for metric_name, props in filters.items():
        assert props["FilterPattern"] == expected[metric_name].pattern()
        (transformation,) = props["MetricTransformations"]
        assert transformation["Dimensions"] == [{"Key": "model", "Value": "$.model"}]
        assert transformation["MetricNamespace"] == names.METRICS_NAMESPACE


@pytest.mark.parametrize("name", URL)
def test_url_alarms_use_function_url_metrics(synth, name):
    template = synth.templates[name]
    five_xx = _alarm(template, "Api5xxRate")
    stats = {m["Id"]: m["MetricStat"] for m in five_xx["Metrics"] if "MetricStat" in m}
    assert stats["errors"]["Metric"]["MetricName"] == "Url5xxCount"
    assert stats["requests"]["Metric"]["MetricName"] == "UrlRequestCount"
    dimensions = [{"Name": "FunctionName", "Value": {"Ref": function_id(template)}}]
    assert all(
        stat["Metric"]["Namespace"] == "AWS/Lambda" and stat["Metric"]["Dimensions"] == dimensions for stat in stats.values()
    )
    latency = _alarm(template, "ApiP99Latency")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("UrlRequestLatency", "p99")


def test_grant_invoke_on_a_function_url_gives_both_actions_aws_requires(synth):
    from aws_cdk import aws_iam as iam

    stack = synth.stacks["UrlIam"]
    role = iam.Role(cdk.Stack(cdk.App(), "Probe"), "Caller", assumed_by=iam.AccountRootPrincipal())
    grant = stack.inference.grant_invoke(role)
    statement = stack.resolve(grant.principal_statements[0].to_statement_json())
    assert sorted(statement["Action"]) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert statement["Resource"] == {"Fn::GetAtt": [function_id(synth.templates["UrlIam"]), "Arn"]}


def test_grant_invoke_targets_the_api_of_each_type(synth):
    from aws_cdk import aws_iam as iam

    for name in ("RestIam", "HttpIam"):
        stack = synth.stacks[name]
        role = iam.Role(cdk.Stack(cdk.App(), "Probe"), "Caller", assumed_by=iam.AccountRootPrincipal())
        grant = stack.inference.grant_invoke(role)
        assert grant.success
        resource = stack.resolve(grant.principal_statements[0].to_statement_json()["Resource"])
        text = json.dumps(resource)
        assert "execute-api" in text
        assert ("$default" in text) == (name == "HttpIam")


# --- alarms and dashboard follow the API type; the monitor does not change -----------------------------------------
def _alarm(template: dict[str, Any], fragment: str) -> dict[str, Any]:
    return only(template, "AWS::CloudWatch::Alarm", fragment)[1]["Properties"]


@pytest.mark.parametrize("name", REST)
def test_rest_alarms_use_rest_metrics(synth, name):
    template = synth.templates[name]
    five_xx = _alarm(template, "Api5xxRate")
    assert (five_xx["MetricName"], five_xx["Statistic"]) == ("5XXError", "Average")
    assert [d["Name"] for d in five_xx["Dimensions"]] == ["ApiName", "Stage"]
    latency = _alarm(template, "ApiP99Latency")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")
    assert [d["Name"] for d in latency["Dimensions"]] == ["ApiName", "Stage"]


@pytest.mark.parametrize("name", HTTP)
def test_http_alarms_use_http_metrics(synth, name):
    template = synth.templates[name]
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    five_xx = _alarm(template, "Api5xxRate")
    assert "MetricName" not in five_xx  # a rate computed from two metrics
    (expression,) = [m for m in five_xx["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True and "errors / requests" in expression["Expression"]
    stats = {m["Id"]: m["MetricStat"] for m in five_xx["Metrics"] if "MetricStat" in m}
    assert stats["errors"]["Metric"]["MetricName"] == "5xx" and stats["errors"]["Stat"] == "Sum"
    assert stats["requests"]["Metric"]["MetricName"] == "Count" and stats["requests"]["Stat"] == "Sum"
    expected_dimensions = [{"Name": "ApiId", "Value": {"Ref": api_id}}, {"Name": "Stage", "Value": "$default"}]
    assert all(stat["Metric"]["Dimensions"] == expected_dimensions for stat in stats.values())
    latency = _alarm(template, "ApiP99Latency")
    assert latency["MetricName"] == "Latency" and latency["Dimensions"] == expected_dimensions
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert '\\"5xx\\"' in body and '\\"4xx\\"' in body and "ApiId" in body
    assert "5XXError" not in body and "ApiName" not in body  # no REST metric would ever have data here


def test_monitor_is_the_same_whichever_api(synth):
    def monitor_parts(template: dict[str, Any]) -> list[Any]:
        functions = resources(template, "AWS::Lambda::Function").values()
        (monitor,) = [f for f in functions if f["Properties"]["Handler"] == c.MONITOR_HANDLER]
        props = {k: v for k, v in monitor["Properties"].items() if k not in ("Code", "Role", "Layers")}
        rules = [r["Properties"]["ScheduleExpression"] for r in resources(template, "AWS::Events::Rule").values()]
        return [json.dumps(props, sort_keys=True), rules]

    reference = monitor_parts(synth.templates["RestKey"])
    reference_alarms = sorted(resources(synth.templates["RestKey"], "AWS::CloudWatch::Alarm"))
    assert reference_alarms, "the reference stack has no alarms"
    for name in COMBINATIONS:
        assert monitor_parts(synth.templates[name]) == reference, name
        # the same alarms (logical ids) whatever the API: the API alarms follow the API type, not their number
        assert sorted(resources(synth.templates[name], "AWS::CloudWatch::Alarm")) == reference_alarms, name


# --- cfn-lint and cdk-nag for every combination ---------------------------------------------------------------------
@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_cfn_lint_finds_nothing(synth, name):
    matches = lint_file(
        synth.outdir / f"{name}.template.json", config=ManualArgs(ignore_checks=list(CFN_LINT_IGNORED), regions=["us-east-1"])
    )
    findings = [f"{m.rule.id}: {m.message}" for m in matches]
    assert findings == [], "\n".join(findings)


def test_cdk_nag_leaves_nothing_open(synth):
    aws_solutions = [v for v in synth.violations if v[1].startswith("AwsSolutions-")]
    assert aws_solutions == []
    # ServerlessChecks on the API's own constructs (the function and the queue are the infrastructure work's).
    api_paths = ("/InferenceApi/RestApi", "/InferenceApi/HttpApi", "/InferenceApi/DefaultStage", "/InferenceApi/Waf")
    api_serverless = [v for v in synth.violations if v[1].startswith("Serverless-") and any(p in v[2] for p in api_paths)]
    assert api_serverless == []


def test_cdk_nag_reasons_never_call_an_api_key_authentication(synth):
    key_rules = synth.acknowledged("RestKey")
    for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
        assert "not authentication" in key_rules[rule].lower(), key_rules[rule]
    for name in ("RestIam", "RestJwt", *HTTP):
        assert "AwsSolutions::AwsSolutions-APIG4" not in synth.acknowledged(name), name  # real auth satisfies APIG4
    assert "AwsSolutions::AwsSolutions-COG4" not in synth.acknowledged("RestJwt")  # the Cognito authorizer satisfies it
    assert "AwsSolutions::AwsSolutions-APIG3" not in synth.acknowledged("RestKeyWaf")  # WAF satisfies APIG3
    assert "AwsSolutions::AwsSolutions-APIG3" in synth.acknowledged("RestKey")
    assert "AwsSolutions::AwsSolutions-COG2" in synth.acknowledged("HttpJwt")
    assert all(len(reason) > 40 for name in COMBINATIONS for reason in synth.acknowledged(name).values())


# --- app.py with the documented commands ----------------------------------------------------------------------------
@pytest.mark.slow
def test_app_synthesizes_http_api_with_jwt(tmp_path, stub_layer_dir):
    result = run_app(tmp_path, {"layer_dir": str(stub_layer_dir), "api": "http", "api_auth": "jwt"})
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "out" / f"{c.stack_name_for('iris')}.template.json").read_text())
    assert resources(template, "AWS::ApiGatewayV2::Api") and resources(template, "AWS::Cognito::UserPool")


def test_app_refuses_waf_on_http_api_in_one_line(tmp_path, stub_layer_dir):
    result = run_app(tmp_path, {"layer_dir": str(stub_layer_dir), "api": "http", "waf": "true"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: context 'waf'")


# --- the cost model behind README's "What it costs" -----------------------------------------------------------------
def test_api_gateway_tiers():
    from infra.api_pricing import PRICES, tiered

    assert tiered(1e6, PRICES.rest_tiers) == pytest.approx(3.50)
    assert tiered(1e9, PRICES.rest_tiers) == pytest.approx(333 * 3.50 + 667 * 2.80)
    assert tiered(1e9, PRICES.http_tiers) == pytest.approx(300 * 1.00 + 700 * 0.90)
    assert tiered(0, PRICES.http_tiers) == 0


def test_cost_lines_add_up_and_follow_the_option():
    from infra.api_pricing import ApiOption, Measured, monthly_lines, scenario

    for option in ApiOption:
        for rows in (1, 100):
            lines = monthly_lines(option, 1e8, rows)
            assert scenario(option, 1e8, rows).variable == pytest.approx(sum(line.dollars for line in lines))
    rest, waf, http, url = (scenario(option, 1e6, 1) for option in ApiOption)
    m = Measured()

    def access(extra_bytes: float) -> float:  # ingestion and compressed storage of a longer access-log line
        return extra_bytes * 0.50 / 1e9 * 1e6 * (1 + m.storage_ratio * 0.06)

    # $0.60 per million inspected + web ACL and 3 rules + the WAF's verdict in the access log
    assert waf.total - rest.total == pytest.approx(0.60 + 8.0 + access(m.rest_waf_access_log_bytes - m.rest_access_log_bytes))
    # the request charge and the access log
    assert rest.total - http.total == pytest.approx(3.50 - 1.00 + access(m.rest_access_log_bytes - m.http_access_log_bytes))
    assert rest.dominant == "API Gateway REST requests"
    # a Function URL: no API Gateway line, no access log, the caller on each line
    url_items = {line.item for line in monthly_lines(ApiOption.URL, 1e6, 1)}
    assert not any(item.startswith("API Gateway") or "access log" in item for item in url_items)
    assert url.total < 1.00 and http.total <= 1.75 and rest.total <= 4.25  # the targets (docs/cost.md)
    # 100 rows per request: API Gateway is paid once per 100 rows; the prediction records dominate.
    assert scenario(ApiOption.REST, 1e9, 100).dominant == "Log ingestion, inference group"
    init = next(line for line in monthly_lines(ApiOption.HTTP, 1e6, 1) if line.item.startswith("Lambda INIT"))
    assert init.dollars == pytest.approx(1e6 * 0.01 * 0.6 * 1769 / 1024 * 0.0000133334)


def test_fixed_cost_counts_match_the_template(synth):
    from infra.api_pricing import FixedCounts

    counts = FixedCounts()
    for name in ("HttpIam", "UrlIam"):
        alarms = resources(synth.templates[name], "AWS::CloudWatch::Alarm").values()
        metrics = sum(
            sum(1 for m in a["Properties"]["Metrics"] if "MetricStat" in m) if "Metrics" in a["Properties"] else 1 for a in alarms
        )
        assert metrics == counts.alarm_metrics, name
        assert len(resources(synth.templates[name], "AWS::CloudWatch::Dashboard")) == counts.dashboards
    steady = [m for m in line_metrics(("setosa", "versicolor", "virginica"))]
    on_event = {names.METRIC_REJECTED, names.METRIC_FAILED, names.METRIC_FEEDBACK_LABELS}
    assert len([m for m in steady if m.name not in on_event]) + 1 == counts.inference_metrics  # + Powertools ColdStart


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        ([], {"model": "iris", "api": "rest", "waf": "false"}),
        (["API=http", "API_AUTH=jwt"], {"model": "iris", "api": "http", "waf": "false", "api_auth": "jwt"}),
        (["API=rest", "WAF=true", "MODEL=wine"], {"model": "wine", "api": "rest", "waf": "true"}),
    ],
)
def test_make_synth_passes_the_api_choice_as_context(make_args, expected):
    """The README's `make synth API=… API_AUTH=… WAF=…` reaches app.py as valid context JSON (dry run: nothing runs)."""
    import re
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run(
        ["make", "-n", "synth", *make_args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    match = re.search(r"CDK_CONTEXT_JSON='([^']*)'", dry_run)
    assert match, dry_run
    context = json.loads(match.group(1))
    assert context == expected
    ApiOptions.from_context(cdk.App(context=context).node)  # and the options accept it


@pytest.mark.parametrize(
    ("api", "concurrency", "unreserved", "elsewhere", "says"),
    [
        ("url", 10, 1000, 0, None),
        ("url", 10, 110, 0, None),  # exactly 100 left
        ("url", 10, 109, 0, "url_concurrency=9"),
        ("url", 10, 110, 2, "url_concurrency=8"),  # monitor and quality reserve 1 each
        ("url", 10, 10, 0, "api=http"),  # a new account's quota of 10: nothing can be reserved
        ("http", 10, 10, 0, None),  # API Gateway throttles; the function reserves nothing
    ],
)
def test_preflight_says_when_the_function_url_reservation_cannot_fit(api, concurrency, unreserved, elsewhere, says):
    from infra.api_options import url_concurrency_problem

    options = ApiOptions.from_context(cdk.App(context={"api": api, "url_concurrency": str(concurrency)}).node)
    problem = url_concurrency_problem(options, unreserved, elsewhere)
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem and "Lambda keeps 100 unreserved" in problem
