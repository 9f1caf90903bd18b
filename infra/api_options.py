"""Which API fronts the inference function, and how it is protected: read from CDK context, validated once.

The combinations are checked here, before any construct exists, so a wrong `-c` value fails synth with one line
naming the key instead of a CloudFormation error at deploy time:

- `api=rest` (default): `api_auth=api_key` (default; API key + usage plan, quotas), `iam` (SigV4) or `jwt`
  (Cognito user-pool authorizer: REST APIs verify JWTs only from Cognito user pools); `waf=true` adds a web ACL.
- `api=http`: `api_auth=jwt` (default; any OIDC issuer, or a Cognito user pool the stack creates) or `iam`.
  HTTP APIs have no API keys, usage plans or WAF association, so those settings are refused.
- `api=url`: a Lambda Function URL, `api_auth=iam` only (SigV4: callers inside AWS). No API Gateway, so no request
  charge, no access log (the function writes the caller into each prediction line), no stage throttle: the function's
  reserved concurrency (`url_concurrency`) caps it instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Protocol

from functions.contract import names
from infra import constants as c


class ApiType(enum.Enum):
    REST = "rest"
    HTTP = "http"
    URL = "url"  # Lambda Function URL: no API Gateway


class ApiAuth(enum.Enum):
    API_KEY = "api_key"
    IAM = "iam"
    JWT = "jwt"


class QuotaPeriod(enum.Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


# A Cognito user pool's issuer; REST Cognito authorizers need the pool, which the issuer names.
COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool_id>[a-z0-9-]+_[A-Za-z0-9]+)$")
DEFAULT_RATE_LIMIT = 100  # requests per second, stage-wide (and per key on REST)
DEFAULT_BURST_LIMIT = 200
# WAF rate-based rule: requests per IP in 5 minutes. 6000 = 20 requests/s sustained from one address, a fifth of
# the stage limit: one client cannot take the whole stage, and a batch client behind one NAT is not cut off.
DEFAULT_WAF_RATE_LIMIT = 6000
WAF_RATE_LIMIT_MIN = 10  # WAFv2's minimum for a rate-based rule
# Function URL: concurrent executions reserved for (and capping) the function. At ~2 ms billed per one-row request,
# 10 environments answer up to ~5,000 requests a second; the account must keep 100 unreserved (scripts/deploy_preflight.py).
DEFAULT_URL_CONCURRENCY = 10
LAMBDA_MIN_UNRESERVED = c.LAMBDA_MIN_UNRESERVED


class ContextSource(Protocol):
    """A construct's node, or the deploy preflight's context (it reads these options without the CDK library)."""

    def try_get_context(self, key: str) -> Any: ...


def url_concurrency_problem(options: ApiOptions, unreserved: int, reserved_elsewhere: int = 0) -> str | None:
    """For the deploy preflight (GetAccountSettings' UnreservedConcurrentExecutions): why a Function URL's
    reservation would fail the deploy, with the fix; None when it fits or the front door is not a Function URL."""
    if options.api_type is not ApiType.URL:
        return None
    left = unreserved - reserved_elsewhere - options.url_concurrency
    if left >= LAMBDA_MIN_UNRESERVED:
        return None
    most = unreserved - reserved_elsewhere - LAMBDA_MIN_UNRESERVED
    fix = f"-c {c.CTX_URL_CONCURRENCY}={most}" if most >= 1 else f"-c {c.CTX_API}=http (a stage throttle reserves nothing)"
    return (
        f"{c.CTX_API}=url reserves {options.url_concurrency} executions for the inference function, but the account has "
        f"{unreserved} unreserved"
        + (f" ({reserved_elsewhere} more reserved by this stack)" if reserved_elsewhere else "")
        + f" and Lambda keeps {LAMBDA_MIN_UNRESERVED} unreserved: use {fix}, or ask for a higher concurrency quota "
        "(Service Quotas: Lambda, Concurrent executions)"
    )


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _flag(value: Any, key: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"context '{key}': expected true/false, got {value!r}")


def _positive_int(value: Any, key: str, default: int | None, minimum: int = 1) -> int | None:
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"context '{key}': {value!r} is not a whole number") from None
    if number < minimum:
        raise ValueError(f"context '{key}': {number} is below the minimum {minimum}")
    return number


def _list(value: Any) -> tuple[str, ...]:
    """A context list: a JSON list (cdk.json) or comma-separated text (`-c key=a,b`)."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(text for text in (str(item).strip() for item in items) if text)


def _enum(enum_type: type[enum.Enum], value: str, key: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        raise ValueError(f"context '{key}': {value!r}; use one of {[m.value for m in enum_type]}") from None


@dataclass(frozen=True)
class ApiOptions:
    """Everything about the front door; the defaults are today's REST API with an API key."""

    api_type: ApiType = ApiType.REST
    auth: ApiAuth = ApiAuth.API_KEY
    jwt_issuer: str | None = None  # none with jwt: the stack creates a Cognito user pool and app client
    jwt_audience: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()  # HTTP API only
    waf: bool = False  # REST only
    waf_rate_limit: int = DEFAULT_WAF_RATE_LIMIT
    rate_limit: int = DEFAULT_RATE_LIMIT
    burst_limit: int = DEFAULT_BURST_LIMIT
    quota_limit: int | None = None  # requests per key per quota period (REST with API key)
    quota_period: QuotaPeriod = QuotaPeriod.MONTH
    url_concurrency: int = DEFAULT_URL_CONCURRENCY  # Function URL only: reserved concurrency of the function
    unseen_categories: str = names.UNSEEN_ACCEPT  # a model with categorical features: serve or refuse unlisted values

    def __post_init__(self) -> None:
        self.validate()

    @property
    def creates_user_pool(self) -> bool:
        return self.auth is ApiAuth.JWT and self.jwt_issuer is None

    @property
    def cognito_issuer(self) -> re.Match[str] | None:
        return COGNITO_ISSUER.match(self.jwt_issuer) if self.jwt_issuer else None

    def validate(self) -> None:
        """Refuse combinations AWS cannot build, with the reason and the alternative."""
        if self.unseen_categories not in names.UNSEEN_POLICIES:
            raise ValueError(
                f"context '{c.CTX_UNSEEN_CATEGORIES}': {self.unseen_categories!r}; use {' or '.join(names.UNSEEN_POLICIES)}"
            )
        if self.api_type is ApiType.URL:
            self._validate_url()
            return
        http = self.api_type is ApiType.HTTP
        if http and self.auth is ApiAuth.API_KEY:
            raise ValueError(
                f"context '{c.CTX_API_AUTH}': HTTP APIs have no API keys; use {c.CTX_API_AUTH}=jwt or iam "
                f"(or {c.CTX_API}=rest for keys and usage plans)"
            )
        if http and self.waf:
            raise ValueError(
                f"context '{c.CTX_WAF}': AWS WAF cannot be associated with an HTTP API (REST API stages only); "
                f"use {c.CTX_API}=rest with {c.CTX_WAF}=true, or put CloudFront with a web ACL in front"
            )
        if self.cors_origins and not http:
            raise ValueError(
                f"context '{c.CTX_CORS_ORIGINS}': CORS is configured on the HTTP API only ({c.CTX_API}=http); a REST "
                "proxy's CORS headers would have to come from the function"
            )
        if self.auth is not ApiAuth.JWT and (self.jwt_issuer or self.jwt_audience):
            raise ValueError(f"context '{c.CTX_JWT_ISSUER}'/'{c.CTX_JWT_AUDIENCE}' need {c.CTX_API_AUTH}=jwt")
        if self.jwt_issuer is not None:
            if not self.jwt_issuer.startswith("https://"):
                raise ValueError(f"context '{c.CTX_JWT_ISSUER}': {self.jwt_issuer!r} must be an https:// issuer URL")
            if http and not self.jwt_audience:
                raise ValueError(
                    f"context '{c.CTX_JWT_AUDIENCE}': an HTTP API JWT authorizer needs at least one audience "
                    "(the app client id for Cognito)"
                )
            if not http and self.cognito_issuer is None:
                raise ValueError(
                    f"context '{c.CTX_JWT_ISSUER}': REST APIs verify JWTs only from a Cognito user pool "
                    "(https://cognito-idp.<region>.amazonaws.com/<pool id>); use api=http for any other OIDC issuer"
                )
        elif self.jwt_audience:
            raise ValueError(f"context '{c.CTX_JWT_AUDIENCE}' needs '{c.CTX_JWT_ISSUER}' (without it the stack creates the pool)")
        if self.quota_limit is not None and (http or self.auth is not ApiAuth.API_KEY):
            raise ValueError(
                f"context '{c.CTX_API_QUOTA_LIMIT}': quotas are kept per API key (REST with {c.CTX_API_AUTH}=api_key)"
            )
        if self.burst_limit < 1 or self.rate_limit < 1:
            raise ValueError("throttling limits must be positive")
        if self.waf_rate_limit < WAF_RATE_LIMIT_MIN:
            raise ValueError(f"context '{c.CTX_WAF_RATE_LIMIT}': at least {WAF_RATE_LIMIT_MIN}")

    def _validate_url(self) -> None:
        url = f"{c.CTX_API}=url"
        if self.auth is not ApiAuth.IAM:
            raise ValueError(
                f"context '{c.CTX_API_AUTH}': a Function URL authenticates with {c.CTX_API_AUTH}=iam (SigV4) only; "
                f"use {c.CTX_API}=http for JWT or {c.CTX_API}=rest for API keys"
            )
        for refused, key, instead in (
            (self.waf, c.CTX_WAF, f"{c.CTX_API}=rest with {c.CTX_WAF}=true"),
            (bool(self.cors_origins), c.CTX_CORS_ORIGINS, f"{c.CTX_API}=http (browsers cannot sign SigV4 requests)"),
            (self.quota_limit is not None, c.CTX_API_QUOTA_LIMIT, f"{c.CTX_API}=rest with API keys"),
            (self.jwt_issuer is not None or bool(self.jwt_audience), c.CTX_JWT_ISSUER, f"{c.CTX_API}=http"),
        ):
            if refused:
                raise ValueError(f"context '{key}': not available with {url} (no API Gateway); use {instead}")
        if self.url_concurrency < 1:
            raise ValueError(f"context '{c.CTX_URL_CONCURRENCY}': at least 1")

    @classmethod
    def from_context(cls, node: ContextSource) -> ApiOptions:
        api_type = _enum(ApiType, _text(node.try_get_context(c.CTX_API)) or ApiType.REST.value, c.CTX_API)
        default_auth = {ApiType.HTTP: ApiAuth.JWT, ApiType.URL: ApiAuth.IAM}.get(api_type, ApiAuth.API_KEY)
        auth = _enum(ApiAuth, _text(node.try_get_context(c.CTX_API_AUTH)) or default_auth.value, c.CTX_API_AUTH)
        period = _text(node.try_get_context(c.CTX_API_QUOTA_PERIOD)) or QuotaPeriod.MONTH.value
        return cls(
            api_type=api_type,
            auth=auth,
            jwt_issuer=_text(node.try_get_context(c.CTX_JWT_ISSUER)),
            jwt_audience=_list(node.try_get_context(c.CTX_JWT_AUDIENCE)),
            cors_origins=_list(node.try_get_context(c.CTX_CORS_ORIGINS)),
            waf=_flag(node.try_get_context(c.CTX_WAF), c.CTX_WAF),
            waf_rate_limit=_positive_int(
                node.try_get_context(c.CTX_WAF_RATE_LIMIT), c.CTX_WAF_RATE_LIMIT, DEFAULT_WAF_RATE_LIMIT, WAF_RATE_LIMIT_MIN
            )
            or DEFAULT_WAF_RATE_LIMIT,
            rate_limit=_positive_int(node.try_get_context(c.CTX_API_RATE_LIMIT), c.CTX_API_RATE_LIMIT, DEFAULT_RATE_LIMIT)
            or DEFAULT_RATE_LIMIT,
            burst_limit=_positive_int(node.try_get_context(c.CTX_API_BURST_LIMIT), c.CTX_API_BURST_LIMIT, DEFAULT_BURST_LIMIT)
            or DEFAULT_BURST_LIMIT,
            quota_limit=_positive_int(node.try_get_context(c.CTX_API_QUOTA_LIMIT), c.CTX_API_QUOTA_LIMIT, None),
            quota_period=_enum(QuotaPeriod, period.upper(), c.CTX_API_QUOTA_PERIOD),
            url_concurrency=_positive_int(
                node.try_get_context(c.CTX_URL_CONCURRENCY), c.CTX_URL_CONCURRENCY, DEFAULT_URL_CONCURRENCY
            )
            or DEFAULT_URL_CONCURRENCY,
            unseen_categories=(_text(node.try_get_context(c.CTX_UNSEEN_CATEGORIES)) or names.UNSEEN_ACCEPT).lower(),
        )
