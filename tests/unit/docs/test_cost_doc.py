"""docs/cost.md's tables are what bench/api_cost.py prints, and its byte counts are what the handler writes today."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from functions.contract.prediction_log import prediction_lines
from infra.api_pricing import ApiOption, Measured, row_bytes_budget, scenario, with_row_bytes

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
    assert measured.layout_bytes == pytest.approx(defaults.layout_bytes, abs=1.5)


def test_the_targets_hold_on_the_measured_bytes() -> None:
    """Function URL under $1.00, HTTP API at most $1.75 and REST at most $4.25 per million one-row predictions."""
    assert scenario(ApiOption.URL, 1e6, 1).variable < 1.00
    assert scenario(ApiOption.HTTP, 1e6, 1).variable <= 1.75
    assert scenario(ApiOption.REST, 1e6, 1).variable <= 4.25


LABELS = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def request_records() -> list[dict]:
    lines = prediction_lines(
        timestamp_ms=1_764_082_881_123,
        request_id="9f1c0a4b2e8d4c1f9a7b3e5d2c6f8a01",
        endpoint="/predict",
        model="iris",
        model_version="3b1e9c0d2a41",
        feature_names=FEATURES,
        rows=[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]],
        labels=["setosa", "virginica", "versicolor"],
        class_indices=[0, 2, 1],
        probabilities=[[0.98, 0.02, 0.0], [0.0, 0.04, 0.96], [0.1, 0.7, 0.2]],
        is_outlier=[False, True, False],
        outlier_scores=[-0.36, 0.12, -0.2],
        latency_ms=0.224,
        reconstruction_errors=[0.54, 2.1, 0.3],
    )
    return [json.loads(line) for line in lines]


def implied(record: dict, timestamp: int) -> dict:
    """The keys layouts 2-5 leave out, rebuilt from the keys they keep."""
    return {
        "class_index": LABELS.index(record["prediction"]),
        "confidence": max(record["probabilities"]),
        "timestamp": timestamp,
    }


def test_the_request_line_layout_keeps_every_record() -> None:
    """Layout 4 (a request line and a line per row) measures the same records: each rebuilds from it."""
    api_cost = bench()
    records = request_records()
    head, *rows = api_cost.relaid(records, FEATURES)[3]
    assert head["rows"] == len(rows) == len(records)
    for record, row in zip(records, rows, strict=True):
        shared = {k: head[k] for k in api_cost.REQUEST_KEYS}
        rebuilt = {**row, **shared, "features": dict(zip(FEATURES, row["features"], strict=True))}
        assert {**rebuilt, **implied(rebuilt, head["timestamp"])} == record


def test_the_column_layout_keeps_every_record() -> None:
    api_cost = bench()
    records = request_records()
    (line,) = api_cost.relaid(records, FEATURES)[4]
    shared = {k: line[k] for k in ("request_id", *api_cost.REQUEST_KEYS)}
    columns = [k for k in line if isinstance(line[k], list)]
    for i, record in enumerate(records):
        rebuilt = {
            "message": "prediction",
            **shared,
            "row": i,
            **{k: line[k][i] for k in columns},
            "features": {name: line["features"][name][i] for name in FEATURES},
        }
        assert {**rebuilt, **implied(rebuilt, line["timestamp"])} == record


def test_the_byte_budget_is_where_the_target_is_met() -> None:
    m = Measured()
    for door in (ApiOption.URL, ApiOption.HTTP, ApiOption.REST):
        budget = row_bytes_budget(door, 0.15, 100, m)
        assert scenario(door, 1e6, 100, with_row_bytes(m, budget, 0.0)).variable == pytest.approx(0.15)
        assert scenario(door, 1e6, 100, with_row_bytes(m, budget + 1, 0.0)).variable > 0.15
    # today's line misses it on every front door, as the page says
    for door in ApiOption:
        caller = m.caller_bytes if door is ApiOption.URL else 0.0
        assert m.layout_bytes[0] + caller > row_bytes_budget(door, 0.15, 100, m), door


def test_the_page_quotes_the_budgets_and_layouts_it_prints() -> None:
    page = (REPO / "docs" / "cost.md").read_text()
    missed = page[page.index("Missed: 100-row requests") :]
    missed = " ".join(missed[: missed.index("\n\n")].split())
    m = Measured()
    for door in (ApiOption.URL, ApiOption.HTTP, ApiOption.REST):
        assert f"{row_bytes_budget(door, 0.15, 100, m):.0f} B" in missed, door
    for row_bytes in m.layout_bytes[2:]:
        assert re.search(rf"\b{row_bytes:.0f} B\b", missed), row_bytes
