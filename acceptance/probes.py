"""One probe per Logs Insights assumption the monitor rests on (docs/monitor.md lists them).

Each probe is data: the records to write (into a log group the suite owns), the Logs Insights queries to run on
them, and a judge that turns the answer into pass/fail plus one sentence saying what AWS did, so the answer
can be written back into docs/monitor.md. Records carry `probe` and `run` as their FIRST keys: the field cap
counts fields in the order they appear, and the filter must always see them.

Building and judging are pure and tested offline with fake Insights answers; only `checks/insights.py` talks
to AWS.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

from .compare import COUNT_DISTINCT_TOLERANCE, PCT_RANK_TOLERANCE, rank_interval

Rows = list[list[dict[str, str]]]
WIDE_FIELDS = 300  # synthetic wide record: above both documented caps (100 in older docs, 200 in newer)
PCT_VALUES = 200
PCT_LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90)  # the monitor's deciles


@dataclass(frozen=True)
class ProbeOutcome:
    passed: bool
    observed: str  # what AWS did, one sentence
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    name: str
    assumption: str
    records: list[dict[str, Any]]
    queries: dict[str, str]  # query name -> Logs Insights text
    judge: Callable[[Mapping[str, Rows]], ProbeOutcome]


def row_dicts(rows: Rows) -> list[dict[str, str]]:
    return [{cell["field"]: cell.get("value", "") for cell in row} for row in rows]


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _head(run_id: str, probe: str) -> dict[str, Any]:
    return {"probe": probe, "run": run_id}


def _filter(run_id: str, probe: str) -> str:
    return f'filter run = "{run_id}" and probe = "{probe}"'


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """Field names as Logs Insights flattens a JSON object, in order of appearance."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in leaf_paths(item, f"{prefix}{key}.")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaf_paths(item, f"{prefix}{index}.")]
    return [prefix.rstrip(".")]


# --- 1. sum of a boolean field ----------------------------------------------------------------------------------
def boolean_sum(run_id: str, n: int = 20, true_count: int = 7) -> Probe:
    name = "boolean_sum"
    records = [{**_head(run_id, name), "flag": i < true_count} for i in range(n)]

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        rows = row_dicts(results.get(name, []))
        row = rows[0] if rows else {}
        total = _number(row.get("s"))
        data = {"sum": row.get("s"), "count": row.get("n"), "true": true_count, "false": n - true_count}
        if total == true_count:
            return ProbeOutcome(
                True, f"sum() of a JSON boolean counts true as 1: {true_count} true + {n - true_count} false -> {total:g}", data
            )
        shown = "no value" if total is None else f"{row.get('s')}"
        return ProbeOutcome(
            False, f"sum() of a JSON boolean gave {shown} for {true_count} true of {n}: the outlier count is wrong", data
        )

    query = f"{_filter(run_id, name)}\n| stats sum(flag) as s, count(*) as n"
    return Probe(name, "sum(is_outlier) counts outliers (booleans read as 1/0)", records, {name: query}, judge)


# --- 2. a group whose `by` field is missing ---------------------------------------------------------------------
def missing_by_field(run_id: str, with_label: Sequence[str] = ("a", "a", "a", "a", "b", "b", "b"), without: int = 5) -> Probe:
    name = "missing_by_field"
    records = [{**_head(run_id, name), "kind": "prediction", "label": label} for label in with_label]
    records += [{**_head(run_id, name), "kind": "rejected"} for _ in range(without)]

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        groups = row_dicts(results.get(name, []))
        shown = "; ".join(
            f"kind={g.get('kind', '<absent>')!r} label={g.get('label', '<absent>')!r} n={g.get('n')}" for g in groups
        )
        lacking = sum(_number(g.get("n")) or 0 for g in groups if g.get("kind") == "rejected")
        total = sum(_number(g.get("n")) or 0 for g in groups)
        data = {"groups": groups, "expected_lacking": without, "expected_total": len(records)}
        if lacking == without and total == len(records):
            how = "an empty label" if any(g.get("kind") == "rejected" and "label" in g for g in groups) else "no label field"
            return ProbeOutcome(True, f"events lacking the `by` field form their own group ({how}), none dropped: {shown}", data)
        return ProbeOutcome(
            False,
            f"events lacking the `by` field: {lacking:g} of {without} counted, {total:g} of {len(records)} in all: {shown}",
            data,
        )

    query = f"{_filter(run_id, name)}\n| stats count(*) as n by kind, label"
    return Probe(
        name, "rejected lines (no `prediction`) are counted by `stats ... by message, prediction`", records, {name: query}, judge
    )


# --- 3. the last field of a wide record, against the field cap ----------------------------------------------------
def contract_record(baseline: Baseline) -> dict[str, Any]:
    """A real prediction line of `baseline`'s model, as the contract writes it."""
    n_labels = len(baseline.label_names)
    line = log.prediction_lines(
        timestamp_ms=0,
        request_id="0" * 32,
        endpoint="/predict",
        model=baseline.model_name,
        model_version=baseline.model_version,
        feature_names=baseline.feature_names,
        rows=[baseline.medians],
        labels=[baseline.label_names[0]],
        class_indices=[0],
        probabilities=[[round(1 / n_labels, 4)] * n_labels],
        is_outlier=[False],
        outlier_scores=[-0.1],
        latency_ms=1.0,
    )[0]
    import json

    return dict(json.loads(line))


def wide_record(run_id: str, widest: Baseline, n_fields: int = WIDE_FIELDS) -> Probe:
    name = "wide_record"
    contract = {**_head(run_id, f"{name}:contract"), **contract_record(widest)}
    contract_paths = leaf_paths(contract)
    last = contract_paths[-1]
    synthetic = {**_head(run_id, f"{name}:cap"), **{f"f{i:03d}": i for i in range(n_fields)}}
    queries = {
        "contract": f"{_filter(run_id, f'{name}:contract')}\n| stats count(*) as n, count({last}) as n_last",
        "cap": f"{_filter(run_id, f'{name}:cap')}\n| fields " + ", ".join(f"f{i:03d}" for i in range(n_fields)),
    }

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        rows = row_dicts(results.get("contract", []))
        row = rows[0] if rows else {}
        n, n_last = _number(row.get("n")), _number(row.get("n_last"))
        cap_rows = row_dicts(results.get("cap", []))
        extracted = sorted(int(k[1:]) for k in (cap_rows[0] if cap_rows else {}) if k.startswith("f") and k[1:].isdigit())
        # The two tags come first, so the cap is the tags plus the contiguous run of f-fields returned.
        contiguous = next((i for i, v in enumerate(extracted) if i != v), len(extracted))
        cap_text = (
            f"all {n_fields + 2} fields of a {n_fields + 2}-field line were extracted"
            if contiguous == n_fields
            else f"a {n_fields + 2}-field line: the first {contiguous + 2} fields were extracted"
            f" (tags + f000..f{contiguous - 1:03d})"
        )
        data = {
            "contract_fields": len(contract_paths),
            "last_field": last,
            "n": n,
            "n_last": n_last,
            "extracted_prefix": contiguous + 2,
        }
        if n and n_last == n:
            return ProbeOutcome(
                True,
                f"the last field `{last}` of the widest model's line ({len(contract_paths)} fields) is extracted; {cap_text}",
                data,
            )
        return ProbeOutcome(
            False,
            f"the last field `{last}` of the widest line ({len(contract_paths)} fields) came back"
            f" {n_last} of {n} times; {cap_text}",
            data,
        )

    return Probe(
        name, "every field the monitor reads is within the per-event extraction cap", [contract, synthetic], queries, judge
    )


# --- 4. pct against DuckDB's quantile --------------------------------------------------------------------------
def duckdb_quantiles(values: Sequence[float], levels: Sequence[int]) -> dict[str, list[float]]:
    import duckdb

    fractions = ", ".join(f"{p / 100:g}" for p in levels)
    connection = duckdb.connect()
    connection.execute("CREATE TABLE v (x DOUBLE)")
    connection.executemany("INSERT INTO v VALUES (?)", [(float(v),) for v in values])
    row = connection.execute(f"SELECT quantile_cont(x, [{fractions}]), quantile_disc(x, [{fractions}]) FROM v").fetchone()
    assert row is not None
    return {"cont": [float(x) for x in row[0]], "disc": [float(x) for x in row[1]]}


def pct_quantiles(run_id: str, n: int = PCT_VALUES, seed: int = 13) -> Probe:
    name = "pct_quantile"
    rng = random.Random(seed)
    values = [round(rng.lognormvariate(0.0, 0.75), 4) for _ in range(n)]  # skewed: interpolation methods differ visibly
    records = [{**_head(run_id, name), "v": v} for v in values]
    terms = ", ".join(f"pct(v, {p}) as p{p}" for p in PCT_LEVELS)

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        rows = row_dicts(results.get(name, []))
        row = rows[0] if rows else {}
        expected = duckdb_quantiles(values, PCT_LEVELS)
        ordered = sorted(values)
        tolerance = max(1 / n, PCT_RANK_TOLERANCE)
        matches = {"cont": 0, "disc": 0}
        worst = 0.0
        missing = []
        per_level = {}
        for index, p in enumerate(PCT_LEVELS):
            got = _number(row.get(f"p{p}"))
            if got is None:
                missing.append(p)
                continue
            low, high = rank_interval(ordered, got)
            error = max(0.0, low - p / 100, p / 100 - high)
            worst = max(worst, error)
            for method in matches:
                if abs(got - expected[method][index]) <= 1e-9 * max(1.0, abs(got)):
                    matches[method] += 1
            per_level[f"p{p}"] = {"aws": got, "duckdb_cont": expected["cont"][index], "duckdb_disc": expected["disc"][index]}
        data = {"levels": per_level, "rank_error_max": worst, "tolerance": tolerance, "missing": missing}
        summary = (
            f"pct over {n} values: equals DuckDB quantile_cont at {matches['cont']}/{len(PCT_LEVELS)} levels, "
            f"quantile_disc at {matches['disc']}/{len(PCT_LEVELS)}; worst rank error {worst:.4f} (tolerance {tolerance:.4f})"
        )
        if missing:
            return ProbeOutcome(False, f"pct returned no value at levels {missing}; {summary}", data)
        return ProbeOutcome(worst <= tolerance, summary, data)

    query = f"{_filter(run_id, name)}\n| stats {terms}"
    return Probe(
        name,
        "pct(field, p) is the p-th percentile of the window's values (deciles feed the KS check)",
        records,
        {name: query},
        judge,
    )


# --- 5. count_distinct at the window's cardinality -----------------------------------------------------------------
HIGH_CARDINALITY = 10_000  # ~83 requests/s over a 2-minute window: where "approximate at high cardinality" may bite


def count_distinct(run_id: str, cardinalities: Sequence[int], rows_per_id: int = 2) -> Probe:
    name = "count_distinct"
    levels = sorted({max(1, k) for k in cardinalities})
    records = [{**_head(run_id, f"{name}:{k}"), "id": f"{i:032x}"} for k in levels for i in range(k) for _ in range(rows_per_id)]
    queries = {str(k): f"{_filter(run_id, f'{name}:{k}')}\n| stats count_distinct(id) as d, count(*) as n" for k in levels}

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        parts: list[str] = []
        passed = True
        data: dict[str, Any] = {}
        for k in levels:
            rows = row_dicts(results.get(str(k), []))
            got = _number(rows[0].get("d")) if rows else None
            if got is None:
                passed = False
                parts.append(f"no value at {k} ids")
                data[str(k)] = None
                continue
            error = abs(got - k) / k
            data[str(k)] = {"aws": got, "relative_error": error}
            passed = passed and error <= COUNT_DISTINCT_TOLERANCE
            parts.append(f"exact at {k} ids" if got == k else f"approximate at {k} ids: {got:g} (off by {error:.2%})")
        return ProbeOutcome(passed, "count_distinct: " + "; ".join(parts), data)

    return Probe(name, "count_distinct(request_id) counts the window's requests", records, queries, judge)


def build_probes(run_id: str, widest: Baseline, cardinality: int) -> list[Probe]:
    return [
        boolean_sum(run_id),
        missing_by_field(run_id),
        wide_record(run_id, widest),
        pct_quantiles(run_id),
        count_distinct(run_id, (cardinality, HIGH_CARDINALITY)),
    ]
