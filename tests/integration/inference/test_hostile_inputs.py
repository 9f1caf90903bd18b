"""Every route × every hostile input: no 5xx, no traceback, exactly one record, every line bounded and one line.

Each hostile input goes through both event formats (REST payload 1.0 and HTTP API payload 2.0), built
from the SAM-generated fixtures, plus the malformed events a direct Invoke can send.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.api_gateway import FakeContext
from tests.integration.inference.conftest import LambdaUnderTest
from tests.integration.inference.test_sam_events import http_event, rest_event

SETOSA = [5.1, 3.5, 1.4, 0.2]
JOB = "0123456789abcdef0123456789abcdef"
HUGE_INT = "9" * 4301
SEPARATORS = "\u2028\u2029\x85"
MAX_LINE_BYTES = 2048  # every line any request can write, for a model of iris's size (docs/api.md states it)

POSTS = ["/predict", "/predict/label", "/feedback"]
GETS = ["/health", "/metadata", "/label", "/predict/test", "/predict/test/label", "/openapi.json"]
LOGGED_GETS = {"/predict/test", "/predict/test/label"}

# (name, path, body, headers): a path of None means every POST route
BODIES: list[tuple[str, str | None, str | None, dict[str, str]]] = [
    ("int over 4300 digits in data", None, '{"data": [[' + HUGE_INT + ", 1, 1, 1]]}", {}),
    ("int over 4300 digits in row", None, f'{{"labels": [{{"job_id": "{JOB}", "row": {HUGE_INT}, "label": "setosa"}}]}}', {}),
    ("int over 4300 digits as the body", None, HUGE_INT, {}),
    ("int of 4300 digits", None, '{"data": [[' + "9" * 4300 + ", 1, 1, 1]]}", {}),
    ("1 MB unexpected key", None, json.dumps({"data": [SETOSA], "k" * 1_000_000: 1}), {}),
    ("500 KB duplicate key", None, '{{"{}": 1, "{}": 2}}'.format("d" * 500_000, "d" * 500_000), {}),
    (
        "1 MB key inside a label",
        "/feedback",
        json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": "x", "y" * 10**6: 1}]}),
        {},
    ),
    ("1 MB label", "/feedback", json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": "x" * 10**6}]}), {}),
    ("1 MB job_id", "/feedback", json.dumps({"labels": [{"job_id": "j" * 10**6, "row": 0, "label": "setosa"}]}), {}),
    ("1 MB string as a value", "/predict", json.dumps({"data": [["v" * 10**6, 1, 1, 1]]}), {}),
    ("line separators in a key", None, json.dumps({"data": [SETOSA], "a" + SEPARATORS: 1}, ensure_ascii=False), {}),
    (
        "line separators in a label",
        "/feedback",
        json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": SEPARATORS}]}, ensure_ascii=False),
        {},
    ),
    ("line separators in the content type", None, json.dumps({"data": [SETOSA]}), {"Content-Type": "text/" + SEPARATORS}),
    ("lone surrogate in a key", None, '{"data": [[5.1, 3.5, 1.4, 0.2]], "\\ud800": 1}', {}),
    ("lone surrogate in a label", "/feedback", f'{{"labels": [{{"job_id": "{JOB}", "row": 0, "label": "\\udfff"}}]}}', {}),
    ("1 MB content type", None, json.dumps({"data": [SETOSA]}), {"Content-Type": "text/" + "c" * 10**6}),
]


def _lines(lambda_: LambdaUnderTest) -> list[str]:
    """Read by \\n only: that is how CloudWatch and the monitor split the stream."""
    return [line for line in lambda_.stdout.getvalue().split("\n") if line]


def _check_one_request(lambda_: LambdaUnderTest, reply: dict[str, Any], path: str) -> tuple[int, dict[str, Any]]:
    status = reply["statusCode"]
    body = json.loads(reply["body"])
    assert status < 500, body
    lines = _lines(lambda_)
    for line in lines:
        assert len(line.encode()) <= MAX_LINE_BYTES, line[:200]
        assert not any(mark in line for mark in SEPARATORS), line[:200]
        json.loads(line)
    if status >= 400:  # an error reply repeats client strings as the line does: bounded alike
        assert len(reply["body"].encode()) <= 4 * MAX_LINE_BYTES
    assert not any(mark in reply["body"] for mark in SEPARATORS)
    records = [json.loads(line) for line in lines if '"_aws"' not in line]
    kinds = {record["message"] for record in records}
    assert "failed" not in kinds
    if status >= 400:
        (record,) = records
        assert (record["message"], record["request_id"], record["status"]) == ("rejected", body["job_id"], status)
    elif path in POSTS or path in LOGGED_GETS:
        assert {record["request_id"] for record in records} <= {body["job_id"], JOB}
        assert records
    else:
        assert records == []
    return status, body


@pytest.mark.parametrize("shape", ["rest", "http"])
@pytest.mark.parametrize(("case", "only", "body", "headers"), BODIES, ids=[case[0] for case in BODIES])
def test_every_hostile_body_is_a_4xx_with_one_bounded_rejected_line(
    iris_lambda: LambdaUnderTest, shape: str, case: str, only: str | None, body: str, headers: dict[str, str]
) -> None:
    make = rest_event if shape == "rest" else http_event
    for path in [only] if only else POSTS:
        iris_lambda.clear()
        event = make("POST", path, body, {"Content-Type": "application/json", **headers})
        status, reply = _check_one_request(iris_lambda, iris_lambda.handler(event, FakeContext()), path)
        assert 400 <= status < 500, (path, reply)
        if "4300 digits" in case and "over" not in case:
            assert reply["error"] == "invalid_request"


@pytest.mark.parametrize("shape", ["rest", "http"])
@pytest.mark.parametrize("path_suffix", ["p" * 1_000_000, SEPARATORS, "/" + SEPARATORS * 1000])
@pytest.mark.parametrize("method", ["GET", "POST", "X" * 100_000])
def test_hostile_paths_and_methods_are_bounded_single_lines(
    iris_lambda: LambdaUnderTest, shape: str, path_suffix: str, method: str
) -> None:
    make = rest_event if shape == "rest" else http_event
    event = make(method, "/" + path_suffix, None, {})
    status, reply = _check_one_request(iris_lambda, iris_lambda.handler(event, FakeContext()), "/unknown")
    assert status in (404, 405), reply


Mutation = Callable[[dict[str, Any]], None]


def _set(*keys: str, value: Any) -> Mutation:
    def mutate(event: dict[str, Any]) -> None:
        target = event
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


MALFORMED: dict[str, list[tuple[str, Mutation]]] = {
    "rest": [
        ("headers as a list", _set("headers", value=[["Content-Type", "application/json"]])),
        ("headers as a string", _set("headers", value="content-type: application/json")),
        ("content type as an int", _set("headers", "Content-Type", value=7)),
        ("content type as a list", _set("headers", "Content-Type", value=["application/json"])),
        ("multiValueHeaders as a list", _set("multiValueHeaders", value=[1])),
        ("body as an object", _set("body", value={"data": [SETOSA]})),
        ("body as a list", _set("body", value=[[1, 2]])),
        ("body as an int", _set("body", value=7)),
        ("isBase64Encoded as a string", _set("isBase64Encoded", value="yes")),
        ("queryStringParameters as a list", _set("queryStringParameters", value=["a"])),
        ("multiValueQueryStringParameters as a list", _set("multiValueQueryStringParameters", value=["a"])),
        ("requestContext as a list", _set("requestContext", value=[])),
        ("pathParameters as a list", _set("pathParameters", value=[])),
        ("stageVariables as a list", _set("stageVariables", value=[])),
    ],
    "http": [
        ("headers as a list", _set("headers", value=[["content-type", "application/json"]])),
        ("headers as a string", _set("headers", value="content-type: application/json")),
        ("content type as an int", _set("headers", "content-type", value=7)),
        ("queryStringParameters as a list", _set("queryStringParameters", value=["a", "b"])),
        ("queryStringParameters as a string", _set("queryStringParameters", value="a=b")),
        ("body as an object", _set("body", value={"data": [SETOSA]})),
        ("body as an int", _set("body", value=7)),
        ("cookies as a string", _set("cookies", value="a=b")),
        ("pathParameters as a list", _set("pathParameters", value=[])),
        ("stageVariables as a list", _set("stageVariables", value=[])),
    ],
}
MALFORMED_CASES = [(shape, name, mutate) for shape, cases in MALFORMED.items() for name, mutate in cases]


@pytest.mark.parametrize("path", [*POSTS, *GETS])
@pytest.mark.parametrize(("shape", "case", "mutate"), MALFORMED_CASES, ids=[f"{s}-{n}" for s, n, _ in MALFORMED_CASES])
def test_malformed_lambda_events_are_400_not_an_api_gateway_event(
    iris_lambda: LambdaUnderTest, path: str, shape: str, case: str, mutate: Mutation
) -> None:
    method = "POST" if path in POSTS else "GET"
    body = (
        json.dumps({"data": [SETOSA]})
        if path != "/feedback"
        else json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": "setosa"}]})
    )
    event = copy.deepcopy(
        (rest_event if shape == "rest" else http_event)(method, path, body, {"Content-Type": "application/json"})
    )
    mutate(event)
    status, reply = _check_one_request(iris_lambda, iris_lambda.handler(event, FakeContext()), path)
    assert (status, reply["error"]) == (400, "not_an_api_gateway_event"), reply
