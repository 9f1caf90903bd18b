"""The AWS endpoint every integration tier shares.

`AWS_ENDPOINT_URL` when it is set (LocalStack, or unset it and give credentials for a real account), else one
moto server on 127.0.0.1 for the whole session: the tests run unchanged against any of them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The endpoint URL: an existing AWS_ENDPOINT_URL, else a moto server on a free loopback port."""
    existing = os.environ.get("AWS_ENDPOINT_URL")
    if existing:
        yield existing
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str, region: str = REGION) -> None:
    """Point boto3 at `endpoint`; test credentials only for a local server (a real account keeps its own)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    if "127.0.0.1" in endpoint or "localhost" in endpoint:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_REGION", region)
