"""Least privilege as exact action lists, names derived from the stack, the data settings, quality and self-check."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from functions.contract import names
from infra import constants as c
from infra.archive import FIREHOSE_BUCKET_ACTIONS, FIREHOSE_OBJECT_ACTIONS
from infra.monitor import ALERT_STATE_ACTIONS
from infra.observability import schedule_period
from tests.infra.test_stack import actions, as_list, flatten, function, only, resources, role_statements


def statements_by_action(template: dict[str, Any], role_id: str) -> dict[str, list[str]]:
    """{action: [rendered resources]} over every statement of a role."""
    found: dict[str, list[str]] = {}
    for statement in role_statements(template, role_id):
        assert statement["Effect"] == "Allow"
        for action in actions(statement):
            found.setdefault(action, []).extend(flatten(r) for r in as_list(statement["Resource"]))
    return found


def role_of(template: dict[str, Any], handler: str) -> str:
    _, fn = function(template, handler)
    return fn["Properties"]["Role"]["Fn::GetAtt"][0]


# --- Firehose: no delete, exactly AWS's list for an S3 destination, on its own prefix -------------------------------
def test_firehose_roles_write_their_prefix_and_never_delete(synthesized):
    template = synthesized.json
    bucket_id, _ = only(template, "AWS::S3::Bucket", "LogArchiveBucket")
    model = synthesized.stack.baseline.model_name
    for kind, prefix in (("Predictions", f"predictions/model={model}/"), ("Feedback", f"feedback/model={model}/")):
        role_id, role = only(template, "AWS::IAM::Role", f"LogArchive{kind}FirehoseRole")
        granted = statements_by_action(template, role_id)
        expected = {*FIREHOSE_BUCKET_ACTIONS, *FIREHOSE_OBJECT_ACTIONS, "logs:PutLogEvents"}
        if synthesized.stack.data_key is not None:
            expected |= {"kms:GenerateDataKey", "kms:Decrypt"}
        assert set(granted) == expected
        assert not [a for a in granted if "Delete" in a or a.endswith("*")]
        assert sorted(granted["s3:PutObject"]) == sorted(
            [f"<{bucket_id}.Arn>/{prefix}*", f"<{bucket_id}.Arn>/errors/{kind.lower()}/*"]
        )
        assert granted["s3:ListBucket"] == [f"<{bucket_id}.Arn>"]
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_firehose_kms_use_only_through_s3_for_this_bucket(wine):
    role_id, _ = only(wine.json, "AWS::IAM::Role", "LogArchivePredictionsFirehoseRole")
    (kms,) = [s for s in role_statements(wine.json, role_id) if "kms:GenerateDataKey" in actions(s)]
    assert set(kms["Condition"]) == {"StringEquals", "StringLike"}
    assert flatten(kms["Condition"]["StringEquals"]["kms:ViaService"]) == "s3.<AWS::Region>.amazonaws.com"
    bucket_id, bucket = only(wine.json, "AWS::S3::Bucket", "LogArchiveBucket")
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    # With an S3 Bucket Key, S3 calls KMS with the bucket's ARN as encryption context (not the object's): the grant
    # must name it, or Firehose's GenerateDataKey is denied for every record.
    contexts = [flatten(v) for v in kms["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]]
    assert f"<{bucket_id}.Arn>" in contexts
    assert set(contexts) <= {f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"}  # this bucket only


def test_logs_role_puts_records_only(synthesized):
    role_id, role = only(synthesized.json, "AWS::IAM::Role", "LogArchiveLogsToFirehoseRole")
    assert set(statements_by_action(synthesized.json, role_id)) == {"firehose:PutRecord", "firehose:PutRecordBatch"}
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert flatten(trust["Condition"]["StringLike"]["aws:SourceArn"]).endswith(":<AWS::AccountId>:*")


# --- monitor: only the table actions it calls, one run at a time ---------------------------------------------------
def test_monitor_has_exactly_the_table_actions_it_calls(synthesized):
    template = synthesized.json
    granted = statements_by_action(template, role_of(template, c.MONITOR_HANDLER))
    table_id, _ = only(template, "AWS::DynamoDB::Table", "AlertState")
    minutes_id, _ = only(template, "AWS::DynamoDB::Table", "MinuteAggregates")
    on_alert_state = {a for a, where in granted.items() if f"<{table_id}.Arn>" in where}
    assert on_alert_state == set(ALERT_STATE_ACTIONS) == {"dynamodb:BatchGetItem", "dynamodb:PutItem"}
    on_minutes = {a for a, where in granted.items() if f"<{minutes_id}.Arn>" in where}
    assert {"dynamodb:Query", "dynamodb:PutItem"} <= on_minutes  # what minute_store calls (grant_read_write_data)
    assert all(a.startswith("dynamodb:") for a in on_minutes)
    dynamodb = {a for a in granted if a.startswith("dynamodb:")}
    assert dynamodb == on_alert_state | on_minutes
    assert granted["cloudwatch:GetMetricData"] == ["*"]  # no resource-level permissions for it
    assert set(granted) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:StopQuery",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        "sqs:SendMessage",  # on-failure destination
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "cloudwatch:GetMetricData",
        *dynamodb,
    }


def test_no_function_reserves_concurrency_by_default(iris):
    """A fresh account's quota may be 10, and Lambda keeps 100 unreserved: any reservation would fail its deploy."""
    for fn in resources(iris.json, "AWS::Lambda::Function").values():
        assert "ReservedConcurrentExecutions" not in fn["Properties"]


def test_reserved_concurrency_opt_in_runs_monitor_and_quality_one_at_a_time(wine):
    for handler in (c.MONITOR_HANDLER, c.QUALITY_HANDLER):
        _, fn = function(wine.json, handler)
        assert fn["Properties"]["ReservedConcurrentExecutions"] == 1
    _, inference = function(wine.json, c.INFERENCE_HANDLER)
    assert "ReservedConcurrentExecutions" not in inference["Properties"]


# --- KMS: service grants carry source conditions --------------------------------------------------------------------
def test_every_service_principal_in_a_key_policy_is_conditioned(synthesized):
    for key_id, key in resources(synthesized.json, "AWS::KMS::Key").items():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            if "Service" not in statement.get("Principal", {}):
                continue
            conditions = json.dumps(statement.get("Condition", {}))
            assert "aws:SourceAccount" in conditions or "kms:EncryptionContext:aws:logs:arn" in conditions, (key_id, statement)


def test_alarm_grants_name_this_stacks_alarms(synthesized):
    stack_name = synthesized.stack.stack_name
    _, policy = only(synthesized.json, "AWS::SNS::TopicPolicy")
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert flatten(allow["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(f":alarm:{stack_name}-*")


# --- quality: Athena in its workgroup, the two tables, the archive's prefixes -----------------------------------
def test_quality_iam_is_scoped_to_workgroup_tables_and_prefixes(synthesized):
    template = synthesized.json
    stack = synthesized.stack
    model = stack.baseline.model_name
    granted = statements_by_action(template, role_of(template, c.QUALITY_HANDLER))
    bucket_id, _ = only(template, "AWS::S3::Bucket", "LogArchiveBucket")
    region, account = ("<AWS::Region>", "<AWS::AccountId>") if stack.region.startswith("${") else (stack.region, stack.account)
    workgroup = f"arn:<AWS::Partition>:athena:{region}:{account}:workgroup/{stack.stack_name}-{model}"
    for action in (
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
    ):
        assert granted[action] == [workgroup]
    database = stack.archive.database_name
    glue = [
        f"arn:<AWS::Partition>:glue:{region}:{account}:catalog",
        f"arn:<AWS::Partition>:glue:{region}:{account}:database/{database}",
        f"arn:<AWS::Partition>:glue:{region}:{account}:table/{database}/predictions_{model}",
        f"arn:<AWS::Partition>:glue:{region}:{account}:table/{database}/feedback_{model}",
    ]
    for action in ("glue:GetTable", "glue:GetPartitions", "glue:GetDatabase"):
        assert granted[action] == glue
    assert sorted(granted["s3:GetObject"]) == sorted(
        [
            f"<{bucket_id}.Arn>/predictions/model={model}/*",
            f"<{bucket_id}.Arn>/feedback/model={model}/*",
            f"<{bucket_id}.Arn>/athena-results/*",
        ]
    )
    assert granted["s3:PutObject"] == [f"<{bucket_id}.Arn>/athena-results/*"]
    assert not [a for a in granted if "Delete" in a or a in ("s3:*", "athena:*", "glue:*", "*")]
    (listing,) = [s for s in role_statements(template, role_of(template, c.QUALITY_HANDLER)) if actions(s) == ["s3:ListBucket"]]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        f"predictions/model={model}/*",
        f"feedback/model={model}/*",
        "athena-results/*",
    ]


def test_quality_function_schedule_queue_and_environment(iris, wine):
    for synthesized, expression, days in ((iris, "rate(1 hour)", "7"), (wine, "rate(6 hours)", "14")):
        template = synthesized.json
        function_id, fn = function(template, c.QUALITY_HANDLER)
        env = fn["Properties"]["Environment"]["Variables"]
        workgroup_id, _ = only(template, "AWS::Athena::WorkGroup")
        table_id, _ = only(template, "AWS::DynamoDB::Table", "AlertState")
        model = synthesized.stack.baseline.model_name
        assert env[names.ENV_SERVICE_NAME] == names.QUALITY_SERVICE
        assert env[names.ENV_ATHENA_WORKGROUP] == {"Ref": workgroup_id}
        assert env[names.ENV_ATHENA_DATABASE] == synthesized.stack.archive.database_name
        assert env[names.ENV_PREDICTIONS_TABLE] == f"predictions_{model}"
        assert env[names.ENV_FEEDBACK_TABLE] == f"feedback_{model}"
        assert env[names.ENV_QUALITY_LOOKBACK_DAYS] == days
        assert env[names.ENV_ALERT_STATE_TABLE] == {"Ref": table_id}
        _, rule = only(template, "AWS::Events::Rule", "Quality")
        assert rule["Properties"]["ScheduleExpression"] == expression
        queue_id, _ = only(template, "AWS::SQS::Queue", "Quality")
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
        stopped = alarms[f"{synthesized.stack.stack_name}-QualityStopped"]
        assert stopped["TreatMissingData"] == "breaching" and stopped["Dimensions"][0]["Value"] == {"Ref": function_id}
        period = int(schedule_period(expression).to_seconds())
        assert stopped["Period"] == period and stopped["Period"] * stopped["EvaluationPeriods"] <= 86400
        assert f"{synthesized.stack.stack_name}-QualityErrors" in alarms
        assert f"{synthesized.stack.stack_name}-QualityDeadLetters" in alarms


def test_feedback_table_columns(synthesized):
    _, table = only(synthesized.json, "AWS::Glue::Table", "LogArchiveFeedbackTable")
    table_input = table["Properties"]["TableInput"]
    columns = {col["Name"]: col["Type"] for col in table_input["StorageDescriptor"]["Columns"]}
    assert columns == {
        "message": "string",
        "timestamp_ms": "bigint",
        "request_id": "string",
        "row_index": "int",
        "model": "string",
        "model_version": "string",
        "label": "string",
        "label_index": "int",
    }
    assert table_input["Name"] == f"feedback_{synthesized.stack.baseline.model_name}"
    _, predictions = only(synthesized.json, "AWS::Glue::Table", "LogArchiveTable")
    prediction_columns = {
        col["Name"]: col["Type"] for col in predictions["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    }
    assert prediction_columns["confidence"] == "double"


# --- alarms of other issues -------------------------------------------------------------------------------------------
def test_failed_requests_alarm(iris):
    (alarm,) = [
        a["Properties"]
        for a in resources(iris.json, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == names.METRIC_FAILED
    ]
    assert alarm["Namespace"] == names.METRICS_NAMESPACE
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"model": "iris"}
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # what publishes it: the metric filter on the inference log group's "failed" lines, keyed by the line's model
    (published,) = [
        f["Properties"]
        for f in resources(iris.json, "AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == names.METRIC_FAILED
    ]
    assert published["FilterPattern"] == '{ $.message = "failed" }'
    assert published["MetricTransformations"][0]["Dimensions"] == [{"Key": "model", "Value": "$.model"}]


def test_self_check_alarm_compares_window_rows_with_predictions(iris):
    (alarm,) = [a["Properties"] for k, a in resources(iris.json, "AWS::CloudWatch::Alarm").items() if "MonitorSeesFewerRows" in k]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    assert set(queries) >= {"predicted", "windowrows"}
    expression = next(q["Expression"] for q in alarm["Metrics"] if "Expression" in q)
    assert "FILL(windowrows, 0) / 2" in expression and "FILL(predicted, 0) / 15" in expression
    predicted = queries["predicted"]["MetricStat"]
    assert predicted["Metric"]["MetricName"] == names.METRIC_PREDICTIONS and predicted["Period"] == 900
    rows = queries["windowrows"]["MetricStat"]
    assert rows["Metric"]["MetricName"] == names.METRIC_WINDOW_ROWS and rows["Stat"] == "Average"
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 0.5


def test_dashboard_has_quality_widgets(synthesized):
    _, dashboard = only(synthesized.json, "AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for metric in (names.METRIC_REALIZED_ACCURACY, names.METRIC_LABELLED_ROWS, names.METRIC_ESTIMATED_ACCURACY):
        assert f'"{metric}"' in body
    assert f'"service","{names.QUALITY_SERVICE}"' in body


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("rate(1 hour)", 60), ("rate(6 hours)", 360), ("rate(1 minute)", 5), ("rate(3 days)", 1440), ("cron(0 3 * * ? *)", 1440)],
)
def test_schedule_period(expression, minutes):
    assert schedule_period(expression).to_minutes() == minutes


# --- side by side: no duplicate physical names --------------------------------------------------------------------------
NAME_PROPERTIES = {
    "AWS::Glue::Database": lambda p: p["DatabaseInput"]["Name"],
    "AWS::Athena::WorkGroup": lambda p: p["Name"],
    "AWS::SNS::Topic": lambda p: p.get("TopicName"),
    "AWS::CloudWatch::Dashboard": lambda p: p.get("DashboardName"),
    "AWS::CloudWatch::Alarm": lambda p: p.get("AlarmName"),
    "AWS::ApiGateway::RestApi": lambda p: p.get("Name"),
    "AWS::Logs::SubscriptionFilter": lambda p: p.get("FilterName"),
    "AWS::Chatbot::SlackChannelConfiguration": lambda p: p.get("ConfigurationName"),
}


# Names unique only inside a parent resource (a role's policy, an API's stage, a function's alias): no collision.
SCOPED_NAMES = {"AWS::IAM::Policy", "AWS::ApiGateway::Stage", "AWS::Lambda::Alias"}


def physical_names(template: dict[str, Any]) -> list[str]:
    """Every name a resource sets explicitly (account- or region-unique); unnamed resources get generated names."""
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] in NAME_PROPERTIES:
            name = NAME_PROPERTIES[resource["Type"]](props)
            assert name is not None, f"{resource['Type']} without a name derived from the stack"
            found.append(f"{resource['Type']}:{flatten(name)}")
        elif resource["Type"] not in SCOPED_NAMES:
            explicit = [k for k in props if k.endswith("Name") and isinstance(props[k], str) and k not in ("Handler",)]
            found += [f"{resource['Type']}:{props[k]}" for k in explicit]
    return found


def test_iris_and_wine_side_by_side_share_no_physical_name(side_by_side):
    names_by_stack = {stack: physical_names(template) for stack, template in side_by_side.templates.items()}
    for stack, stack_names in names_by_stack.items():
        duplicated = [name for name, count in Counter(stack_names).items() if count > 1]
        assert not duplicated, (stack, duplicated)
    iris, wine = names_by_stack.values()
    assert not set(iris) & set(wine), sorted(set(iris) & set(wine))
    assert len(iris) >= 17  # database, workgroup, topic, dashboard, 14 alarms, API, two filters
    for template in side_by_side.templates.values():
        # Each sets the account's logging role to a role of its own, retained: deleting one never unsets the other's.
        _, account = only(template, "AWS::ApiGateway::Account")
        role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
        assert template["Resources"][role_id]["DeletionPolicy"] == "Retain"


def test_account_logging_role_by_default_and_left_alone_on_opt_out(iris, wine):
    """A fresh account has no API Gateway logging role: the default stack sets one, so its stage can log."""
    account_id, account = only(iris.json, "AWS::ApiGateway::Account")
    assert account["DeletionPolicy"] == "Retain"
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert iris.json["Resources"][role_id]["DeletionPolicy"] == "Retain"
    _, stage = only(iris.json, "AWS::ApiGateway::Stage")
    assert account_id in stage["DependsOn"]  # the stage is created after the account has the role
    assert not resources(wine.json, "AWS::ApiGateway::Account")  # -c api_gateway_account_role=false
    assert not [r for r in resources(wine.json, "AWS::IAM::Role") if "CloudWatchRole" in r]
    _, wine_stage = only(wine.json, "AWS::ApiGateway::Stage")
    assert "DependsOn" not in wine_stage or not [d for d in wine_stage["DependsOn"] if "Account" in d]


# --- data settings -----------------------------------------------------------------------------------------------------
def test_archive_expiry_default_and_off(iris, wine):
    def rule(synthesized: Any) -> dict[str, Any]:
        _, bucket = only(synthesized.json, "AWS::S3::Bucket", "LogArchiveBucket")
        return {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}

    assert rule(iris)["predictions-to-cheaper-storage"]["ExpirationInDays"] == c.ARCHIVE_EXPIRY_DAYS
    assert rule(iris)["feedback-to-cheaper-storage"]["ExpirationInDays"] == c.ARCHIVE_EXPIRY_DAYS
    assert "ExpirationInDays" not in rule(wine)["predictions-to-cheaper-storage"]  # archive_expiry_days=0: kept


def test_customer_managed_key_encrypts_logs_bucket_firehose_and_athena_results(iris, wine):
    key_id, key = only(wine.json, "AWS::KMS::Key", "DataKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    for group in resources(wine.json, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, bucket = only(wine.json, "AWS::S3::Bucket", "LogArchiveBucket")
    (sse,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert sse["BucketKeyEnabled"] is True
    for stream in resources(wine.json, "AWS::KinesisFirehose::DeliveryStream").values():
        encryption = stream["Properties"]["DeliveryStreamEncryptionConfigurationInput"]
        assert encryption == {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": {"Fn::GetAtt": [key_id, "Arn"]}}
    _, workgroup = only(wine.json, "AWS::Athena::WorkGroup")
    encryption = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert not [g for g in resources(iris.json, "AWS::Logs::LogGroup").values() if "KmsKeyId" in g["Properties"]]
    assert not [k for k in resources(iris.json, "AWS::KMS::Key") if "DataKey" in k]


def test_versioning_and_access_logs_only_when_asked_for(iris, wine):
    _, iris_bucket = only(iris.json, "AWS::S3::Bucket", "LogArchiveBucket")
    assert "VersioningConfiguration" not in iris_bucket["Properties"]
    assert "LoggingConfiguration" not in iris_bucket["Properties"]
    _, bucket = only(wine.json, "AWS::S3::Bucket", "LogArchiveBucket")
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    logs_id, logs_bucket = only(wine.json, "AWS::S3::Bucket", "AccessLogsBucket")
    assert bucket["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": c.ACCESS_LOGS_PREFIX,
    }
    assert logs_bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
