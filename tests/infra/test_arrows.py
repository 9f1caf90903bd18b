"""Every arrow between services is permitted on both sides, checked by walking the synthesized template.

An arrow is one service acting on a resource: an alarm publishing to the topic, EventBridge invoking a
function, Logs putting records into Firehose... Each needs the caller's side (an IAM policy on the role the
caller acts as, or for a service principal, nothing) AND the resource's side (the topic policy, the KMS key
policy, the Lambda permission, the role's trust policy). Today's Template assertions check one side; this
test derives the arrows from the template itself and checks both, so:

- every resource type in the template must be classified here, as the source of arrows this test checks or
  as having none. A new type fails `test_every_resource_type_is_classified` until someone decides;
- within a classified type, an arrow to a target this test does not know (an alarm action that is not an SNS
  topic, an EventBridge target that is not a function, a function environment variable naming a resource
  type without a rule) fails with a message saying which arrow lacks a rule.

The policy evaluation is deliberately small: Allow statements matched by action and resource with
glob semantics (IAM's `*`), resource ARNs compared as rendered text (`<LogicalId.Arn>` for tokens), and
Deny statements other than the TLS-only ones fail the arrow. Conditions are checked where the arrow
needs them (confused-deputy conditions on service principals).

Assumptions, with sources:
- CloudWatch alarms publish as `cloudwatch.amazonaws.com`, which needs sns:Publish in the topic policy and,
  for an encrypted topic, kms:Decrypt + kms:GenerateDataKey* in the key policy (SNS developer guide,
  "Enable compatibility between event sources from AWS services and encrypted topics").
- AWS Chatbot subscribes to the topic through its service-linked role (identity policy, same account), so
  the topic's resource side only must not deny it; SNS delivers to Chatbot over HTTPS.
- Same-account IAM roles need no resource policy on SNS, DynamoDB, Logs, S3 or KMS when the key policy
  delegates to the account (`arn:...:iam::<account>:root` with kms:*), which is checked.
- API Gateway invokes Lambda as `apigateway.amazonaws.com` with the source ARN
  `arn:...:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`; the resource policy of what the
  integration names must match it: the function, or with SnapStart the alias (a permission is scoped to the alias,
  version or function it is added to: Lambda developer guide, "Using Lambda aliases in event sources and permissions
  policies").
  REST sends the request path; HTTP APIs the route's path as written (`{proxy+}`), which is what CDK's
  `HttpLambdaIntegration` scopes each permission to (`scopePermissionToRoute`, default true).
- Cognito authorizers (REST) and JWT authorizers (HTTP) need no permission on the user pool: API Gateway checks the
  token's signature against the issuer's public keys. The walk checks that they name this account's pool (or, for
  JWT, an https issuer) and, for a pool the stack creates, that the audience is one of that pool's clients.
- WAF association: a control-plane call by CloudFormation, no runtime permission; the web ACL must be REGIONAL and
  the association must name a REST stage of this template (API Gateway developer guide, "Using AWS WAF").
- Vended log delivery (resource side created by AWS at deploy time, not in the template): WAF logging to a log group
  and HTTP API access logs are delivered by `delivery.logs.amazonaws.com`. "For an Amazon CloudWatch Logs log group,
  AWS WAF creates a resource policy on the log group" (WAFV2 API reference, PutLoggingConfiguration); CloudWatch Logs
  creates it when the deployer has logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups, at
  the log group level for new subscriptions (CloudWatch Logs user guide, "Logs sent to CloudWatch Logs",
  AWS-logs-infrastructure-CWL; HTTP API access logging lists the same deployer permissions: API Gateway developer
  guide, http-api-logging, checked 2026-11). The stack deliberately declares no `AWS::Logs::ResourcePolicy` of its
  own: CloudFormation can only create account-level ones, at most 10 per region and not raisable (CloudWatch Logs API
  reference, PutResourcePolicy), so one per stack exhausts the quota (a CDK stack failing that way:
  Enterprise-CMCS/cmcs-eregulations#1620), and a log group takes one policy only, which AWS then also writes
  (hashicorp/terraform-provider-aws#47111, confirmed with AWS Support, 2026-03). What the template can get wrong is
  checked: the destination is a log group of this stack, named `aws-waf-logs-*` for WAF, its ARN without `:*`.
- REST access logs are written through the account-level API Gateway role (`AWS::ApiGateway::Account`). When the
  stack owns it (the default, `api_gateway_account_role=true`) the role's trust and policy are checked; otherwise it is an account
  precondition the README's deploy section documents (infra/account.py).
Arrows whose resource side lives outside the template are listed in `Walk.external` with the reason above, and the
tests pin that list per configuration: a new one cannot appear unnoticed.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any

import pytest

from functions.contract import names
from infra.api_options import ApiAuth, ApiType
from tests.infra.conftest import COMBINATIONS
from tests.infra.test_stack import as_list, flatten, resources

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}

# Resource types whose arrows this test checks (the check functions below) ...
ARROW_SOURCES = {
    "AWS::CloudWatch::Alarm",
    "AWS::Events::Rule",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::Logs::SubscriptionFilter",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Lambda::Function",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Chatbot::SlackChannelConfiguration",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::Logs::MetricFilter",
    "AWS::Lambda::Url",
}
# ... and types that act on nothing by themselves (policies, passive stores, configuration).
NO_ARROWS = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Logs::LogStream",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",  # e-mail: SNS delivers to an address, no AWS resource on the other end
    "AWS::KMS::Key",
    "AWS::S3::BucketPolicy",
    "AWS::DynamoDB::Table",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",  # its users' access to Glue and S3 is checked from the function side
    "AWS::CloudWatch::Dashboard",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::ApiGateway::Account",  # account setting; its role is the one API Gateway assumes for logging
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",  # its target integration is checked per route from the integration's side
    "AWS::WAFv2::WebACL",  # acts through its association and logging configuration
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::CDK::Metadata",
}


# --- a small policy evaluator -------------------------------------------------------------------------------
def text(value: Any) -> str:
    """A template value rendered to text, tokens as <LogicalId> / <LogicalId.Attr>."""
    return flatten(value)


def logical_id(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def action_matches(pattern: str, action: str) -> bool:
    return glob(pattern.lower(), action.lower())


def principal_services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if not isinstance(principal, dict):
        return []
    return [text(service) for service in as_list(principal.get("Service", []))]


def allows(
    statements: Iterable[dict[str, Any]], action: str, resource: str, *, service: str | None = None
) -> list[dict[str, Any]]:
    """The Allow statements granting `action` on `resource` (to `service` when given)."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(action_matches(pattern, action) for pattern in as_list(statement["Action"])):
            continue
        if not any(glob(text(r), resource) for r in as_list(statement.get("Resource", "*"))):
            continue
        if service is not None and not any(glob(s, service) for s in principal_services(statement)):
            continue
        found.append(statement)
    return found


def denies(statements: Iterable[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """Deny statements on `action`, except the TLS-only ones every caller here satisfies."""
    return [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and any(action_matches(p, action) for p in as_list(s["Action"]))
        and s.get("Condition") != {"Bool": {"aws:SecureTransport": "false"}}
    ]


class Walk:
    """The template with lookups by resource kind; every check appends to `arrows` what it verified."""

    def __init__(self, template: dict[str, Any], stack_name: str) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.stack_name = stack_name
        self.arrows: list[str] = []
        self.external: list[tuple[str, str]] = []  # (arrow, why its resource side is not in the template)
        self.account_role_expected = False  # the stack was told to own AWS::ApiGateway::Account
        self.region = "<AWS::Region>"
        self.account = "<AWS::AccountId>"

    def type_of(self, logical: str | None) -> str:
        return self.resources[logical]["Type"] if logical in self.resources else "?"

    def props(self, logical: str) -> dict[str, Any]:
        return self.resources[logical].get("Properties", {})

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        statements = []
        for policy in resources(self.template, "AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        for inline in self.props(role).get("Policies", []):
            statements += inline["PolicyDocument"]["Statement"]
        return statements

    def trust(self, role: str) -> list[dict[str, Any]]:
        return self.props(role)["AssumeRolePolicyDocument"]["Statement"]

    def topic_policy(self, topic: str) -> list[dict[str, Any]]:
        statements = []
        for policy in resources(self.template, "AWS::SNS::TopicPolicy").values():
            if {"Ref": topic} in policy["Properties"]["Topics"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def queue_policy(self, queue: str) -> list[dict[str, Any]]:
        statements = []
        for policy in resources(self.template, "AWS::SQS::QueuePolicy").values():
            if {"Ref": queue} in policy["Properties"]["Queues"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def bucket_policy(self, bucket: str) -> list[dict[str, Any]]:
        statements = []
        for policy in resources(self.template, "AWS::S3::BucketPolicy").values():
            if policy["Properties"]["Bucket"] == {"Ref": bucket}:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def arn_prefix(self, service: str) -> str:
        """`arn:<partition>:<service>:<region>:<account>` as this stack renders it (tokens, or a concrete environment)."""
        return f"arn:<AWS::Partition>:{service}:{self.region}:{self.account}"

    def key_policy(self, key: str) -> list[dict[str, Any]]:
        assert self.type_of(key) == "AWS::KMS::Key", key
        return self.props(key)["KeyPolicy"]["Statement"]

    def permissions(self, function_ref: str, service: str) -> list[dict[str, Any]]:
        """Lambda permissions for `service` on the function or alias `function_ref` (a logical id)."""
        found = []
        for permission in resources(self.template, "AWS::Lambda::Permission").values():
            props = permission["Properties"]
            if logical_id(props["FunctionName"]) == function_ref and text(props["Principal"]) == service:
                found.append(props)
        return found

    def role_of(self, function: str) -> str:
        role = logical_id(self.props(function)["Role"])
        assert role is not None and self.type_of(role) == "AWS::IAM::Role", function
        return role

    # -- checks shared by several arrows --
    def key_delegates_to_account(self, key: str) -> None:
        """IAM policies count for this key only if its policy delegates to the account."""
        root = [
            s
            for s in self.key_policy(key)
            if "iam::" in text(s.get("Principal", {}).get("AWS", "")) and ":root" in text(s["Principal"]["AWS"])
        ]
        assert root and any(action_matches(a, "kms:Decrypt") for s in root for a in as_list(s["Action"])), key

    def role_may(self, role: str, action: str, resource: str, arrow: str) -> None:
        statements = self.role_statements(role)
        assert allows(statements, action, resource), f"{arrow}: role {role} may not {action} on {resource}"
        assert not denies(statements, action), arrow

    def service_condition_is_this_account(self, statement: dict[str, Any], arrow: str) -> None:
        account = statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        assert account == {"Ref": "AWS::AccountId"}, f"{arrow}: service principal without aws:SourceAccount condition"


# --- the arrows ------------------------------------------------------------------------------------------------
def alarm_arn(name: str) -> str:
    return f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{name}"


def check_alarm(walk: Walk, alarm_id: str) -> None:
    props = walk.props(alarm_id)
    name = props.get("AlarmName")
    for action in as_list(props.get("AlarmActions", [])) + as_list(props.get("OKActions", [])):
        target = logical_id(action)
        arrow = f"alarm {alarm_id} -> {target}"
        assert walk.type_of(target) == "AWS::SNS::Topic", f"{arrow}: no rule for alarm actions on {walk.type_of(target)}"
        assert isinstance(name, str), f"{arrow}: unnamed alarm; the topic policy allows alarms by name prefix"
        source = alarm_arn(name)
        topic_arn = f"<{target}>"
        granting = allows(walk.topic_policy(target), "sns:Publish", topic_arn, service="cloudwatch.amazonaws.com")
        assert granting, f"{arrow}: the topic policy does not let cloudwatch.amazonaws.com publish"
        for statement in granting:
            walk.service_condition_is_this_account(statement, arrow)
            pattern = text(statement["Condition"]["ArnLike"]["aws:SourceArn"])
            assert glob(pattern, source), f"{arrow}: aws:SourceArn {pattern} does not match {source}"
        assert not denies(walk.topic_policy(target), "sns:Publish"), arrow
        key = logical_id(walk.props(target).get("KmsMasterKeyId"))
        if key is not None:
            for kms_action in ("kms:Decrypt", "kms:GenerateDataKey"):
                key_grants = allows(walk.key_policy(key), kms_action, "*", service="cloudwatch.amazonaws.com")
                assert key_grants, f"{arrow}: the topic's key policy does not let CloudWatch {kms_action}"
                for statement in key_grants:
                    walk.service_condition_is_this_account(statement, arrow)
                    assert glob(text(statement["Condition"]["ArnLike"]["aws:SourceArn"]), source), arrow
        walk.arrows.append(arrow)


def check_rule(walk: Walk, rule_id: str) -> None:
    rule_arn = f"<{rule_id}.Arn>"
    for target in walk.props(rule_id)["Targets"]:
        function = logical_id(target["Arn"])
        arrow = f"EventBridge {rule_id} -> {function}"
        assert walk.type_of(function) == "AWS::Lambda::Function", f"{arrow}: no rule for targets of type {walk.type_of(function)}"
        permissions = walk.permissions(function, "events.amazonaws.com")
        assert any(text(p.get("SourceArn")) == rule_arn for p in permissions), f"{arrow}: no Lambda permission for this rule"
        assert all(p["Action"] == "lambda:InvokeFunction" for p in permissions), arrow
        dead_letters = target.get("DeadLetterConfig")
        if dead_letters:
            queue = logical_id(dead_letters["Arn"])
            grants = allows(walk.queue_policy(queue), "sqs:SendMessage", f"<{queue}.Arn>", service="events.amazonaws.com")
            assert any(text(s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")) == rule_arn for s in grants), (
                f"{arrow}: the dead-letter queue {queue} does not accept this rule's failed events"
            )
        walk.arrows.append(arrow)


SAMPLE_METHOD = "POST"  # an ANY method is checked with the method clients call
SAMPLE_PROXY_PATH = "predict"  # what a REST {proxy+} resource receives


def _api_invokes(walk: Walk, function_ref: str, source_arn: str, arrow: str) -> None:
    """The target's resource policy lets API Gateway invoke it from `source_arn`; an alias must be SnapStart's."""
    kind = walk.type_of(function_ref)
    assert kind in {"AWS::Lambda::Function", "AWS::Lambda::Alias"}, f"{arrow}: no rule for targets of type {kind}"
    if kind == "AWS::Lambda::Alias":
        version = logical_id(walk.props(function_ref)["FunctionVersion"])
        assert walk.type_of(version) == "AWS::Lambda::Version", f"{arrow}: the alias points at no version of this stack"
        function = logical_id(walk.props(version or "?")["FunctionName"])
        snap_start = walk.props(function or "?").get("SnapStart", {}).get("ApplyOn")
        assert snap_start == "PublishedVersions", f"{arrow}: an alias without SnapStart; no rule for it"
    permissions = walk.permissions(function_ref, "apigateway.amazonaws.com")
    live = [p for p in permissions if glob(text(p.get("SourceArn", "")), source_arn)]
    assert live, f"{arrow}: no Lambda permission for API Gateway on {function_ref} matches {source_arn}"
    assert all(p["Action"] == "lambda:InvokeFunction" for p in live), arrow


def _rest_path(walk: Walk, resource_ref: Any) -> str:
    """The request path of a REST resource (`{proxy+}` as a sample path), from its chain of parents."""
    resource = logical_id(resource_ref)
    if walk.type_of(resource) != "AWS::ApiGateway::Resource":  # the root: GetAtt RestApi.RootResourceId
        return ""
    props = walk.props(resource or "?")
    part = SAMPLE_PROXY_PATH if props["PathPart"].startswith("{") else props["PathPart"]
    parent = _rest_path(walk, props["ParentId"])
    return f"{parent}/{part}" if parent else part


def _stages(walk: Walk, stage_type: str, api_key: str, api: str) -> list[str]:
    return [k for k, v in resources(walk.template, stage_type).items() if logical_id(v["Properties"][api_key]) == api]


def check_method(walk: Walk, method_id: str) -> None:
    props = walk.props(method_id)
    api = logical_id(props["RestApiId"]) or "?"
    if props.get("AuthorizationType") == "COGNITO_USER_POOLS":
        authorizer = logical_id(props.get("AuthorizerId"))
        assert walk.type_of(authorizer) == "AWS::ApiGateway::Authorizer", f"method {method_id}: no Cognito authorizer"
        assert logical_id(walk.props(authorizer or "?")["RestApiId"]) == api, f"method {method_id}: authorizer of another API"
    integration = props.get("Integration", {})
    if integration.get("Type") in (None, "MOCK"):
        return
    uri = text(integration["Uri"])
    arrow = f"API Gateway {method_id} -> {uri}"
    assert integration["Type"] == "AWS_PROXY", f"{arrow}: no rule for integrations of type {integration['Type']}"
    target = uri.split("/functions/<", 1)[1].split(">", 1)[0].removesuffix(".Arn")
    method = SAMPLE_METHOD if props["HttpMethod"] == "ANY" else props["HttpMethod"]
    path = _rest_path(walk, props["ResourceId"])
    stages = _stages(walk, "AWS::ApiGateway::Stage", "RestApiId", api)
    assert stages, f"{arrow}: the API has no stage"
    for stage in stages:
        _api_invokes(
            walk, target, f"{walk.arn_prefix('execute-api')}:<{api}>/<{stage}>/{method}/{path}", f"{arrow} (stage {stage})"
        )
    walk.arrows.append(arrow)


def check_http_integration(walk: Walk, integration_id: str) -> None:
    props = walk.props(integration_id)
    target = logical_id(props["IntegrationUri"]) or "?"
    api = logical_id(props["ApiId"]) or "?"
    arrow = f"HTTP API {integration_id} -> {target}"
    assert props["IntegrationType"] == "AWS_PROXY", f"{arrow}: no rule for integrations of type {props['IntegrationType']}"
    route_props = [
        route["Properties"]
        for route in resources(walk.template, "AWS::ApiGatewayV2::Route").values()
        if text(route["Properties"].get("Target")) == f"integrations/<{integration_id}>"
    ]
    assert route_props, f"{arrow}: no route uses this integration"
    for route in route_props:
        if route.get("AuthorizationType") == "JWT":
            authorizer = logical_id(route.get("AuthorizerId"))
            assert walk.type_of(authorizer) == "AWS::ApiGatewayV2::Authorizer", f"route {route['RouteKey']}: no JWT authorizer"
            assert logical_id(walk.props(authorizer or "?")["ApiId"]) == api, (
                f"route {route['RouteKey']}: authorizer of another API"
            )
    routes = [route["RouteKey"] for route in route_props]
    stages = _stages(walk, "AWS::ApiGatewayV2::Stage", "ApiId", api)
    assert stages, f"{arrow}: the API has no stage"
    for stage in stages:
        stage_name = walk.props(stage)["StageName"]
        for route_key in routes:
            method, _, path = route_key.partition(" ")
            source = f"{walk.arn_prefix('execute-api')}:<{api}>/{stage_name}/{method}/{path.removeprefix('/')}"
            _api_invokes(walk, target, source, f"{arrow} (route {route_key})")
    walk.arrows.append(arrow)


def _log_group_target(walk: Walk, destination: Any, arrow: str) -> str:
    """The stack's log group a delivery writes to: its `Arn` attribute, or its ARN written out without `:*`."""
    group = logical_id(destination)
    if group is None:
        rendered = text(destination)
        prefix = f"{walk.arn_prefix('logs')}:log-group:<"
        assert rendered.startswith(prefix) and rendered.endswith(">"), f"{arrow}: {rendered} is not a log group ARN of this stack"
        group = rendered.removeprefix(prefix).removesuffix(">")
    assert walk.type_of(group) == "AWS::Logs::LogGroup", f"{arrow}: the destination is not a log group of this stack"
    return group


def _execution_log_group(walk: Walk, stage_id: str) -> str | None:
    """With execution logging on, the stage's `API-Gateway-Execution-Logs_<api>/<stage>` group, which must be the stack's.

    API Gateway creates that group itself on the first write when it does not exist: no retention, no customer key,
    and left behind when the stack is deleted. Owned by the stack and created before the stage, it gets all three.
    """
    props = walk.props(stage_id)
    levels = {setting.get("LoggingLevel", "OFF") for setting in props.get("MethodSettings", [])}
    if levels <= {"OFF"}:
        return None
    name = f"API-Gateway-Execution-Logs_<{logical_id(props['RestApiId'])}>/{props['StageName']}"
    groups = [
        k for k, v in resources(walk.template, "AWS::Logs::LogGroup").items() if text(v["Properties"].get("LogGroupName")) == name
    ]
    assert groups, (
        f"REST execution log {stage_id}: no log group {name} in the stack; API Gateway would create one that never expires"
    )
    assert groups[0] in as_list(walk.resources[stage_id].get("DependsOn", [])), (
        f"REST execution log {stage_id}: the stage must depend on {groups[0]}, or API Gateway may create the group first"
    )
    return groups[0]


def check_rest_stage(walk: Walk, stage_id: str) -> None:
    execution_group = _execution_log_group(walk, stage_id)
    if execution_group is not None:
        walk.arrows.append(f"REST execution log {stage_id} -> {execution_group}")
    settings = walk.props(stage_id).get("AccessLogSetting")
    if not settings:
        return
    group = _log_group_target(walk, settings["DestinationArn"], f"REST access log {stage_id}")
    arrow = f"REST access log {stage_id} -> {group}"
    accounts = resources(walk.template, "AWS::ApiGateway::Account")
    if not accounts:
        assert not walk.account_role_expected, f"{arrow}: the stack should own the account-level role, the template has none"
        walk.external.append((arrow, "account-level API Gateway role (make preflight checks it; infra/account.py)"))
    for account in accounts.values():
        role = logical_id(account["Properties"]["CloudWatchRoleArn"]) or "?"
        assert allows(walk.trust(role), "sts:AssumeRole", "*", service="apigateway.amazonaws.com"), (
            f"{arrow}: role {role} cannot be assumed by API Gateway"
        )
        managed = [text(arn) for arn in walk.props(role).get("ManagedPolicyArns", [])]
        pushes = any(arn.endswith(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs") for arn in managed)
        if not pushes:
            walk.role_may(role, "logs:PutLogEvents", f"<{group}.Arn>", arrow)
    walk.arrows.append(arrow)


def check_http_stage(walk: Walk, stage_id: str) -> None:
    settings = walk.props(stage_id).get("AccessLogSettings")
    if not settings:
        return
    group = _log_group_target(walk, settings["DestinationArn"], f"HTTP access log {stage_id}")
    arrow = f"HTTP access log {stage_id} -> {group}"
    walk.external.append((arrow, "vended log delivery: CloudWatch Logs writes the log group's resource policy at deploy"))
    walk.arrows.append(arrow)


def _user_pool_arn_of_this_account(walk: Walk, arn: Any, arrow: str) -> str:
    pool = logical_id(arn)
    if pool is not None:
        assert walk.type_of(pool) == "AWS::Cognito::UserPool", f"{arrow}: provider {pool} is not a user pool"
        return pool
    rendered = text(arn)
    assert rendered.startswith("arn:<AWS::Partition>:cognito-idp:") and ":<AWS::AccountId>:userpool/" in rendered, (
        f"{arrow}: {rendered} is not a user pool of this account"
    )
    return rendered.rsplit("/", 1)[1]


def check_rest_authorizer(walk: Walk, authorizer_id: str) -> None:
    props = walk.props(authorizer_id)
    assert props["Type"] == "COGNITO_USER_POOLS", f"authorizer {authorizer_id}: no rule for {props['Type']} authorizers"
    assert props["IdentitySource"] == "method.request.header.Authorization", authorizer_id
    for arn in props["ProviderARNs"]:
        arrow = f"Cognito authorizer {authorizer_id} -> {text(arn)}"
        pool = _user_pool_arn_of_this_account(walk, arn, arrow)
        walk.arrows.append(f"Cognito authorizer {authorizer_id} -> {pool}")


def check_http_authorizer(walk: Walk, authorizer_id: str) -> None:
    props = walk.props(authorizer_id)
    arrow = f"JWT authorizer {authorizer_id}"
    assert props["AuthorizerType"] == "JWT", f"{arrow}: no rule for {props['AuthorizerType']} authorizers"
    issuer = text(props["JwtConfiguration"]["Issuer"])
    audience = props["JwtConfiguration"]["Audience"]
    assert issuer.startswith("https://") and audience, f"{arrow}: needs an https issuer and an audience"
    pools = [k for k in resources(walk.template, "AWS::Cognito::UserPool") if issuer.endswith(f"/<{k}>")]
    if pools:  # the stack's own pool: the audience must be one of its app clients, or no token would ever pass
        assert issuer.startswith("https://cognito-idp.<AWS::Region>.amazonaws.com/"), (
            f"{arrow}: {issuer} is not the pool's issuer"
        )
        clients = [logical_id(a) for a in audience]
        assert clients and all(
            walk.type_of(client) == "AWS::Cognito::UserPoolClient"
            and logical_id(walk.props(client or "?")["UserPoolId"]) == pools[0]
            for client in clients
        ), f"{arrow}: audience {audience} is not an app client of {pools[0]}"
    walk.arrows.append(f"{arrow} -> {pools[0] if pools else issuer}")


def check_waf_association(walk: Walk, association_id: str) -> None:
    props = walk.props(association_id)
    acl = logical_id(props["WebACLArn"])
    target = text(props["ResourceArn"])
    arrow = f"WAF association {acl} -> {target}"
    assert walk.type_of(acl) == "AWS::WAFv2::WebACL", f"{arrow}: not a web ACL of this stack"
    assert walk.props(acl or "?")["Scope"] == "REGIONAL", f"{arrow}: API Gateway stages take REGIONAL web ACLs only"
    prefix = "arn:<AWS::Partition>:apigateway:<AWS::Region>::/restapis/<"
    assert target.startswith(prefix) and ">/stages/<" in target, f"{arrow}: no rule for WAF on anything but a REST stage"
    api, _, stage = target.removeprefix(prefix).removesuffix(">").partition(">/stages/<")
    assert walk.type_of(stage) == "AWS::ApiGateway::Stage", f"{arrow}: {stage} is not a REST stage of this stack"
    assert logical_id(walk.props(stage)["RestApiId"]) == api, f"{arrow}: stage {stage} belongs to another API than {api}"
    walk.arrows.append(arrow)


def check_waf_logging(walk: Walk, logging_id: str) -> None:
    props = walk.props(logging_id)
    acl = logical_id(props["ResourceArn"])
    assert walk.type_of(acl) == "AWS::WAFv2::WebACL", f"WAF logging {logging_id}: not for a web ACL of this stack"
    for destination in props["LogDestinationConfigs"]:
        assert logical_id(destination) is None, (
            f"WAF logging {logging_id}: the log group ARN must be written out without the trailing ':*' of its Arn attribute"
        )
        group = _log_group_target(walk, destination, f"WAF logging {logging_id}")
        arrow = f"WAF logging {acl} -> {group}"
        name = walk.props(group).get("LogGroupName")
        assert isinstance(name, str) and name.startswith("aws-waf-logs-"), f"{arrow}: WAF only delivers to aws-waf-logs-* groups"
        walk.external.append((arrow, "vended log delivery: WAF writes the log group's resource policy at deploy"))
        walk.arrows.append(arrow)


def check_subscription_filter(walk: Walk, filter_id: str) -> None:
    props = walk.props(filter_id)
    stream = logical_id(props["DestinationArn"])
    arrow = f"Logs subscription {filter_id} -> {stream}"
    assert walk.type_of(stream) == "AWS::KinesisFirehose::DeliveryStream", f"{arrow}: no rule for {walk.type_of(stream)}"
    role = logical_id(props["RoleArn"])
    trust = allows(walk.trust(role), "sts:AssumeRole", "*", service="logs.amazonaws.com")
    assert trust, f"{arrow}: role {role} cannot be assumed by CloudWatch Logs"
    for statement in trust:
        walk.service_condition_is_this_account(statement, arrow)
    for action in ("firehose:PutRecord", "firehose:PutRecordBatch"):
        walk.role_may(role, action, f"<{stream}.Arn>", arrow)
    walk.arrows.append(arrow)


def check_delivery_stream(walk: Walk, stream_id: str) -> None:
    destination = walk.props(stream_id).get("ExtendedS3DestinationConfiguration")
    assert destination is not None, f"Firehose {stream_id}: no rule for destinations other than S3"
    bucket = logical_id(destination["BucketARN"])
    arrow = f"Firehose {stream_id} -> {bucket}"
    role = logical_id(destination["RoleARN"])
    assert allows(walk.trust(role), "sts:AssumeRole", "*", service="firehose.amazonaws.com"), f"{arrow}: trust"
    for prefix in (destination["Prefix"], destination["ErrorOutputPrefix"]):
        sample = prefix.replace("!{timestamp:yyyy-MM-dd}", "2026-01-01").replace(
            "!{firehose:error-output-type}", "processing-failed"
        )
        key = f"<{bucket}.Arn>/{sample}part.json.gz"
        for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
            walk.role_may(role, action, key, arrow)
    walk.role_may(role, "s3:ListBucketMultipartUploads", f"<{bucket}.Arn>", arrow)
    assert not denies(walk.bucket_policy(bucket), "s3:PutObject"), f"{arrow}: the bucket policy denies the writes"
    encryption = walk.props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    if encryption["SSEAlgorithm"] == "aws:kms":
        key = logical_id(encryption["KMSMasterKeyID"])
        walk.key_delegates_to_account(key)
        walk.role_may(role, "kms:GenerateDataKey", f"<{key}.Arn>", f"{arrow} (SSE-KMS)")
    logging = destination.get("CloudWatchLoggingOptions")
    if logging and logging.get("Enabled"):
        group, log_stream = logical_id(logging["LogGroupName"]), logical_id(logging["LogStreamName"])
        writes = [
            r
            for st in walk.role_statements(role)
            if st["Effect"] == "Allow" and any(action_matches(a, "logs:PutLogEvents") for a in as_list(st["Action"]))
            for r in as_list(st["Resource"])
            if f"log-group:<{group}>:log-stream:<{log_stream}>" in text(r)
        ]
        assert writes, f"{arrow}: Firehose cannot write its error log stream"
    walk.arrows.append(arrow)


def _env_arrow(walk: Walk, function: str, role: str, name: str, value: Any) -> None:
    target = logical_id(value)
    if target is None or target.startswith("AWS::") or target not in walk.resources:
        return
    kind = walk.type_of(target)
    arrow = f"function {function} ({name}) -> {kind} {target}"
    if kind == "AWS::SNS::Topic":
        walk.role_may(role, "sns:Publish", f"<{target}>", arrow)
        assert not denies(walk.topic_policy(target), "sns:Publish"), arrow
        key = logical_id(walk.props(target).get("KmsMasterKeyId"))
        if key is not None:
            walk.key_delegates_to_account(key)
            walk.role_may(role, "kms:GenerateDataKey", f"<{key}.Arn>", arrow)
            walk.role_may(role, "kms:Decrypt", f"<{key}.Arn>", arrow)
    elif kind == "AWS::DynamoDB::Table":
        # The minute store queries a series and puts items; the alert state is read by key and put conditionally.
        read = "dynamodb:Query" if name == "MINUTE_TABLE" else "dynamodb:BatchGetItem"
        calls = (read, "dynamodb:PutItem")
        for action in calls:
            walk.role_may(role, action, f"<{target}.Arn>", arrow)
    elif kind == "AWS::Logs::LogGroup":
        walk.role_may(role, "logs:StartQuery", f"<{target}.Arn>", arrow)
        walk.role_may(role, "logs:GetQueryResults", "*", arrow)
    elif kind == "AWS::Athena::WorkGroup":
        workgroup = f"arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/{walk.props(target)['Name']}"
        _athena_user(walk, role, workgroup, target, arrow)
    else:
        pytest.fail(f"{arrow}: no rule for a function's reference to {kind}; add one to this test")
    walk.arrows.append(arrow)


def _athena_user(walk: Walk, role: str, workgroup_arn: str, workgroup: str, arrow: str) -> None:
    """Athena runs as the caller: the role needs the workgroup, every table's Glue entry and S3 data, and the results."""
    for action in ("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"):
        walk.role_may(
            role, action, workgroup_arn.replace("<AWS::Region>", walk.region).replace("<AWS::AccountId>", walk.account), arrow
        )
    for table_id, table in resources(walk.template, "AWS::Glue::Table").items():
        name = table["Properties"]["TableInput"]["Name"]
        database = walk.props(logical_id(table["Properties"]["DatabaseName"]) or "?")["DatabaseInput"]["Name"]
        table_arn = f"arn:<AWS::Partition>:glue:{walk.region}:{walk.account}:table/{database}/{name}"
        walk.role_may(role, "glue:GetTable", table_arn, f"{arrow} -> Glue {table_id}")
        location = text(table["Properties"]["TableInput"]["StorageDescriptor"]["Location"])
        bucket, _, prefix = location.removeprefix("s3://<").partition(">/")
        walk.role_may(role, "s3:GetObject", f"<{bucket}.Arn>/{prefix}dt=2026-01-01/part.json.gz", f"{arrow} -> S3 {prefix}")
    output = text(walk.props(workgroup)["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"])
    bucket, _, prefix = output.removeprefix("s3://<").partition(">/")
    walk.role_may(role, "s3:PutObject", f"<{bucket}.Arn>/{prefix}query-id.csv", f"{arrow} -> results")


def check_function(walk: Walk, function: str) -> None:
    props = walk.props(function)
    role = walk.role_of(function)
    assert allows(walk.trust(role), "sts:AssumeRole", "*", service="lambda.amazonaws.com"), function
    group = logical_id(props.get("LoggingConfig", {}).get("LogGroup"))
    assert group is not None, f"function {function} writes to a log group the stack does not own"
    walk.role_may(role, "logs:PutLogEvents", f"<{group}.Arn>", f"function {function} -> its log group")
    walk.arrows.append(f"function {function} -> log group {group}")
    for name, value in props.get("Environment", {}).get("Variables", {}).items():
        _env_arrow(walk, function, role, name, value)


def check_invoke_config(walk: Walk, config_id: str) -> None:
    props = walk.props(config_id)
    function = logical_id(props["FunctionName"])
    for outcome in ("OnFailure", "OnSuccess"):
        destination = props.get("DestinationConfig", {}).get(outcome)
        if not destination:
            continue
        queue = logical_id(destination["Destination"])
        arrow = f"function {function} {outcome} -> {queue}"
        assert walk.type_of(queue) == "AWS::SQS::Queue", f"{arrow}: no rule for {walk.type_of(queue)}"
        walk.role_may(walk.role_of(function or "?"), "sqs:SendMessage", f"<{queue}.Arn>", arrow)
        walk.arrows.append(arrow)


def check_chatbot(walk: Walk, channel_id: str) -> None:
    for topic_ref in walk.props(channel_id)["SnsTopicArns"]:
        topic = logical_id(topic_ref)
        arrow = f"Chatbot {channel_id} -> {topic}"
        assert walk.type_of(topic) == "AWS::SNS::Topic", arrow
        for action in ("sns:Subscribe", "sns:Receive"):
            assert not denies(walk.topic_policy(topic), action), f"{arrow}: the topic policy denies {action}"
        walk.arrows.append(arrow)


def check_bucket(walk: Walk, bucket_id: str) -> None:
    logging = walk.props(bucket_id).get("LoggingConfiguration")
    if not logging:
        return
    target = logical_id(logging["DestinationBucketName"])
    arrow = f"S3 access logs {bucket_id} -> {target}"
    key = f"<{target}.Arn>/{logging['LogFilePrefix']}2026-01-01-00-00-00-ABC"
    granting = allows(walk.bucket_policy(target or "?"), "s3:PutObject", key, service="logging.s3.amazonaws.com")
    assert granting, f"{arrow}: the log bucket's policy does not let S3 log delivery write"
    target_encryption = walk.props(target or "?")["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert target_encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", f"{arrow}: log delivery needs SSE-S3"
    walk.arrows.append(arrow)


def check_log_group(walk: Walk, group_id: str) -> None:
    key = logical_id(walk.props(group_id).get("KmsKeyId"))
    if key is None:
        return
    arrow = f"CloudWatch Logs -> key {key} for {group_id}"
    service = "logs.<AWS::Region>.amazonaws.com"
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
        grants = allows(walk.key_policy(key), action, "*", service=service)
        assert grants, f"{arrow}: the key policy does not let CloudWatch Logs {action}"
        for statement in grants:
            context = text(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
            assert context.endswith(":log-group:*") and "<AWS::AccountId>" in context, arrow
    walk.arrows.append(arrow)


URL_CALLERS = "Function URL callers: IAM principals outside the stack, granted by InferenceApi.grant_invoke"


def check_metric_filter(walk: Walk, filter_id: str) -> None:
    """CloudWatch Logs publishes a filter's metric itself (no role): the filter must read a log group of this stack
    and write the namespace the dashboard and alarms read."""
    props = walk.props(filter_id)
    group = logical_id(props["LogGroupName"])
    arrow = f"Logs metric filter {filter_id}: {group} -> CloudWatch metrics"
    assert walk.type_of(group) == "AWS::Logs::LogGroup", f"{arrow}: reads no log group of this stack"
    (transformation,) = props["MetricTransformations"]
    assert transformation["MetricNamespace"] == names.METRICS_NAMESPACE, arrow
    walk.arrows.append(arrow)


def check_function_url(walk: Walk, url_id: str) -> None:
    props = walk.props(url_id)
    target = logical_id(props["TargetFunctionArn"])
    arrow = f"Function URL {url_id} -> {target}"
    assert walk.type_of(target) in ("AWS::Lambda::Function", "AWS::Lambda::Alias"), f"{arrow}: no function"
    assert props["AuthType"] == "AWS_IAM", f"{arrow}: every caller must sign (SigV4)"
    walk.external.append((arrow, URL_CALLERS))
    walk.arrows.append(arrow)


CHECKS = {
    "AWS::Logs::MetricFilter": check_metric_filter,
    "AWS::Lambda::Url": check_function_url,
    "AWS::CloudWatch::Alarm": check_alarm,
    "AWS::Events::Rule": check_rule,
    "AWS::ApiGateway::Method": check_method,
    "AWS::ApiGateway::Stage": check_rest_stage,
    "AWS::ApiGateway::Authorizer": check_rest_authorizer,
    "AWS::ApiGatewayV2::Integration": check_http_integration,
    "AWS::ApiGatewayV2::Stage": check_http_stage,
    "AWS::ApiGatewayV2::Authorizer": check_http_authorizer,
    "AWS::WAFv2::WebACLAssociation": check_waf_association,
    "AWS::WAFv2::LoggingConfiguration": check_waf_logging,
    "AWS::Logs::SubscriptionFilter": check_subscription_filter,
    "AWS::KinesisFirehose::DeliveryStream": check_delivery_stream,
    "AWS::Lambda::Function": check_function,
    "AWS::Lambda::EventInvokeConfig": check_invoke_config,
    "AWS::Chatbot::SlackChannelConfiguration": check_chatbot,
    "AWS::S3::Bucket": check_bucket,
    "AWS::Logs::LogGroup": check_log_group,
}


def walk_arrows(template: dict[str, Any], stack: Any) -> Walk:
    walk = Walk(template, stack.stack_name)
    if not str(stack.region).startswith("${"):  # a concrete environment renders account and region as literals
        walk.region, walk.account = stack.region, stack.account
    walk.account_role_expected = bool(getattr(stack, "api_gateway_account_role", True))
    for logical, resource in template["Resources"].items():
        check = CHECKS.get(resource["Type"])
        if check is not None:
            check(walk, logical)
    return walk


# --- tests ------------------------------------------------------------------------------------------------------
def unclassified(template: dict[str, Any]) -> set[str]:
    return {r["Type"] for r in template["Resources"].values()} - ARROW_SOURCES - NO_ARROWS


def test_every_resource_type_is_classified(synthesized):
    assert set(CHECKS) == ARROW_SOURCES
    unknown = unclassified(synthesized.json)
    assert not unknown, f"classify {sorted(unknown)}: add their arrows to CHECKS, or to NO_ARROWS if they act on nothing"


def test_every_arrow_is_permitted_on_both_sides(synthesized):
    walk = walk_arrows(synthesized.json, synthesized.stack)
    kinds = {arrow.split(" ")[0] for arrow in walk.arrows}
    assert {"alarm", "EventBridge", "API", "Logs", "Firehose", "function"} <= kinds, kinds
    # The arrows named in the issue, by their ends:
    joined = "\n".join(walk.arrows)
    assert joined.count("-> Alerts") >= 14  # every alarm to the topic (SNS and KMS sides)
    assert "(ALERT_TOPIC_ARN) -> AWS::SNS::Topic" in joined  # monitor and quality publish
    assert "(ALERT_STATE_TABLE) -> AWS::DynamoDB::Table" in joined
    assert "(INFERENCE_LOG_GROUP) -> AWS::Logs::LogGroup" in joined  # Logs Insights
    assert "(ATHENA_WORKGROUP) -> AWS::Athena::WorkGroup" in joined  # quality: Athena, Glue, S3
    assert sum(a.startswith("Logs subscription") for a in walk.arrows) == 2
    assert sum(a.startswith("Firehose") for a in walk.arrows) == 2


def test_wine_arrows_include_chatbot_kms_logs_and_access_logs(wine):
    walk = walk_arrows(wine.json, wine.stack)
    assert any(a.startswith("Chatbot") for a in walk.arrows)
    assert sum(a.startswith("CloudWatch Logs -> key") for a in walk.arrows) == 6  # every log group, customer key
    assert any(a.startswith("S3 access logs") for a in walk.arrows)


# --- the walker must be able to fail: remove one side of an arrow and expect the walk to say so -----------------
def _without(template: dict[str, Any], predicate: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(template))
    for resource in copy["Resources"].values():
        for field in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            document = resource.get("Properties", {}).get(field)
            if document:
                document["Statement"] = [s for s in document["Statement"] if not predicate(s)]
    return copy


@pytest.mark.parametrize(
    ("removed", "message"),
    [
        (lambda s: "cloudwatch.amazonaws.com" in principal_services(s) and "sns:Publish" in as_list(s["Action"]), "topic policy"),
        (lambda s: "cloudwatch.amazonaws.com" in principal_services(s) and "kms:Decrypt" in as_list(s["Action"]), "key policy"),
        (lambda s: "logs.amazonaws.com" in principal_services(s), "cannot be assumed by CloudWatch Logs"),
        (lambda s: "firehose:PutRecordBatch" in as_list(s.get("Action")), "may not firehose:PutRecord"),
        (lambda s: "s3:PutObject" in as_list(s.get("Action")) and s.get("Principal") is None, "s3:PutObject"),
        (lambda s: "dynamodb:PutItem" in as_list(s.get("Action")), "may not dynamodb:"),
        (lambda s: "logs:StartQuery" in as_list(s.get("Action")), "logs:StartQuery"),
        (lambda s: "athena:StartQueryExecution" in as_list(s.get("Action")), "athena:StartQueryExecution"),
        (lambda s: "glue:GetTable" in as_list(s.get("Action")), "glue:GetTable"),
    ],
)
def test_the_walk_fails_when_one_side_is_missing(iris, removed, message):
    with pytest.raises(AssertionError, match=message):
        walk_arrows(_without(iris.json, removed), iris.stack)


def test_the_walk_fails_without_a_lambda_permission(iris):
    broken = json.loads(json.dumps(iris.json))
    broken["Resources"] = {k: v for k, v in broken["Resources"].items() if v["Type"] != "AWS::Lambda::Permission"}
    with pytest.raises(AssertionError, match="no Lambda permission"):
        walk_arrows(broken, iris.stack)


def test_the_walk_fails_when_api_gateway_would_create_the_execution_log_group(iris):
    broken = json.loads(json.dumps(iris.json))
    broken["Resources"] = {k: v for k, v in broken["Resources"].items() if "ExecutionLogs" not in k}
    for resource in broken["Resources"].values():
        if "DependsOn" in resource:
            resource["DependsOn"] = [d for d in as_list(resource["DependsOn"]) if "ExecutionLogs" not in d]
    with pytest.raises(AssertionError, match="never expires"):
        walk_arrows(broken, iris.stack)


def test_the_walk_fails_when_the_stage_may_start_before_its_execution_log_group(iris):
    broken = json.loads(json.dumps(iris.json))
    for resource in broken["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Stage":
            resource["DependsOn"] = [d for d in as_list(resource.get("DependsOn", [])) if "ExecutionLogs" not in d]
    with pytest.raises(AssertionError, match="must depend on"):
        walk_arrows(broken, iris.stack)


def test_the_walk_fails_on_an_unconditioned_service_principal(iris):
    broken = json.loads(json.dumps(iris.json))
    for resource in broken["Resources"].values():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow":
                    statement.pop("Condition", None)
    with pytest.raises(AssertionError, match="aws:SourceAccount"):
        walk_arrows(broken, iris.stack)


def test_an_alarm_named_outside_the_stack_prefix_cannot_publish(iris):
    broken = json.loads(json.dumps(iris.json))
    alarm = next(v for v in broken["Resources"].values() if v["Type"] == "AWS::CloudWatch::Alarm")
    alarm["Properties"]["AlarmName"] = "SomeoneElse-Alarm"
    with pytest.raises(AssertionError, match="does not match"):
        walk_arrows(broken, iris.stack)


def test_an_unknown_environment_reference_is_an_unchecked_arrow(iris):
    broken = json.loads(json.dumps(iris.json))
    queue = next(k for k, v in broken["Resources"].items() if v["Type"] == "AWS::SQS::Queue")
    function = next(v for v in broken["Resources"].values() if v["Type"] == "AWS::Lambda::Function")
    function["Properties"]["Environment"]["Variables"]["WORK_QUEUE"] = {"Ref": queue}
    with pytest.raises(pytest.fail.Exception, match="no rule"):
        walk_arrows(broken, iris.stack)


# --- every API front door (issue 11): the session's combinations app, walked like the default stacks ----------------
ACCOUNT_ROLE = "account-level API Gateway role (make preflight checks it; infra/account.py)"
HTTP_DELIVERY = "vended log delivery: CloudWatch Logs writes the log group's resource policy at deploy"
WAF_DELIVERY = "vended log delivery: WAF writes the log group's resource policy at deploy"


def _walk(api_combinations: Any, name: str, template: dict[str, Any] | None = None) -> Walk:
    return walk_arrows(template or api_combinations.templates[name], api_combinations.stacks[name])


def _copy(api_combinations: Any, name: str) -> dict[str, Any]:
    return json.loads(json.dumps(api_combinations.templates[name]))


def _of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_every_resource_type_of_each_api_combination_is_classified(api_combinations, name):
    unknown = unclassified(api_combinations.templates[name])
    assert not unknown, f"classify {sorted(unknown)}: add their arrows to CHECKS, or to NO_ARROWS if they act on nothing"


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_every_arrow_of_each_api_combination_is_permitted_on_both_sides(api_combinations, name):
    options = COMBINATIONS[name]
    walk = _walk(api_combinations, name)
    prefixes: tuple[str, ...] = (
        "API Gateway",
        "HTTP API",
        "REST access log",
        "HTTP access log",
        "Cognito authorizer",
        "JWT authorizer",
    )
    prefixes += ("REST execution log", "WAF association", "WAF logging", "alarm", "EventBridge", "Logs subscription", "Firehose")
    prefixes += ("Function URL", "Logs metric filter")
    count = {prefix: sum(a.startswith(prefix) for a in walk.arrows) for prefix in prefixes}
    rest, jwt = options.api_type is ApiType.REST, options.auth is ApiAuth.JWT
    http, url = options.api_type is ApiType.HTTP, options.api_type is ApiType.URL
    assert count["API Gateway"] == (2 if rest else 0)  # ANY / and ANY /{proxy+}, each on every stage
    assert count["HTTP API"] == int(http)  # one integration, checked for each of its 4 routes
    assert count["Function URL"] == int(url)
    assert count["Logs metric filter"] == 10  # iris: 7 metrics + one per class (infra.line_metrics)
    assert (count["REST access log"], count["HTTP access log"]) == (int(rest), int(http))
    assert count["REST execution log"] == int(rest)  # HTTP APIs have no execution logs
    assert (count["Cognito authorizer"], count["JWT authorizer"]) == ((int(rest and jwt), int(not rest and jwt)))
    assert count["WAF association"] == count["WAF logging"] == int(options.waf)
    # the rest of the service is the same whatever the API
    assert count["alarm"] >= 14 and count["EventBridge"] == 2 and count["Logs subscription"] == count["Firehose"] == 2
    # REST: the stack owns the account-level logging role by default, so it is not external
    expected_external = (set() if rest else {URL_CALLERS if url else HTTP_DELIVERY}) | ({WAF_DELIVERY} if options.waf else set())
    assert {reason for _, reason in walk.external} == expected_external


def test_the_snap_start_alias_is_what_the_http_api_may_invoke(api_combinations):
    walk = _walk(api_combinations, "HttpIam")
    (arrow,) = [a for a in walk.arrows if a.startswith("HTTP API")]
    assert "LiveAlias" in arrow


def test_the_default_owns_the_account_role_and_its_access_log_arrow_is_checked(iris):
    """The default stack needs no account-level prerequisite beyond `cdk bootstrap`: every side of every arrow
    is in its template (the API Gateway logging role included), and nothing reserves concurrency."""
    walk = walk_arrows(iris.json, iris.stack)
    assert any(a.startswith("REST access log") for a in walk.arrows)
    assert walk.external == []  # the account role's side is in the template, as is everything else
    assert not [
        f for f in resources(iris.json, "AWS::Lambda::Function").values() if "ReservedConcurrentExecutions" in f["Properties"]
    ]


def test_the_opt_out_leaves_the_account_role_to_the_account(wine):
    """`-c api_gateway_account_role=false`: the role is the account's (make preflight checks it exists)."""
    walk = walk_arrows(wine.json, wine.stack)
    assert {reason for _, reason in walk.external} == {ACCOUNT_ROLE}  # everything else is in wine's template


# --- the same walk must fail on each API combination when one side is removed ----------------------------------------
def _permissions_for_api_gateway(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p["Properties"]
        for p in _of_type(template, "AWS::Lambda::Permission")
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]


def test_the_walk_fails_without_the_http_apis_lambda_permission(api_combinations):
    broken = _copy(api_combinations, "HttpJwt")
    broken["Resources"] = {
        k: v for k, v in broken["Resources"].items()
        if not (v["Type"] == "AWS::Lambda::Permission" and v["Properties"]["Principal"] == "apigateway.amazonaws.com")
    }  # fmt: skip
    with pytest.raises(AssertionError, match="no Lambda permission for API Gateway"):
        _walk(api_combinations, "HttpJwt", broken)


def test_the_walk_fails_when_a_route_is_outside_the_permissions_scope(api_combinations):
    broken = _copy(api_combinations, "HttpJwt")
    for permission in _permissions_for_api_gateway(broken):
        parts = permission["SourceArn"]["Fn::Join"][1]
        parts[-1] = parts[-1].replace("{proxy+}", "health")
    with pytest.raises(AssertionError, match=r"route (GET|POST) /\{proxy\+\}"):
        _walk(api_combinations, "HttpJwt", broken)


def test_the_walk_fails_when_the_snap_start_permission_is_on_the_function_not_the_alias(api_combinations):
    broken = _copy(api_combinations, "HttpIam")
    function = next(
        k for k, v in broken["Resources"].items() if v["Type"] == "AWS::Lambda::Function" and "SnapStart" in v["Properties"]
    )
    for permission in _permissions_for_api_gateway(broken):
        permission["FunctionName"] = {"Fn::GetAtt": [function, "Arn"]}
    with pytest.raises(AssertionError, match="no Lambda permission for API Gateway on InferenceApiLiveAlias"):
        _walk(api_combinations, "HttpIam", broken)


def test_the_walk_fails_on_an_alias_without_snap_start(api_combinations):
    broken = _copy(api_combinations, "HttpIam")
    for function in _of_type(broken, "AWS::Lambda::Function"):
        function["Properties"].pop("SnapStart", None)
    with pytest.raises(AssertionError, match="alias without SnapStart"):
        _walk(api_combinations, "HttpIam", broken)


def test_the_walk_fails_without_the_rest_apis_lambda_permission_for_the_stage(api_combinations):
    broken = _copy(api_combinations, "RestJwt")
    stages = {k for k, v in broken["Resources"].items() if v["Type"] == "AWS::ApiGateway::Stage"}
    for permission in _permissions_for_api_gateway(broken):  # only the console's test-invoke permissions are left
        parts = permission["SourceArn"]["Fn::Join"][1]
        parts[:] = ["test-invoke-stage" if logical_id(part) in stages else part for part in parts]
    with pytest.raises(AssertionError, match="no Lambda permission for API Gateway"):
        _walk(api_combinations, "RestJwt", broken)


def test_the_walk_fails_on_a_cognito_authorizer_for_another_accounts_pool(api_combinations):
    broken = _copy(api_combinations, "RestJwt")
    (authorizer,) = _of_type(broken, "AWS::ApiGateway::Authorizer")
    authorizer["Properties"]["ProviderARNs"] = ["arn:aws:cognito-idp:eu-west-1:999999999999:userpool/eu-west-1_Other"]
    with pytest.raises(AssertionError, match="not a user pool of this account"):
        _walk(api_combinations, "RestJwt", broken)


def test_the_walk_fails_on_a_cognito_method_without_its_authorizer(api_combinations):
    broken = _copy(api_combinations, "RestJwt")
    for method in _of_type(broken, "AWS::ApiGateway::Method"):
        method["Properties"].pop("AuthorizerId")
    with pytest.raises(AssertionError, match="no Cognito authorizer"):
        _walk(api_combinations, "RestJwt", broken)


def test_the_walk_fails_on_a_jwt_route_without_its_authorizer(api_combinations):
    broken = _copy(api_combinations, "HttpJwtIssuer")
    for route in _of_type(broken, "AWS::ApiGatewayV2::Route"):
        route["Properties"].pop("AuthorizerId")
    with pytest.raises(AssertionError, match="no JWT authorizer"):
        _walk(api_combinations, "HttpJwtIssuer", broken)


def test_the_walk_fails_on_a_jwt_audience_that_is_not_the_pools_client(api_combinations):
    broken = _copy(api_combinations, "HttpJwt")
    (authorizer,) = _of_type(broken, "AWS::ApiGatewayV2::Authorizer")
    authorizer["Properties"]["JwtConfiguration"]["Audience"] = ["some-other-client"]
    with pytest.raises(AssertionError, match="not an app client"):
        _walk(api_combinations, "HttpJwt", broken)


def test_the_walk_fails_on_a_web_acl_that_cannot_guard_a_regional_stage(api_combinations):
    broken = _copy(api_combinations, "RestKeyWaf")
    (acl,) = _of_type(broken, "AWS::WAFv2::WebACL")
    acl["Properties"]["Scope"] = "CLOUDFRONT"
    with pytest.raises(AssertionError, match="REGIONAL"):
        _walk(api_combinations, "RestKeyWaf", broken)


def test_the_walk_fails_on_a_waf_association_with_a_stage_that_is_not_in_the_stack(api_combinations):
    broken = _copy(api_combinations, "RestKeyWaf")
    (association,) = _of_type(broken, "AWS::WAFv2::WebACLAssociation")
    association["Properties"]["ResourceArn"]["Fn::Join"][1][-1] = {"Ref": "SomeoneElsesStage"}
    with pytest.raises(AssertionError, match="not a REST stage of this stack"):
        _walk(api_combinations, "RestKeyWaf", broken)


def test_the_walk_fails_on_waf_logging_to_a_group_waf_cannot_write(api_combinations):
    broken = _copy(api_combinations, "RestKeyWaf")
    for group in _of_type(broken, "AWS::Logs::LogGroup"):
        if str(group["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs-"):
            group["Properties"]["LogGroupName"] = "waf-logs-RestKeyWaf"
    with pytest.raises(AssertionError, match="aws-waf-logs-"):
        _walk(api_combinations, "RestKeyWaf", broken)


def test_the_walk_fails_on_waf_logging_to_the_log_groups_arn_attribute(api_combinations):
    broken = _copy(api_combinations, "RestKeyWaf")
    (logging,) = _of_type(broken, "AWS::WAFv2::LoggingConfiguration")
    group = logging["DependsOn"][0]
    logging["Properties"]["LogDestinationConfigs"] = [{"Fn::GetAtt": [group, "Arn"]}]  # ends with ":*", which WAF refuses
    with pytest.raises(AssertionError, match="without the trailing"):
        _walk(api_combinations, "RestKeyWaf", broken)


def test_the_walk_fails_on_an_access_log_outside_the_stack(api_combinations):
    broken = _copy(api_combinations, "HttpJwt")
    (stage,) = _of_type(broken, "AWS::ApiGatewayV2::Stage")
    stage["Properties"]["AccessLogSettings"]["DestinationArn"] = "arn:aws:logs:eu-west-1:999999999999:log-group:elsewhere"
    with pytest.raises(AssertionError, match="not a log group ARN of this stack"):
        _walk(api_combinations, "HttpJwt", broken)


def test_the_walk_fails_when_the_stack_should_own_the_account_role_but_does_not(api_combinations):
    from types import SimpleNamespace

    stack = api_combinations.stacks["RestKey"]
    owning = SimpleNamespace(
        stack_name=stack.stack_name, region=stack.region, account=stack.account, api_gateway_account_role=True
    )
    broken = _copy(api_combinations, "RestKey")
    broken["Resources"] = {k: v for k, v in broken["Resources"].items() if v["Type"] != "AWS::ApiGateway::Account"}
    walk_arrows(api_combinations.templates["RestKey"], owning)  # the intact template passes
    with pytest.raises(AssertionError, match="should own the account-level role"):
        walk_arrows(broken, owning)


def test_the_walk_fails_when_api_gateway_cannot_assume_the_account_role(iris):
    with pytest.raises(AssertionError, match="cannot be assumed by API Gateway"):
        walk_arrows(_without(iris.json, lambda s: "apigateway.amazonaws.com" in principal_services(s)), iris.stack)


def test_an_unknown_api_resource_type_is_unclassified(api_combinations):
    broken = _copy(api_combinations, "HttpJwt")
    broken["Resources"]["Link"] = {"Type": "AWS::ApiGatewayV2::VpcLink", "Properties": {}}
    assert unclassified(broken) == {"AWS::ApiGatewayV2::VpcLink"}


def test_the_walk_fails_when_a_metric_filter_writes_another_namespace(api_combinations):
    broken = _copy(api_combinations, "UrlIam")
    (metric_filter, *_) = _of_type(broken, "AWS::Logs::MetricFilter")
    metric_filter["Properties"]["MetricTransformations"][0]["MetricNamespace"] = "Elsewhere"
    with pytest.raises(AssertionError, match="Logs metric filter"):
        _walk(api_combinations, "UrlIam", broken)


def test_the_walk_fails_on_a_function_url_anyone_may_call(api_combinations):
    broken = _copy(api_combinations, "UrlIam")
    (url,) = _of_type(broken, "AWS::Lambda::Url")
    url["Properties"]["AuthType"] = "NONE"
    with pytest.raises(AssertionError, match="every caller must sign"):
        _walk(api_combinations, "UrlIam", broken)
