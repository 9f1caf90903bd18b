"""The resolver's response builder skips Powertools' header merge only where Powertools' answer cannot depend on it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from functions.inference.api import NoCompressionCheckBuilder, inference_resolver

EVENT = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "events" / "rest-v1-post-predict.json").read_text())


def event_with(accept_encoding: Any) -> APIGatewayProxyEvent:
    event = json.loads(json.dumps(EVENT))
    for key in ("Accept-Encoding",):
        event["headers"].pop(key, None)
        event["multiValueHeaders"].pop(key, None)
    if accept_encoding is not None:
        values = accept_encoding if isinstance(accept_encoding, list) else [accept_encoding]
        event["headers"]["Accept-Encoding"] = values[-1]
        event["multiValueHeaders"]["Accept-Encoding"] = values
    return APIGatewayProxyEvent(event)


@pytest.mark.parametrize(
    ("route_compression", "response_compression", "accept_encoding"),
    list(itertools.product([False, True], [None, False, True], [None, "gzip, deflate, sdch", "identity", ["br", "gzip"]])),
)
def test_same_answer_as_powertools(route_compression: bool, response_compression: bool | None, accept_encoding: Any) -> None:
    event = event_with(accept_encoding)
    assert NoCompressionCheckBuilder._has_compression_enabled(
        route_compression, response_compression, event
    ) is ResponseBuilder._has_compression_enabled(route_compression, response_compression, event)


class Unread:
    """An event whose headers must not be read."""

    @property
    def resolved_headers_field(self) -> dict[str, Any]:
        raise AssertionError("the request headers were read")


def test_without_compression_the_headers_are_not_read() -> None:
    assert NoCompressionCheckBuilder._has_compression_enabled(False, None, Unread()) is False
    assert NoCompressionCheckBuilder._has_compression_enabled(False, False, Unread()) is False


def test_the_inference_resolver_uses_it() -> None:
    assert inference_resolver()._response_builder_class is NoCompressionCheckBuilder
