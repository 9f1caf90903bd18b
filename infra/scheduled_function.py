"""The scaffolding shared by the scheduled functions (monitor, quality): one place for their common settings.

Each gets a dead-letter queue, its own log group and role, a function that is never retried (reserved to one
run at a time only with `reserved_concurrency`), and an EventBridge schedule. A failed run is not retried (the
next scheduled run covers the same data); it lands in the dead-letter queue instead, both when Lambda fails the
asynchronous invocation and when EventBridge cannot deliver the event at all.

The resources are created directly in the caller's construct (no construct of their own), so their logical
ids stay those of the caller's children: "DeadLetterQueue", "FunctionLogs", "FunctionRole", "Function",
"Schedule".
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.contract import names
from infra.inference_api import ARCHITECTURE, MODEL_DIR, RUNTIME, function_role

# `-c reserved_concurrency=true`: one run at a time, reserved from the account's pool. Off by default: Lambda keeps
# 100 executions unreserved, so an account whose quota is 10 (new and sandbox accounts) cannot reserve any and the
# deploy would fail. Correctness does not rest on it: the alert state's conditional write makes runs single-flight.
RESERVED_EXECUTIONS = 1
DEAD_LETTER_RETENTION = Duration.days(14)
SCHEDULE_RETRY_ATTEMPTS = 2  # EventBridge's delivery retries; the function's own retries are 0


@dataclass(frozen=True)
class ScheduledFunction:
    dead_letter_queue: sqs.Queue
    log_group: logs.LogGroup
    role: iam.Role
    function: lambda_.Function
    max_event_age: Duration

    def schedule(self, scope: Construct, *, description: str, expression: str) -> events.Rule:
        """The EventBridge rule ("Schedule") that invokes the function; undeliverable events go to the dead-letter queue."""
        return events.Rule(
            scope,
            "Schedule",
            description=description,
            schedule=events.Schedule.expression(expression),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=self.max_event_age,
                )
            ],
        )


def scheduled_function(
    scope: Construct,
    *,
    description: str,
    role_description: str,
    handler: str,
    service_name: str,
    code: lambda_.Code,
    layers: list[lambda_.ILayerVersion],
    memory_mb: int,
    timeout: Duration,
    max_event_age: Duration,
    log_level: str,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    environment: dict[str, str],
    reserved_concurrency: bool = False,
) -> ScheduledFunction:
    """Dead-letter queue, log group, role and function in `scope`; `environment` follows the common variables."""
    dead_letter_queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    log_group = logs.LogGroup(scope, "FunctionLogs", retention=log_retention, removal_policy=removal_policy)
    role = function_role(scope, log_group, role_description)
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=code,
        layers=layers,
        memory_size=memory_mb,
        timeout=timeout,
        role=role,
        log_group=log_group,
        retry_attempts=0,
        reserved_concurrent_executions=RESERVED_EXECUTIONS if reserved_concurrency else None,
        max_event_age=max_event_age,
        on_failure=destinations.SqsDestination(dead_letter_queue),
        environment={
            names.ENV_MODEL_DIR: MODEL_DIR,
            names.ENV_SERVICE_NAME: service_name,
            names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            names.ENV_LOG_LEVEL: log_level,
            **environment,
        },
    )
    return ScheduledFunction(dead_letter_queue, log_group, role, function, max_event_age)
