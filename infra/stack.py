"""The whole service in one stack: inference API, monitor, alerts, log archive and observability.

Environment differences (model, alert recipients, retention, tracing, auth) are
keyword-only properties; `infra.settings` reads them from CDK context for `app.py`.
Nothing here looks anything up in an AWS account, so synth runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.contract.model_artifact import Baseline, load_model_artifact
from infra import constants as c
from infra.account import detach_account_role
from infra.alerts import Alerts
from infra.api_options import ApiOptions
from infra.archive import LogArchive
from infra.bundling import function_code
from infra.inference_api import ARCHITECTURE, RUNTIME, ApiAuth, InferenceApi
from infra.monitor import Monitor
from infra.nag import acknowledge_findings
from infra.observability import Observability
from infra.quality import Quality

REPO_ROOT = Path(__file__).resolve().parent.parent


class LayerMissingError(RuntimeError):
    """The dependency layer has not been built (or not where the stack looks for it)."""


def check_layer(layer_dir: Path, *, tracing: bool, architecture: str = ARCHITECTURE.name) -> None:
    """Refuse a missing layer, a layer without the X-Ray SDK when tracing is on, and a layer built for another
    architecture (its compiled wheels would not import: the cold start, or with SnapStart the deploy, would fail).

    A layer without a manifest (hand-made) is trusted.
    """
    if not (layer_dir / "python").is_dir():
        raise LayerMissingError(f"dependency layer not found at {layer_dir}/python: run `make layer` first")
    manifest_path = layer_dir.parent / c.LAYER_MANIFEST
    if not manifest_path.is_file():
        return
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if tracing and not manifest.get("tracer"):
        raise LayerMissingError(
            "tracing=true needs the X-Ray SDK in the layer: rebuild it with `python layers/build_layer.py --tracer`"
        )
    built_for = manifest.get("arch")
    if built_for is not None and built_for != architecture:
        raise LayerMissingError(
            f"the layer in {layer_dir} was built for {built_for} but the functions run on {architecture}: "
            f"rebuild it with `python layers/build_layer.py --arch {architecture}`"
        )


class InferenceStack(cdk.Stack):
    """Inference API + monitor + alerts + log archive + dashboard for one model."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str = c.STACK_NAME,
        *,
        model: str,
        layer_dir: Path,
        alert_email: str | None = None,
        slack_workspace_id: str | None = None,
        slack_channel_id: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        tracing: bool = False,
        api_auth: ApiAuth = ApiAuth.API_KEY,
        retain_data: bool = True,
        snap_start: bool = False,
        archive_expiry_days: int = c.ARCHIVE_EXPIRY_DAYS,
        data_kms_key: bool = False,
        bucket_versioning: bool = False,
        s3_access_logs: bool = False,
        api_gateway_account_role: bool = c.DEFAULT_API_GATEWAY_ACCOUNT_ROLE,
        reserved_concurrency: bool = c.DEFAULT_RESERVED_CONCURRENCY,
        quality_schedule: str = c.QUALITY_SCHEDULE,
        quality_lookback_days: int = c.QUALITY_LOOKBACK_DAYS,
        repo_root: Path = REPO_ROOT,
        env: cdk.Environment | None = None,
        api: ApiOptions | None = None,  # REST/HTTP, auth, WAF, throttling, quotas; when given, its auth wins over api_auth
    ) -> None:
        super().__init__(scope, construct_id, description=f"{c.STACK_DESCRIPTION} (model {model})", env=env)
        # S3 server access logs (-c s3_access_logs=true) delivered under a bucket policy, not the legacy ACL: the
        # target bucket keeps ACLs disabled (BucketOwnerEnforced). Set here, before any child, so every synth path
        # (app.py, tests, the CDK CLI) produces the same template without cdk.json.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.baseline: Baseline = load_model_artifact(repo_root / "models" / model).baseline
        check_layer(layer_dir, tracing=tracing)
        self.tracing = tracing
        removal_policy = cdk.RemovalPolicy.RETAIN if retain_data else cdk.RemovalPolicy.DESTROY
        self.data_key: kms.Key | None = self._data_key() if data_kms_key else None
        self.access_logs_bucket: s3.Bucket | None = self._access_logs_bucket() if s3_access_logs else None

        code = function_code(repo_root, model)
        self.layer = lambda_.LayerVersion(
            self,
            c.ID_DEPENDENCIES_LAYER,
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="onnxruntime, numpy, aws-lambda-powertools, pydantic (layers/build_layer.py)",
        )

        self.alerts = Alerts(
            self,
            c.ID_ALERTS,
            alert_email=alert_email,
            slack_workspace_id=slack_workspace_id,
            slack_channel_id=slack_channel_id,
        )
        self.inference = InferenceApi(
            self,
            c.ID_INFERENCE_API,
            code=code,
            layers=[self.layer],
            model_name=self.baseline.model_name,
            log_retention=log_retention,
            removal_policy=removal_policy,
            auth=api_auth,
            tracing=tracing,
            snap_start=snap_start,
            options=api,
            labels=self.baseline.label_names,
        )
        self.api_gateway_account_role = api_gateway_account_role
        self.monitor = Monitor(
            self,
            c.ID_MONITOR,
            code=code,
            layers=[self.layer],
            inference_log_group=self.inference.log_group,
            alerts=self.alerts,
            log_retention=log_retention,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
        )
        self.archive = LogArchive(
            self,
            c.ID_ARCHIVE,
            source_log_group=self.inference.log_group,
            baseline=self.baseline,
            log_retention=log_retention,
            removal_policy=removal_policy,
            expire_after=cdk.Duration.days(archive_expiry_days) if archive_expiry_days else None,
            encryption_key=self.data_key,
            versioned=bucket_versioning,
            access_logs_bucket=self.access_logs_bucket,
        )
        self.quality = Quality(
            self,
            c.ID_QUALITY,
            code=code,
            layers=[self.layer],
            archive=self.archive,
            alerts=self.alerts,
            alert_state_table=self.monitor.table,
            log_retention=log_retention,
            removal_policy=removal_policy,
            schedule_expression=quality_schedule,
            lookback_days=quality_lookback_days,
            reserved_concurrency=reserved_concurrency,
        )
        self.observability = Observability(
            self,
            c.ID_OBSERVABILITY,
            api=self.inference.metrics,
            inference_function=self.inference.function,
            inference_log_group=self.inference.log_group,
            monitor_function=self.monitor.function,
            monitor_dead_letter_queue=self.monitor.dead_letter_queue,
            archive_stream_name=self.archive.delivery_stream_name,
            baseline=self.baseline,
            alarm_action=self.alerts.alarm_action,
            quality_function=self.quality.function,
            quality_dead_letter_queue=self.quality.dead_letter_queue,
            quality_schedule=quality_schedule,
        )

        outputs = {
            c.OUTPUT_API_URL: (self.inference.url, "Base URL of the inference API (POST <url>predict)"),
            c.OUTPUT_ALERT_TOPIC_ARN: (self.alerts.topic.topic_arn, "SNS topic receiving alarms and monitor alerts"),
            c.OUTPUT_INFERENCE_LOG_GROUP: (self.inference.log_group.log_group_name, "Prediction log (CloudWatch Logs)"),
            c.OUTPUT_MONITOR_LOG_GROUP: (self.monitor.log_group.log_group_name, "Monitor function log"),
            c.OUTPUT_ARCHIVE_BUCKET: (self.archive.bucket.bucket_name, "S3 bucket with the archived prediction records"),
            c.OUTPUT_GLUE_DATABASE: (self.archive.database_name, "Glue database of the archive table"),
            c.OUTPUT_GLUE_TABLE: (self.archive.table_name, "Glue/Athena table over the archived prediction records"),
            c.OUTPUT_ATHENA_WORKGROUP: (self.archive.workgroup.ref, "Athena workgroup for archive queries"),
            c.OUTPUT_DASHBOARD_URL: (self.observability.dashboard_url, "CloudWatch dashboard"),
            c.OUTPUT_DEAD_LETTER_QUEUE: (self.monitor.dead_letter_queue.queue_url, "Failed monitor runs"),
            c.OUTPUT_GLUE_FEEDBACK_TABLE: (
                self.archive.feedback_table_name,
                "Glue/Athena table over the archived feedback labels",
            ),
            c.OUTPUT_QUALITY_LOG_GROUP: (self.quality.log_group.log_group_name, "Quality function log"),
        }
        if self.inference.api_key is not None:
            outputs[c.OUTPUT_API_KEY_ID] = (
                self.inference.api_key.key_id,
                "API key id; value: aws apigateway get-api-key --include-value --api-key <id>",
            )
        outputs |= self.inference.outputs()  # API type, auth, user pool, web ACL
        for key, (value, description) in outputs.items():
            cdk.CfnOutput(self, key, value=value, description=description)

        if not api_gateway_account_role:
            detach_account_role(self.inference.api)  # last: it rewrites the stage's DependsOn
        if self.data_key is not None:
            self._encrypt_log_groups(self.data_key)
        acknowledge_findings(
            self,
            alerts=self.alerts,
            inference=self.inference,
            monitor=self.monitor,
            archive=self.archive,
            quality=self.quality,
            tracing=tracing,
            access_logs_bucket=self.access_logs_bucket,
        )

    def _data_key(self) -> kms.Key:
        """One rotating key for the stack's data at rest: log groups, archive bucket, Firehose streams."""
        key = kms.Key(
            self,
            c.ID_DATA_KEY,
            description=f"Data at rest of {self.stack_name}: log groups, prediction archive, Firehose",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,  # archived objects stay readable after `cdk destroy`
        )
        # CloudWatch Logs encrypts each log group with the key; only for log groups of this account and region.
        log_groups_of_this_account = f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
                actions=["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_of_this_account}},
            )
        )
        return key

    def _access_logs_bucket(self) -> s3.Bucket:
        """Target of the archive bucket's S3 server access logs (SSE-S3: the only encryption S3 log delivery supports)."""
        return s3.Bucket(
            self,
            c.ID_ACCESS_LOGS_BUCKET,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=cdk.Duration.days(90))],
        )

    def _encrypt_log_groups(self, key: kms.IKey) -> None:
        """Every log group of the stack, including those other constructs create, encrypted with the data key."""
        for construct in self.node.find_all():
            if isinstance(construct, logs.CfnLogGroup):
                construct.kms_key_id = key.key_arn
