"""Synthesize the stack once per configuration for the whole session (each synth costs seconds).

Two configurations cover every switch: iris with the defaults (API key, e-mail
alerts, no tracing, no SnapStart, environment-agnostic) and wine with the
alternatives (IAM auth, Slack, tracing, SnapStart through the `live` alias,
90-day retention, data not retained, a concrete account and region, the data
settings: customer-managed key, versioning, access logs, no expiry, the account-level
API Gateway role left to the account, reserved concurrency, a 6-hour quality schedule). A third synth puts iris and wine side by
side in one app. The layer is a stub directory: synth must not depend on `make layer`.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before jsii starts node

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.api_options import ApiOptions, ApiType, QuotaPeriod
from infra.inference_api import ApiAuth
from infra.nag import nag_packs
from infra.stack import InferenceStack

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERT_EMAIL = "ml-oncall@example.com"
SLACK_WORKSPACE = "T0123456789"
SLACK_CHANNEL = "C0123456789"


@dataclass
class Synthesized:
    app: cdk.App
    stack: InferenceStack
    template: Template
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.artifact_id}.template.json"


@pytest.fixture(scope="session")
def stub_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "README.txt").write_text("stub layer for synth tests\n")
    return layer


def synthesize(outdir: Path, layer_dir: Path, **props: Any) -> Synthesized:
    app = cdk.App(outdir=str(outdir))
    stack = InferenceStack(app, "ServerlessInference", layer_dir=layer_dir, **props)
    cdk.Validations.of(app).add_plugins(*nag_packs(app))
    app.synth()  # raises when an unacknowledged cdk-nag finding (AwsSolutions or Serverless) remains
    return Synthesized(app=app, stack=stack, template=Template.from_stack(stack), outdir=outdir)


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory, stub_layer_dir: Path) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-iris"), stub_layer_dir, model="iris", alert_email=ALERT_EMAIL)


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory, stub_layer_dir: Path) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk-wine"),
        stub_layer_dir,
        model="wine",
        slack_workspace_id=SLACK_WORKSPACE,
        slack_channel_id=SLACK_CHANNEL,
        api_auth=ApiAuth.IAM,
        tracing=True,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        retain_data=False,
        snap_start=True,
        archive_expiry_days=0,
        data_kms_key=True,
        bucket_versioning=True,
        s3_access_logs=True,
        api_gateway_account_role=False,  # the account already has API Gateway's logging role
        reserved_concurrency=True,
        quality_schedule="rate(6 hours)",
        quality_lookback_days=14,
        # As under the CDK CLI with a profile: concrete account and region (finding ids then hold literals).
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
    )


@pytest.fixture(scope="session", params=["iris", "wine"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Both configurations, for assertions that must hold for every model."""
    return request.getfixturevalue(request.param)


@dataclass
class SideBySide:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack name -> template


@pytest.fixture(scope="session")
def side_by_side(tmp_path_factory: pytest.TempPathFactory, stub_layer_dir: Path) -> SideBySide:
    """iris and wine as two stacks of one app and one account, as README's side-by-side deploy does."""
    outdir = tmp_path_factory.mktemp("cdk-side-by-side")
    app = cdk.App(outdir=str(outdir))
    stacks = [
        InferenceStack(app, f"ServerlessInference-{model}", model=model, layer_dir=stub_layer_dir, alert_email=ALERT_EMAIL)
        for model in ("iris", "wine")
    ]
    cdk.Validations.of(app).add_plugins(*nag_packs(app))
    app.synth()
    return SideBySide(outdir, {stack.stack_name: dict(Template.from_stack(stack).to_json()) for stack in stacks})


# --- the API front doors (issue 11), one stack each in one app -------------------------------------------------------
COGNITO_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
OIDC_ISSUER = "https://login.example.com/"
COMBINATIONS: dict[str, ApiOptions] = {
    "RestKey": ApiOptions(quota_limit=50_000, quota_period=QuotaPeriod.DAY, rate_limit=20, burst_limit=40),
    "RestKeyWaf": ApiOptions(waf=True, waf_rate_limit=1200),
    "RestIam": ApiOptions(auth=ApiAuth.IAM),
    "RestJwt": ApiOptions(auth=ApiAuth.JWT),  # Cognito user pool created by the stack
    "RestJwtIssuerWaf": ApiOptions(auth=ApiAuth.JWT, jwt_issuer=COGNITO_ISSUER, waf=True),
    "HttpJwt": ApiOptions(api_type=ApiType.HTTP, auth=ApiAuth.JWT, cors_origins=("https://app.example.com",)),
    "HttpJwtIssuer": ApiOptions(api_type=ApiType.HTTP, auth=ApiAuth.JWT, jwt_issuer=OIDC_ISSUER, jwt_audience=("inference",)),
    "HttpIam": ApiOptions(api_type=ApiType.HTTP, auth=ApiAuth.IAM),
    "UrlIam": ApiOptions(api_type=ApiType.URL, auth=ApiAuth.IAM, url_concurrency=5),
}
# Stack properties besides the API options, to cover their combination with an API type.
EXTRA: dict[str, dict[str, Any]] = {"HttpIam": {"snap_start": True}}  # SnapStart: the HTTP integration invokes the alias
REST = [name for name, options in COMBINATIONS.items() if options.api_type is ApiType.REST]
HTTP = [name for name, options in COMBINATIONS.items() if options.api_type is ApiType.HTTP]
URL = [name for name, options in COMBINATIONS.items() if options.api_type is ApiType.URL]


@dataclass
class ApiCombinations:
    stacks: dict[str, InferenceStack]
    templates: dict[str, dict[str, Any]]
    outdir: Path
    violations: list[tuple[str, str, str]]  # (pack, rule, construct path) left unacknowledged

    def acknowledged(self, name: str) -> dict[str, str]:
        metadata = json.loads((self.outdir / f"{name}.metadata.json").read_text())
        rules: dict[str, str] = {}
        for entries in metadata.values():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    rules |= entry["data"]
        return rules


@pytest.fixture(scope="session")
def api_combinations(tmp_path_factory: pytest.TempPathFactory, stub_layer_dir: Path) -> ApiCombinations:
    """Every API combination synthesized once, with AwsSolutions and ServerlessChecks (findings collected, not raised)."""
    outdir = tmp_path_factory.mktemp("cdk-api-options")
    app = cdk.App(outdir=str(outdir))
    stacks = {
        name: InferenceStack(app, name, model="iris", layer_dir=stub_layer_dir, api=options, **EXTRA.get(name, {}))
        for name, options in COMBINATIONS.items()
    }
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    violations: list[tuple[str, str, str]] = []
    try:
        app.synth()
    except Exception:  # a finding left open: read which from the report; the API option tests assert on it
        report = json.loads((outdir / "validation-report.json").read_text())
        for plugin in report["pluginReports"]:
            for violation in plugin["violations"]:
                for construct in violation["violatingConstructs"]:
                    violations.append((plugin["pluginName"], violation["ruleName"], construct["constructPath"]))
    # The templates are on disk even when a validation plugin failed (Template.from_stack would re-run the plugins).
    templates = {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in stacks}
    return ApiCombinations(stacks=stacks, templates=templates, outdir=outdir, violations=violations)
