"""Log archive: prediction records → subscription filter → Firehose → S3 (gzip JSON lines) → Glue/Athena.

CloudWatch Logs delivers subscription data to Firehose gzip-compressed inside its
own JSON envelope. Firehose's built-in processors decompress it and extract each
log event's message, so S3 holds exactly the contract's JSON lines (one per
predicted row), gzip-compressed and partitioned by day. A Glue table with the
OpenX JSON SerDe and partition projection (no crawler, no MSCK REPAIR) makes them
queryable from Athena and reusable as training data.

Why gzip JSON rather than Parquet: Parquet conversion needs 64 MiB+ buffers
(files appear hours late at low traffic), costs extra per GB converted, and
makes the Glue schema a hard contract that rejects records when the log evolves.
At ~330 bytes per record gzip JSON is already ~10x smaller than the raw logs.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as contract
from functions.contract.model_artifact import Baseline
from infra.constants import ARCHIVE_ERROR_PREFIX, ARCHIVE_PREFIX, ATHENA_RESULTS_PREFIX, GLUE_DATABASE_NAME

PARTITION_KEY = "dt"
PARTITION_FORMAT = "yyyy-MM-dd"  # Firehose timestamp namespace and Athena partition projection share it
PROJECTION_START = "2026-01-01"
INFREQUENT_ACCESS_AFTER = Duration.days(30)  # Athena reads recent days most; older data is for training sets
GLACIER_AFTER = Duration.days(90)  # Glacier Instant Retrieval: still queryable, ~1/5 of Standard storage
BUFFERING_INTERVAL = Duration.minutes(5)  # files per 5 minutes: fresh enough, few small objects
# Column names that are reserved words in Athena/Trino SQL get a plain name, mapped back by the SerDe.
RENAMED_KEYS = {contract.KEY_ROW: "row_index", contract.KEY_TIMESTAMP: "timestamp_ms"}


def glue_columns(baseline: Baseline) -> list[glue.CfnTable.ColumnProperty]:
    """Glue columns of the prediction log for one model (features become a struct of doubles)."""
    features = ",".join(f"{name}:double" for name in baseline.feature_names)
    types = {
        contract.KEY_MESSAGE: "string",
        contract.KEY_TIMESTAMP: "bigint",
        contract.KEY_REQUEST_ID: "string",
        contract.KEY_ROW: "int",
        contract.KEY_ENDPOINT: "string",
        contract.KEY_MODEL: "string",
        contract.KEY_MODEL_VERSION: "string",
        contract.KEY_FEATURES: f"struct<{features}>",
        contract.KEY_PREDICTION: "string",
        contract.KEY_CLASS_INDEX: "int",
        contract.KEY_PROBABILITIES: "array<double>",
        contract.KEY_IS_OUTLIER: "boolean",
        contract.KEY_OUTLIER_SCORE: "double",
        contract.KEY_LATENCY_MS: "double",
    }
    missing = set(contract.PREDICTION_KEYS) - set(types)
    if missing:
        raise ValueError(f"no Glue type for prediction log keys {sorted(missing)}")
    return [glue.CfnTable.ColumnProperty(name=RENAMED_KEYS.get(key, key), type=types[key]) for key in contract.PREDICTION_KEYS]


class LogArchive(Construct):
    """Archive bucket, Firehose delivery stream, subscription filter, Glue table and Athena workgroup."""

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
        glue_database_name: str = GLUE_DATABASE_NAME,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        model = baseline.model_name
        self.data_prefix = f"{ARCHIVE_PREFIX}/{names.MODEL_DIMENSION}={model}/"

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Training data outlives the stack: `cdk destroy` leaves the bucket (delete it by hand).
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="predictions-to-cheaper-storage",
                    prefix=f"{ARCHIVE_PREFIX}/",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=infrequent_access_after),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=glacier_after),
                    ],
                    expiration=expire_after,
                ),
                s3.LifecycleRule(id="expire-delivery-errors", prefix=f"{ARCHIVE_ERROR_PREFIX}/", expiration=Duration.days(30)),
                s3.LifecycleRule(id="expire-query-results", prefix=f"{ATHENA_RESULTS_PREFIX}/", expiration=Duration.days(7)),
                s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
        )

        self.delivery_log_group = logs.LogGroup(self, "DeliveryErrors", retention=log_retention, removal_policy=removal_policy)
        destination = firehose.S3Bucket(
            self.bucket,
            logging_config=firehose.EnableLogging(self.delivery_log_group),
            compression=firehose.Compression.GZIP,
            file_extension=".json.gz",
            data_output_prefix=f"{self.data_prefix}{PARTITION_KEY}=!{{timestamp:{PARTITION_FORMAT}}}/",
            error_output_prefix=f"{ARCHIVE_ERROR_PREFIX}/!{{firehose:error-output-type}}/{PARTITION_KEY}=!{{timestamp:{PARTITION_FORMAT}}}/",
            buffering_interval=buffering_interval,
            buffering_size=Size.mebibytes(64),
            processors=[
                firehose.DecompressionProcessor(),
                firehose.CloudWatchLogProcessor(data_message_extraction=True),
                firehose.AppendDelimiterToRecordProcessor(),  # one JSON object per line for the SerDe
            ],
        )
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            destination=destination,
            encryption=firehose.StreamEncryption.aws_owned_key(),
        )

        self.subscription_filter = logs.SubscriptionFilter(
            self,
            "PredictionFilter",
            log_group=source_log_group,
            destination=log_destinations.FirehoseDestination(self.delivery_stream),
            filter_pattern=logs.FilterPattern.literal(names.PREDICTION_FILTER_PATTERN),
            filter_name=f"predictions-to-archive-{model}",
        )

        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=glue_database_name, description="Serverless inference prediction logs"
            ),
        )
        self.database_name = glue_database_name
        self.table_name = f"predictions_{model}"
        location = f"s3://{self.bucket.bucket_name}/{self.data_prefix}"
        self.columns = glue_columns(baseline)
        serde_parameters = {"ignore.malformed.json": "true", "case.insensitive": "false"}
        serde_parameters |= {f"mapping.{column}": key for key, column in RENAMED_KEYS.items()}
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database.ref,  # Ref = database name; orders creation after the database
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name,
                description=f"Prediction log of model '{model}' (one row per predicted row), from {location}",
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
                    columns=self.columns,
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

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{stack.stack_name}-{model}",
            description="Queries over the prediction archive; results encrypted, kept 7 days",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=10 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option="SSE_S3"),
                ),
            ),
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the archived prediction records (e.g. a training job)."""
        return self.bucket.grant_read(grantee, f"{self.data_prefix}*")
