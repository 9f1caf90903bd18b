"""docs/cost.md's tables are what bench/api_cost.py prints, and its byte counts are what the handler writes today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from infra.api_pricing import ApiOption, Measured, scenario

REPO = Path(__file__).resolve().parents[3]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_cost_bench", REPO / "bench" / "api_cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_what_the_script_prints() -> None:
    api_cost = bench()
    page = (REPO / "docs" / "cost.md").read_text()
    generated = page.split(api_cost.BEGIN, 1)[1].split(api_cost.END, 1)[0]
    assert generated.strip() == api_cost.render(Measured()).strip(), "run: python bench/api_cost.py --write"


def test_the_defaults_are_what_the_handler_writes_today() -> None:
    measured, _ = bench().measure("iris", 300)
    defaults = Measured()
    # the line varies by a byte or so with the latency's digits; the rest is fixed text
    assert measured.record_bytes == pytest.approx(defaults.record_bytes, abs=1.5)
    assert measured.gzip_bytes_per_record == pytest.approx(defaults.gzip_bytes_per_record, abs=1.5)
    for field in ("caller_bytes", "rest_access_log_bytes", "rest_waf_access_log_bytes", "http_access_log_bytes", "emf_bytes"):
        assert getattr(measured, field) == getattr(defaults, field), field
    assert measured.metrics_bytes == 0  # nothing beside the lines: measure() asserts it too
    assert measured.cold_start_bytes == pytest.approx(defaults.cold_start_bytes, rel=0.05)


def test_the_targets_hold_on_the_measured_bytes() -> None:
    """Function URL under $1.00, HTTP API at most $1.75 and REST at most $4.25 per million one-row predictions."""
    assert scenario(ApiOption.URL, 1e6, 1).variable < 1.00
    assert scenario(ApiOption.HTTP, 1e6, 1).variable <= 1.75
    assert scenario(ApiOption.REST, 1e6, 1).variable <= 4.25
