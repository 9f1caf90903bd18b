"""Opt-in end-to-end checks against a deployed stack (AWS or LocalStack); skipped unless told where it is.

Either API type (REST or HTTP) and any authentication (API key, IAM, JWT) is read from the stack outputs.
Point the tests at a stack with the file written by `cdk deploy --outputs-file cdk-outputs.json`:
  STACK_OUTPUTS_FILE=cdk-outputs.json  [STACK_NAME=ServerlessInference-iris; default: the file's only stack]
or by hand:
  STACK_API_URL=https://….execute-api….amazonaws.com/v1/  and one of
  STACK_API_KEY=<key value> | STACK_JWT=<token> | STACK_API_AUTH=iam (signs with the usual AWS credentials)

Credentials the tests obtain themselves, with the usual AWS credentials (or AWS_ENDPOINT_URL for LocalStack):
- API key: the value behind the `ApiKeyId` output (`apigateway:GET`).
- JWT, when the stack created the Cognito user pool (`UserPoolId`, `UserPoolClientId` outputs): a temporary user
  with a random password, exchanged for an ID token (USER_PASSWORD_AUTH) and deleted afterwards
  (`cognito-idp:AdminCreateUser`, `AdminSetUserPassword`, `AdminDeleteUser`). With an external issuer, pass STACK_JWT.
- IAM: every request is signed with SigV4 for `execute-api` (the caller needs `execute-api:Invoke`).

Only the standard library talks HTTP (botocore signs), so the tests run from any machine that can reach the API.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from functions.contract.model_artifact import load_model_artifact
from infra.constants import (
    OUTPUT_API_AUTH,
    OUTPUT_API_KEY_ID,
    OUTPUT_API_TYPE,
    OUTPUT_API_URL,
    OUTPUT_USER_POOL_CLIENT_ID,
    OUTPUT_USER_POOL_ID,
    stack_name_for,
)

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 30  # a cold start loads numpy + onnxruntime
# What API Gateway answers a request without credentials, per API type and authentication (AWS documented behaviour:
# missing key / missing SigV4 → 403 Forbidden; a JWT or Cognito authorizer with no token → 401 Unauthorized).
UNAUTHENTICATED_STATUS = {"api_key": 403, "iam": 403, "jwt": 401}


@dataclass
class DeployedApi:
    url: str
    api_type: str  # "rest" or "http"
    auth: str  # "api_key", "iam" or "jwt"
    api_key: str | None = None
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def auth_headers(self) -> dict[str, str]:
        if self.auth == "api_key" and self.api_key:
            return {"x-api-key": self.api_key}
        if self.auth == "jwt" and self.token:
            # HTTP API JWT authorizers read "Bearer <token>"; REST Cognito authorizers read the bare token.
            return {"authorization": f"Bearer {self.token}" if self.api_type == "http" else self.token}
        return {}


def _outputs() -> dict[str, str]:
    path = os.environ.get("STACK_OUTPUTS_FILE")
    if not path:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        pytest.skip(f"STACK_OUTPUTS_FILE={path}: no such file (make deploy writes cdk-outputs.json)")
    except json.JSONDecodeError as error:
        pytest.skip(f"STACK_OUTPUTS_FILE={path}: not JSON ({error}); it is the file `cdk deploy --outputs-file` writes")
    if os.environ.get("STACK_NAME"):
        stack = os.environ["STACK_NAME"]
    elif len(document) == 1:  # `make deploy` writes the one stack it deployed
        stack = next(iter(document))
    else:
        stack = stack_name_for(os.environ.get("MODEL") or "iris")
    if stack not in document:
        pytest.skip(f"STACK_OUTPUTS_FILE={path} has no stack {stack!r} (stacks: {', '.join(document) or 'none'}); set STACK_NAME")
    return dict(document[stack])


def _api_key(outputs: dict[str, str]) -> str | None:
    if os.environ.get("STACK_API_KEY"):
        return os.environ["STACK_API_KEY"]
    key_id = outputs.get(OUTPUT_API_KEY_ID)
    if not key_id:
        return None
    import boto3  # only needed for this convenience path

    return str(boto3.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"])


def _auth_of(outputs: dict[str, str]) -> str:
    if os.environ.get("STACK_API_AUTH"):
        return os.environ["STACK_API_AUTH"]
    if outputs.get(OUTPUT_API_AUTH):
        return outputs[OUTPUT_API_AUTH]
    if os.environ.get("STACK_JWT"):
        return "jwt"
    return "api_key" if (os.environ.get("STACK_API_KEY") or outputs.get(OUTPUT_API_KEY_ID)) else "iam"


@pytest.fixture(scope="module")
def cognito_token() -> Iterator[str | None]:
    """An ID token from the stack's user pool for a temporary user, deleted after the module."""
    outputs = _outputs()
    pool_id, client_id = outputs.get(OUTPUT_USER_POOL_ID), outputs.get(OUTPUT_USER_POOL_CLIENT_ID)
    if os.environ.get("STACK_JWT") or not (pool_id and client_id):
        yield os.environ.get("STACK_JWT")
        return
    import boto3

    cognito = boto3.client("cognito-idp")
    username = f"e2e-{secrets.token_hex(4)}"
    # Meets the pool's policy (16+ characters, upper, lower, digit, symbol).
    password = f"Aa1!{secrets.token_urlsafe(24)}"
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    try:
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
        reply = cognito.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
        )
        yield str(reply["AuthenticationResult"]["IdToken"])
    finally:
        cognito.admin_delete_user(UserPoolId=pool_id, Username=username)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> DeployedApi:
    outputs = _outputs()
    url = os.environ.get("STACK_API_URL") or outputs.get(OUTPUT_API_URL)
    if not url:
        pytest.skip("no deployed stack: set STACK_OUTPUTS_FILE, or STACK_API_URL with STACK_API_KEY / STACK_JWT / STACK_API_AUTH")
    auth = _auth_of(outputs)
    api_type = os.environ.get("STACK_API_TYPE") or outputs.get(OUTPUT_API_TYPE) or "rest"
    api = DeployedApi(url=url if url.endswith("/") else url + "/", api_type=api_type, auth=auth)
    if auth == "api_key":
        api.api_key = _api_key(outputs)
    elif auth == "jwt":
        api.token = request.getfixturevalue("cognito_token")
        if not api.token:
            pytest.skip("JWT-authenticated stack with an external issuer: set STACK_JWT to a valid token")
    return api


def _sign(request: urllib.request.Request, url: str) -> None:
    """SigV4 with the caller's AWS credentials (api_auth=iam): for execute-api, or for lambda (Function URL)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    host = urlparse(url).hostname or ""
    # <id>.execute-api.<region>.amazonaws.com or <id>.lambda-url.<region>.on.aws
    url_host = ".lambda-url." in host
    region = host.split(".")[2] if ".execute-api." in host or url_host else session.region_name
    signed = AWSRequest(method=request.get_method(), url=url, data=request.data, headers=dict(request.header_items()))
    SigV4Auth(session.get_credentials(), "lambda" if url_host else "execute-api", region).add_auth(signed)
    for name, value in signed.headers.items():
        request.add_header(name, value)


def call(stack: DeployedApi, method: str, path: str, body: Any = None, *, authenticated: bool = True) -> tuple[int, Any]:
    url = stack.url + path.lstrip("/")
    headers = {"content-type": "application/json", **(stack.auth_headers() if authenticated else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if authenticated and stack.auth == "iam":
        _sign(request, url)
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
def served_model(stack: DeployedApi) -> str:
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


def test_unknown_route_is_the_functions_json_404(stack, served_model):
    status, reply = call(stack, "GET", "/nowhere")
    assert status == 404, reply
    assert isinstance(reply, dict) and reply.get("error") == "not_found", reply  # the function answered, not the gateway


def test_requests_without_credentials_are_refused(stack, served_model):
    status, _ = call(stack, "POST", "/predict", {"data": [[1.0]]}, authenticated=False)
    assert status == UNAUTHENTICATED_STATUS[stack.auth]


def test_a_forged_token_is_refused(stack, served_model):
    if stack.auth != "jwt":
        pytest.skip("JWT-authenticated stacks only")
    header, payload, _ = (stack.token or "a.b.c").split(".")
    forged = DeployedApi(url=stack.url, api_type=stack.api_type, auth="jwt", token=f"{header}.{payload}.c2lnbmF0dXJl")
    status, _ = call(forged, "GET", "/health")
    assert status == 401
