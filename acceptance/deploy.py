"""Deploy the throw-away stack with the CDK CLI (through npx, as `make deploy` does) and read its outputs.

Outputs are read by the keys in infra/constants.py; anything optional (API key, API type) is read when present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import constants as c

from .config import REPO_ROOT, RunConfig

CDK_CLI = ("npx", "--yes", "aws-cdk@2")
DEPLOY_TIMEOUT_SECONDS = 40 * 60
LAYER_TIMEOUT_SECONDS = 20 * 60
# The "api" helper may add an HTTP API option; until its constant exists the key below is what we look for.
OUTPUT_API_TYPE = getattr(c, "OUTPUT_API_TYPE", "ApiType")
API_TYPE_REST = "REST"
API_TYPE_HTTP = "HTTP"
API_TYPE_URL = "URL"  # Lambda Function URL: SigV4 for the service "lambda", no API Gateway

LAYER_DIR = REPO_ROOT / c.LAYER_BUILD_DIR
BOOTSTRAP_STACK = "CDKToolkit"

Runner = Callable[[Sequence[str], float], int]  # (command, timeout seconds) -> exit code


class DeployError(RuntimeError):
    """The stack could not be deployed or its outputs are incomplete."""


def run_command(command: Sequence[str], timeout: float) -> int:
    """Run with the terminal attached (CDK prints its progress), bounded in time."""
    try:
        return subprocess.run(list(command), cwd=REPO_ROOT, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        return -1


PREFLIGHT_TIMEOUT_SECONDS = 60


def preflight_command(config: RunConfig) -> list[str]:
    """`make deploy`'s preflight with the run's own context: an account that cannot take the options is told so
    in one line before the layer build and the deploy (e.g. reserved_concurrency=true in a quota-10 account)."""
    context = [arg for key, value in config.cdk_context().items() for arg in ("-c", f"{key}={value}")]
    return [sys.executable, str(REPO_ROOT / "scripts" / "deploy_preflight.py"), *context]


def layer_command() -> list[str]:
    return [sys.executable, str(REPO_ROOT / "layers" / "build_layer.py")]


def deploy_command(config: RunConfig, outputs_file: Path) -> list[str]:
    context = [arg for key, value in config.cdk_context().items() for arg in ("-c", f"{key}={value}")]
    return [
        *CDK_CLI,
        "deploy",
        config.stack_name,
        *context,
        "--require-approval",
        "never",
        "--outputs-file",
        str(outputs_file),
    ]


@dataclass(frozen=True)
class StackOutputs:
    api_url: str
    api_key_id: str | None
    api_type: str
    alert_topic_arn: str
    inference_log_group: str
    monitor_log_group: str
    archive_bucket: str
    glue_database: str
    glue_table: str
    athena_workgroup: str
    dashboard_url: str
    raw: Mapping[str, str]

    @classmethod
    def parse(cls, outputs: Mapping[str, str]) -> StackOutputs:
        required = [
            c.OUTPUT_API_URL,
            c.OUTPUT_ALERT_TOPIC_ARN,
            c.OUTPUT_INFERENCE_LOG_GROUP,
            c.OUTPUT_MONITOR_LOG_GROUP,
            c.OUTPUT_ARCHIVE_BUCKET,
            c.OUTPUT_GLUE_DATABASE,
            c.OUTPUT_GLUE_TABLE,
            c.OUTPUT_ATHENA_WORKGROUP,
            c.OUTPUT_DASHBOARD_URL,
        ]
        missing = [key for key in required if not outputs.get(key)]
        if missing:
            raise DeployError(f"stack outputs lack {missing}; got {sorted(outputs)}")
        api_type = str(outputs.get(OUTPUT_API_TYPE) or API_TYPE_REST).upper()
        return cls(
            api_url=outputs[c.OUTPUT_API_URL].rstrip("/") + "/",
            api_key_id=outputs.get(c.OUTPUT_API_KEY_ID) or None,
            api_type=API_TYPE_URL if api_type == API_TYPE_URL else API_TYPE_HTTP if "HTTP" in api_type else API_TYPE_REST,
            alert_topic_arn=outputs[c.OUTPUT_ALERT_TOPIC_ARN],
            inference_log_group=outputs[c.OUTPUT_INFERENCE_LOG_GROUP],
            monitor_log_group=outputs[c.OUTPUT_MONITOR_LOG_GROUP],
            archive_bucket=outputs[c.OUTPUT_ARCHIVE_BUCKET],
            glue_database=outputs[c.OUTPUT_GLUE_DATABASE],
            glue_table=outputs[c.OUTPUT_GLUE_TABLE],
            athena_workgroup=outputs[c.OUTPUT_ATHENA_WORKGROUP],
            dashboard_url=outputs[c.OUTPUT_DASHBOARD_URL],
            raw=dict(outputs),
        )


def read_outputs_file(path: Path, stack_name: str) -> StackOutputs:
    """`cdk deploy --outputs-file` writes {stack name: {output key: value}}."""
    if not path.is_file():
        raise DeployError(f"cdk wrote no outputs file at {path}")
    document = json.loads(path.read_text(encoding="utf-8"))
    if stack_name not in document:
        raise DeployError(f"{path} has no outputs for {stack_name} (stacks: {sorted(document)})")
    return StackOutputs.parse(document[stack_name])


def stack_outputs_from_cloudformation(cloudformation: Any, stack_name: str) -> StackOutputs:
    """The same outputs read back from CloudFormation (KEEP=1 reruns, or when the outputs file is missing)."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return StackOutputs.parse({o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])})


@dataclass
class Deployer:
    """Layer build and `cdk deploy`; the runner is injected so tests never start npx."""

    config: RunConfig
    runner: Runner = run_command

    def deploy(self) -> StackOutputs:
        outputs_file = self.config.results_dir / f"{self.config.stack_name}-outputs.json"
        outputs_file.parent.mkdir(parents=True, exist_ok=True)
        if self.runner(preflight_command(self.config), PREFLIGHT_TIMEOUT_SECONDS) != 0:
            raise DeployError("the deploy preflight refused this account for these options; see its output above")
        # The stack checks an existing layer's architecture at synth; build one only when there is none.
        if not (LAYER_DIR / "python").is_dir() and self.runner(layer_command(), LAYER_TIMEOUT_SECONDS) != 0:
            raise DeployError("layer build failed (python layers/build_layer.py); see its output above")
        code = self.runner(deploy_command(self.config, outputs_file), DEPLOY_TIMEOUT_SECONDS)
        if code != 0:
            reason = "timed out" if code == -1 else f"exited with {code}"
            raise DeployError(f"cdk deploy {self.config.stack_name} {reason}; see its output above")
        return read_outputs_file(outputs_file, self.config.stack_name)


def stack_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    """Every resource of the stack with its physical id (retained ones included), or [] when it does not exist."""
    resources: list[dict[str, Any]] = []
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            resources.extend(page.get("StackResourceSummaries", []))
    except Exception as error:
        # CloudFormation answers a missing stack with the generic ValidationError code; only its text tells.
        if "does not exist" in str(error):
            return []
        raise
    return resources


def physical_ids(resources: Sequence[Mapping[str, Any]], resource_type: str) -> list[str]:
    return [
        str(r["PhysicalResourceId"]) for r in resources if r.get("ResourceType") == resource_type and r.get("PhysicalResourceId")
    ]


def require_bootstrap(cloudformation: Any, identity: Any) -> None:
    """`cdk deploy` needs the CDK bootstrap stack; say how to create it instead of failing half-way."""
    try:
        cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)
    except Exception as error:
        if "does not exist" in str(error):
            raise DeployError(
                f"this account/region is not CDK-bootstrapped: run `npx aws-cdk@2 bootstrap aws://{identity.account}/{identity.region}`"
            ) from error
        raise
