"""Template assertions for every component of the stack, for both models and both configurations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from functions.contract import names
from functions.contract.model_artifact import load_model_artifact
from infra import constants as c
from infra.archive import RENAMED_KEYS
from infra.bundling import asset_bytecode_python
from infra.monitor import SCHEDULE_EXPRESSION

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- helpers ----------------------------------------------------------------------------------------
def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str, path_fragment: str = "") -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in resources(template, resource_type).items() if path_fragment in k}
    assert len(found) == 1, f"expected one {resource_type} matching {path_fragment!r}, found {sorted(found)}"
    return next(iter(found.items()))


def function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in resources(template, "AWS::Lambda::Function").items() if v["Properties"].get("Handler") == handler}
    assert len(found) == 1, f"expected one function with handler {handler}"
    return next(iter(found.items()))


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flatten(value: Any) -> str:
    """Render a Fn::Join / Fn::Sub value to text, tokens as <LogicalId>, to search it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value)


def baseline(model: str):
    return load_model_artifact(REPO_ROOT / "models" / model).baseline


# --- inference function, layer and code asset ---------------------------------------------------------
def test_inference_function_runtime_memory_and_environment(iris):
    template = iris.json
    _, fn = function(template, c.INFERENCE_HANDLER)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1769  # one full vCPU: the cold start is CPU-bound imports
    assert props["Timeout"] == 10
    assert props["Environment"]["Variables"] == {
        names.ENV_MODEL_DIR: "/var/task/model",
        names.ENV_SERVICE_NAME: names.INFERENCE_SERVICE,
        names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
        names.ENV_TRACING_ENABLED: "false",
        names.ENV_LOG_LEVEL: "INFO",
    }
    assert "TracingConfig" not in props or props["TracingConfig"]["Mode"] == "PassThrough"
    log_group_id, log_group = only(template, "AWS::Logs::LogGroup", "InferenceApiFunctionLogs")
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    # JSON format, for log-level filtering: Lambda does not re-encode lines that are JSON already ("Configuring JSON
    # and plain text log formats"), so the contract lines stay as written; WARN drops START/END/REPORT (docs/cost.md)
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["SystemLogLevel"] == "WARN"
    (index_policy,) = log_group["Properties"]["FieldIndexPolicies"]
    assert index_policy == {"Fields": ["message"]}


def test_tracing_switch_turns_on_xray_and_env(wine):
    _, fn = function(wine.json, c.INFERENCE_HANDLER)
    assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"}
    assert fn["Properties"]["Environment"]["Variables"][names.ENV_TRACING_ENABLED] == "true"
    _, stage = only(wine.json, "AWS::ApiGateway::Stage")
    assert stage["Properties"]["TracingEnabled"] is True


def test_layer_is_attached_to_both_functions(synthesized):
    template = synthesized.json
    layer_id, layer = only(template, "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    for handler in (c.INFERENCE_HANDLER, c.MONITOR_HANDLER):
        _, fn = function(template, handler)
        assert fn["Properties"]["Layers"] == [{"Ref": layer_id}]


def test_code_asset_holds_functions_package_and_selected_model(synthesized):
    _, fn = function(synthesized.json, c.INFERENCE_HANDLER)
    key = flatten(fn["Properties"]["Code"]["S3Key"])
    asset_hash = key.split(".")[0]
    asset_dir = synthesized.outdir / f"asset.{asset_hash}"
    assert asset_dir.is_dir(), key
    files = {p.relative_to(asset_dir).as_posix() for p in asset_dir.rglob("*") if p.is_file()}
    assert {"functions/__init__.py", "functions/contract/names.py", "functions/contract/model_artifact.py"} <= files
    assert {"model/classifier.onnx", "model/outlier_detector.onnx", "model/baseline.json"} <= files
    assert not [f for f in files if "/tests/" in f]
    # Bytecode: one cpython-312 .pyc per shipped .py when synth found a CPython 3.12, none otherwise (sources only).
    sources = sorted(f for f in files if f.endswith(".py"))
    expected = [re.sub(r"([^/]+)\.py$", r"__pycache__/\1.cpython-312.pyc", f) for f in sources]
    compiled = sorted(f for f in files if "__pycache__" in f or f.endswith((".pyc", ".pyo")))
    assert compiled == (sorted(expected) if asset_bytecode_python() else [])
    assert not [f for f in files if f.startswith("models/") or "sklearn" in f or "skl2onnx" in f]
    shipped = json.loads((asset_dir / "model" / "baseline.json").read_text())
    assert shipped["model"]["name"] == synthesized.stack.baseline.model_name
    # both functions share one asset (one upload)
    _, monitor_fn = function(synthesized.json, c.MONITOR_HANDLER)
    assert monitor_fn["Properties"]["Code"] == fn["Properties"]["Code"]


def test_inference_role_only_writes_its_log_group(iris):
    template = iris.json
    _, fn = function(template, c.INFERENCE_HANDLER)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    log_group_id, _ = only(template, "AWS::Logs::LogGroup", "InferenceApiFunctionLogs")
    statements = role_statements(template, role_id)
    assert statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        }
    ]
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole


# --- API Gateway ----------------------------------------------------------------------------------------
def test_api_requires_api_key_with_usage_plan_throttling(iris):
    template = iris.json
    methods = resources(template, "AWS::ApiGateway::Method")
    assert len(methods) == 2  # ANY / and ANY /{proxy+}
    for method in methods.values():
        assert method["Properties"]["ApiKeyRequired"] is True
        assert method["Properties"]["AuthorizationType"] == "NONE"
    _, plan = only(template, "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {"RateLimit": 100, "BurstLimit": 200}
    assert len(plan["Properties"]["ApiStages"]) == 1
    key_id, _ = only(template, "AWS::ApiGateway::ApiKey")
    iris.template.has_resource_properties("AWS::ApiGateway::UsagePlanKey", {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY"})


def test_api_iam_auth_variant_has_no_api_key(wine):
    for method in resources(wine.json, "AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert not method["Properties"].get("ApiKeyRequired")
    assert not resources(wine.json, "AWS::ApiGateway::ApiKey")
    assert c.OUTPUT_API_KEY_ID not in wine.json["Outputs"]


def test_api_stage_throttling_access_logs_and_execution_logging(synthesized):
    template = synthesized.json
    _, stage = only(template, "AWS::ApiGateway::Stage")
    props = stage["Properties"]
    access_log_id, _ = only(template, "AWS::Logs::LogGroup", "AccessLogs")
    assert props["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [access_log_id, "Arn"]}
    assert "$context.requestId" in props["AccessLogSetting"]["Format"]
    settings = props["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == 100
    assert settings["ThrottlingBurstLimit"] == 200
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    _, api = only(template, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["Name"] == f"ServerlessInference-{synthesized.stack.baseline.model_name}"


def test_rest_execution_logs_go_to_a_log_group_the_stack_owns(synthesized):
    """Left to API Gateway, API-Gateway-Execution-Logs_<api>/<stage> would never expire and outlive the stack."""
    template = synthesized.json
    api_id, _ = only(template, "AWS::ApiGateway::RestApi")
    _, stage = only(template, "AWS::ApiGateway::Stage")
    group_id, group = only(template, "AWS::Logs::LogGroup", "ExecutionLogs")
    assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"
    assert group["Properties"]["LogGroupName"] == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, "/v1"]]}
    assert group_id in stage["DependsOn"]  # created before the stage, so API Gateway never creates it first


def test_log_groups_have_configured_retention(iris, wine):
    for synthesized, days in ((iris, 30), (wine, 90)):
        groups = resources(synthesized.json, "AWS::Logs::LogGroup")
        assert len(groups) == 6  # inference, access, API Gateway execution, monitor, quality, firehose errors
        assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}
    assert {g["DeletionPolicy"] for g in resources(iris.json, "AWS::Logs::LogGroup").values()} == {"Retain"}
    assert {g["DeletionPolicy"] for g in resources(wine.json, "AWS::Logs::LogGroup").values()} == {"Delete"}


# --- SnapStart (wine: on, iris: off) ------------------------------------------------------------------------
def _integration_uris(template: dict[str, Any]) -> list[str]:
    methods = resources(template, "AWS::ApiGateway::Method").values()
    return [flatten(method["Properties"]["Integration"]["Uri"]) for method in methods]


def _api_gateway_permissions(template: dict[str, Any]) -> list[dict[str, Any]]:
    permissions = resources(template, "AWS::Lambda::Permission").values()
    return [p["Properties"] for p in permissions if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]


def test_snap_start_off_by_default_api_invokes_the_function(iris):
    template = iris.json
    inference_id, fn = function(template, c.INFERENCE_HANDLER)
    assert "SnapStart" not in fn["Properties"]
    assert not resources(template, "AWS::Lambda::Version")
    assert not resources(template, "AWS::Lambda::Alias")
    uris = _integration_uris(template)
    assert len(uris) == 2  # ANY / and ANY /{proxy+}
    assert all(f"/functions/<{inference_id}.Arn>/invocations" in uri for uri in uris), uris
    permissions = _api_gateway_permissions(template)
    assert permissions
    assert all(p["FunctionName"] == {"Fn::GetAtt": [inference_id, "Arn"]} for p in permissions)


def test_snap_start_publishes_a_version_and_the_api_invokes_its_alias(wine):
    template = wine.json
    inference_id, fn = function(template, c.INFERENCE_HANDLER)
    assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert fn["Properties"]["Architectures"] == ["arm64"]  # SnapStart supports arm64: no architecture switch
    _, monitor = function(template, c.MONITOR_HANDLER)
    assert "SnapStart" not in monitor["Properties"]  # inference function only

    version_id, version = only(template, "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": inference_id}
    # Superseded versions are deleted: each one kept would keep its snapshot cache billed.
    assert version.get("DeletionPolicy", "Delete") == "Delete"
    alias_id, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": inference_id}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}

    uris = _integration_uris(template)
    assert len(uris) == 2
    assert all(f"/functions/<{alias_id}>/invocations" in uri for uri in uris), uris  # Ref of an alias is its ARN
    permissions = _api_gateway_permissions(template)
    assert permissions
    assert all(p["FunctionName"] == {"Ref": alias_id} for p in permissions)


def test_snap_start_alarms_stay_on_function_level_metrics(wine):
    """FunctionName-only metrics aggregate every version and alias, so the alarms still see the alias's traffic."""
    template = wine.json
    inference_id, _ = function(template, c.INFERENCE_HANDLER)
    for fragment in ("InferenceErrors", "InferenceThrottles"):
        alarm = _alarm(template, fragment)
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": inference_id}}]


# --- monitor ----------------------------------------------------------------------------------------------
def test_monitor_function_environment_and_timeout(synthesized):
    template = synthesized.json
    _, fn = function(template, c.MONITOR_HANDLER)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    env = props["Environment"]["Variables"]
    inference_log_id, _ = only(template, "AWS::Logs::LogGroup", "InferenceApiFunctionLogs")
    topic_id, _ = only(template, "AWS::SNS::Topic")
    table_id, _ = only(template, "AWS::DynamoDB::Table", "AlertState")
    assert env == {
        names.ENV_MODEL_DIR: "/var/task/model",
        names.ENV_SERVICE_NAME: names.MONITOR_SERVICE,
        names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
        names.ENV_LOG_LEVEL: "INFO",
        names.ENV_INFERENCE_LOG_GROUP: {"Ref": inference_log_id},
        names.ENV_ALERT_TOPIC_ARN: {"Ref": topic_id},
        names.ENV_ALERT_STATE_TABLE: {"Ref": table_id},
        names.ENV_WINDOW_MINUTES: "2",
        names.ENV_QUERY_TIMEOUT_SECONDS: "20",
        names.ENV_MINUTE_TABLE: {"Ref": only(template, "AWS::DynamoDB::Table", "MinuteAggregates")[0]},
        names.ENV_MONITOR_HORIZONS: "2,15,60,1440",
        names.ENV_SETTLE_MINUTES: "2",
        names.ENV_NO_TRAFFIC_MINUTES: "15",
    }
    query_timeout = int(env[names.ENV_QUERY_TIMEOUT_SECONDS])
    assert 2 * query_timeout <= props["Timeout"] < 60  # margin over the query, below the schedule period


def test_monitor_schedule_every_minute_with_dead_letter_queue(synthesized):
    template = synthesized.json
    function_id, _ = function(template, c.MONITOR_HANDLER)
    queue_id, _ = only(template, "AWS::SQS::Queue", "Monitor")
    _, rule = only(template, "AWS::Events::Rule", "Monitor")
    assert SCHEDULE_EXPRESSION == "rate(1 minute)"
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Properties"]["State"] == "ENABLED"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    _, invoke_config = only(template, "AWS::Lambda::EventInvokeConfig", "Monitor")
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": function_id}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_monitor_iam_is_scoped(synthesized):
    template = synthesized.json
    _, fn = function(template, c.MONITOR_HANDLER)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(template, role_id)
    inference_log_id, _ = only(template, "AWS::Logs::LogGroup", "InferenceApiFunctionLogs")

    start = [s for s in statements if "logs:StartQuery" in actions(s)]
    assert len(start) == 1 and actions(start[0]) == ["logs:StartQuery"]
    targets = [flatten(r) for r in as_list(start[0]["Resource"])]
    region, account = (
        ("<AWS::Region>", "<AWS::AccountId>")
        if synthesized.stack.region.startswith("${")
        else (synthesized.stack.region, synthesized.stack.account)
    )
    assert targets == [
        f"arn:<AWS::Partition>:logs:{region}:{account}:log-group:<{inference_log_id}>",
        f"<{inference_log_id}.Arn>",  # CloudFormation's log group Arn: the same ARN followed by ':*'
    ]
    unscoped = sorted(sorted(actions(s)) for s in statements if "*" in as_list(s["Resource"]))
    assert unscoped == [["cloudwatch:GetMetricData"], ["logs:GetQueryResults", "logs:StopQuery"]]
    all_actions = {a for s in statements for a in actions(s)}
    assert not {a for a in all_actions if a.endswith(":*") or a == "*"}
    assert "logs:FilterLogEvents" not in all_actions and "logs:GetLogEvents" not in all_actions

    topic_id, _ = only(template, "AWS::SNS::Topic")
    publish = [s for s in statements if "sns:Publish" in actions(s)]
    assert publish and publish[0]["Resource"] == {"Ref": topic_id}
    table_id, _ = only(template, "AWS::DynamoDB::Table", "AlertState")
    writes = [s for s in statements if "dynamodb:PutItem" in actions(s)]
    assert writes and {"Fn::GetAtt": [table_id, "Arn"]} in as_list(writes[0]["Resource"])


def test_alert_state_table(synthesized):
    _, table = only(synthesized.json, "AWS::DynamoDB::Table", "AlertState")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": names.ALERT_STATE_PARTITION_KEY, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": names.ALERT_STATE_PARTITION_KEY, "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_minute_table_has_series_and_start_keys_and_ttl(synthesized):
    template = synthesized.json
    table_id, table = only(template, "AWS::DynamoDB::Table", "MinuteAggregates")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": names.MINUTE_TABLE_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": names.MINUTE_TABLE_SORT_KEY, "KeyType": "RANGE"},
    ]
    assert {"AttributeName": names.MINUTE_TABLE_SORT_KEY, "AttributeType": "N"} in props["AttributeDefinitions"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": names.MINUTE_TABLE_TTL_ATTRIBUTE, "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"]["SSEEnabled"] is True
    _, fn = function(template, c.MONITOR_HANDLER)
    writes = [s for s in role_statements(template, fn["Properties"]["Role"]["Fn::GetAtt"][0]) if "dynamodb:Query" in actions(s)]
    assert writes and {"Fn::GetAtt": [table_id, "Arn"]} in as_list(writes[0]["Resource"])


def test_dead_letter_queues_encrypted_and_tls_only(synthesized):
    for component in ("Monitor", "Quality"):
        _, queue = only(synthesized.json, "AWS::SQS::Queue", component)
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        _, policy = only(synthesized.json, "AWS::SQS::QueuePolicy", component)
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- alerts ------------------------------------------------------------------------------------------------
def test_topic_encrypted_with_rotating_key_and_tls_only(synthesized):
    template = synthesized.json
    key_id, key = only(template, "AWS::KMS::Key", "AlertsTopicKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    principals = json.dumps(key["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in principals  # alarms can publish to the encrypted topic
    _, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_email_subscription_only_when_given(iris, wine):
    iris.template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-oncall@example.com"})
    wine.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_slack_channel_only_when_ids_given(iris, wine):
    iris.template.resource_count_is("AWS::Chatbot::SlackChannelConfiguration", 0)
    topic_id, _ = only(wine.json, "AWS::SNS::Topic")
    wine.template.has_resource_properties(
        "AWS::Chatbot::SlackChannelConfiguration",
        {"SlackWorkspaceId": "T0123456789", "SlackChannelId": "C0123456789", "SnsTopicArns": [{"Ref": topic_id}]},
    )


# --- log archive ----------------------------------------------------------------------------------------------
def test_subscription_filters_send_predictions_and_feedback_to_their_streams(synthesized):
    template = synthesized.json
    log_group_id, _ = only(template, "AWS::Logs::LogGroup", "InferenceApiFunctionLogs")
    assert len(resources(template, "AWS::Logs::SubscriptionFilter")) == 2  # CloudWatch Logs' limit per log group
    for kind, pattern in (("Predictions", names.PREDICTION_FILTER_PATTERN), ("Feedback", names.FEEDBACK_FILTER_PATTERN)):
        stream_id, _ = only(template, "AWS::KinesisFirehose::DeliveryStream", kind)
        _, subscription = only(template, "AWS::Logs::SubscriptionFilter", kind)
        props = subscription["Properties"]
        assert props["FilterPattern"] == pattern
        assert props["LogGroupName"] == {"Ref": log_group_id}
        assert props["DestinationArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
        assert props["FilterName"] == f"{synthesized.stack.stack_name}-{kind.lower()}-to-archive"


def test_firehose_decompresses_extracts_and_gzips_by_date(synthesized):
    _, stream = only(synthesized.json, "AWS::KinesisFirehose::DeliveryStream", "Predictions")
    props = stream["Properties"]
    key_type = "CUSTOMER_MANAGED_CMK" if synthesized.stack.data_key is not None else "AWS_OWNED_CMK"
    assert props["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == key_type
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["CompressionFormat"] == "GZIP"
    model = synthesized.stack.baseline.model_name
    assert s3["Prefix"] == f"predictions/model={model}/dt=!{{timestamp:yyyy-MM-dd}}/"
    assert "!{firehose:error-output-type}" in s3["ErrorOutputPrefix"]
    processors = s3["ProcessingConfiguration"]["Processors"]
    assert [p["Type"] for p in processors] == ["Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord"]
    assert {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"} in processors[1]["Parameters"]


def test_archive_bucket_encrypted_private_with_lifecycle(synthesized):
    _, bucket = only(synthesized.json, "AWS::S3::Bucket", "LogArchiveBucket")
    props = bucket["Properties"]
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithm = "aws:kms" if synthesized.stack.data_key is not None else "AES256"
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == algorithm
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    transitions = rules["predictions-to-cheaper-storage"]["Transitions"]
    assert [(t["StorageClass"], t["TransitionInDays"]) for t in transitions] == [("STANDARD_IA", 30), ("GLACIER_IR", 90)]
    assert bucket["DeletionPolicy"] == "Retain"


def test_glue_table_columns_follow_the_model(synthesized):
    model_baseline = synthesized.stack.baseline
    _, table = only(synthesized.json, "AWS::Glue::Table", "LogArchiveTable")
    table_input = table["Properties"]["TableInput"]
    assert table_input["Name"] == f"predictions_{model_baseline.model_name}"
    columns = {col["Name"]: col["Type"] for col in table_input["StorageDescriptor"]["Columns"]}
    features = re.fullmatch(r"struct<(.*)>", columns["features"])
    assert features is not None
    fields = [field.split(":")[0] for field in features.group(1).split(",")]
    assert fields == list(model_baseline.feature_names)
    assert {field.split(":")[1] for field in features.group(1).split(",")} == {"double"}  # numbers only
    assert columns["unseen_categories"] == "array<string>"  # mixed models write it; null here
    assert columns["probabilities"] == "array<double>"
    assert columns["is_outlier"] == "boolean"
    assert columns["caller"] == "string"  # Function URL deployments write it; the JSON SerDe reads null elsewhere
    serde = table_input["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    for json_key, column in RENAMED_KEYS.items():  # reserved words in Athena SQL
        assert column in columns and serde["Parameters"][f"mapping.{column}"] == json_key
    assert [k["Name"] for k in table_input["PartitionKeys"]] == ["dt"]


def test_wine_table_and_dashboard_have_13_features(wine):
    wine_baseline = baseline("wine")
    assert wine_baseline.n_features == 13
    _, table = only(wine.json, "AWS::Glue::Table", "LogArchiveTable")
    columns = table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    struct = next(col["Type"] for col in columns if col["Name"] == "features")
    assert struct.count(":double") == 13
    _, dashboard = only(wine.json, "AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    assert sum(names.drift_metric(feature) in body for feature in wine_baseline.feature_names) == 13


def test_a_numbers_only_model_has_no_unseen_category_widget(iris):
    _, dashboard = only(iris.json, "AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    assert "unseen categories" not in body and "(categorical)" not in body


def test_glue_location_matches_firehose_prefix(synthesized):
    """Athena must read exactly where Firehose writes, partition for partition."""
    template = synthesized.json
    bucket_id, _ = only(template, "AWS::S3::Bucket", "LogArchiveBucket")
    for stream_fragment, table_fragment in (("Predictions", "LogArchiveTable"), ("Feedback", "LogArchiveFeedbackTable")):
        _, stream = only(template, "AWS::KinesisFirehose::DeliveryStream", stream_fragment)
        prefix = stream["Properties"]["ExtendedS3DestinationConfiguration"]["Prefix"]
        _, table = only(template, "AWS::Glue::Table", table_fragment)
        params = table["Properties"]["TableInput"]["Parameters"]
        expected = f"s3://<{bucket_id}>/" + prefix.replace("!{timestamp:yyyy-MM-dd}", "${dt}")
        assert flatten(params["storage.location.template"]) == expected
        assert params["projection.enabled"] == "true"
        assert params["projection.dt.type"] == "date"
        assert params["projection.dt.format"] == "yyyy-MM-dd"


def test_nothing_iris_specific_in_the_wine_stack(wine):
    text = json.dumps(wine.json)
    for name in baseline("iris").feature_names + baseline("iris").label_names:
        assert name not in text, name


# --- alarms and dashboard -------------------------------------------------------------------------------------
def test_every_alarm_notifies_the_topic(synthesized):
    template = synthesized.json
    topic_id, _ = only(template, "AWS::SNS::Topic")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 14  # 9 of the seed + failed requests, monitor self-check, quality errors/stopped/DLQ
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmName"].startswith(f"{synthesized.stack.stack_name}-")  # the topic policy needs it
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]


def _alarm(template: dict[str, Any], fragment: str) -> dict[str, Any]:
    return only(template, "AWS::CloudWatch::Alarm", fragment)[1]["Properties"]


def test_alarm_definitions(iris):
    template = iris.json
    inference_id, _ = function(template, c.INFERENCE_HANDLER)
    monitor_id, _ = function(template, c.MONITOR_HANDLER)

    five_xx = _alarm(template, "Api5xxRate")
    assert (five_xx["Namespace"], five_xx["MetricName"], five_xx["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Average")
    assert five_xx["Threshold"] == 0.05

    latency = _alarm(template, "ApiP99Latency")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")

    for fragment, metric, function_id in (
        ("InferenceErrors", "Errors", inference_id),
        ("InferenceThrottles", "Throttles", inference_id),
        ("MonitorErrors", "Errors", monitor_id),
        ("MonitorThrottles", "Throttles", monitor_id),
    ):
        alarm = _alarm(template, fragment)
        assert alarm["MetricName"] == metric and alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1

    stopped = _alarm(template, "MonitorStopped")
    assert stopped["MetricName"] == "Invocations"
    assert stopped["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": monitor_id}}]
    assert stopped["ComparisonOperator"] == "LessThanThreshold"
    assert stopped["TreatMissingData"] == "breaching"

    dead_letters = _alarm(template, "MonitorDeadLetters")
    assert dead_letters["MetricName"] == "ApproximateNumberOfMessagesVisible"

    stream_id, _ = only(template, "AWS::KinesisFirehose::DeliveryStream", "Predictions")
    stale = _alarm(template, "ArchiveDeliveryStale")
    assert (stale["Namespace"], stale["MetricName"], stale["Threshold"]) == ("AWS/Firehose", "DeliveryToS3.DataFreshness", 900)
    assert stale["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": {"Ref": stream_id}}]


def test_dashboard_panels_derive_from_the_baseline(synthesized):
    model_baseline = synthesized.stack.baseline
    _, dashboard = only(synthesized.json, "AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for title in ("Request rate", "Latency percentiles", "Outlier ratio", "Feature drift", "Predicted class counts", "rejected"):
        assert title in body, title
    # MeanShift_<f> is emitted in training sd units: the widget says so and draws the check's effect-size floor
    assert "Feature mean shift (in training standard deviations)" in body
    assert f'"value":{model_baseline.thresholds.effect_size_floor:g}' in body
    for feature in model_baseline.feature_names:
        assert names.drift_metric(feature) in body
        assert names.mean_shift_metric(feature) in body
    for label in model_baseline.label_names:
        assert names.class_metric(label) in body
    for metric in (names.METRIC_OUTLIER_RATIO, names.METRIC_REJECTED, names.METRIC_LATENCY, names.METRIC_REQUESTS):
        assert metric in body
    assert f'"{names.METRICS_NAMESPACE}"' in body
    assert f'"{names.MODEL_DIMENSION}","{model_baseline.model_name}"' in body
    assert '"service","monitor"' in body
    # the inference function's metrics are its log group's metric filters: the model is their one dimension
    assert '"service","inference"' not in body
    for label in model_baseline.label_names:
        assert f'"{names.class_metric(label)}","{names.MODEL_DIMENSION}","{model_baseline.model_name}"' in body


# --- outputs ------------------------------------------------------------------------------------------------
def test_stack_outputs(iris):
    outputs = iris.json["Outputs"]
    for key in (
        c.OUTPUT_API_URL,
        c.OUTPUT_API_KEY_ID,
        c.OUTPUT_ALERT_TOPIC_ARN,
        c.OUTPUT_INFERENCE_LOG_GROUP,
        c.OUTPUT_ARCHIVE_BUCKET,
        c.OUTPUT_DASHBOARD_URL,
        c.OUTPUT_GLUE_TABLE,
    ):
        assert key in outputs, key
    assert "#dashboards:name=" in flatten(outputs[c.OUTPUT_DASHBOARD_URL]["Value"])
    assert flatten(outputs[c.OUTPUT_API_URL]["Value"]).startswith("https://")
