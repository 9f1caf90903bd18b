"""Access-log formats with the caller's identity, one JSON object per request, the same keys for every API.

Who called is what an access log is for: `caller` is the API key's id (never the key itself) on a stack with API
keys, the IAM user or role ARN on a SigV4 stack, the JWT's subject on a JWT stack: one stack has one way to
authenticate, so the other two would be "-" on every line, billed per byte. Every line has the same keys, so
one Logs Insights query reads every stack, e.g. `stats count(*) by caller, status`, and the key is the one the
prediction line carries behind a Function URL.

Each field costs ingestion on every request ($0.50/GB: ~$0.12 per million requests for the whole line, measured
by bench/api_cost.py, docs/cost.md), so the line holds what answers "who, what, how did it end, how long" and
nothing twice or constant: the IAM caller's account is inside its ARN; the stage is fixed per API; the request
time is the log event's own timestamp; the resource is the proxy route (`/{proxy+}`) on every request; the
function's own time is the prediction line's `latency_ms`; the response size follows from the status and rows.

Variables: REST https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html,
HTTP https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html (checked 2026-11).
"""

from __future__ import annotations

import json

from infra.api_options import ApiAuth

# The variable that names the caller, per way of authenticating (variable names are the same in both references).
CALLER_VARIABLES = {
    ApiAuth.API_KEY: "$context.identity.apiKeyId",  # which client key (per-client quotas); never the key's value
    ApiAuth.IAM: "$context.identity.userArn",  # SigV4: the IAM user or assumed-role ARN
    ApiAuth.JWT: "$context.authorizer.claims.sub",  # the token's subject
}


def access_log_fields(*, http: bool, auth: ApiAuth, waf: bool = False) -> dict[str, str]:
    """The keys and variables of one stack's access-log line."""
    fields = {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "caller": CALLER_VARIABLES[auth],
        # e.g. MISSING_AUTHENTICATION_TOKEN, THROTTLED, WAF_FILTERED; an HTTP API adds why a JWT was refused
        # (expired, wrong audience) after it: one key instead of two, "- -" on a success
        "error": "$context.error.responseType" + (" $context.authorizer.error" if http else ""),
    }
    if waf:  # the WAF's verdict only where a WAF is (WAF_ALLOW / WAF_BLOCK): elsewhere "-" on every line
        fields["wafResponse"] = "$context.wafResponseCode"
    return fields


def render(fields: dict[str, str]) -> str:
    """The one-line JSON template API Gateway fills in.

    Every value is quoted, numbers too: API Gateway writes "-" for a value it does not have (no integration
    latency on a request refused by the authorizer), and an unquoted "-" would make the line invalid JSON.
    """
    return json.dumps(fields, separators=(",", ":"))


def access_log_format(*, http: bool, auth: ApiAuth, waf: bool = False) -> str:
    return render(access_log_fields(http=http, auth=auth, waf=waf))
