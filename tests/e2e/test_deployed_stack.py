"""Opt-in end-to-end checks against a deployed stack (AWS or LocalStack); skipped unless told where it is.

Point the tests at a stack with either
  STACK_API_URL=https://….execute-api….amazonaws.com/v1/  STACK_API_KEY=<key value>
or the file written by `cdk deploy --outputs-file cdk-outputs.json`:
  STACK_OUTPUTS_FILE=cdk-outputs.json   (the API key value is then fetched with boto3 from the ApiKeyId output,
                                         using the usual AWS credentials / AWS_ENDPOINT_URL for LocalStack)

Only the standard library talks HTTP, so the tests run from any machine that can reach the API.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from functions.contract.model_artifact import load_model_artifact
from infra.constants import OUTPUT_API_KEY_ID, OUTPUT_API_URL, STACK_NAME

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 30  # a cold start loads numpy + onnxruntime


def _outputs() -> dict[str, str]:
    path = os.environ.get("STACK_OUTPUTS_FILE")
    if not path:
        return {}
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return dict(document.get(os.environ.get("STACK_NAME", STACK_NAME), {}))


def _api_key(outputs: dict[str, str]) -> str | None:
    if os.environ.get("STACK_API_KEY"):
        return os.environ["STACK_API_KEY"]
    key_id = outputs.get(OUTPUT_API_KEY_ID)
    if not key_id:
        return None  # IAM-authenticated stack, or no key configured
    import boto3  # only needed for this convenience path

    return str(boto3.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"])


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    outputs = _outputs()
    url = os.environ.get("STACK_API_URL") or outputs.get(OUTPUT_API_URL)
    if not url:
        pytest.skip("no deployed stack: set STACK_API_URL (+ STACK_API_KEY) or STACK_OUTPUTS_FILE")
    return {"url": url if url.endswith("/") else url + "/", "api_key": _api_key(outputs)}


def call(stack: dict[str, Any], method: str, path: str, body: Any = None, *, with_key: bool = True) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if with_key and stack["api_key"]:
        headers["x-api-key"] = stack["api_key"]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack["url"] + path.lstrip("/"), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"null")
        except json.JSONDecodeError:
            return error.code, payload.decode(errors="replace")


@pytest.fixture(scope="module")
def served_model(stack: dict[str, Any]) -> str:
    status, health = call(stack, "GET", "/health")
    assert status == 200, health
    return str(health["model"])


def test_predict_returns_one_prediction_per_row(stack, served_model):
    baseline = load_model_artifact(REPO_ROOT / "models" / served_model).baseline
    typical = [feature.mean for feature in baseline.features]
    status, reply = call(stack, "POST", "/predict", {"data": [typical, typical]})
    assert status == 200, reply
    assert reply["model"] == baseline.model_name
    assert reply["job_id"]
    assert len(reply["predictions"]) == 2
    for prediction in reply["predictions"]:
        assert prediction["label"] in baseline.label_names
        assert set(prediction["probabilities"]) == set(baseline.label_names)
        assert abs(sum(prediction["probabilities"].values()) - 1.0) < 1e-3
        assert isinstance(prediction["is_outlier"], bool)


def test_wrong_row_width_is_rejected_with_422(stack, served_model):
    status, reply = call(stack, "POST", "/predict", {"data": [[1.0]]})
    assert status == 422, reply


def test_requests_without_credentials_are_refused(stack, served_model):
    status, _ = call(stack, "POST", "/predict", {"data": [[1.0]]}, with_key=False)
    assert status == 403  # API key missing (or SigV4 missing on an IAM-authenticated stack)
