"""Access-log formats with the caller's identity, one JSON object per request, the same keys for REST and HTTP APIs.

Who called is what an access log is for: the API key's id (never the key itself), the IAM user or role ARN
for SigV4 callers, and the JWT's subject. Fields that do not apply to a request (no key on an IAM call) are
written as "-" by API Gateway, so every line has the same keys and one Logs Insights query reads both API
types, e.g. `stats count(*) by apiKeyId, userArn, jwtSub`.

Each field costs ingestion on every request ($0.50/GB: ~$0.13 per million requests for the whole line, measured
by bench/api_cost.py, docs/cost.md), so the line holds what answers "who, what, how did it end, how long" and
nothing twice or constant: the IAM caller's account is inside its ARN; the stage is fixed per API; the request
time is the log event's own timestamp; the resource is the proxy route (`/{proxy+}`) on every request; the
function's own time is the prediction line's `latency_ms`; the response size follows from the status and rows.

Variables: REST https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html,
HTTP https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html (checked 2026-11).
"""

from __future__ import annotations

import json

# Shared by both API types (variable names are identical in the two references).
_COMMON = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    # --- caller identity -------------------------------------------------------------------------------
    "userArn": "$context.identity.userArn",  # SigV4 (api_auth=iam): the IAM user or assumed-role ARN
    "jwtSub": "$context.authorizer.claims.sub",  # api_auth=jwt: the token's subject
    "error": "$context.error.responseType",  # e.g. MISSING_AUTHENTICATION_TOKEN, THROTTLED, WAF_FILTERED
}
REST_FIELDS = {
    **_COMMON,
    "apiKeyId": "$context.identity.apiKeyId",  # api_auth=api_key: which client key (per-client quotas)
}
REST_WAF_FIELDS = {**REST_FIELDS, "wafResponse": "$context.wafResponseCode"}  # waf=true only: WAF_ALLOW / WAF_BLOCK
HTTP_FIELDS = {
    **_COMMON,
    "authorizerError": "$context.authorizer.error",  # why a JWT was refused (expired, wrong audience)
}
IDENTITY_FIELDS = ("apiKeyId", "userArn", "jwtSub")


def render(fields: dict[str, str]) -> str:
    """The one-line JSON template API Gateway fills in.

    Every value is quoted, numbers too: API Gateway writes "-" for a value it does not have (no integration
    latency on a request refused by the authorizer), and an unquoted "-" would make the line invalid JSON.
    """
    return json.dumps(fields, separators=(",", ":"))


REST_FORMAT = render(REST_FIELDS)
REST_WAF_FORMAT = render(REST_WAF_FIELDS)
HTTP_FORMAT = render(HTTP_FIELDS)
