"""API Gateway REST proxy events and a Lambda context, as Lambda hands them to a handler.

The local server turns HTTP requests into these; the tests build them directly.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class FakeContext:
    function_name: str = "inference"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:inference"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/inference"
    log_stream_name: str = "2026/11/25/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def api_event(
    method: str,
    path: str,
    body: str | bytes | None = None,
    *,
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST API proxy event as Lambda receives it (payload format 1.0)."""
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "pytest", "Accept": "*/*"}
    if body is not None and content_type is not None:
        all_headers["Content-Type"] = content_type
    all_headers.update(headers or {})
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8", errors="replace")
    elif body is not None and base64_encoded:
        body = base64.b64encode(body.encode()).decode()
    now = datetime.now(UTC)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {key: [value] for key, value in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abc123",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest", "apiKey": "test-key"},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }
