"""Quality: a scheduled Lambda that joins ground-truth feedback to predictions in Athena (realized accuracy).

It runs hourly by default (`-c quality_schedule=...`), starts one query in the stack's
Athena workgroup over the archive's two Glue tables, compares realized accuracy with the
hold-out figures in `baseline.json`, and alerts through the same alert-state table and
topic as the monitor. IAM is scoped to what that needs: queries in this workgroup only;
the Glue catalog, this database and its two tables; reads of the predictions and
feedback prefixes; reads and writes of the workgroup's results prefix only.

Failed runs are not retried (the next run re-reads the same lookback); they land in a
dead-letter queue, which raises an alarm, as does a schedule that stops invoking it.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.contract import names
from infra.alerts import Alerts
from infra.archive import LogArchive
from infra.constants import QUALITY_HANDLER, QUALITY_LOOKBACK_DAYS, QUALITY_SCHEDULE
from infra.monitor import ALERT_STATE_ACTIONS
from infra.scheduled_function import scheduled_function

# Athena: start a query, poll it, page its results, cancel it on timeout. All on the stack's workgroup.
ATHENA_ACTIONS = (
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
)
# What Athena asks the Glue Data Catalog for on the caller's behalf when planning a query.
GLUE_ACTIONS = ("glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable")
ARCHIVE_READ_OBJECT_ACTIONS = ("s3:GetObject",)
# Bucket-level calls Athena makes for reading and writing results (AWS: "Access to Amazon S3" for Athena).
ARCHIVE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
ARCHIVE_LIST_ACTIONS = ("s3:ListBucket",)  # only under the two data prefixes and the results prefix
RESULTS_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject")
QUALITY_TIMEOUT = Duration.minutes(5)  # an Athena query over 7 days of gzip JSON: seconds; keep room for queueing
QUALITY_MEMORY_MB = 512


class Quality(Construct):
    """Quality function, its schedule, dead-letter queue and scoped IAM."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        archive: LogArchive,
        alerts: Alerts,
        alert_state_table: dynamodb.ITable,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        schedule_expression: str = QUALITY_SCHEDULE,
        lookback_days: int = QUALITY_LOOKBACK_DAYS,
        timeout: Duration = QUALITY_TIMEOUT,
        memory_mb: int = QUALITY_MEMORY_MB,
        log_level: str = "INFO",
        reserved_concurrency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedule_expression = schedule_expression
        parts = scheduled_function(
            self,
            description="Realized model quality: feedback joined to predictions in Athena, against the hold-out",
            role_description="Quality function: Athena queries in the stack's workgroup over the archive, alerts, alert state",
            handler=QUALITY_HANDLER,
            service_name=names.QUALITY_SERVICE,
            code=code,
            layers=layers,
            memory_mb=memory_mb,
            timeout=timeout,
            max_event_age=Duration.minutes(30),
            log_level=log_level,
            log_retention=log_retention,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
            environment={
                names.ENV_ALERT_TOPIC_ARN: alerts.topic.topic_arn,
                names.ENV_ALERT_STATE_TABLE: alert_state_table.table_name,
                names.ENV_ATHENA_WORKGROUP: archive.workgroup.ref,  # Ref = name; orders creation after the workgroup
                names.ENV_ATHENA_DATABASE: archive.database_name,
                names.ENV_PREDICTIONS_TABLE: archive.table_name,
                names.ENV_FEEDBACK_TABLE: archive.feedback_table_name,
                names.ENV_QUALITY_LOOKBACK_DAYS: str(lookback_days),
            },
        )
        self.dead_letter_queue = parts.dead_letter_queue
        self.log_group = parts.log_group
        self.role = parts.role
        self.function = parts.function
        self.grant_athena(self.role, archive)
        alerts.grant_publish(self.role)
        alert_state_table.grant(self.role, *ALERT_STATE_ACTIONS)
        self.rule = parts.schedule(
            self,
            description="Runs the model-quality evaluation (realized accuracy from feedback)",
            expression=schedule_expression,
        )

    @staticmethod
    def grant_athena(grantee: iam.IGrantable, archive: LogArchive) -> None:
        """Athena in the stack's workgroup over the archive's two tables, and nothing else of the bucket."""
        stack = Stack.of(archive)
        bucket = archive.bucket
        iam.Grant.add_to_principal(grantee=grantee, actions=list(ATHENA_ACTIONS), resource_arns=[archive.workgroup_arn])
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(GLUE_ACTIONS),
            resource_arns=[
                stack.format_arn(service="glue", resource="catalog"),
                archive.database_arn,
                archive.table_arn(archive.table_name),
                archive.table_arn(archive.feedback_table_name),
            ],
        )
        read_prefixes = (archive.data_prefix, archive.feedback_prefix)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(ARCHIVE_READ_OBJECT_ACTIONS),
            resource_arns=[bucket.arn_for_objects(f"{prefix}*") for prefix in read_prefixes],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(RESULTS_OBJECT_ACTIONS),
            resource_arns=[bucket.arn_for_objects(f"{archive.results_prefix}*")],
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=list(ARCHIVE_BUCKET_ACTIONS), resource_arns=[bucket.bucket_arn])
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(ARCHIVE_LIST_ACTIONS),
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [*(f"{p}*" for p in read_prefixes), f"{archive.results_prefix}*"]}},
            )
        )
        if archive.encryption_key is not None:
            archive.encryption_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
