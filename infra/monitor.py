"""Monitor: a scheduled Lambda that queries the prediction log and alerts on drift and outliers.

It runs every minute (EventBridge), reads the last `window_minutes` of prediction
records with Logs Insights, compares them with the training baseline shipped in
its code asset, keeps alert state in DynamoDB (so an alert is sent once per
episode, not every minute) and publishes to the alert topic.

Failed runs are not retried (the next run a minute later covers the same window);
they land in an SQS dead-letter queue instead, both when Lambda fails the async
invocation and when EventBridge cannot deliver the event at all.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.contract import names
from infra.alerts import Alerts
from infra.constants import MONITOR_HANDLER
from infra.inference_api import ARCHITECTURE, MODEL_DIR, RUNTIME

SCHEDULE_EXPRESSION = "rate(1 minute)"
MONITOR_TIMEOUT = Duration.seconds(50)  # > 2 x QUERY_TIMEOUT_SECONDS (20) and < the 60 s schedule period
# Logs Insights actions that take a query id, not a log group: they cannot be scoped to a resource.
QUERY_RESULT_ACTIONS = ("logs:GetQueryResults", "logs:StopQuery")
# What the monitor calls on its alert-state table (functions/monitor/adapters.py): nothing else.
ALERT_STATE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")
# One run at a time: a delayed asynchronous retry can never overlap the next scheduled run.
MONITOR_RESERVED_CONCURRENCY = 1


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
        query_timeout_seconds: int = 20,
        timeout: Duration = MONITOR_TIMEOUT,
        memory_mb: int = 512,
        log_level: str = "INFO",
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

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

        self.log_group = logs.LogGroup(self, "FunctionLogs", retention=log_retention, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Monitor function: query the inference log group, publish alerts, keep alert state",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description="Prediction monitor: drift, outliers and rejects against the training baseline",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=MONITOR_HANDLER,
            code=code,
            layers=layers,
            memory_size=memory_mb,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            retry_attempts=0,
            reserved_concurrent_executions=MONITOR_RESERVED_CONCURRENCY,
            max_event_age=Duration.minutes(5),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            environment={
                names.ENV_MODEL_DIR: MODEL_DIR,
                names.ENV_SERVICE_NAME: names.MONITOR_SERVICE,
                names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
                names.ENV_LOG_LEVEL: log_level,
                names.ENV_INFERENCE_LOG_GROUP: inference_log_group.log_group_name,
                names.ENV_ALERT_TOPIC_ARN: alerts.topic.topic_arn,
                names.ENV_ALERT_STATE_TABLE: self.table.table_name,
                names.ENV_WINDOW_MINUTES: str(window_minutes),
                names.ENV_QUERY_TIMEOUT_SECONDS: str(query_timeout_seconds),
            },
        )
        self.grant_query(self.role, inference_log_group)
        alerts.grant_publish(self.role)
        self.table.grant(self.role, *ALERT_STATE_ACTIONS)

        self.rule = events.Rule(
            self,
            "Schedule",
            description="Runs the prediction monitor every minute",
            schedule=events.Schedule.expression(schedule_expression),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(5),
                )
            ],
        )

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
