"""boto3 clients for the run, built once with bounded timeouts and retries, plus the credential preflight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Every call is bounded: a hung connection must not hold a throw-away stack (and its cost) open.
CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 5})
PREFLIGHT_CONFIG = Config(connect_timeout=5, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 1})


class NoCredentialsError(RuntimeError):
    """No usable AWS credentials or region: nothing was deployed."""


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
    region: str


def preflight(session: Any, region: str | None) -> Identity:
    """Fail fast, before any other AWS call: no credential source at all, no region, or STS refusing them.

    `get_credentials()` walks botocore's provider chain (env, profile, SSO, container, instance metadata with its
    own 1 s timeout) without calling AWS when none is configured; only then does STS get a 5 s chance.
    """
    hint = "set AWS_PROFILE (and `aws sso login`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then run `make acceptance` again"
    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:
        raise NoCredentialsError(f"no usable AWS credentials ({error}); {hint}") from error
    if credentials is None:
        raise NoCredentialsError(f"no AWS credentials found (environment, profile, SSO, container or instance role); {hint}")
    resolved_region = region or session.region_name
    if not resolved_region:
        raise NoCredentialsError("no AWS region: set AWS_REGION (e.g. AWS_REGION=us-east-1 make acceptance)")
    sts = session.client("sts", region_name=resolved_region, config=PREFLIGHT_CONFIG)
    try:
        reply = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise NoCredentialsError(f"AWS refused or did not answer STS GetCallerIdentity within 5 s: {error}; {hint}") from error
    return Identity(account=str(reply["Account"]), arn=str(reply["Arn"]), region=resolved_region)


class Clients:
    """One client per service, created on first use (a dry run or an early failure creates none)."""

    def __init__(self, session: Any, region: str, config: Config = CLIENT_CONFIG) -> None:
        self.session = session
        self.region = region
        self._config = config
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str, *, read_timeout: int | None = None) -> Any:
        """The service's client; `read_timeout` gives a separate one for a long synchronous call, tried once (a retry
        after a read timeout would run a Lambda function a second time)."""
        key = f"{service}:{read_timeout}" if read_timeout else service
        if key not in self._clients:
            config = self._config
            if read_timeout:
                config = config.merge(Config(read_timeout=read_timeout, retries={"mode": "standard", "total_max_attempts": 1}))
            self._clients[key] = self.session.client(service, region_name=self.region, config=config)
        return self._clients[key]


def new_session(profile: str | None = None) -> Any:
    return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
