"""`make deploy`'s preflight: every account-level prerequisite of the deploy asked for, checked before anything is built.

Without it, a missing profile surfaces after the layer build and a CDK synth as the CLI's generic
"Unable to resolve AWS account to use", and an account that cannot take the stack fails half-way through
CloudFormation. Each check prints one line saying which way the deploy will go; each gap is one message
that names the fix, and exit code 2.

    python scripts/deploy_preflight.py -c model=iris -c alert_email=me@example.com   # before `cdk deploy`
    python scripts/deploy_preflight.py --before-bootstrap  # before `cdk bootstrap`: credentials and region
    python scripts/deploy_preflight.py --before-bootstrap --environment  # the same, printing aws://ACCOUNT/REGION

The `-c key=value` pairs are the deploy's own (cdk.json's context first, then these). Checks, in order:
credentials and region (STS GetCallerIdentity); the CDK bootstrap version (SSM); then, side by side, Lambda
concurrency (GetAccountSettings: `reserved_concurrency` refused when the account cannot keep 100 unreserved),
API Gateway's account CloudWatch role (GetAccount: needed when `api_gateway_account_role=false`), the alert
e-mail's subscription confirmation (the stack's topic, when it exists) and the Slack workspace's authorization in
AWS Chatbot (`slack_workspace_id`), and whether Lake Formation governs new Glue databases. The last line says how
long it took.

Exit codes: 0 ready (a check the caller may not read is a warning, not a failure: CloudFormation checks it
again), 2 not ready (the message says why and what to do). Every call honours AWS_ENDPOINT_URL, so the tests
run against moto on 127.0.0.1 (and botocore's Stubber where moto lacks the API).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: infra.constants (plain names, no CDK) is the repository's
    sys.path.insert(0, str(REPO))

from functions.contract.names import DEFAULT_MODEL  # noqa: E402
from infra import constants as c  # noqa: E402
from infra.api_options import ApiOptions, url_concurrency_problem  # noqa: E402

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
    config = Config(connect_timeout=3, read_timeout=3, retries={"total_max_attempts": 1, "mode": "standard"})
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


# --- what the deploy asks for ---------------------------------------------------------------------------------
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
LAMBDA_MIN_UNRESERVED = c.LAMBDA_MIN_UNRESERVED
RESERVED_BY_STACK = 2  # monitor and quality, one each, with reserved_concurrency=true
CHATBOT_REGION = "us-east-2"  # the AWS Chatbot API's endpoint region (a global service)


def _flag(context: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = context.get(key)
    if raw is None:
        return default
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise NotReady(f"-c {key}={raw}: expected true or false")


@dataclass(frozen=True)
class DeployOptions:
    """The settings the account checks depend on, read as infra/settings.py reads them (same keys and defaults)."""

    stack_name: str
    api: str
    api_gateway_account_role: bool
    reserved_concurrency: bool
    alert_email: str | None
    slack_workspace_id: str | None
    front_door: ApiOptions  # the API options exactly as synth reads them (the Function URL's reservation)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeployOptions:
        model = str(context.get(c.CTX_MODEL) or "").strip() or DEFAULT_MODEL
        try:
            front_door = ApiOptions.from_context(_ContextNode(context))
        except ValueError as error:  # what synth would refuse, refused here first
            raise NotReady(str(error)) from None
        return cls(
            front_door=front_door,
            stack_name=str(context.get(c.CTX_STACK_NAME) or "").strip() or c.stack_name_for(model),
            api=str(context.get(c.CTX_API) or "rest").strip().lower(),
            api_gateway_account_role=_flag(context, c.CTX_API_GATEWAY_ACCOUNT_ROLE, c.DEFAULT_API_GATEWAY_ACCOUNT_ROLE),
            reserved_concurrency=_flag(context, c.CTX_RESERVED_CONCURRENCY, c.DEFAULT_RESERVED_CONCURRENCY),
            alert_email=str(context.get(c.CTX_ALERT_EMAIL) or "").strip() or None,
            slack_workspace_id=str(context.get(c.CTX_SLACK_WORKSPACE_ID) or "").strip() or None,
        )


@dataclass(frozen=True)
class _ContextNode:
    """What ApiOptions.from_context reads of a construct node, over the preflight's context."""

    context: Mapping[str, Any]

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def deploy_context(cdk_json: Path, pairs: Sequence[str]) -> dict[str, str]:
    """cdk.json's context, overridden by `-c key=value` pairs (the CDK CLI's order)."""
    try:
        context = {k: str(v) for k, v in json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}).items()}
    except (OSError, ValueError):
        context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise NotReady(f"-c {pair}: expected key=value")
        context[key.strip()] = value.strip()
    return context


@dataclass(frozen=True)
class Finding:
    """One account check: a line saying which way the deploy goes, and whether it can go at all."""

    check: str
    line: str
    ready: bool = True
    warning: bool = False  # the deploy can go, but something needs a person (printed "warn")


def check_concurrency(lambda_client: Any, options: DeployOptions) -> Finding:
    """GetAccountSettings: reserved concurrency only where the account keeps 100 unreserved after it."""
    from botocore.exceptions import BotoCoreError, ClientError

    flag = f"-c {c.CTX_RESERVED_CONCURRENCY}=true"
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
    except (BotoCoreError, ClientError) as error:
        if options.reserved_concurrency:
            return Finding("concurrency", f"concurrency: not checked ({_error_code(error)}); {flag} reserves 2")
        return Finding("concurrency", f"concurrency: nothing reserved (the default); account not read ({_error_code(error)})")
    quota, unreserved = int(limits["ConcurrentExecutions"]), int(limits["UnreservedConcurrentExecutions"])
    needed = LAMBDA_MIN_UNRESERVED + RESERVED_BY_STACK
    account = f"account quota {quota}, {unreserved} unreserved"
    elsewhere = RESERVED_BY_STACK if options.reserved_concurrency else 0
    url_problem = url_concurrency_problem(options.front_door, unreserved, elsewhere)
    if url_problem:
        return Finding("concurrency", f"concurrency: {url_problem}", ready=False)
    if not options.reserved_concurrency:
        affordable = "would fit" if unreserved >= needed else f"would not fit (needs {needed} unreserved)"
        return Finding("concurrency", f"concurrency: nothing reserved (the default); {account}; {flag} {affordable}")
    if unreserved < needed:
        return Finding(
            "concurrency",
            f"concurrency: {flag} reserves {RESERVED_BY_STACK} but Lambda keeps {LAMBDA_MIN_UNRESERVED} unreserved and the "
            f"{account}: drop {flag} (the monitor's alert state is single-flight without it) or raise the Lambda "
            "concurrency quota (Service Quotas)",
            ready=False,
        )
    return Finding("concurrency", f"concurrency: monitor and quality reserve 1 each ({flag}); {account}")


def check_api_gateway_role(apigateway: Any, options: DeployOptions) -> Finding:
    """GetAccount → cloudwatchRoleArn: REST logging needs it; the stack sets it unless told the account has one."""
    from botocore.exceptions import BotoCoreError, ClientError

    if options.api != "rest":
        return Finding("api gateway role", "API Gateway logging role: not needed (HTTP API access logs)")
    opt_out = f"-c {c.CTX_API_GATEWAY_ACCOUNT_ROLE}=false"
    try:
        role = apigateway.get_account().get("cloudwatchRoleArn")
    except (BotoCoreError, ClientError) as error:
        if options.api_gateway_account_role:
            return Finding(
                "api gateway role", f"API Gateway logging role: the stack sets it (account not read: {_error_code(error)})"
            )
        return Finding("api gateway role", f"API Gateway logging role: not checked ({_error_code(error)}); {opt_out} needs one")
    if options.api_gateway_account_role:
        current = f"replacing {role}; keep that one with {opt_out}" if role else "the account has none yet"
        return Finding("api gateway role", f"API Gateway logging role: the stack sets its own ({current})")
    if role:
        return Finding("api gateway role", f"API Gateway logging role: the account's {role} ({opt_out})")
    return Finding(
        "api gateway role",
        f"API Gateway logging role: the account has none and {opt_out} leaves it to the account, so the stage would fail "
        f'("CloudWatch Logs role ARN must be set in account settings"): drop {opt_out} (the stack then creates it)',
        ready=False,
    )


def _stack_output(cloudformation: Any, stack_name: str, key: str) -> str | None:
    """An output of the deployed stack; None when the stack does not exist yet."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):  # CloudFormation's generic ValidationError; only its text tells
            return None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or []) if stacks}
    return outputs.get(key)


def check_alert_email(cloudformation: Any, sns: Any, options: DeployOptions) -> Finding:
    """The e-mail subscription is created by the deploy but delivers nothing until its link is clicked."""
    from botocore.exceptions import BotoCoreError, ClientError

    email = options.alert_email
    if email is None:
        return Finding("alert e-mail", "alert e-mail: none (-c alert_email=you@example.com subscribes one)")
    confirm = "click the link in the mail 'AWS Notification - Subscription Confirmation'; no alert reaches it until then"
    try:
        topic = _stack_output(cloudformation, options.stack_name, c.OUTPUT_ALERT_TOPIC_ARN)
        if topic is None:
            return Finding("alert e-mail", f"alert e-mail: {options.stack_name} is new; after the deploy, {email}: {confirm}")
        subscriptions = []
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            subscriptions += page.get("Subscriptions", [])
    except (BotoCoreError, ClientError) as error:
        return Finding("alert e-mail", f"alert e-mail: not checked ({_error_code(error)}); {email}: {confirm}")
    mine = [s for s in subscriptions if s.get("Protocol") == "email" and str(s.get("Endpoint", "")).lower() == email.lower()]
    if not mine:
        return Finding("alert e-mail", f"alert e-mail: {email} is subscribed by this deploy; then {confirm}")
    if mine[0].get("SubscriptionArn") == "PendingConfirmation":
        return Finding("alert e-mail", f"alert e-mail: {email} has NOT confirmed its subscription: {confirm}", warning=True)
    return Finding("alert e-mail", f"alert e-mail: {email} confirmed")


def check_slack_workspace(chatbot: Any, options: DeployOptions) -> Finding:
    """AWS Chatbot can only post to a Slack workspace authorized once in its console (OAuth, no API)."""
    from botocore.exceptions import BotoCoreError, ClientError

    workspace = options.slack_workspace_id
    if workspace is None:
        return Finding("slack", "Slack: not asked for (-c slack_workspace_id=T... -c slack_channel_id=C...)")
    authorize = "authorize it once in the AWS Chatbot console (Configure new client, Slack), then invite @aws to the channel"
    try:
        workspaces = []
        for page in chatbot.get_paginator("describe_slack_workspaces").paginate():
            workspaces += page.get("SlackWorkspaces", [])
    except (BotoCoreError, ClientError) as error:
        return Finding(
            "slack", f"Slack: workspace {workspace} not checked ({_error_code(error)}); if the deploy fails, {authorize}"
        )
    names = {w.get("SlackTeamId"): w.get("SlackTeamName") for w in workspaces}
    if workspace in names:
        return Finding("slack", f"Slack: workspace {workspace} ({names[workspace]}) is authorized in AWS Chatbot")
    known = ", ".join(sorted(str(k) for k in names)) or "none"
    return Finding(
        "slack",
        f"Slack: workspace {workspace} is not authorized in AWS Chatbot for this account (authorized: {known}): {authorize}",
        ready=False,
    )


IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"


def check_lake_formation(lakeformation: Any) -> Finding:
    """Lake Formation's defaults for new databases and tables: IAM permissions alone (a fresh account) or LF grants.

    The stack creates a Glue database and two tables and grants the quality function IAM access to them; where Lake
    Formation governs new databases, CloudFormation and that function also need Lake Formation permissions."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        settings = lakeformation.get_data_lake_settings().get("DataLakeSettings", {})
    except (BotoCoreError, ClientError) as error:
        return Finding("lake formation", f"Lake Formation: not checked ({_error_code(error)})")

    def iam_only(key: str) -> bool:
        return any(
            p.get("Principal", {}).get("DataLakePrincipalIdentifier") == IAM_ALLOWED_PRINCIPALS for p in settings.get(key, [])
        )

    if iam_only("CreateDatabaseDefaultPermissions") and iam_only("CreateTableDefaultPermissions"):
        return Finding("lake formation", "Lake Formation: new Glue databases use IAM permissions (the account default)")
    return Finding(
        "lake formation",
        "Lake Formation: new Glue databases here are governed by Lake Formation (no IAMAllowedPrincipals default): make "
        "the CDK deploy role a data lake administrator, and after the deploy grant the quality function's role DESCRIBE "
        "and SELECT on the stack's Glue database, or the archive tables cannot be created or read",
        warning=True,
    )


def account_checks(session: Any, region: str, options: DeployOptions) -> list[Finding]:
    """The account-level checks, side by side (each is one or two short calls): their findings in a fixed order."""
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=3, retries={"total_max_attempts": 1, "mode": "standard"})

    def client(name: str, where: str = region) -> Any:
        return session.client(name, region_name=where, config=config)

    checks: list[Callable[[], Finding]] = [
        lambda: check_concurrency(client("lambda"), options),
        lambda: check_api_gateway_role(client("apigateway"), options),
        lambda: check_alert_email(client("cloudformation"), client("sns"), options),
        lambda: check_slack_workspace(client("chatbot", CHATBOT_REGION), options),
        lambda: check_lake_formation(client("lakeformation")),
    ]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return list(pool.map(lambda run: run(), checks))


def open_session() -> Any:
    """A boto3 session; a profile that does not exist is a NotReady with the fix, not a traceback."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.Session()
    except BotoCoreError as error:  # ProfileNotFound for a mistyped AWS_PROFILE
        raise NotReady(f"cannot load AWS credentials: {error}\n{CREDENTIALS_HELP}") from None


def main(argv: list[str] | None = None) -> int:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-bootstrap", action="store_true", help="check credentials and region only")
    parser.add_argument("--cdk-json", type=Path, default=REPO / "cdk.json")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="the deploy's CDK context (as cdk deploy -c)"
    )
    parser.add_argument(
        "--environment",
        action="store_true",
        help="print only aws://ACCOUNT/REGION on stdout (for `cdk bootstrap`, which then need not synthesize the app)",
    )
    args = parser.parse_args(argv)
    report_to = sys.stderr if args.environment else sys.stdout
    try:
        options = DeployOptions.from_context(deploy_context(args.cdk_json, args.context))
        session = open_session()
        ready = check(session, qualifier=bootstrap_qualifier(args.cdk_json), want_bootstrap=not args.before_bootstrap)
        findings = [] if args.before_bootstrap else account_checks(session, ready.region, options)
    except NotReady as problem:
        print(f"deploy preflight: {problem}", file=sys.stderr)
        return EXIT_NOT_READY
    print(
        f"deploy preflight: account {ready.account}, region {ready.region}, as {ready.identity}; CDK bootstrap {ready.bootstrap}",
        file=report_to,
    )
    if findings:
        print(f"deploy preflight: stack {options.stack_name}", file=report_to)
    for finding in findings:
        mark = "FIX " if not finding.ready else "warn" if finding.warning else "ok  "
        print(f"  {mark} {finding.line}", file=report_to if finding.ready else sys.stderr)
    gaps = [f for f in findings if not f.ready]
    elapsed = time.perf_counter() - began
    checks = 1 + (0 if args.before_bootstrap else 1) + len(findings)  # identity, bootstrap, account checks
    print(f"deploy preflight: {checks} check{'' if checks == 1 else 's'} in {elapsed:.2f} s", file=report_to)
    if gaps:
        print(f"deploy preflight: not ready ({', '.join(f.check for f in gaps)}): nothing was built", file=sys.stderr)
        return EXIT_NOT_READY
    if args.environment:
        print(f"aws://{ready.account}/{ready.region}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
