"""moto's server on 127.0.0.1 for the acceptance suite's plumbing (or whatever AWS_ENDPOINT_URL points at)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.integration.conftest import REGION, use_endpoint


@pytest.fixture(scope="session")
def acceptance_moto(aws_endpoint: str) -> str:
    return aws_endpoint


@pytest.fixture
def clients(acceptance_moto: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    use_endpoint(monkeypatch, acceptance_moto)
    session = boto3.session.Session(region_name=REGION)
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, region_name=REGION)
        return made[service]

    return client
