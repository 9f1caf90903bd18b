"""Which event reached the function: API Gateway REST (payload 1.0), HTTP API or Function URL (payload 2.0), or neither.

A Lambda Function URL sends the HTTP API's payload 2.0 (stage and route key `$default`), so it takes the same path.

One resolver serves both: an HTTP API event is reshaped into the REST one the
routes already answer, and the reply back into the 2.0 response format, so a
request gets the same status, headers and body through either API. Anything
else (a direct invocation, a test event from the console) gets a clear 400,
never a KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_AN_API_EVENT = "(not an API Gateway event)"  # the endpoint recorded for such events


class NotAnApiEvent(ValueError):
    """The event is not an API Gateway proxy event; the message says what was missing."""


def _stage_stripped(raw_path: str, stage: Any) -> str:
    """HTTP API puts a named stage in rawPath (`/prod/predict`); tools that generate events do not always.

    Strip it only when it is there, so both shapes route alike (Powertools' HTTP resolver strips
    unconditionally and turns `/predict` on stage `prod` into `dict`).
    """
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if raw_path == prefix:
            return "/"
        if raw_path.startswith(prefix + "/"):
            return raw_path[len(prefix) :]
    return raw_path


def _is_text_map(value: Any) -> bool:
    """None or an object of strings: what API Gateway sends as headers, query strings, path parameters."""
    return value is None or (type(value) is dict and all(type(item) is str for item in value.values()))


def _is_list_map(value: Any) -> bool:
    """None or an object of lists of strings (the REST event's multiValue* fields)."""
    return value is None or (
        type(value) is dict and all(type(items) is list and all(type(item) is str for item in items) for items in value.values())
    )


_TEXT_MAPS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")


def _check_fields(event: dict[str, Any], list_maps: tuple[str, ...]) -> None:
    """API Gateway never sends these fields with other types, but a direct Invoke can: a 400, never an AttributeError."""
    wrong = [key for key in _TEXT_MAPS if not _is_text_map(event.get(key))]
    wrong += [key for key in list_maps if not _is_list_map(event.get(key))]
    if event.get("body") is not None and type(event["body"]) is not str:
        wrong.append("body")
    if event.get("isBase64Encoded") is not None and type(event["isBase64Encoded"]) is not bool:
        wrong.append("isBase64Encoded")
    if event.get("requestContext") is not None and type(event["requestContext"]) is not dict:
        wrong.append("requestContext")
    cookies = event.get("cookies")
    if cookies is not None and not (type(cookies) is list and all(type(cookie) is str for cookie in cookies)):
        wrong.append("cookies")
    if wrong:
        raise NotAnApiEvent(
            f"the event's {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not shaped as API Gateway sends "
            "(headers, query strings and path parameters: objects of strings; body: a string or null; "
            "isBase64Encoded: a boolean)"
        )


def rest_event(event: Any) -> tuple[Mapping[str, Any], bool]:
    """The REST (1.0) form of `event`, and whether it arrived as an HTTP API (2.0) event."""
    if not isinstance(event, dict):
        raise NotAnApiEvent(f"the event is {type(event).__name__}, not an API Gateway proxy event (a JSON object)")
    if event.get("version") == "2.0":
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, dict) else None
        method = http.get("method") if isinstance(http, dict) else None
        raw_path = event.get("rawPath")
        if not isinstance(method, str) or not isinstance(raw_path, str) or not raw_path.startswith("/"):
            raise NotAnApiEvent(
                "an API Gateway HTTP API (payload 2.0) event needs requestContext.http.method and a rawPath starting with /"
            )
        _check_fields(event, ())
        headers = dict(event.get("headers") or {})
        cookies = event.get("cookies")
        if isinstance(cookies, list) and cookies:
            headers["cookie"] = "; ".join(str(cookie) for cookie in cookies)
        path = _stage_stripped(raw_path, context.get("stage"))  # type: ignore[union-attr]
        query = event.get("queryStringParameters") or None
        return (
            {
                "resource": "/{proxy+}",
                "path": path,
                "httpMethod": method.upper(),
                "headers": headers,
                "multiValueHeaders": {key: [value] for key, value in headers.items()},
                "queryStringParameters": query,
                "multiValueQueryStringParameters": {k: str(v).split(",") for k, v in query.items()} if query else None,
                "pathParameters": event.get("pathParameters"),
                "stageVariables": event.get("stageVariables"),
                "requestContext": {**context, "httpMethod": method.upper(), "path": raw_path},  # type: ignore[dict-item]
                "body": event.get("body"),
                "isBase64Encoded": bool(event.get("isBase64Encoded")),
            },
            True,
        )
    rest_method, rest_path = event.get("httpMethod"), event.get("path")
    if isinstance(rest_method, str) and isinstance(rest_path, str) and rest_path.startswith("/"):
        _check_fields(event, _LIST_MAPS)
        return event, False
    if "httpMethod" in event or "resource" in event:
        raise NotAnApiEvent("an API Gateway REST API proxy event needs httpMethod and a path starting with /")
    raise NotAnApiEvent(
        "the event is not an API Gateway proxy event: send it through the REST API (payload 1.0) "
        "or the HTTP API (payload 2.0), or invoke with such an event"
    )


def caller_arn(event: Mapping[str, Any]) -> str | None:
    """The IAM principal that signed the request: `authorizer.iam.userArn` in payload 2.0 (Function URL, HTTP API
    with IAM auth), `identity.userArn` in a REST event; None when the request was not SigV4-signed."""
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return None
    authorizer = context.get("authorizer")
    iam = authorizer.get("iam") if isinstance(authorizer, dict) else None
    arn = iam.get("userArn") if isinstance(iam, dict) else None
    if arn is None:
        identity = context.get("identity")
        arn = identity.get("userArn") if isinstance(identity, dict) else None
    return arn if isinstance(arn, str) and arn else None


def http_api_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """A REST-shaped reply in the HTTP API 2.0 response format (no multiValueHeaders there)."""
    headers = {key: ",".join(values) for key, values in (reply.get("multiValueHeaders") or {}).items()}
    headers.update(reply.get("headers") or {})
    return {
        "statusCode": reply["statusCode"],
        "headers": headers,
        "body": reply.get("body"),
        "isBase64Encoded": bool(reply.get("isBase64Encoded")),
    }
