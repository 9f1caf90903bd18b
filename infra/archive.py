"""Log archive: prediction and feedback records → subscription filters → Firehose → S3 (gzip JSON lines) → Glue/Athena.

CloudWatch Logs delivers subscription data to Firehose gzip-compressed inside its
own JSON envelope. Firehose's built-in processors decompress it and extract each
log event's message, so S3 holds exactly the contract's JSON lines (one per
predicted row), gzip-compressed and partitioned by day. A Glue table with the
OpenX JSON SerDe and partition projection (no crawler, no MSCK REPAIR) makes them
queryable from Athena and reusable as training data.

Why gzip JSON rather than Parquet: Parquet conversion needs 64 MiB+ buffers
(files appear hours late at low traffic), costs extra per GB converted, and
makes the Glue schema a hard contract that rejects records when the log evolves.
At ~400 bytes per record gzip JSON is already ~10x smaller than the raw logs.

Two record kinds, two subscription filters (CloudWatch Logs allows two per log group),
two delivery streams, two prefixes, two Glue tables in one database named after the
stack: `predictions_<model>` and `feedback_<model>`. Firehose has no per-stream fee, so
the second stream costs only its (tiny) ingestion. The delivery streams are written as
CloudFormation resources with their own roles because CDK's Firehose S3 destination
always grants `bucket.grantReadWrite` (including `s3:DeleteObject*`), which Firehose
never needs: each role gets exactly the actions AWS lists for an S3 destination, on its
own prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as contract
from functions.contract.model_artifact import FEATURE_CATEGORICAL, FEATURE_NUMERIC, Baseline
from infra.constants import (
    ACCESS_LOGS_PREFIX,
    ARCHIVE_ERROR_PREFIX,
    ARCHIVE_PREFIX,
    ATHENA_RESULTS_PREFIX,
    FEEDBACK_PREFIX,
)

PARTITION_KEY = "dt"
PARTITION_FORMAT = "yyyy-MM-dd"  # Firehose timestamp namespace and Athena partition projection share it
PROJECTION_START = "2026-01-01"
INFREQUENT_ACCESS_AFTER = Duration.days(30)  # Athena reads recent days most; older data is for training sets
GLACIER_AFTER = Duration.days(90)  # Glacier Instant Retrieval: still queryable, ~1/5 of Standard storage
NONCURRENT_VERSIONS_EXPIRE_AFTER = Duration.days(30)  # with versioning: how long a deleted/overwritten object is kept
BUFFERING_INTERVAL = Duration.minutes(5)  # files per 5 minutes: fresh enough, few small objects
# Column names that are reserved words in Athena/Trino SQL get a plain name, mapped back by the SerDe.
RENAMED_KEYS = {contract.KEY_ROW: "row_index", contract.KEY_TIMESTAMP: "timestamp_ms"}
# What AWS lists for a Firehose S3 destination ("Grant Firehose access to an Amazon S3 destination"): no delete.
FIREHOSE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
FIREHOSE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")
FIREHOSE_PUT_ACTIONS = ("firehose:PutRecord", "firehose:PutRecordBatch")
# Feedback lines (POST /feedback): one ground-truth label per predicted row.
FEEDBACK_KEYS = (
    contract.KEY_MESSAGE,
    contract.KEY_TIMESTAMP,
    contract.KEY_REQUEST_ID,
    contract.KEY_ROW,
    contract.KEY_MODEL,
    contract.KEY_MODEL_VERSION,
    contract.KEY_LABEL,
    contract.KEY_LABEL_INDEX,
)
_SCALAR_TYPES = {
    contract.KEY_MESSAGE: "string",
    contract.KEY_TIMESTAMP: "bigint",
    contract.KEY_REQUEST_ID: "string",
    contract.KEY_ROW: "int",
    contract.KEY_ENDPOINT: "string",
    contract.KEY_MODEL: "string",
    contract.KEY_MODEL_VERSION: "string",
    contract.KEY_PREDICTION: "string",
    contract.KEY_CLASS_INDEX: "int",
    contract.KEY_CONFIDENCE: "double",
    contract.KEY_RECONSTRUCTION_ERROR: "double",  # null for models without the joint-drift model
    contract.KEY_PROBABILITIES: "array<double>",
    contract.KEY_IS_OUTLIER: "boolean",
    contract.KEY_OUTLIER_SCORE: "double",
    contract.KEY_LATENCY_MS: "double",
    contract.KEY_LABEL: "string",
    contract.KEY_LABEL_INDEX: "int",
    contract.KEY_CALLER: "string",  # Function URL deployments; null elsewhere (the access log names the caller)
    contract.KEY_UNSEEN_CATEGORIES: "array<string>",  # rows with an unlisted category; null elsewhere
}
# A feature's Glue type inside the `features` struct. The OpenX SerDe fails the query on a value it cannot read as
# the column's type (`use.null.for.invalid.data` defaults to FALSE), so a category typed double would break every
# query of the table, not only those that read the feature.
FEATURE_GLUE_TYPES = {FEATURE_NUMERIC: "double", FEATURE_CATEGORICAL: "string"}


def glue_name(text: str) -> str:
    """Glue/Athena identifier: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def prediction_keys() -> tuple[str, ...]:
    """The contract's prediction keys, then the optional ones (`caller`: a column that is null where lines lack it)."""
    keys = tuple(contract.PREDICTION_KEYS)
    if contract.KEY_CONFIDENCE not in keys:
        keys += (contract.KEY_CONFIDENCE,)
    return keys + tuple(contract.OPTIONAL_PREDICTION_KEYS)


def _columns(keys: tuple[str, ...], types: dict[str, str]) -> list[glue.CfnTable.ColumnProperty]:
    missing = set(keys) - set(types)
    if missing:
        raise ValueError(f"no Glue type for log keys {sorted(missing)}")
    return [glue.CfnTable.ColumnProperty(name=RENAMED_KEYS.get(key, key), type=types[key]) for key in keys]


def features_struct(baseline: Baseline) -> str:
    """The `features` column: one field per feature in input order, numbers as double and categories as string."""
    fields = zip(baseline.feature_names, baseline.feature_types, strict=True)
    return "struct<" + ",".join(f"{name}:{FEATURE_GLUE_TYPES[kind]}" for name, kind in fields) + ">"


def glue_columns(baseline: Baseline) -> list[glue.CfnTable.ColumnProperty]:
    """Glue columns of the prediction log for one model; the features struct follows the baseline's feature types."""
    features = features_struct(baseline)
    return _columns(prediction_keys(), {**_SCALAR_TYPES, contract.KEY_FEATURES: features})


def feedback_columns() -> list[glue.CfnTable.ColumnProperty]:
    return _columns(FEEDBACK_KEYS, _SCALAR_TYPES)


@dataclass(frozen=True)
class ArchivedRecords:
    """One record kind's path: subscription filter → delivery stream → prefix → Glue table."""

    kind: str
    prefix: str  # "<kind prefix>/model=<model>/"
    error_prefix: str  # "errors/<kind prefix>/"
    stream: firehose.CfnDeliveryStream
    role: iam.Role
    policy: iam.Policy
    subscription_filter: logs.CfnSubscriptionFilter
    table: glue.CfnTable
    table_name: str

    @property
    def stream_name(self) -> str:
        return self.stream.ref


class LogArchive(Construct):
    """Archive bucket, two delivery streams and filters, Glue database with two tables, Athena workgroup."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_log_group: logs.ILogGroup,
        baseline: Baseline,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        infrequent_access_after: Duration = INFREQUENT_ACCESS_AFTER,
        glacier_after: Duration = GLACIER_AFTER,
        expire_after: Duration | None = None,
        buffering_interval: Duration = BUFFERING_INTERVAL,
        encryption_key: kms.IKey | None = None,
        versioned: bool = False,
        access_logs_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        model = baseline.model_name
        self.model = model
        self.encryption_key = encryption_key
        self.data_prefix = f"{ARCHIVE_PREFIX}/{names.MODEL_DIMENSION}={model}/"
        self.feedback_prefix = f"{FEEDBACK_PREFIX}/{names.MODEL_DIMENSION}={model}/"
        if expire_after is not None and expire_after.to_days() <= glacier_after.to_days():
            raise ValueError(f"archive expiry ({expire_after.to_days()} days) must come after the move to Glacier IR")

        data_rules = [
            s3.LifecycleRule(
                id=f"{kind}-to-cheaper-storage",
                prefix=f"{kind}/",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=infrequent_access_after),
                    s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=glacier_after),
                ],
                expiration=expire_after,
            )
            for kind in (ARCHIVE_PREFIX, FEEDBACK_PREFIX)
        ]
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=True if encryption_key else None,  # one KMS call per object batch, not per object
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned or None,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=ACCESS_LOGS_PREFIX if access_logs_bucket else None,
            # Training data outlives the stack: `cdk destroy` leaves the bucket (delete it by hand).
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                *data_rules,
                s3.LifecycleRule(id="expire-delivery-errors", prefix=f"{ARCHIVE_ERROR_PREFIX}/", expiration=Duration.days(30)),
                s3.LifecycleRule(id="expire-query-results", prefix=f"{ATHENA_RESULTS_PREFIX}/", expiration=Duration.days(7)),
                s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
                *(
                    [
                        s3.LifecycleRule(
                            id="expire-noncurrent-versions",
                            noncurrent_version_expiration=NONCURRENT_VERSIONS_EXPIRE_AFTER,
                            expired_object_delete_marker=True,
                        )
                    ]
                    if versioned
                    else []
                ),
            ],
        )

        self.delivery_log_group = logs.LogGroup(
            self, "DeliveryErrors", retention=log_retention, removal_policy=removal_policy, encryption_key=encryption_key
        )
        # CloudWatch Logs → Firehose: one role for both filters, assumable only by Logs on behalf of this account.
        self.logs_role = iam.Role(
            self,
            "LogsToFirehoseRole",
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    # As in AWS's example for Logs → Firehose subscriptions: any log resource of this account and region.
                    "StringLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"},
                },
            ),
            description="CloudWatch Logs subscription filters: put records into the archive delivery streams",
        )

        self.database_name = glue_name(f"{stack.stack_name}")
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description=f"Prediction and feedback logs of stack {stack.stack_name}"
            ),
        )
        self.predictions = self._archive(
            "Predictions",
            kind=ARCHIVE_PREFIX,
            prefix=self.data_prefix,
            filter_pattern=names.PREDICTION_FILTER_PATTERN,
            source_log_group=source_log_group,
            columns=glue_columns(baseline),
            description=f"Prediction log of model '{model}' (one row per predicted row)",
            buffering_interval=buffering_interval,
        )
        self.feedback = self._archive(
            "Feedback",
            kind=FEEDBACK_PREFIX,
            prefix=self.feedback_prefix,
            filter_pattern=names.FEEDBACK_FILTER_PATTERN,
            source_log_group=source_log_group,
            columns=feedback_columns(),
            description=f"Ground-truth labels of model '{model}' (one row per labelled row; latest wins)",
            buffering_interval=buffering_interval,
        )
        self.table = self.predictions.table
        self.table_name = self.predictions.table_name
        self.feedback_table_name = self.feedback.table_name
        self.delivery_stream_name = self.predictions.stream_name
        self.columns = glue_columns(baseline)

        self.workgroup_name = f"{stack.stack_name}-{model}"
        self.results_prefix = f"{ATHENA_RESULTS_PREFIX}/"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="Queries over the prediction archive; results encrypted, kept 7 days",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=10 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{self.results_prefix}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=encryption_key.key_arn
                    )
                    if encryption_key
                    else athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option="SSE_S3"),
                ),
            ),
        )

    def _archive(
        self,
        construct_id: str,
        *,
        kind: str,
        prefix: str,
        filter_pattern: str,
        source_log_group: logs.ILogGroup,
        columns: list[glue.CfnTable.ColumnProperty],
        description: str,
        buffering_interval: Duration,
    ) -> ArchivedRecords:
        stack = Stack.of(self)
        error_prefix = f"{ARCHIVE_ERROR_PREFIX}/{kind}/"
        log_stream = logs.LogStream(
            self, f"{construct_id}DeliveryErrorStream", log_group=self.delivery_log_group, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            f"{construct_id}FirehoseRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"Firehose: write {kind} records under {prefix} of the archive bucket (no delete)",
        )
        policy = iam.Policy(
            self,
            f"{construct_id}FirehosePolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=list(FIREHOSE_BUCKET_ACTIONS), resources=[self.bucket.bucket_arn]),
                iam.PolicyStatement(
                    actions=list(FIREHOSE_OBJECT_ACTIONS),
                    resources=[self.bucket.arn_for_objects(f"{prefix}*"), self.bucket.arn_for_objects(f"{error_prefix}*")],
                ),
                iam.PolicyStatement(
                    actions=["logs:PutLogEvents"],
                    resources=[
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"{self.delivery_log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
            ],
        )
        if self.encryption_key is not None:
            # SSE-KMS objects: Firehose encrypts through S3 only (kms:ViaService), for this bucket only. The bucket has an
            # S3 Bucket Key, so S3 asks KMS with the BUCKET's ARN as encryption context, not the object's (S3 User Guide,
            # "Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys"): an `<bucket>/*` condition alone would deny every
            # put. The object form stays allowed too, for a put that opts out of the Bucket Key; both name this bucket only.
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.encryption_key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": [self.bucket.bucket_arn, f"{self.bucket.bucket_arn}/*"]
                        },
                    },
                )
            )
        encryption = (
            firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="CUSTOMER_MANAGED_CMK", key_arn=self.encryption_key.key_arn
            )
            if self.encryption_key is not None
            else firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(key_type="AWS_OWNED_CMK")
        )
        processor = firehose.CfnDeliveryStream.ProcessorProperty
        parameter = firehose.CfnDeliveryStream.ProcessorParameterProperty
        stream = firehose.CfnDeliveryStream(
            self,
            f"{construct_id}Stream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=encryption,
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{prefix}{PARTITION_KEY}=!{{timestamp:{PARTITION_FORMAT}}}/",
                error_output_prefix=f"{error_prefix}!{{firehose:error-output-type}}/{PARTITION_KEY}=!{{timestamp:{PARTITION_FORMAT}}}/",
                compression_format="GZIP",
                file_extension=".json.gz",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=int(buffering_interval.to_seconds()), size_in_m_bs=64
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.delivery_log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        processor(
                            type="Decompression",
                            parameters=[parameter(parameter_name="CompressionFormat", parameter_value="GZIP")],
                        ),
                        processor(
                            type="CloudWatchLogProcessing",
                            parameters=[parameter(parameter_name="DataMessageExtraction", parameter_value="true")],
                        ),
                        processor(type="AppendDelimiterToRecord"),  # one JSON object per line for the SerDe
                    ],
                ),
            ),
        )
        stream.node.add_dependency(policy)  # the role must be able to write before the first delivery
        put = iam.Policy(
            self,
            f"{construct_id}LogsPutPolicy",
            roles=[self.logs_role],
            statements=[iam.PolicyStatement(actions=list(FIREHOSE_PUT_ACTIONS), resources=[stream.attr_arn])],
        )
        subscription = logs.CfnSubscriptionFilter(
            self,
            f"{construct_id}Filter",
            log_group_name=source_log_group.log_group_name,
            destination_arn=stream.attr_arn,
            role_arn=self.logs_role.role_arn,
            filter_pattern=filter_pattern,
            filter_name=f"{stack.stack_name}-{kind}-to-archive",
        )
        subscription.node.add_dependency(put)

        table_name = f"{kind}_{self.model}"
        location = f"s3://{self.bucket.bucket_name}/{prefix}"
        serde_parameters = {"ignore.malformed.json": "true", "case.insensitive": "false"}
        serde_parameters |= {f"mapping.{column}": key for key, column in RENAMED_KEYS.items()}
        table = glue.CfnTable(
            self,
            f"{construct_id}Table" if kind != ARCHIVE_PREFIX else "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database.ref,  # Ref = database name; orders creation after the database
            table_input=glue.CfnTable.TableInputProperty(
                name=table_name,
                description=f"{description}, from {location}",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION_KEY, type="string")],
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    f"projection.{PARTITION_KEY}.type": "date",
                    f"projection.{PARTITION_KEY}.format": PARTITION_FORMAT,
                    f"projection.{PARTITION_KEY}.range": f"{PROJECTION_START},NOW",
                    f"projection.{PARTITION_KEY}.interval": "1",
                    f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}{PARTITION_KEY}=${{{PARTITION_KEY}}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=columns,
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe", parameters=serde_parameters
                    ),
                ),
            ),
        )
        return ArchivedRecords(kind, prefix, error_prefix, stream, role, policy, subscription, table, table_name)

    def table_arn(self, table_name: str) -> str:
        return Stack.of(self).format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/{table_name}")

    @property
    def database_arn(self) -> str:
        return Stack.of(self).format_arn(service="glue", resource="database", resource_name=self.database_name)

    @property
    def workgroup_arn(self) -> str:
        return Stack.of(self).format_arn(service="athena", resource="workgroup", resource_name=self.workgroup_name)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the archived prediction records (e.g. a training job)."""
        return self.bucket.grant_read(grantee, f"{self.data_prefix}*")
