"""The inference handler built in-process, as Lambda builds it, with its stdout captured."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from functions.inference.handler import create_handler
from functions.inference.settings import InferenceSettings
from infra.line_metrics import line_metrics, totals
from local.api_gateway import FakeContext, api_event

MODELS = Path(__file__).resolve().parents[3] / "models"
IRIS_LABELS = ("setosa", "versicolor", "virginica")


@dataclass
class LambdaUnderTest:
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    stdout: io.StringIO

    def call(self, method: str, path: str, body: str | None = None, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        reply = self.handler(api_event(method, path, body, **kwargs), FakeContext())
        headers = {key: values[-1] for key, values in (reply.get("multiValueHeaders") or {}).items()} | (
            reply.get("headers") or {}
        )
        return reply["statusCode"], json.loads(reply["body"]), headers

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.getvalue().split("\n") if line.startswith("{")]

    def records(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == message and "_aws" not in line]

    def emf(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "_aws" in line]

    def metrics(self, labels: tuple[str, ...] = IRIS_LABELS) -> dict[str, list[float]]:
        """What the stack's metric filters would publish for the lines written so far (infra.line_metrics)."""
        return totals(line_metrics(labels), self.lines())

    def clear(self) -> None:
        self.stdout.seek(0)
        self.stdout.truncate()


def build(model: str, **overrides: Any) -> LambdaUnderTest:
    stdout = io.StringIO()
    settings = InferenceSettings.from_env({"MODEL_DIR": str(MODELS / model), **overrides})
    return LambdaUnderTest(create_handler(settings, stdout=stdout), stdout)


@pytest.fixture
def iris_lambda() -> LambdaUnderTest:
    return build("iris")


@pytest.fixture
def wine_lambda() -> LambdaUnderTest:
    return build("wine")
