"""One probe per Logs Insights behaviour behind a monitor design decision (docs/monitor.md lists them).

Each probe is data: the records to write (into a log group the suite owns), the Logs Insights queries to run on
them, and a judge that turns the answer into pass/fail plus one sentence saying what AWS did, so the answer
can be written back into docs/monitor.md. Records carry `probe` and `run` as their FIRST keys: the field cap
counts fields in the order they appear, and the filter must always see them.

The monitor was redesigned so that it does not depend on some of these behaviours (it no longer sums booleans,
reads percentiles or groups lines lacking a `by` field). Those probes still run: they pass when AWS answers in
any way the monitor's design holds under, and their sentence records which way it was, so docs/monitor.md can
state it. `Probe.decision` names the design decision each one backs.

Building and judging are pure and tested offline with fake Insights answers; only `checks/insights.py` talks
to AWS.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import LOGS_INSIGHTS_MAX_JSON_FIELDS, Baseline
from functions.monitor.insights import render_parse

from .compare import COUNT_DISTINCT_TOLERANCE
from .monitor_queries import FALSE_SPELLINGS, TRUE_SPELLINGS

Rows = list[list[dict[str, str]]]
WIDE_FIELDS = 300  # synthetic wide record: above both documented caps (100 in older docs, 200 in newer)
PCT_VALUES = 200
PCT_LEVELS = (10, 20, 30, 40, 50, 60, 70, 80, 90)  # the deciles the old monitor read
PCT_RANK_TOLERANCE = 0.01


@dataclass(frozen=True)
class ProbeOutcome:
    passed: bool
    observed: str  # what AWS did, one sentence
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    name: str
    assumption: str  # what must hold for the probe to pass
    records: list[dict[str, Any]]
    queries: dict[str, str]  # query name -> Logs Insights text
    judge: Callable[[Mapping[str, Rows]], ProbeOutcome]
    decision: str = ""  # the monitor design decision the probe backs (docs/acceptance.md, docs/monitor.md)


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


def rank_interval(sorted_values: Sequence[float], value: float) -> tuple[float, float]:
    """Share of values strictly below `value`, and at or below it."""
    n = len(sorted_values)
    return bisect.bisect_left(sorted_values, value) / n, bisect.bisect_right(sorted_values, value) / n


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """Field names as Logs Insights flattens a JSON object, in order of appearance."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in leaf_paths(item, f"{prefix}{key}.")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaf_paths(item, f"{prefix}{index}.")]
    return [prefix.rstrip(".")]


# --- 1. a boolean field: grouped by (what the monitor does) and summed (what it no longer does) -------------------
def boolean_sum(run_id: str, n: int = 20, true_count: int = 7) -> Probe:
    name = "boolean_sum"
    groups_query = f"{name}:groups"
    records = [{**_head(run_id, name), "flag": i < true_count} for i in range(n)]

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        rows = row_dicts(results.get(name, []))
        row = rows[0] if rows else {}
        total = _number(row.get("s"))
        groups = row_dicts(results.get(groups_query, []))
        read = {"true": 0.0, "false": 0.0, "unreadable": 0.0}
        for group in groups:
            spelling = (group.get("flag") or "").strip().lower()
            key = "true" if spelling in TRUE_SPELLINGS else "false" if spelling in FALSE_SPELLINGS else "unreadable"
            read[key] += _number(group.get("n")) or 0
        spellings = ", ".join(f"{g.get('flag', '<absent>')!r}: {g.get('n')}" for g in groups) or "no groups"
        data = {"sum": row.get("s"), "count": row.get("n"), "groups": groups, "true": true_count, "false": n - true_count}
        if total == true_count:
            summed = f"sum() of it counts true as 1 ({total:g}), which the monitor does not rely on"
        else:
            summed = f"sum() of it gave {'no value' if total is None else row.get('s')} for {true_count} true of {n}"
        if read["true"] == true_count and read["false"] == n - true_count and not read["unreadable"]:
            return ProbeOutcome(
                True, f"`count(*) by` a JSON boolean groups it as {spellings}: read as the monitor reads it; {summed}", data
            )
        return ProbeOutcome(
            False,
            f"`count(*) by` a JSON boolean gave {spellings}: the monitor would read {read['true']:g} outliers of {true_count},"
            f" {read['unreadable']:g} unreadable; {summed}",
            data,
        )

    queries = {
        name: f"{_filter(run_id, name)}\n| stats sum(flag) as s, count(*) as n",
        groups_query: f"{_filter(run_id, name)}\n| stats count(*) as n by flag",
    }
    return Probe(
        name,
        '`stats count(*) by` a JSON boolean answers groups the monitor reads as true ("true"/"1") or false ("false"/"0")',
        records,
        queries,
        judge,
        decision="outliers come from `count(*) by is_outlier, prediction`, never from `sum(is_outlier)`: AWS documents"
        " `sum` for numbers only; the probe records what `sum` of a boolean does",
    )


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
        labelled = {
            label: sum(_number(g.get("n")) or 0 for g in groups if g.get("kind") == "prediction" and g.get("label") == label)
            for label in set(with_label)
        }
        exact = all(labelled[label] == with_label.count(label) for label in labelled)
        lacking = sum(_number(g.get("n")) or 0 for g in groups if g.get("kind") == "rejected")
        total = sum(_number(g.get("n")) or 0 for g in groups)
        data = {"groups": groups, "expected_lacking": without, "expected_total": len(records)}
        if exact and lacking == without and total == len(records):
            how = "an empty label" if any(g.get("kind") == "rejected" and "label" in g for g in groups) else "no label field"
            return ProbeOutcome(True, f"events lacking the `by` field form their own group ({how}), none dropped: {shown}", data)
        if exact and lacking == 0 and total == len(with_label):
            return ProbeOutcome(True, f"events lacking the `by` field are dropped from `stats ... by`: {shown}", data)
        return ProbeOutcome(
            False,
            f"events lacking the `by` field: {lacking:g} of {without} counted, {total:g} of {len(records)} in all"
            f"{'' if exact else ', and the events that have it are miscounted'}: {shown}",
            data,
        )

    query = f"{_filter(run_id, name)}\n| stats count(*) as n by kind, label"
    return Probe(
        name,
        "`stats ... by` counts the events that have every `by` field exactly; those lacking one are one group or dropped",
        records,
        {name: query},
        judge,
        decision="rejected and failed lines (no `prediction`, no `is_outlier`) are counted in their own query grouped by"
        " `message` alone, and the outlier/class query reads prediction lines only; the probe records which way AWS goes",
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


def _same_value(expected: Any, got: str | None) -> bool:
    """A field's value as Logs Insights returns it (text) against the value written."""
    if got is None:
        return False
    if isinstance(expected, bool):
        return got.strip().lower() in (TRUE_SPELLINGS if expected else FALSE_SPELLINGS)
    if isinstance(expected, int | float):
        number = _number(got)
        return number is not None and abs(number - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    return got == ("" if expected is None else str(expected))


def _leaf_values(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {p: v for key, item in value.items() for p, v in _leaf_values(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {p: v for index, item in enumerate(value) for p, v in _leaf_values(item, f"{prefix}{index}.").items()}
    return {prefix.rstrip("."): value}


def wide_record(run_id: str, widest: Baseline, n_fields: int = WIDE_FIELDS) -> Probe:
    name = "wide_record"
    contract = {**_head(run_id, f"{name}:contract"), **contract_record(widest)}
    written = _leaf_values(contract)
    contract_paths = list(written)
    last = contract_paths[-1]
    synthetic = {**_head(run_id, f"{name}:cap"), **{f"f{i:03d}": i for i in range(n_fields)}}
    # A wide model's features past the cap: the monitor reads them with its own `parse @message` (insights.py).
    past_cap = f"f{n_fields - 1:03d}"
    nested = {**_head(run_id, f"{name}:parse"), log.KEY_FEATURES: {f"f{i:03d}": i for i in range(n_fields)}}
    parse = render_parse(f"{log.KEY_FEATURES}.{past_cap}", "v_last")
    queries = {
        "contract": f"{_filter(run_id, f'{name}:contract')}\n| fields " + ", ".join(contract_paths),
        "cap": f"{_filter(run_id, f'{name}:cap')}\n| fields " + ", ".join(f"f{i:03d}" for i in range(n_fields)),
        "parse": f"{_filter(run_id, f'{name}:parse')}\n| {parse}\n| stats count(*) as n, count(v_last) as n_parsed,"
        " sum(v_last) as s_parsed",
    }

    def judge(results: Mapping[str, Rows]) -> ProbeOutcome:
        rows = row_dicts(results.get("contract", []))
        row = rows[0] if rows else {}
        wrong = [path for path, value in written.items() if not _same_value(value, row.get(path))]
        cap_rows = row_dicts(results.get("cap", []))
        extracted = sorted(int(k[1:]) for k in (cap_rows[0] if cap_rows else {}) if k.startswith("f") and k[1:].isdigit())
        # The two tags come first, so the cap is the tags plus the contiguous run of f-fields returned.
        contiguous = next((i for i, v in enumerate(extracted) if i != v), len(extracted))
        cap = contiguous + 2
        cap_text = (
            f"all {n_fields + 2} fields of a {n_fields + 2}-field line were extracted"
            if contiguous == n_fields
            else f"a {n_fields + 2}-field line: the first {cap} fields were extracted (tags + f000..f{contiguous - 1:03d})"
        )
        parsed_rows = row_dicts(results.get("parse", []))
        parsed = parsed_rows[0] if parsed_rows else {}
        n_nested, n_parsed, s_parsed = (_number(parsed.get(k)) for k in ("n", "n_parsed", "s_parsed"))
        parsed_ok = n_nested is not None and n_nested > 0 and n_parsed == n_nested and s_parsed == (n_fields - 1) * n_nested
        parse_text = f"`features.{past_cap}` (field {n_fields + 2} of its line) read with `parse @message`: " + (
            "the value came back" if parsed_ok else f"{n_parsed} of {n_nested} values, sum {s_parsed}"
        )
        data = {
            "contract_fields": len(contract_paths),
            "last_field": last,
            "wrong_fields": wrong,
            "extracted_prefix": cap,
            "loader_cap": LOGS_INSIGHTS_MAX_JSON_FIELDS,
            "parsed_past_cap": parsed_ok,
        }
        problems = []
        if not rows:
            problems.append("the widest line came back with no fields")
        elif wrong:
            problems.append(
                f"{len(wrong)} of its {len(contract_paths)} fields came back missing or changed ({', '.join(wrong[:5])})"
            )
        if cap < LOGS_INSIGHTS_MAX_JSON_FIELDS:
            problems.append(
                f"only {cap} fields are extracted, below the {LOGS_INSIGHTS_MAX_JSON_FIELDS} the monitor's query plan assumes"
            )
        if not parsed_ok:
            problems.append("a feature past the cap did not come back through `parse @message`")
        if problems:
            return ProbeOutcome(
                False,
                f"the widest model's line ({len(contract_paths)} fields): {'; '.join(problems)}; {cap_text}; {parse_text}",
                data,
            )
        return ProbeOutcome(
            True,
            f"every one of the widest model's {len(contract_paths)} fields (last `{last}`) came back as written; {cap_text};"
            f" {parse_text}",
            data,
        )

    return Probe(
        name,
        "every field of the widest prediction line is extracted as written, the extraction cap is at least what the"
        " monitor's query plan assumes, and a feature past the cap is read with `parse @message`",
        [contract, synthetic, nested],
        queries,
        judge,
        decision="the prediction line puts the fields the monitor reads first; the monitor reads the first"
        f" {LOGS_INSIGHTS_MAX_JSON_FIELDS} fields by name and a wide model's features past them with `parse @message`;"
        " the probe reads every field of the widest line, fails when the measured cap is below that number, and parses"
        " a feature past it",
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
        if worst > tolerance:
            return ProbeOutcome(False, f"{summary}: OUTSIDE the rank tolerance, pct is not a quantile of the values", data)
        return ProbeOutcome(True, f"{summary}: within the rank tolerance; the monitor reads no percentiles", data)

    query = f"{_filter(run_id, name)}\n| stats {terms}"
    return Probe(
        name,
        "pct(field, p) answers, at every decile, a value whose rank among the values is within max(1/n, 1 %) of p",
        records,
        {name: query},
        judge,
        decision="the monitor reads no percentiles: a feature's distribution is counts of rows below the training cuts"
        " (`Func.BELOW`), exact in both engines, because AWS does not document pct's method; the probe fails when pct is"
        " not a quantile within one rank step, which rules it out of ad-hoc Insights questions too",
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

    return Probe(
        name,
        "count_distinct(request_id) counts the window's requests within 2 %",
        records,
        queries,
        judge,
        decision="`count_distinct(request_id)` (documented as approximate) only feeds the rejected and failed ratios'"
        " denominator, where 2 % is below the checks' margin",
    )


def build_probes(run_id: str, widest: Baseline, cardinality: int) -> list[Probe]:
    return [
        boolean_sum(run_id),
        missing_by_field(run_id),
        wide_record(run_id, widest),
        pct_quantiles(run_id),
        count_distinct(run_id, (cardinality, HIGH_CARDINALITY)),
    ]
