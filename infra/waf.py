"""A WAFv2 web ACL on the REST API stage (`-c waf=true`): AWS managed rules, a per-IP rate limit, logging.

Rules, in priority order:
1. `RateLimitPerIp`: block a source address above `rate_limit` requests in 5 minutes, before any other rule
   spends capacity on it. The stage throttle limits everyone together; this keeps one address from using it up.
2. `AWSManagedRulesCommonRuleSet` (OWASP-style: XSS, LFI, SSRF, bad bots' user agents...) with one override:
   `SizeRestrictions_BODY` counts instead of blocking. It blocks bodies over 8 KB, and a 1,000-row request is
   ~25 KB (iris) to ~120 KB (wine) of legitimate JSON; the function itself refuses bodies over 1 MiB (413).
3. `AWSManagedRulesKnownBadInputsRuleSet` (Log4Shell, Spring4Shell patterns, exploitable paths).

WAF sees the first 16 KB of a body (API Gateway's default inspection limit; 32-64 KB cost extra); the rules
inspect that part, and the rest of a large request is left to the function's own validation.

Logging goes to a CloudWatch log group whose name must start with `aws-waf-logs-`. Only requests WAF blocked or
counted are kept (a logging filter): a WAF log record is ~1-2 KB, and logging every allowed request would cost
more than WAF itself ($0.50/GB ingested). The `x-api-key` and `authorization` headers are redacted: WAF logs
headers verbatim and those are credentials.

Cost (us-east-1 list price, 2026-11): $5 per web ACL-month + $1 per rule or rule group-month (3 here) +
$0.60 per million requests inspected. The two AWS managed groups use 700 + 200 WCU of the 1,500 included.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"  # required by WAF for CloudWatch Logs destinations
RATE_WINDOW_SECONDS = 300
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
COUNT_ONLY_RULES = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
REDACTED_HEADERS = ("x-api-key", "authorization")


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class ApiWebAcl(Construct):
    """Web ACL + association with one REST API stage + logging of blocked and counted requests."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_arn: str,
        name: str,
        rate_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        rules: list[wafv2.CfnWebACL.RuleProperty] = [
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=RATE_WINDOW_SECONDS
                    )
                ),
                visibility_config=_visibility(f"{name}-rate-limit"),
            )
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),  # keep the group's own actions
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in COUNT_ONLY_RULES.get(group, ())
                            ]
                            or None,
                        )
                    ),
                    visibility_config=_visibility(f"{name}-{group}"),
                )
            )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description="Inference API: AWS managed common and known-bad-inputs rules, per-IP rate limit",
            rules=rules,
            visibility_config=_visibility(name),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{WAF_LOG_GROUP_PREFIX}{name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # WAF wants the log group ARN without the trailing ":*" that LogGroup.log_group_arn carries.
        log_group_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header}) for header in REDACTED_HEADERS
            ],
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [
                            {"ActionCondition": {"Action": "BLOCK"}},
                            {"ActionCondition": {"Action": "COUNT"}},
                        ],
                    }
                ],
            },
        )
        self.logging.node.add_dependency(self.log_group)

    @property
    def arn(self) -> str:
        return self.web_acl.attr_arn
