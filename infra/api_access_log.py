"""Access-log formats with the caller's identity, one JSON object per request, the same keys for REST and HTTP APIs.

Who called is what an access log is for: the API key's id (never the key itself), the IAM user or role ARN
for SigV4 callers, and the JWT's subject. Fields that do not apply to a request (no key on an IAM call) are
written as "-" by API Gateway, so every line has the same keys and one Logs Insights query reads both API
types, e.g. `stats count(*) by apiKeyId, userArn, jwtSub`.

Each field costs ingestion on every request ($0.50/GB: ~$0.2 per million requests for the whole line, measured by
bench/api_cost.py), so the line holds what answers "who, what, how did it end, how long" and nothing twice (the
IAM caller's account is inside its ARN; the stage is fixed per API).

Variables: REST https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html,
HTTP https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html (checked 2026-11).
"""

from __future__ import annotations

import json

# Shared by both API types (variable names are identical in the two references).
_COMMON = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    # --- caller identity -------------------------------------------------------------------------------
    "userArn": "$context.identity.userArn",  # SigV4 (api_auth=iam): the IAM user or assumed-role ARN
    "jwtSub": "$context.authorizer.claims.sub",  # api_auth=jwt: the token's subject
    "error": "$context.error.responseType",  # e.g. MISSING_AUTHENTICATION_TOKEN, THROTTLED, WAF_FILTERED
}
REST_FIELDS = {
    **_COMMON,
    "resource": "$context.resourcePath",
    "apiKeyId": "$context.identity.apiKeyId",  # api_auth=api_key: which client key (per-client quotas)
    "wafResponse": "$context.wafResponseCode",  # waf=true: WAF_ALLOW / WAF_BLOCK
}
HTTP_FIELDS = {
    **_COMMON,
    "resource": "$context.routeKey",
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
HTTP_FORMAT = render(HTTP_FIELDS)
