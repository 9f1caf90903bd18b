"""Infrastructure-only names shared by the CDK app, the layer build and the tests.

Names the Lambda functions also read (environment variables, metric names, the
subscription filter pattern) live in `functions/contract/names.py`; this module
holds what only the deployment cares about: the stack name, construct ids,
context keys, stack output keys and the layer build location.
"""

from __future__ import annotations

# --- stack -----------------------------------------------------------------------
STACK_NAME = "ServerlessInference"  # the prefix: each model's stack is "<prefix>-<model>" (stack_name_for)
STACK_DESCRIPTION = "Serverless ONNX inference API with prediction monitor, alerts, log archive and dashboard"

# --- construct ids (one construct per component) ----------------------------------
ID_ALERTS = "Alerts"
ID_INFERENCE_API = "InferenceApi"
ID_MONITOR = "Monitor"
ID_ARCHIVE = "LogArchive"
ID_OBSERVABILITY = "Observability"
ID_DEPENDENCIES_LAYER = "DependenciesLayer"
ID_QUALITY = "Quality"
ID_DATA_KEY = "DataKey"
ID_ACCESS_LOGS_BUCKET = "AccessLogsBucket"

# --- CDK context keys (`cdk deploy -c key=value`, or cdk.json) -----------------------
CTX_MODEL = "model"  # folder under models/; default names.DEFAULT_MODEL
CTX_ALERT_EMAIL = "alert_email"  # e-mail subscription to the alert topic; none when absent
CTX_SLACK_WORKSPACE_ID = "slack_workspace_id"  # AWS Chatbot: both ids, or no Slack channel
CTX_SLACK_CHANNEL_ID = "slack_channel_id"
CTX_LAYER_DIR = "layer_dir"  # built layer directory (holds python/); default LAYER_BUILD_DIR
CTX_LOG_RETENTION_DAYS = "log_retention_days"
CTX_TRACING = "tracing"  # "true": X-Ray active tracing on the inference function
CTX_API_AUTH = "api_auth"  # "api_key" (default) or "iam"
CTX_STACK_NAME = "stack_name"  # default stack_name_for(model): one stack per model; set it to keep an older name
CTX_RETAIN_DATA = "retain_data"  # "false": log groups and table are deleted with the stack (dev)
CTX_SNAP_START = "snap_start"  # "true": Lambda SnapStart on the inference function, invoked through an alias
# --- data settings (issue 9): each costs something, see docs/infrastructure.md ---
CTX_ARCHIVE_EXPIRY_DAYS = "archive_expiry_days"  # archived records deleted after N days; 0 = never
CTX_DATA_KMS_KEY = "data_kms_key"  # "true": one customer-managed key for log groups, archive bucket and Firehose
CTX_BUCKET_VERSIONING = "bucket_versioning"  # "true": versioned archive bucket (old versions expire)
CTX_S3_ACCESS_LOGS = "s3_access_logs"  # "true": server access logs of the archive bucket in a second bucket
CTX_API_GATEWAY_ACCOUNT_ROLE = "api_gateway_account_role"  # "false": the account already has API Gateway's logging role
CTX_RESERVED_CONCURRENCY = "reserved_concurrency"  # "true": monitor and quality reserve 1 execution each
CTX_QUALITY_SCHEDULE = "quality_schedule"  # EventBridge expression for the quality function
CTX_QUALITY_LOOKBACK_DAYS = "quality_lookback_days"

# --- stack output keys (read by docs, e2e tests and scripts) --------------------------
OUTPUT_API_URL = "ApiUrl"
OUTPUT_API_KEY_ID = "ApiKeyId"
OUTPUT_ALERT_TOPIC_ARN = "AlertTopicArn"
OUTPUT_INFERENCE_LOG_GROUP = "InferenceLogGroupName"
OUTPUT_MONITOR_LOG_GROUP = "MonitorLogGroupName"
OUTPUT_ARCHIVE_BUCKET = "ArchiveBucketName"
OUTPUT_GLUE_DATABASE = "GlueDatabaseName"
OUTPUT_GLUE_TABLE = "GlueTableName"
OUTPUT_ATHENA_WORKGROUP = "AthenaWorkGroupName"
OUTPUT_DASHBOARD_URL = "DashboardUrl"
OUTPUT_DEAD_LETTER_QUEUE = "MonitorDeadLetterQueueUrl"
OUTPUT_GLUE_FEEDBACK_TABLE = "GlueFeedbackTableName"
OUTPUT_QUALITY_LOG_GROUP = "QualityLogGroupName"

# --- Lambda packaging ------------------------------------------------------------------
LAYER_BUILD_DIR = ".build/layer"  # relative to the repository root; git-ignored
LAYER_MANIFEST = "layer-manifest.json"  # written next to LAYER_BUILD_DIR by layers/build_layer.py
LAYER_PYTHON_VERSION = "3.12"  # must match the function runtime (wheels are CPython-version specific)
LAYER_PACKAGES = ("onnxruntime", "numpy", "aws-lambda-powertools", "pydantic")  # pins come from requirements.txt
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024  # function code + all layers, unzipped
LAMBDA_TASK_ROOT = "/var/task"
LAMBDA_LAYER_PYTHON_DIR = "/opt/python"  # where Lambda unpacks a layer's python/ folder (on sys.path)
MODEL_ASSET_DIR = "model"  # the model folder's name inside the function asset → MODEL_DIR=/var/task/model
FUNCTIONS_PACKAGE = "functions"

# --- handlers ----------------------------------------------------------------------------
INFERENCE_HANDLER = "functions.inference.handler.lambda_handler"
MONITOR_HANDLER = "functions.monitor.handler.lambda_handler"
QUALITY_HANDLER = "functions.quality.handler.lambda_handler"

# --- log archive -----------------------------------------------------------------------------
ARCHIVE_PREFIX = "predictions"  # s3://<bucket>/predictions/model=<name>/dt=YYYY-MM-DD/
FEEDBACK_PREFIX = "feedback"  # s3://<bucket>/feedback/model=<name>/dt=YYYY-MM-DD/
ACCESS_LOGS_PREFIX = "archive-bucket/"  # inside the access-log bucket (-c s3_access_logs=true)
ARCHIVE_ERROR_PREFIX = "errors"
ATHENA_RESULTS_PREFIX = "athena-results"

# --- API options (issue 11: REST or HTTP API, API key / IAM / JWT, WAF; see infra/api_options.py) ---------------
CTX_API = "api"  # "rest" (default), "http" or "url" (Lambda Function URL)
LAMBDA_MIN_UNRESERVED = 100  # Lambda refuses a reservation that leaves the account fewer unreserved executions
CTX_URL_CONCURRENCY = "url_concurrency"  # api=url: reserved concurrency of the inference function (its throttle)
CTX_JWT_ISSUER = "jwt_issuer"  # with api_auth=jwt: the issuer URL; absent = the stack creates a Cognito user pool
CTX_JWT_AUDIENCE = "jwt_audience"  # HTTP API JWT audiences (comma-separated), e.g. the app client id
CTX_CORS_ORIGINS = "cors_origins"  # HTTP API only: allowed origins (comma-separated); none = no CORS
CTX_WAF = "waf"  # "true": WAFv2 web ACL on the REST stage
CTX_WAF_RATE_LIMIT = "waf_rate_limit"  # requests per source IP per 5 minutes before WAF blocks
CTX_API_RATE_LIMIT = "api_rate_limit"  # stage throttling, requests per second (and per key on REST)
CTX_API_BURST_LIMIT = "api_burst_limit"
CTX_API_QUOTA_LIMIT = "api_quota_limit"  # REST + API key: requests per key per period; none = no quota
CTX_API_QUOTA_PERIOD = "api_quota_period"  # DAY, WEEK or MONTH (default)
CTX_UNSEEN_CATEGORIES = "unseen_categories"  # models with categories: "accept" (default) or "refuse" an unlisted one
OUTPUT_API_TYPE = "ApiType"  # "rest" or "http": how clients and the e2e tests call the API
OUTPUT_API_AUTH = "ApiAuth"  # "api_key", "iam" or "jwt"
OUTPUT_USER_POOL_ID = "UserPoolId"  # only when the stack created the Cognito user pool
OUTPUT_USER_POOL_CLIENT_ID = "UserPoolClientId"
OUTPUT_WEB_ACL_ARN = "WebAclArn"  # only with waf=true
OUTPUT_WAF_LOG_GROUP = "WafLogGroupName"
OUTPUT_ACCESS_LOG_GROUP = "ApiAccessLogGroupName"
# Defaults of the data settings
# Defaults of the account-level settings; scripts/deploy_preflight.py reads the same ones to know what a deploy asks.
DEFAULT_API_GATEWAY_ACCOUNT_ROLE = True  # a fresh account has no API Gateway logging role: the stack sets one
DEFAULT_RESERVED_CONCURRENCY = False  # a quota-10 account cannot reserve any (Lambda keeps 100 unreserved)
ARCHIVE_EXPIRY_DAYS = 400  # > a year of history for training sets and audits; 0 keeps records forever
QUALITY_SCHEDULE = "rate(1 hour)"
QUALITY_LOOKBACK_DAYS = 7


def stack_name_for(model: str) -> str:
    """The default stack name: one stack per model, so a second model is deployed beside the first, not over it."""
    return f"{STACK_NAME}-{model}"
