"""cdk-nag (AwsSolutions) acknowledgements, each with the reason it is accepted.

Every finding is acknowledged on the narrowest construct that produces it, and
IAM5 findings name the exact action or resource, so a new wildcard elsewhere
still fails synth. The list is also printed in docs/infrastructure.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from infra.api_nag import acknowledge_api_findings

if TYPE_CHECKING:
    from infra.stack import InferenceStack

PACK = "AwsSolutions"


def _ack(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def acknowledge_findings(stack: InferenceStack) -> None:
    """Acknowledge the AwsSolutions findings this design accepts; anything else still fails synth."""
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(
            id="CloudFormation-Validate::W7001",
            reason="aws-cdk-lib's Firehose module always emits its CIDR-block mapping; it is only used by HTTP/Redshift "
            "destinations, not by this S3 destination.",
        )
    )
    inference, monitor, archive = stack.inference, stack.monitor, stack.archive

    for function in (inference.function, monitor.function):
        _ack(
            function,
            "L1",
            "Runtime pinned to python3.12 on purpose: the layer's compiled wheels (numpy, onnxruntime, pydantic-core) "
            "are built for cp312 by layers/build_layer.py; runtime and layer are upgraded together.",
        )

    acknowledge_api_findings(inference)  # REST or HTTP API, per authentication: infra/api_nag.py

    _ack(
        monitor.dead_letter_queue,
        "SQS3",
        "This queue is itself the dead-letter queue (Lambda on-failure destination and EventBridge target DLQ).",
    )
    _ack(
        monitor.role,
        "IAM5[Resource::*]",
        "logs:GetQueryResults and logs:StopQuery take a query id and support no resource-level permissions; "
        "logs:StartQuery is scoped to the inference log group.",
    )
    _ack(
        monitor.role,
        "IAM5[Action::kms:GenerateDataKey*]",
        "Added by topic.grant_publish for the alert topic's own KMS key only; SNS needs GenerateDataKey* to publish.",
    )

    _ack(
        archive.bucket,
        "S1",
        "Written only by Firehose through its role and read through Athena; access is audited with CloudTrail. "
        "A second logging bucket would double the buckets to secure for no extra signal.",
    )
    firehose_role = archive.delivery_stream.node.find_child("S3 Destination Role")
    for rule in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"):
        _ack(firehose_role, f"IAM5[Action::{rule}]", "CDK's standard Firehose → S3 grant, limited to the archive bucket.")
    bucket_id = stack.get_logical_id(archive.bucket.node.default_child)  # type: ignore[arg-type]
    _ack(
        firehose_role,
        f"IAM5[Resource::<{bucket_id}.Arn>/*]",
        "Firehose writes objects under date prefixes that do not exist in advance; limited to the archive bucket.",
    )

    if stack.tracing:
        _ack(
            inference.role,
            "IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing enabled).",
        )
