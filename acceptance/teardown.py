"""Delete the throw-away stack and everything it leaves behind, step by step, every step attempted.

The stack is deployed with `retain_data=false`, so CloudFormation deletes its log groups and table; the archive
bucket is retained by design (training data outlives a stack) and is emptied (every version and delete marker)
and deleted here. Log groups that Lambda or CDK custom resources create outside the template, and anything a
failed deployment left, are found by the stack's unique name. Only names this suite generated are touched.
The account-level API Gateway CloudWatch role (retained by the stack on purpose, shared by every API in the
account and region) and the CDK bootstrap assets are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from .config import is_acceptance_stack
from .deploy import physical_ids, stack_resources

STACK_DELETE_MAX_ATTEMPTS = 120  # x 15 s: 30 minutes
LEFT_ON_PURPOSE = (
    "API Gateway's account-level CloudWatch role (AWS::ApiGateway::Account), shared by every API in this region",
    "CDK bootstrap assets (layer and code zips) in the CDKToolkit bucket",
)


class TeardownRefused(ValueError):
    """Asked to delete something this suite did not create."""


@dataclass
class TeardownReport:
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=lambda: list(LEFT_ON_PURPOSE))

    @property
    def ok(self) -> bool:
        return not self.errors


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) if isinstance(error, ClientError) else ""


@dataclass
class Teardown:
    clients: Callable[[str], Any]
    stack_name: str
    log: Callable[[str], None] = print
    extra_steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)  # e.g. the suite's queue, probe log group

    def __post_init__(self) -> None:
        if not is_acceptance_stack(self.stack_name):
            raise TeardownRefused(f"refusing to tear down {self.stack_name!r}: not a name this suite generated")

    def _step(self, report: TeardownReport, what: str, action: Callable[[], None]) -> None:
        try:
            action()
            report.deleted.append(what)
            self.log(f"teardown: {what}")
        except Exception as error:
            report.errors.append(f"{what}: {error}")
            self.log(f"teardown: FAILED {what}: {error}")

    def run(self) -> TeardownReport:
        report = TeardownReport()
        for what, action in self.extra_steps:
            self._step(report, what, action)
        cloudformation = self.clients("cloudformation")
        try:
            resources = stack_resources(cloudformation, self.stack_name)
        except Exception as error:
            report.errors.append(f"list stack resources: {error}")
            resources = []
        if resources or self._stack_exists():
            self._step(report, f"stack {self.stack_name}", self._delete_stack)
        buckets = set(physical_ids(resources, "AWS::S3::Bucket")) | set(self._buckets_by_name())
        for bucket in sorted(buckets):
            self._step(report, f"bucket {bucket} (emptied, all versions)", partial(self._delete_bucket, bucket))
        for queue_url in self._queues_by_name():  # the suite's alert queue after KEEP=1, or a failed deploy's queues
            self._step(
                report, f"queue {queue_url.rsplit('/', 1)[-1]}", partial(self.clients("sqs").delete_queue, QueueUrl=queue_url)
            )
        groups = set(physical_ids(resources, "AWS::Logs::LogGroup")) | set(self._log_groups_by_name())
        # API Gateway creates its execution-log group itself, named after the API id rather than the stack.
        for api_id in physical_ids(resources, "AWS::ApiGateway::RestApi"):
            groups |= set(self._log_groups_by_prefix(f"API-Gateway-Execution-Logs_{api_id}/"))
        for group in sorted(groups):
            self._step(report, f"log group {group}", partial(self._delete_log_group, group))
        return report

    # --- the stack -----------------------------------------------------------------------------------------
    def _stack_exists(self) -> bool:
        try:
            self.clients("cloudformation").describe_stacks(StackName=self.stack_name)
        except ClientError as error:
            if "does not exist" in str(error):
                return False
            raise
        return True

    def _delete_stack(self) -> None:
        cloudformation = self.clients("cloudformation")
        cloudformation.delete_stack(StackName=self.stack_name)
        waiter = cloudformation.get_waiter("stack_delete_complete")
        waiter.wait(StackName=self.stack_name, WaiterConfig={"Delay": 15, "MaxAttempts": STACK_DELETE_MAX_ATTEMPTS})

    # --- retained and orphaned data ---------------------------------------------------------------------------
    def _buckets_by_name(self) -> list[str]:
        """CDK names buckets `<stack name, lower case>-<construct path>-<hash>`."""
        prefix = self.stack_name.lower() + "-"
        s3 = self.clients("s3")
        return [b["Name"] for b in s3.list_buckets().get("Buckets", []) if str(b["Name"]).startswith(prefix)]

    def _queues_by_name(self) -> list[str]:
        reply = self.clients("sqs").list_queues(QueueNamePrefix=f"{self.stack_name}-")
        return [str(url) for url in reply.get("QueueUrls", [])]

    def _log_groups_by_name(self) -> list[str]:
        return [
            g for prefix in (f"{self.stack_name}-", f"/aws/lambda/{self.stack_name}-") for g in self._log_groups_by_prefix(prefix)
        ]

    def _log_groups_by_prefix(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.clients("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            found.extend(g["logGroupName"] for g in page.get("logGroups", []))
        return found

    def _delete_bucket(self, bucket: str) -> None:
        s3 = self.clients("s3")
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                keys = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for kind in ("Versions", "DeleteMarkers")
                    for item in page.get(kind, [])
                ]
                for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                    reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
                    if reply.get("Errors"):
                        raise RuntimeError(f"could not delete {len(reply['Errors'])} objects: {reply['Errors'][0]}")
            s3.delete_bucket(Bucket=bucket)
        except ClientError as error:
            if _code(error) != "NoSuchBucket":
                raise

    def _delete_queue(self, url: str) -> None:
        sqs = self.clients("sqs")
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):  # listings lag a deletion by up to a minute
            sqs.delete_queue(QueueUrl=url)

    def _delete_log_group(self, group: str) -> None:
        with contextlib.suppress(self.clients("logs").exceptions.ResourceNotFoundException):
            self.clients("logs").delete_log_group(logGroupName=group)
