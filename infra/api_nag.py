"""cdk-nag acknowledgements for the API front door, per API type and authentication, each with a true reason.

Kept apart from `infra/nag.py` so the reasons sit next to the choices they explain. An API key is never
presented as authentication here: AWS documents API keys as identification for usage plans, not as an
authorization mechanism, so with `api_auth=api_key` the reason says exactly that and names the stronger options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from infra.api_options import ApiAuth, ApiType

if TYPE_CHECKING:
    from infra.inference_api import InferenceApi

PACK = "AwsSolutions"


def _ack(scope: IConstruct, rule: str, reason: str, pack: str = PACK) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{pack}::{pack}-{rule}", reason=reason))


def acknowledge_api_findings(inference: InferenceApi) -> None:
    """Acknowledge what this design accepts for the REST or HTTP API; anything else still fails synth."""
    options = inference.options
    api = inference.api
    if options.api_type is ApiType.REST:
        _ack(
            api,
            "APIG2",
            "Requests are validated by the function (pydantic model, row count and width from baseline.json, finite floats) "
            "and rejected with 422 plus a 'rejected' log line the monitor counts; an API Gateway model could not express "
            "the per-model rules and would hide rejections from the prediction log.",
        )
        if not options.waf:
            _ack(
                api,
                "APIG3",
                "No WAF by default (first deploy): a web ACL costs $5 + $1 per rule a month + $0.60 per million requests. "
                "Every method needs a credential and the stage is throttled; deploy with -c waf=true for untrusted clients.",
            )
        if inference.rest_api is not None and inference.rest_api.node.try_find_child("CloudWatchRole") is not None:
            _ack(
                api,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "AWS's own policy for the account-level API Gateway logging role, required for access and execution logs.",
            )
        if options.auth is not ApiAuth.JWT:
            _ack(
                api,
                "COG4",
                "No Cognito authorizer in this configuration: "
                + (
                    "methods require SigV4 (AWS_IAM), which authenticates the caller as an IAM principal."
                    if options.auth is ApiAuth.IAM
                    else "methods require an API key, which identifies a client for its usage plan (throttle, quota) "
                    "but is NOT authentication. Use -c api_auth=jwt (Cognito) or iam (SigV4) for authenticated callers."
                ),
            )
        if not inference.stage_tracing:
            _ack(
                api,
                "APIGWXrayEnabled",
                "X-Ray is off unless -c tracing=true (which turns it on for the stage and the function): the request id "
                "in the access log and the prediction log already join a request end to end at no cost.",
                pack="Serverless",
            )
        if options.auth is ApiAuth.API_KEY:
            _ack(
                api,
                "APIG4",
                "Methods require an API key (identification for throttling and quotas, not authentication): the "
                "first-deploy default, so a new user can call the API with curl. Production: -c api_auth=jwt or iam.",
            )
    if inference.user_pool is not None:
        pool = inference.user_pool.user_pool
        _ack(
            pool,
            "COG2",
            "The pool's users are calling services (no self sign-up; an operator creates each), which cannot answer a "
            "second factor; their passwords are 16+ characters of four classes and tokens live one hour.",
        )
        _ack(
            pool,
            "COG8",
            "Lite tier on purpose: Plus adds threat protection against credential stuffing on sign-in pages, which this "
            "pool does not have (admin-created service users, no hosted UI), at $0.02 per monthly active user.",
        )
