"""A model at the feature limit is monitored on the AWS path: its Logs Insights plan fits every limit, reads the
features past the 200-field extraction cap with `parse`, and gives the same window as DuckDB.

Logs Insights cannot run here (moto ignores `stats`), so `evaluate_scalar_query` interprets the rendered text the
way the AWS documentation describes it: JSON fields extracted in line order up to the cap, `parse @message` with
named groups, `least`/`greatest`/`ceil`, `count`/`avg`/`stddev`/`sum`/`count_distinct`. It reads the query text
itself, not the specs, so a rendering mistake shows up as a different number.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.contract.model_artifact import (
    LOGS_INSIGHTS_MAX_JSON_FIELDS,
    MAX_FEATURES,
    Baseline,
    ModelArtifact,
    feature_field_position,
    parse_baseline,
)
from functions.monitor.aggregates import WindowAggregates, build_specs, feature_field
from functions.monitor.insights import (
    MAX_AGGREGATIONS_PER_QUERY,
    MAX_CONCURRENT_QUERIES,
    MAX_QUERY_CHARS,
    FeatureLimitError,
    InsightsEngine,
    InsightsQuery,
    InsightsRunner,
    parse_grouped_results,
    parse_scalar_results,
    parsed_feature_fields,
    render_queries,
)
from local.monitor import DuckDbEngine
from tests.unit.monitor.fakes import insights_results, numpy_values, sample_traffic, write_log

START_MS, WINDOW_MS = 1764082800000, 120_000


def wide_document(base: Baseline, n_features: int, name_length: int = 40) -> dict[str, Any]:
    """`n_features` features cycled from `base` (each with its own drift cuts), with long names: the worst text."""
    document: dict[str, Any] = copy.deepcopy(base.document)
    originals = document["features"]
    document["features"] = []
    for i in range(n_features):
        feature = dict(originals[i % len(originals)])
        feature["name"] = f"feature_{i:03d}_".ljust(name_length, "x")
        document["features"].append(feature)
    document["model"] = dict(document["model"], name="wide")
    document.pop("relations", None)  # they name the base model's features
    return document


@pytest.fixture(scope="module")
def widest(wine_artifact: ModelArtifact) -> Baseline:
    return parse_baseline(wide_document(wine_artifact.baseline, MAX_FEATURES))


def flattened(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in record.items():
        if isinstance(value, dict):
            yield from ((f"{key}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            yield from ((f"{key}.{i}", v) for i, v in enumerate(value))
        else:
            yield key, value


def number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


PARSE = re.compile(r"^\| parse @message /(.*)/$", re.M)
INDICATOR = re.compile(r"least\(1, greatest\(0, ceil\(([-0-9.e+]+) - ([\w.]+)\)\)\) as (\w+)")
STAT = re.compile(r"(count_distinct|count|avg|stddev|sum)\(([\w.*]+)\) as (\w+)")


def evaluate_scalar_query(query: InsightsQuery, lines: list[str]) -> list[list[dict[str, str]]]:
    """One scalar query over prediction lines already inside its filter, as Logs Insights documents it."""
    parses = [re.compile(pattern.replace("(?<", "(?P<")) for pattern in PARSE.findall(query.text)]
    fields_part = query.text.split("| fields ", 1)[1].split("\n| stats", 1)[0] if "| fields " in query.text else ""
    indicators = INDICATOR.findall(fields_part)
    stats = STAT.findall(query.text.split("\n| stats ", 1)[1])
    events = []
    for line in lines:
        event = dict(list(flattened(json.loads(line)))[:LOGS_INSIGHTS_MAX_JSON_FIELDS])  # extraction cap, in line order
        for pattern in parses:
            match = pattern.search(line)
            if match:
                event.update(match.groupdict())
        for cut, field, alias in indicators:
            x = number(event.get(field))
            event[alias] = None if x is None else min(1, max(0, math.ceil(float(cut) - x)))
        events.append(event)
    row = []
    for func, field, alias in stats:
        if func == "count" and field == "*":
            value: float | None = float(len(events))
        else:
            raw = [event.get(field) for event in events if event.get(field) is not None]
            if func == "count_distinct":
                value = float(len(set(raw)))
            elif func == "count":
                value = float(len(raw))
            else:
                xs = np.array([number(v) for v in raw], dtype=float)
                if func == "sum":
                    value = float(xs.sum()) if xs.size else None
                elif func == "avg":
                    value = float(xs.mean()) if xs.size else None
                else:
                    value = float(xs.std(ddof=1)) if xs.size > 1 else None
        if value is not None:
            row.append({"field": alias, "value": repr(value)})
    return [row] if events else []


def test_the_widest_model_fits_every_query_limit(widest: Baseline) -> None:
    queries = render_queries(widest, START_MS, START_MS + WINDOW_MS)
    parsed = parsed_feature_fields(widest)
    past_cap = [i for i in range(MAX_FEATURES) if feature_field_position(i) > LOGS_INSIGHTS_MAX_JSON_FIELDS]
    assert past_cap and len(parsed) == len(past_cap)  # the limit really crosses the extraction cap
    specs = build_specs(widest)
    for query in queries:
        assert len(query.text) <= MAX_QUERY_CHARS
        if not query.grouped:
            assert len(query.specs) <= MAX_AGGREGATIONS_PER_QUERY
            for feature in {s.feature for s in query.specs if s.feature}:  # a feature is never split
                assert sum(s.feature == feature for s in query.specs) == sum(s.feature == feature for s in specs)
    texts = "\n".join(q.text for q in queries)
    for index in past_cap:  # read only through parse, never by the field name Logs Insights did not extract
        field = feature_field(widest.feature_names[index])
        assert field not in texts and texts.count(f"(?<v{index}>") == 1
    assert feature_field(widest.feature_names[past_cap[0] - 1]) in texts
    assert {a for q in queries for s in q.specs for a in [s.alias]} == {s.alias for s in specs}


def test_one_feature_past_the_limit_is_refused_at_monitor_start(widest: Baseline, wine_artifact: ModelArtifact) -> None:
    document = wide_document(wine_artifact.baseline, MAX_FEATURES + 1)
    one_more = widest._replace(
        feature_names=tuple(f["name"] for f in document["features"]),
        features=(*widest.features, widest.features[0]._replace(name="feature_extra")),
    )
    with pytest.raises(FeatureLimitError, match=rf"has {MAX_FEATURES + 1} features; at most {MAX_FEATURES}"):
        InsightsEngine(one_more, InsightsRunner(client=None, log_group="g", timeout_seconds=1))


def test_the_widest_models_insights_window_equals_duckdbs(widest: Baseline, tmp_path: Path) -> None:
    """Real prediction lines; scalar queries interpreted from their text; grouped counts from numpy (they read
    fixed keys only); the result typed by the same code as in AWS, against the local engine."""
    rng = np.random.default_rng(3)
    traffic = sample_traffic(widest, 120, rng, rows_per_request=2, rejected=2, confidence=0.8)
    traffic.features = np.round(traffic.features, 4)
    path = tmp_path / "predictions.jsonl"
    write_log(path, widest, traffic, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    lines = [line for line in path.read_text().splitlines() if json.loads(line)["message"] == "prediction"]
    assert len(list(flattened(json.loads(lines[0])))) > LOGS_INSIGHTS_MAX_JSON_FIELDS
    queries = render_queries(widest, START_MS, START_MS + WINDOW_MS)
    _, groups = numpy_values(widest, traffic)
    grouped = insights_results([q for q in queries if q.grouped], {"rows": float(len(lines))}, groups)
    values: dict[str, float | None] = {}
    merged_groups: dict[str, dict[str, int]] = {}
    for query in queries:
        if query.grouped:
            merged_groups.update(parse_grouped_results(query, grouped[query.name]))
        else:
            values.update(parse_scalar_results(query, evaluate_scalar_query(query, lines)))
    got = WindowAggregates.from_values(widest, values, merged_groups, start_ms=START_MS, end_ms=START_MS + WINDOW_MS)
    want = DuckDbEngine(widest, path).read(START_MS, START_MS + WINDOW_MS)
    assert (got.rows, got.requests, got.outliers, got.rejected) == (want.rows, want.requests, want.outliers, want.rejected)
    assert got.confidence_mean == pytest.approx(want.confidence_mean)
    for g, w in zip(got.features, want.features, strict=True):
        assert (g.name, g.count, g.below) == (w.name, w.count, w.below)
        assert g.mean == pytest.approx(w.mean, rel=1e-9) and g.std == pytest.approx(w.std, rel=1e-9)
    assert all(f.count == len(lines) for f in got.features)  # no feature lost past the cap


def test_without_parse_the_features_past_the_cap_would_be_lost(widest: Baseline, tmp_path: Path) -> None:
    """The emulated cap is real: the same query read by field name returns no values for those features."""
    rng = np.random.default_rng(4)
    traffic = sample_traffic(widest, 10, rng)
    path = tmp_path / "predictions.jsonl"
    write_log(path, widest, traffic, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    lines = path.read_text().splitlines()
    last = MAX_FEATURES - 1
    name = widest.feature_names[last]
    query = next(q for q in render_queries(widest, START_MS, START_MS + WINDOW_MS) if any(s.feature == name for s in q.specs))
    unparsed = InsightsQuery(query.name, re.sub(r"\n\| parse @message /.*/", "", query.text).replace(
        f"v{last}", feature_field(widest.feature_names[last])), query.specs, grouped=False)  # fmt: skip
    row = {cell["field"]: cell["value"] for cell in evaluate_scalar_query(unparsed, lines)[0]}
    assert f"f{last}_mean" not in row and row[f"f{last}_n"] == "0.0"


class CountingClient:
    """A logs client whose queries complete on their second poll; records the most queries in flight."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.most = 0
        self.started = 0

    def start_query(self, **_: Any) -> dict[str, str]:
        self.started += 1
        query_id = f"q{self.started}"
        self.running[query_id] = 0
        self.most = max(self.most, len(self.running))
        return {"queryId": query_id}

    def get_query_results(self, queryId: str) -> dict[str, Any]:  # noqa: N803 (boto3's keyword)
        self.running[queryId] += 1
        if self.running[queryId] < 2:
            return {"status": "Running", "results": []}
        del self.running[queryId]
        return {"status": "Complete", "results": []}


def test_the_runner_keeps_at_most_the_concurrency_bound_in_flight(widest: Baseline) -> None:
    queries = render_queries(widest, START_MS, START_MS + WINDOW_MS)
    assert len(queries) > MAX_CONCURRENT_QUERIES
    client = CountingClient()
    sleeps: list[float] = []
    runner = InsightsRunner(client=client, log_group="g", timeout_seconds=600, clock=lambda: 0.0, sleep=sleeps.append)
    results = runner.run(queries, START_MS, START_MS + WINDOW_MS)
    assert set(results) == {q.name for q in queries} and client.started == len(queries)
    assert client.most == MAX_CONCURRENT_QUERIES
