"""`make deploy`'s preflight: AWS credentials, region and `cdk bootstrap`, checked in seconds before anything is built.

Without it, a missing profile surfaces after the layer build and a CDK synth as the CLI's generic
"Unable to resolve AWS account to use", with no hint of what to do. Each failure here is one message
that names the fix, and exit code 2.

    python scripts/deploy_preflight.py                     # before `cdk deploy`: credentials, region, bootstrap
    python scripts/deploy_preflight.py --before-bootstrap  # before `cdk bootstrap`: credentials and region
    python scripts/deploy_preflight.py --before-bootstrap --environment  # the same, printing aws://ACCOUNT/REGION

Exit codes: 0 ready (a bootstrap check the caller may not read is a warning, not a failure: CDK checks it
again), 2 not ready (the message says why and what to do). The AWS calls are STS GetCallerIdentity and
SSM GetParameter on the bootstrap version parameter that `cdk bootstrap` writes and every CDK template checks;
both honour AWS_ENDPOINT_URL, so the tests run against moto on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_QUALIFIER = "hnb659fds"  # CDK v2's default bootstrap qualifier
QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"
MIN_BOOTSTRAP_VERSION = 6  # CDK v2 templates refuse to deploy into an older bootstrap stack
EXIT_NOT_READY = 2

CREDENTIALS_HELP = """\
  Pick credentials, then run make deploy again:
    export AWS_PROFILE=<profile>        # a profile from ~/.aws/config (create one with `aws configure sso` or `aws configure`)
    aws sso login                       # when the profile uses IAM Identity Center
  or export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
  First deploy into an account and region: make bootstrap (once), then make deploy."""
REGION_HELP = """\
  Set the region to deploy to, then run make deploy again:
    export AWS_REGION=eu-west-1         # or `region = ...` in the profile's section of ~/.aws/config
  First deploy into that region: make bootstrap (once), then make deploy."""


class NotReady(Exception):
    """The account cannot take a deployment yet; the message says what to do."""


@dataclass(frozen=True)
class Ready:
    account: str
    region: str
    identity: str
    bootstrap: str  # what was found, or why it was not checked


def bootstrap_qualifier(cdk_json: Path) -> str:
    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError):
        return DEFAULT_QUALIFIER
    return str(context.get(QUALIFIER_CONTEXT_KEY) or DEFAULT_QUALIFIER)


def _error_code(error: Exception) -> str:
    response: dict[str, Any] = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def check(session: Any, *, qualifier: str, want_bootstrap: bool) -> Ready:
    """Credentials, region, identity and (optionally) the bootstrap version, in that order; NotReady on the first gap."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:  # e.g. AWS_PROFILE names a profile that does not exist
        raise NotReady(f"cannot load AWS credentials: {error}\n{CREDENTIALS_HELP}") from None
    if credentials is None:
        raise NotReady(f"no AWS credentials found (no AWS_PROFILE, no access keys, no SSO session).\n{CREDENTIALS_HELP}")
    # the CDK CLI reads AWS_REGION first, then what botocore knows (AWS_DEFAULT_REGION, the profile); so do we
    region = os.environ.get("AWS_REGION") or session.region_name
    if not region:
        raise NotReady(f"no AWS region set (AWS_REGION, AWS_DEFAULT_REGION or the profile's region).\n{REGION_HELP}")
    # short timeouts and one attempt: a preflight that hangs is worse than none
    config = Config(connect_timeout=3, read_timeout=3, retries={"max_attempts": 1, "mode": "standard"})
    try:
        identity = session.client("sts", region_name=region, config=config).get_caller_identity()
    except ClientError as error:
        raise NotReady(
            f"the AWS credentials were refused ({_error_code(error)}: {error}).\n"
            f"  Expired SSO session: aws sso login. Otherwise pick other credentials.\n{CREDENTIALS_HELP}"
        ) from None
    except (ConnectionError, HTTPClientError) as error:
        raise NotReady(
            f"cannot reach AWS STS in {region}: {error}\n  Check the network, AWS_REGION and AWS_ENDPOINT_URL."
        ) from None
    except BotoCoreError as error:  # e.g. an SSO profile whose login expired
        raise NotReady(f"the AWS credentials cannot be used: {error}\n{CREDENTIALS_HELP}") from None
    account, arn = str(identity["Account"]), str(identity["Arn"])
    if not want_bootstrap:
        return Ready(account, region, arn, "not checked")
    parameter = f"/cdk-bootstrap/{qualifier}/version"
    try:
        value = session.client("ssm", region_name=region, config=config).get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        code = _error_code(error)
        if code == "ParameterNotFound":
            raise NotReady(
                f"account {account} is not bootstrapped for the CDK in {region} (no SSM parameter {parameter}).\n"
                f"  Run once per account and region: make bootstrap   (cdk bootstrap through npx, as {arn})\n"
                "  then make deploy again."
            ) from None
        return Ready(account, region, arn, f"not checked ({code} on {parameter}; cdk deploy checks it again)")
    except BotoCoreError as error:
        return Ready(account, region, arn, f"not checked ({error}; cdk deploy checks it again)")
    try:
        version = int(value)
    except ValueError:
        version = 0
    if version < MIN_BOOTSTRAP_VERSION:
        raise NotReady(
            f"the CDK bootstrap stack in {account}/{region} is version {value}; CDK v2 needs {MIN_BOOTSTRAP_VERSION} or newer.\n"
            "  Upgrade it once: make bootstrap, then make deploy again."
        )
    return Ready(account, region, arn, f"version {version} ({parameter})")


def open_session() -> Any:
    """A boto3 session; a profile that does not exist is a NotReady with the fix, not a traceback."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.Session()
    except BotoCoreError as error:  # ProfileNotFound for a mistyped AWS_PROFILE
        raise NotReady(f"cannot load AWS credentials: {error}\n{CREDENTIALS_HELP}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-bootstrap", action="store_true", help="check credentials and region only")
    parser.add_argument("--cdk-json", type=Path, default=REPO / "cdk.json")
    parser.add_argument(
        "--environment",
        action="store_true",
        help="print only aws://ACCOUNT/REGION on stdout (for `cdk bootstrap`, which then need not synthesize the app)",
    )
    args = parser.parse_args(argv)
    try:
        ready = check(open_session(), qualifier=bootstrap_qualifier(args.cdk_json), want_bootstrap=not args.before_bootstrap)
    except NotReady as problem:
        print(f"deploy preflight: {problem}", file=sys.stderr)
        return EXIT_NOT_READY
    report = (
        f"deploy preflight: account {ready.account}, region {ready.region}, as {ready.identity}; CDK bootstrap {ready.bootstrap}"
    )
    if args.environment:
        print(report, file=sys.stderr)
        print(f"aws://{ready.account}/{ready.region}")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
