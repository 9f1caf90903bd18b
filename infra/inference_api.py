"""Inference API: the ONNX inference Lambda behind a throttled, authenticated REST API.

Why a REST API (API Gateway v1) rather than an HTTP API: only REST APIs have API keys
with usage plans (per-client throttling and quotas), execution logging and
per-method throttling. The default authentication is an API key: clients are
scripts and services that send one `x-api-key` header with curl or any HTTP
library. `ApiAuth.IAM` switches every method to SigV4 (AWS_IAM) for callers inside
AWS; grant them with `grant_invoke`.

With `snap_start=True` the function gets Lambda SnapStart: a deployment that changes the
function publishes a new version (Lambda initialises it and snapshots the execution
environment then), the alias `live` moves to it, and API Gateway invokes the alias.
SnapStart applies only to published versions, never to `$LATEST`, so an integration on
the function itself would bypass it.
"""

from __future__ import annotations

import enum

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as contract
from infra.constants import INFERENCE_HANDLER, LAMBDA_TASK_ROOT, MODEL_ASSET_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_12  # matches the layer's cp312 wheels (infra.constants.LAYER_PYTHON_VERSION)
ARCHITECTURE = lambda_.Architecture.ARM_64  # Graviton: ~20 % cheaper per GB-s than x86_64
MODEL_DIR = f"{LAMBDA_TASK_ROOT}/{MODEL_ASSET_DIR}"
# Warm requests take milliseconds and a cold start ~1-2 s; 10 s bounds a stuck request well below
# API Gateway's 29 s integration timeout.
INFERENCE_TIMEOUT = Duration.seconds(10)
# 1769 MB is one full vCPU. A warm request needs ~0.2 ms of it (billed 1-2 ms at any size, ~$0.05 per
# million), but the cold start (numpy + onnxruntime + Powertools imports, 0.56 s measured on one core)
# scales with CPU share: ~1 s at 1024 MB, ~0.6 s here, for the same GB-seconds.
INFERENCE_MEMORY_MB = 1769
# With SnapStart on, API Gateway invokes this alias; it follows `function.current_version` on every deploy.
LIVE_ALIAS = "live"


class ApiAuth(enum.Enum):
    API_KEY = "api_key"
    IAM = "iam"


class InferenceApi(Construct):
    """Inference function, its log group, and the REST API (stage `v1`) that fronts it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        model_name: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        auth: ApiAuth = ApiAuth.API_KEY,
        tracing: bool = False,
        memory_mb: int = INFERENCE_MEMORY_MB,
        timeout: Duration = INFERENCE_TIMEOUT,
        log_level: str = "INFO",
        throttle_rate_limit: int = 100,
        throttle_burst_limit: int = 200,
        stage_name: str = "v1",
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_name = model_name
        self.auth = auth
        self.snap_start = snap_start

        self.log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=log_retention,
            removal_policy=removal_policy,
            # The monitor's Logs Insights queries filter on `message`; with the field indexed, they skip the
            # EMF and platform lines (~70 % of the bytes) instead of scanning and billing them.
            field_index_policies=[logs.FieldIndexPolicy(fields=[contract.KEY_MESSAGE])],
        )
        # Own role instead of AWSLambdaBasicExecutionRole: write to this one log group and nothing else.
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Inference function: writes its own log group only",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=f"ONNX inference for model '{model_name}'",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=INFERENCE_HANDLER,
            code=code,
            layers=layers,
            memory_size=memory_mb,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            environment={
                names.ENV_MODEL_DIR: MODEL_DIR,
                names.ENV_SERVICE_NAME: names.INFERENCE_SERVICE,
                names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
                names.ENV_TRACING_ENABLED: "true" if tracing else "false",
                names.ENV_LOG_LEVEL: log_level,
            },
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
        # What API Gateway invokes: the function itself ($LATEST), or with SnapStart the alias on the published
        # version, the only thing Lambda restores from a snapshot. Alarms and the dashboard keep using the
        # function's metrics, which CloudWatch aggregates over all versions and aliases.
        self.alias: lambda_.Alias | None = None
        self.invoke_target: lambda_.IFunction = self.function
        if snap_start:
            self.alias = lambda_.Alias(
                self,
                "LiveAlias",
                alias_name=LIVE_ALIAS,
                # CDK's default removal policy for `current_version` is DESTROY: a superseded version is deleted
                # once the alias has moved, so no old snapshot stays cached (and billed).
                version=self.function.current_version,
                description="Version API Gateway invokes (SnapStart restores published versions only)",
            )
            self.invoke_target = self.alias
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "The function is published as `current_version` and invoked through the `live` alias.",
            )

        self.access_log_group = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        default_method_options = (
            apigw.MethodOptions(api_key_required=True)
            if auth is ApiAuth.API_KEY
            else apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)
        )
        self.api = apigw.LambdaRestApi(
            self,
            "RestApi",
            handler=self.invoke_target,
            proxy=True,
            # API Gateway metrics are keyed by ApiName only: a unique name keeps two deployed models apart.
            rest_api_name=f"{Stack.of(self).stack_name}-{model_name}",
            description=f"Inference API for model '{model_name}'",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_method_options=default_method_options,
            # Access and execution logging need the account-level API Gateway → CloudWatch role.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,  # INFO would log request bodies' metadata at every call
                data_trace_enabled=False,  # never log payloads through API Gateway
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
                tracing_enabled=tracing,
            ),
        )

        self.api_key: apigw.IApiKey | None = None
        self.usage_plan: apigw.UsagePlan | None = None
        if auth is ApiAuth.API_KEY:
            self.api_key = self.api.add_api_key("ApiKey", description=f"Default client key for model '{model_name}'")
            self.usage_plan = self.api.add_usage_plan(
                "UsagePlan",
                description="Default clients: per-key throttle equal to the stage limit",
                throttle=apigw.ThrottleSettings(rate_limit=throttle_rate_limit, burst_limit=throttle_burst_limit),
                api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
            )
            self.usage_plan.add_api_key(self.api_key)

    @property
    def url(self) -> str:
        return self.api.url

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """`execute-api:Invoke` on every method of the deployed stage (needed with `ApiAuth.IAM`)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )
