"""cdk-nag acknowledgements (AwsSolutions and Serverless packs), each with a reason that is true of this stack.

Every finding is acknowledged on the narrowest construct that produces it, and IAM5
findings name the exact action or resource, so a new wildcard elsewhere still fails
synth. The components come in as arguments (not the stack), so this module imports no
stack and the stack imports it: no import circle. The list is printed in
docs/infrastructure.md, with the NIST 800-53 R5 findings left open and what closes them.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

from infra.alerts import Alerts
from infra.api_nag import acknowledge_api_findings
from infra.archive import LogArchive
from infra.inference_api import InferenceApi
from infra.monitor import Monitor
from infra.quality import Quality

AWS_SOLUTIONS = "AwsSolutions"
SERVERLESS = "Serverless"


def nag_packs(app: cdk.App) -> list[cdk.IPolicyValidationPlugin]:
    """The packs every synth runs (app.py and the tests): an unacknowledged finding of either fails synth."""
    return [AwsSolutionsChecks(app), ServerlessChecks(app)]


def _ack(scope: IConstruct, rule: str, reason: str, pack: str = AWS_SOLUTIONS) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{pack}::{pack}-{rule}", reason=reason))


def acknowledge_findings(
    stack: cdk.Stack,
    *,
    alerts: Alerts,
    inference: InferenceApi,
    monitor: Monitor,
    archive: LogArchive,
    quality: Quality,
    tracing: bool,
    access_logs_bucket: s3.IBucket | None = None,
) -> None:
    """Acknowledge the findings this design accepts; anything else still fails synth."""
    for subscription in alerts.topic.node.children:
        if isinstance(subscription, sns.Subscription):
            _ack(
                subscription,
                "SNSRedrivePolicy",
                "No dead-letter queue for the e-mail subscription: a notification SNS still cannot deliver after its e-mail "
                "retries is dropped. Accepted: the alarm's state and history stay in CloudWatch (dashboard alarm widget), and "
                "a queue of undelivered e-mails would itself need someone watching it.",
                SERVERLESS,
            )
    functions = (inference.function, monitor.function, quality.function)
    for function in functions:
        _ack(
            function,
            "L1",
            "Runtime pinned to python3.12 on purpose: the layer's compiled wheels (numpy, onnxruntime, pydantic-core) "
            "are built for cp312 by layers/build_layer.py from a hash lock; runtime and layer are upgraded together.",
        )
    for function in functions:
        _ack(
            function,
            "LambdaLatestVersion",
            "python3.12 on purpose: the layer's compiled wheels are cp312 (layers/requirements.lock); moving to a newer "
            "runtime means re-locking and rebuilding the layer, done together, not by the runtime setting alone.",
            SERVERLESS,
        )
    _ack(
        inference.function,
        "LambdaDLQ",
        "Invoked synchronously by API Gateway: a failed request is answered (JSON 500, one 'failed' log line, an alarm) "
        "and there is no event to keep; dead-letter targets apply to asynchronous invocations only.",
        SERVERLESS,
    )
    traced = (inference.function,) if tracing else ()
    for function in (f for f in functions if f not in traced):
        _ack(
            function,
            "LambdaTracing",
            "X-Ray is opt-in (-c tracing=true, inference function and stage): the tracer adds ~0.6 s to cold starts. "
            "Requests and runs are correlated by request id in the structured logs and EMF metrics instead.",
            SERVERLESS,
        )
    for function in (monitor.function, quality.function):
        _ack(
            function,
            "LambdaDLQ",
            "Failed asynchronous invocations go to an SQS on-failure destination (EventInvokeConfig), which records the "
            "event and the error; AWS recommends destinations over the older DeadLetterConfig, and the queue raises an alarm.",
            SERVERLESS,
        )

    acknowledge_api_findings(inference)  # REST or HTTP API, per authentication: infra/api_nag.py

    for queue in (monitor.dead_letter_queue, quality.dead_letter_queue):
        _ack(
            queue,
            "SQS3",
            "This queue is itself the dead-letter queue (Lambda on-failure destination and EventBridge target DLQ).",
        )
        _ack(
            queue,
            "SQSRedrivePolicy",
            "This queue is itself the dead-letter queue: nothing consumes it automatically, an alarm fires on its first "
            "message and an operator reads it; a redrive policy would need a third queue.",
            SERVERLESS,
        )
    _ack(
        monitor.role,
        "IAM5[Resource::*]",
        "logs:GetQueryResults and logs:StopQuery take a query id and support no resource-level permissions; "
        "logs:StartQuery is scoped to the inference log group. cloudwatch:GetMetricData supports no resource-level "
        "permissions either (it reads the inference function's Predictions count per minute).",
    )
    for role in (monitor.role, quality.role):
        _ack(
            role,
            "IAM5[Action::kms:GenerateDataKey*]",
            "Added by topic.grant_publish for the alert topic's own KMS key only; SNS needs GenerateDataKey* to publish.",
        )
    bucket_id = stack.get_logical_id(archive.bucket.node.default_child)  # type: ignore[arg-type]

    def objects(prefix: str) -> str:
        return f"IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]"

    for prefix in (archive.data_prefix, archive.feedback_prefix, archive.results_prefix):
        _ack(
            quality.role,
            objects(prefix),
            f"Objects under exactly {prefix}: Athena reads objects named by date partitions and writes result files with "
            "generated names, so object ARNs end in /*; no other prefix of the bucket is readable.",
        )
    for records in (archive.predictions, archive.feedback):
        for prefix in (records.prefix, records.error_prefix):
            _ack(
                records.policy,
                objects(prefix),
                f"Objects under exactly {prefix}: Firehose writes objects with generated names under date prefixes that do "
                "not exist in advance. No delete actions are granted.",
            )

    if access_logs_bucket is None:
        _ack(
            archive.bucket,
            "S1",
            "Server access logs are off by default (-c s3_access_logs=true turns them on, into a second bucket). Without "
            "them there is no per-request record of S3 reads: CloudTrail management events do not cover object access, "
            "and this stack creates no trail with S3 data events.",
        )
    else:
        _ack(
            access_logs_bucket,
            "S1",
            "This bucket receives the archive bucket's server access logs; logging it in turn would recurse.",
        )

    if tracing:
        _ack(
            inference.role,
            "IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing enabled).",
        )
