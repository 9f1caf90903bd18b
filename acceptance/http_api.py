"""A small HTTP client for the deployed API: API key (REST default) or SigV4 (IAM auth), bounded timeouts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 30
Signer = Callable[[str, str, bytes | None, dict[str, str]], dict[str, str]]  # (method, url, body, headers) -> headers


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def sigv4_signer(session: Any, region: str, service: str = "execute-api") -> Signer:
    """IAM-authorised APIs (`-c api_auth=iam`): sign each request for execute-api, or for `lambda` (Function URL)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = session.get_credentials().get_frozen_credentials()

    def sign(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(credentials, service, region).add_auth(request)
        return dict(request.headers.items())

    return sign


@dataclass
class ApiClient:
    base_url: str  # ends with "/"
    api_key: str | None = None
    signer: Signer | None = None
    requests: int = 0  # for the cost estimate

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str | None = "application/json",
        authenticated: bool = True,
    ) -> Reply:
        url = self.base_url + path.lstrip("/")
        headers: dict[str, str] = {"Accept": "application/json"}
        if content_type and method in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = content_type  # also without a body: "no body" must be judged as such, not as a media type
        if authenticated and self.api_key:
            headers["x-api-key"] = self.api_key
        if authenticated and self.signer:
            headers = self.signer(method, url, body, headers)
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return Reply(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers.items()), error.read())

    def post_json(self, path: str, document: Any) -> Reply:
        return self.request("POST", path, json.dumps(document).encode())
