"""Monitor: a scheduled Lambda that queries the prediction log and alerts on drift and outliers.

It runs every minute (EventBridge), reads the last `window_minutes` of prediction
records with Logs Insights, compares them with the training baseline shipped in
its code asset, keeps alert state in DynamoDB (so an alert is sent once per
episode, not every minute) and publishes to the alert topic.

Failed runs are not retried (the next run a minute later covers the same window);
they land in an SQS dead-letter queue instead (`infra.scheduled_function`).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.contract import names
from infra.alerts import Alerts
from infra.constants import MONITOR_HANDLER
from infra.scheduled_function import scheduled_function

SCHEDULE_EXPRESSION = "rate(1 minute)"
MONITOR_TIMEOUT = Duration.seconds(50)  # > 2 x QUERY_TIMEOUT_SECONDS (20) and < the 60 s schedule period
# Logs Insights actions that take a query id, not a log group: they cannot be scoped to a resource.
QUERY_RESULT_ACTIONS = ("logs:GetQueryResults", "logs:StopQuery")
# What the monitor calls on its alert-state table (functions/monitor/adapters.py): nothing else.
ALERT_STATE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")
# The inference function's per-minute row count, compared with the rows the monitor read (late records).
METRIC_READ_ACTIONS = ("cloudwatch:GetMetricData",)
DEFAULT_HORIZONS = "2,15,60,1440"  # minutes; one setting (functions/monitor/settings.py validates it)
DEFAULT_SETTLE_MINUTES = 2
DEFAULT_NO_TRAFFIC_MINUTES = 15


class Monitor(Construct):
    """Monitor function, its schedule, alert-state table, dead-letter queue and scoped IAM."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        inference_log_group: logs.ILogGroup,
        alerts: Alerts,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        schedule_expression: str = SCHEDULE_EXPRESSION,
        window_minutes: int = 2,
        horizons: str = DEFAULT_HORIZONS,
        settle_minutes: int = DEFAULT_SETTLE_MINUTES,
        no_traffic_minutes: int = DEFAULT_NO_TRAFFIC_MINUTES,
        query_timeout_seconds: int = 20,
        timeout: Duration = MONITOR_TIMEOUT,
        memory_mb: int = 512,
        log_level: str = "INFO",
        reserved_concurrency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Queries can take up to query_timeout_seconds, plus start-up and publishing; keep a 2x margin,
        # and stay under the 1-minute schedule so runs never overlap.
        if timeout.to_seconds() < 2 * query_timeout_seconds:
            raise ValueError(f"monitor timeout {timeout.to_seconds()} s must be at least twice QUERY_TIMEOUT_SECONDS")
        if timeout.to_seconds() >= 60:
            raise ValueError("monitor timeout must stay below the 1-minute schedule so runs do not overlap")

        self.table = dynamodb.Table(
            self,
            "AlertState",
            partition_key=dynamodb.Attribute(name=names.ALERT_STATE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
        )

        # One item per model-minute (hourly roll-ups beside them), expired by TTL (functions/monitor/minute_store.py).
        self.minute_table = dynamodb.Table(
            self,
            "MinuteAggregates",
            partition_key=dynamodb.Attribute(name=names.MINUTE_TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=names.MINUTE_TABLE_SORT_KEY, type=dynamodb.AttributeType.NUMBER),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=names.MINUTE_TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
        )

        parts = scheduled_function(
            self,
            description="Prediction monitor: drift, outliers and rejects against the training baseline",
            role_description="Monitor function: query the inference log group, publish alerts, keep alert state",
            handler=MONITOR_HANDLER,
            service_name=names.MONITOR_SERVICE,
            code=code,
            layers=layers,
            memory_mb=memory_mb,
            timeout=timeout,
            max_event_age=Duration.minutes(5),
            log_level=log_level,
            log_retention=log_retention,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
            environment={
                names.ENV_INFERENCE_LOG_GROUP: inference_log_group.log_group_name,
                names.ENV_ALERT_TOPIC_ARN: alerts.topic.topic_arn,
                names.ENV_ALERT_STATE_TABLE: self.table.table_name,
                names.ENV_WINDOW_MINUTES: str(window_minutes),
                names.ENV_QUERY_TIMEOUT_SECONDS: str(query_timeout_seconds),
                names.ENV_MINUTE_TABLE: self.minute_table.table_name,
                names.ENV_MONITOR_HORIZONS: horizons,
                names.ENV_SETTLE_MINUTES: str(settle_minutes),
                names.ENV_NO_TRAFFIC_MINUTES: str(no_traffic_minutes),
            },
        )
        self.dead_letter_queue = parts.dead_letter_queue
        self.log_group = parts.log_group
        self.role = parts.role
        self.function = parts.function
        self.grant_query(self.role, inference_log_group)
        alerts.grant_publish(self.role)
        self.table.grant(self.role, *ALERT_STATE_ACTIONS)
        self.minute_table.grant_read_write_data(self.role)
        # GetMetricData supports no resource-level permissions (Service Authorization Reference).
        iam.Grant.add_to_principal(grantee=self.role, actions=list(METRIC_READ_ACTIONS), resource_arns=["*"])
        self.rule = parts.schedule(self, description="Runs the prediction monitor every minute", expression=schedule_expression)

    @staticmethod
    def grant_query(grantee: iam.IGrantable, log_group: logs.ILogGroup) -> iam.Grant:
        """Logs Insights on one log group: StartQuery scoped to it, result calls unscoped (they take a query id).

        The log group is named in both ARN forms (`...:log-group:NAME`, and the `...:log-group:NAME:*`
        that CloudFormation's Arn attribute returns) because IAM matches whichever form the Logs API
        authorises against; both name this one log group only.
        """
        stack = Stack.of(log_group)
        bare_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        start = iam.Grant.add_to_principal(
            grantee=grantee, actions=["logs:StartQuery"], resource_arns=[bare_arn, log_group.log_group_arn]
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=list(QUERY_RESULT_ACTIONS), resource_arns=["*"])
        return start
