"""Framework tests run under `make test-frameworks` only (FRAMEWORK_TESTS=1): PyTorch is large and optional, so
`make test` skips them even where torch happens to be installed."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("FRAMEWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="framework tests run with `make test-frameworks` (FRAMEWORK_TESTS=1)")
    for item in items:
        if "tests/frameworks/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)
