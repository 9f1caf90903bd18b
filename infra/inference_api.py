"""Inference API: the ONNX inference Lambda behind a throttled, authenticated API Gateway API.

Two front doors for the same function (`infra.api_options` validates the choice):

- **REST API** (default, `-c api=rest`): only REST APIs have API keys with usage plans (per-client throttling
  and quotas), execution logging, per-method throttling and a WAF association. The default is an API key:
  the first user can curl with one `x-api-key` header. An API key identifies a client for throttling and
  quotas; it is not strong authentication (AWS says so), which is why `api_auth=iam` (SigV4, for callers in
  AWS; grant them with `grant_invoke`) and `api_auth=jwt` (a Cognito user-pool authorizer) exist, and why
  `waf=true` adds a WAFv2 web ACL in front of the stage.
- **HTTP API** (`-c api=http`): payload format 2.0, less than a third of the price per request ($1.00 vs $3.50
  per million), `api_auth=jwt` (any OIDC issuer; default a Cognito user pool the stack creates) or `iam`.
  Stage `$default`, so paths reach the function without a stage prefix.
- **Function URL** (`-c api=url`): no API Gateway at all (no request charge), `AWS_IAM` auth (SigV4 callers inside
  AWS), payload 2.0 events, throttled by the function's reserved concurrency (`url_concurrency`).

The APIs log every request to an access log group with the caller's identity (`infra.api_access_log`); a Function
URL has no access log, so the function writes the caller into each prediction line (`LOG_CALLER`).

Metrics come from metric filters on the function's own lines (`infra.line_metrics`), and the function's platform
lines (START/END/REPORT) are dropped by Lambda's system log level WARN (advanced logging controls, JSON format):
both are bytes the log group would otherwise ingest on every request.

With `snap_start=True` the function gets Lambda SnapStart: a deployment that changes the
function publishes a new version (Lambda initialises it and snapshots the execution
environment then), the alias `live` moves to it, and API Gateway invokes the alias.
SnapStart applies only to published versions, never to `$LATEST`, so an integration on
the function itself would bypass it.
"""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Aws, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as contract
from infra import api_access_log
from infra import constants as c
from infra.api_cognito import ApiUserPool
from infra.api_metrics import ApiMetrics, FunctionUrlMetrics
from infra.api_options import ApiAuth, ApiOptions, ApiType
from infra.constants import INFERENCE_HANDLER, LAMBDA_TASK_ROOT, MODEL_ASSET_DIR
from infra.line_metrics import LineMetricFilters
from infra.waf import ApiWebAcl

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


HTTP_STAGE_NAME = "$default"  # no stage prefix in rawPath: the function sees /predict, as behind REST
HTTP_ROUTE_METHODS = (apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST)  # not ANY: CORS preflights stay unauthenticated
CORS_ALLOW_HEADERS = ("content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
__all__ = ["ApiAuth", "ApiOptions", "ApiType", "InferenceApi"]


def function_role(scope: Construct, log_group: logs.ILogGroup, description: str) -> iam.Role:
    """A function's own role ("FunctionRole"), instead of AWSLambdaBasicExecutionRole: it writes this one log group only."""
    role = iam.Role(scope, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    log_group.grant_write(role)
    return role


@jsii.implements(apigwv2.IAccessLogSettings)
class _HttpAccessLogSettings:
    """aws-cdk-lib has the interface but no class for HTTP API stage access logs."""

    def __init__(self, log_group: logs.ILogGroup, log_format: str) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(log_format)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class InferenceApi(Construct):
    """Inference function, its log group, and the REST API (stage `v1`) or HTTP API (`$default`) that fronts it."""

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
        options: ApiOptions | None = None,
        cloud_watch_role: bool = True,
        labels: tuple[str, ...] | list[str] = (),
    ) -> None:
        """`options` decides the front door; without it, a REST API with `auth` and the throttle arguments."""
        super().__init__(scope, construct_id)
        if options is None:
            options = ApiOptions(auth=auth, rate_limit=throttle_rate_limit, burst_limit=throttle_burst_limit)
        self.options = options
        self.model_name = model_name
        self.api_type = options.api_type
        self.auth = options.auth
        self.snap_start = snap_start
        self.stage_tracing = tracing

        self.log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=log_retention,
            removal_policy=removal_policy,
            # The monitor's Logs Insights queries filter on `message`; with the field indexed, they skip the
            # EMF and platform lines (~70 % of the bytes) instead of scanning and billing them.
            field_index_policies=[logs.FieldIndexPolicy(fields=[contract.KEY_MESSAGE])],
        )
        self.role = function_role(self, self.log_group, "Inference function: writes its own log group only")
        # The function's metrics, counted from the lines it writes (one filter per metric; per class from `labels`).
        self.line_metrics = LineMetricFilters(self, "LineMetrics", log_group=self.log_group, labels=labels)
        url = options.api_type is ApiType.URL
        # the function's default is accept: the variable is set only to refuse
        refuse = options.unseen_categories == names.UNSEEN_REFUSE
        unseen_policy = {names.ENV_UNSEEN_CATEGORIES: names.UNSEEN_REFUSE} if refuse else {}

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
                **({names.ENV_LOG_CALLER: "true"} if url else {}),
                **unseen_policy,
            },
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            # Advanced logging controls: JSON format lets Lambda filter by level; WARN drops the INFO-level platform
            # lines (START, END, REPORT: ~255 B an invocation) and keeps timeouts, crashes and init errors. INFO
            # keeps the contract lines (no `level` key: Lambda does not filter them) and Powertools' INFO lines.
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            application_log_level_v2=lambda_.ApplicationLogLevel[log_level.upper()],
            # A Function URL has no stage throttle: reserved concurrency caps the function (and reserves it).
            reserved_concurrent_executions=options.url_concurrency if url else None,
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

        self.function_url: lambda_.FunctionUrl | None = None
        # Behind a Function URL there is no access log: the prediction lines carry the caller.
        self.access_log_group: logs.LogGroup | None = (
            None if url else logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        )
        # JWT issuer: a Cognito user pool created here unless the operator named an issuer.
        self.user_pool: ApiUserPool | None = None
        if options.creates_user_pool:
            self.user_pool = ApiUserPool(self, "Clients", model_name=model_name, removal_policy=removal_policy)
        self.api_key: apigw.IApiKey | None = None
        self.usage_plan: apigw.UsagePlan | None = None
        self.web_acl: ApiWebAcl | None = None
        self.rest_api: apigw.RestApi | None = None
        self.execution_log_group: logs.LogGroup | None = None  # REST only: HTTP APIs have no execution logs
        self.http_api: apigwv2.HttpApi | None = None
        self.api: apigw.RestApi | apigwv2.HttpApi | lambda_.FunctionUrl  # the front door; cdk-nag acknowledgements attach here
        self.metrics: ApiMetrics | FunctionUrlMetrics
        # API Gateway metrics are keyed by ApiName (REST) or ApiId (HTTP); a unique name keeps two deployed models apart.
        api_name = f"{Stack.of(self).stack_name}-{model_name}"
        if options.api_type is ApiType.REST:
            self._build_rest(api_name, stage_name, tracing, cloud_watch_role, log_retention, removal_policy)
        elif options.api_type is ApiType.HTTP:
            self._build_http(api_name)
        else:
            self._build_url()

    # --- REST API -------------------------------------------------------------------------------------------
    def _rest_method_options(self) -> apigw.MethodOptions:
        auth = self.options.auth
        if auth is ApiAuth.API_KEY:
            return apigw.MethodOptions(api_key_required=True)
        if auth is ApiAuth.IAM:
            return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)
        pool: cognito.IUserPool
        if self.user_pool is not None:
            pool = self.user_pool.user_pool
        else:  # a Cognito issuer URL (ApiOptions checked it); the pool is in this account
            match = self.options.cognito_issuer
            assert match is not None
            pool = cognito.UserPool.from_user_pool_arn(
                self,
                "IssuerUserPool",
                f"arn:{Aws.PARTITION}:cognito-idp:{match['region']}:{Aws.ACCOUNT_ID}:userpool/{match['pool_id']}",
            )
        self.cognito_authorizer = apigw.CognitoUserPoolsAuthorizer(self, "CognitoAuthorizer", cognito_user_pools=[pool])
        return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.COGNITO, authorizer=self.cognito_authorizer)

    def _build_rest(
        self,
        api_name: str,
        stage_name: str,
        tracing: bool,
        cloud_watch_role: bool,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        options = self.options
        assert self.access_log_group is not None  # every API Gateway front door has one
        self.rest_api = self.api = apigw.LambdaRestApi(
            self,
            "RestApi",
            handler=self.invoke_target,
            proxy=True,
            rest_api_name=api_name,
            description=f"Inference API for model '{self.model_name}'",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_method_options=self._rest_method_options(),
            # Access and execution logging need the account-level API Gateway → CloudWatch role.
            cloud_watch_role=cloud_watch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(
                    api_access_log.access_log_format(http=False, auth=options.auth, waf=options.waf)
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,  # INFO would log request bodies' metadata at every call
                data_trace_enabled=False,  # never log payloads through API Gateway
                throttling_rate_limit=options.rate_limit,
                throttling_burst_limit=options.burst_limit,
                tracing_enabled=tracing,
            ),
        )
        self.stage: apigw.Stage | apigwv2.HttpStage = self.rest_api.deployment_stage
        self.metrics = ApiMetrics.for_rest(self.rest_api.deployment_stage)
        # Execution logs go to API-Gateway-Execution-Logs_<api id>/<stage>. Left to API Gateway, that group is created
        # on the first error it logs: kept forever, without the stack's key, and left behind by `cdk destroy`. Owned
        # here, it has the stack's retention, removal policy and (data_kms_key) key; the stage waits for it so that
        # API Gateway never creates it first. A resource-level dependency: infra.account rebuilds the stage's
        # DependsOn from those.
        self.execution_log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{stage_name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        stage_resource = self.rest_api.deployment_stage.node.default_child
        group_resource = self.execution_log_group.node.default_child
        assert isinstance(stage_resource, CfnResource) and isinstance(group_resource, CfnResource)
        stage_resource.add_resource_dependency(group_resource)

        if options.auth is ApiAuth.API_KEY:
            self.api_key = self.rest_api.add_api_key("ApiKey", description=f"Default client key for model '{self.model_name}'")
            quota = (
                apigw.QuotaSettings(limit=options.quota_limit, period=apigw.Period[options.quota_period.value])
                if options.quota_limit is not None
                else None
            )
            self.usage_plan = self.rest_api.add_usage_plan(
                "UsagePlan",
                description="Default clients: per-key throttle equal to the stage limit"
                + (f", quota {options.quota_limit} requests per {options.quota_period.value.lower()}" if quota else ""),
                throttle=apigw.ThrottleSettings(rate_limit=options.rate_limit, burst_limit=options.burst_limit),
                quota=quota,
                api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
            )
            self.usage_plan.add_api_key(self.api_key)

        if options.waf:
            self.web_acl = ApiWebAcl(
                self,
                "Waf",
                stage_arn=self.rest_api.deployment_stage.stage_arn,
                name=api_name,
                rate_limit=options.waf_rate_limit,
                log_retention=log_retention,
                removal_policy=removal_policy,
            )

    # --- Function URL ---------------------------------------------------------------------------------------
    def _build_url(self) -> None:
        """The URL on what API Gateway would invoke (the alias with SnapStart); callers need lambda:InvokeFunctionUrl."""
        self.function_url = self.api = self.invoke_target.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        self.metrics = FunctionUrlMetrics(self.function.function_name)

    # --- HTTP API -------------------------------------------------------------------------------------------
    def _http_authorizer(self) -> apigwv2.IHttpRouteAuthorizer:
        if self.options.auth is ApiAuth.IAM:
            return authorizers.HttpIamAuthorizer()
        if self.user_pool is not None:
            return authorizers.HttpUserPoolAuthorizer(
                "JwtAuthorizer", self.user_pool.user_pool, user_pool_clients=[self.user_pool.client]
            )
        assert self.options.jwt_issuer is not None
        return authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer", self.options.jwt_issuer, jwt_audience=list(self.options.jwt_audience)
        )

    def _build_http(self, api_name: str) -> None:
        options = self.options
        assert self.access_log_group is not None
        cors = (
            apigwv2.CorsPreflightOptions(
                allow_origins=list(options.cors_origins),
                allow_methods=[apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST, apigwv2.CorsHttpMethod.OPTIONS],
                allow_headers=list(CORS_ALLOW_HEADERS),
                max_age=Duration.hours(1),
            )
            if options.cors_origins
            else None
        )
        self.http_api = self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=api_name,
            description=f"Inference API for model '{self.model_name}' (payload format 2.0)",
            cors_preflight=cors,
            create_default_stage=False,  # created below, with throttling and access logs
        )
        integration = integrations.HttpLambdaIntegration(
            "Inference", self.invoke_target, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
        )
        authorizer = self._http_authorizer()
        # The REST proxy's routes: "/" and every path below it; the function answers unknown paths with its JSON 404.
        for path in ("/", "/{proxy+}"):
            self.http_api.add_routes(path=path, methods=list(HTTP_ROUTE_METHODS), integration=integration, authorizer=authorizer)
        self.stage = self.http_stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name=HTTP_STAGE_NAME,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=options.rate_limit, burst_limit=options.burst_limit),
            access_log_settings=_HttpAccessLogSettings(
                self.access_log_group, api_access_log.access_log_format(http=True, auth=options.auth)
            ),
        )
        self.metrics = ApiMetrics.for_http(self.http_stage)

    # --- for the stack and its callers -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.rest_api is not None:
            return self.rest_api.url
        if self.function_url is not None:
            return self.function_url.url  # ends with "/"
        return f"{self.http_api.api_endpoint}/"  # type: ignore[union-attr]

    def outputs(self) -> dict[str, tuple[str, str]]:
        """Stack outputs that say how to call this API (type, auth, where tokens come from)."""
        found = {
            c.OUTPUT_API_TYPE: (
                self.api_type.value,
                "rest, http or url: REST API (v1 stage), HTTP API (payload 2.0) or Lambda Function URL (payload 2.0)",
            ),
            c.OUTPUT_API_AUTH: (self.auth.value, "api_key (x-api-key header), iam (SigV4) or jwt (Authorization header)"),
        }
        if self.access_log_group is not None:
            found[c.OUTPUT_ACCESS_LOG_GROUP] = (self.access_log_group.log_group_name, "API access log, one JSON line per request")
        if self.user_pool is not None:
            found[c.OUTPUT_USER_POOL_ID] = (self.user_pool.user_pool.user_pool_id, "Cognito user pool issuing the API's JWTs")
            found[c.OUTPUT_USER_POOL_CLIENT_ID] = (
                self.user_pool.client.user_pool_client_id,
                "App client id: the JWT audience; initiate-auth --client-id <id> --auth-flow USER_PASSWORD_AUTH",
            )
        if self.web_acl is not None:
            found[c.OUTPUT_WEB_ACL_ARN] = (self.web_acl.arn, "WAFv2 web ACL in front of the REST stage")
            found[c.OUTPUT_WAF_LOG_GROUP] = (self.web_acl.log_group.log_group_name, "WAF log: blocked and counted requests")
        return found

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """`execute-api:Invoke` on every route of the deployed stage (needed with `ApiAuth.IAM`), or
        on the Function URL both `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction`: AWS requires the two for
        function URLs created since October 2025 (Lambda guide, "Control access to Lambda function URLs")."""
        if self.function_url is not None:
            return iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
                resource_arns=[self.invoke_target.function_arn],
            )
        if self.rest_api is not None:
            arn = self.rest_api.arn_for_execute_api(stage=self.rest_api.deployment_stage.stage_name)
        else:
            arn = self.http_api.arn_for_execute_api(stage=HTTP_STAGE_NAME)  # type: ignore[union-attr]
        return iam.Grant.add_to_principal(grantee=grantee, actions=["execute-api:Invoke"], resource_arns=[arn])
