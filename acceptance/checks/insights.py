"""3. Logs Insights semantics: the monitor's own queries over a window of known traffic, every aggregate compared
with DuckDB over the same records (fetched with FilterLogEvents); then one probe per undocumented assumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import load_baseline
from functions.contract.names import BASELINE_FILE

from .. import monitor_queries as mq
from ..compare import compare_window
from ..config import REPO_ROOT
from ..context import RunContext
from ..monitor_queries import NamedQuery
from ..probes import build_probes, row_dicts
from ..results import CheckResult, Status
from ..traffic import normal_rows, outlier_rows

NAME = "3 insights: monitor queries vs duckdb"
PROBE_PREFIX = "3 insights probe: "
WINDOW_NORMAL_ROWS = 200
WINDOW_OUTLIER_ROWS = 20
WINDOW_REJECTED = 5
ARRIVAL_BOUND_SECONDS = 180
INSIGHTS_ATTEMPTS = 4  # Insights may see an event a little after FilterLogEvents does
INSIGHTS_RETRY_SECONDS = 15


def _in_window(baseline: Any, start_ms: int, end_ms: int) -> Any:
    def where(record: Mapping[str, Any]) -> bool:
        return any(mq.in_window(record, baseline, start_ms, end_ms, m) for m in mq.WINDOW_MESSAGES)

    return where


def check_monitor_queries(ctx: RunContext) -> list[CheckResult]:
    baseline = ctx.baseline
    group = ctx.outputs.inference_log_group
    start_ms = ctx.wall_ms()
    sent = ctx.predict(normal_rows(ctx.config.model, baseline, WINDOW_NORMAL_ROWS, seed=3))
    sent += ctx.predict(outlier_rows(baseline, WINDOW_OUTLIER_ROWS))
    for _ in range(WINDOW_REJECTED):
        ctx.api.request("POST", "/predict", b"{}")
    ctx.api.request("GET", "/predict/test")  # a health probe: the monitor must leave it out
    end_ms = ctx.wall_ms() + 1
    where = _in_window(baseline, start_ms, end_ms)
    expected = sum(s.rows for s in sent) + WINDOW_REJECTED
    records, waited = ctx.logs.wait_for(
        group, start_ms - 5_000, end_ms + 5_000, expected=expected, timeout_seconds=ARRIVAL_BOUND_SECONDS, where=where
    )
    observations = [f"window {end_ms - start_ms} ms: {len(records)} of {expected} records readable after {waited:.0f} s"]
    duck = mq.duckdb_values(baseline, records, start_ms, end_ms)
    queries = mq.insights_queries(baseline, start_ms, end_ms)
    insights = mq.WindowValues({}, {})
    for attempt in range(1, INSIGHTS_ATTEMPTS + 1):
        results = mq.run_insights(ctx.clients("logs"), group, queries, start_ms, end_ms, sleep=ctx.sleep, clock=ctx.clock)
        insights = mq.insights_values(baseline, start_ms, end_ms, results)
        if insights.values.get(mq.ALIAS_ROWS) == duck.values.get(mq.ALIAS_ROWS):
            break
        if attempt < INSIGHTS_ATTEMPTS:
            ctx.sleep(INSIGHTS_RETRY_SECONDS)
    ctx.usage.insights_bytes_scanned += attempt * len(queries) * max(ctx.logs.bytes_read, 1)
    ctx.usage.log_bytes_ingested += ctx.logs.bytes_read
    comparisons = compare_window(mq.window_aggregates(baseline), insights, duck)
    ctx.shared["window_requests"] = len(
        {r.get(log.KEY_REQUEST_ID) for r in records if r.get(log.KEY_MESSAGE) == log.MESSAGE_PREDICTION}
    )
    differences = [c for c in comparisons if not c.ok]
    notes = [c.line() for c in comparisons if c.kind == "count_distinct" and c.note][:3]
    data = {"comparisons": [c.__dict__ for c in comparisons], "queries": [q.text for q in queries]}
    if len(records) < expected:
        return [
            CheckResult(
                NAME, Status.FAIL, f"only {len(records)} of {expected} records arrived", observations=observations, data=data
            )
        ]
    if differences:
        summary = f"{len(differences)} of {len(comparisons)} aggregates differ from DuckDB"
        return [CheckResult(NAME, Status.FAIL, summary, observations=observations + [c.line() for c in differences], data=data)]
    summary = f"all {len(comparisons)} aggregates of {len(queries)} queries equal DuckDB's"
    return [CheckResult(NAME, Status.PASS, summary, observations=observations + notes, data=data)]


def widest_baseline(current: Any) -> Any:
    """The shipped model with the most features (its prediction line is the widest record the contract writes)."""
    widest = current
    for path in sorted((REPO_ROOT / "models").glob(f"*/{BASELINE_FILE}")):
        try:
            candidate = load_baseline(path)
        except Exception:
            continue
        if candidate.n_features > widest.n_features:
            widest = candidate
    return widest


def check_probes(ctx: RunContext) -> list[CheckResult]:
    run_id = ctx.config.run_id
    cardinality = int(ctx.shared.get("window_requests") or 500)
    probes = build_probes(run_id, widest_baseline(ctx.baseline), cardinality)
    if not ctx.probe_log.created:
        ctx.probe_log.create()
    start_ms = ctx.wall_ms()
    total = sum(len(p.records) for p in probes)
    ctx.probe_log.write([r for p in probes for r in p.records], start_ms)
    end_ms = ctx.wall_ms() + 1
    group = ctx.probe_log.group
    count_query = NamedQuery("count", f'filter run = "{run_id}" | stats count(*) as n')
    seen, started = 0.0, ctx.clock()
    while ctx.clock() - started < ARRIVAL_BOUND_SECONDS:
        rows = row_dicts(
            mq.run_insights(ctx.clients("logs"), group, [count_query], start_ms, end_ms, sleep=ctx.sleep, clock=ctx.clock)[
                "count"
            ]
        )
        seen = float(rows[0].get("n") or 0) if rows else 0.0
        if seen >= total:
            break
        ctx.sleep(10)
    ctx.usage.log_bytes_ingested += ctx.probe_log.bytes_written
    ctx.usage.cloudwatch_requests += len(ctx.probe_log.batches)
    if seen < total:
        summary = f"Logs Insights saw {seen:g} of {total} probe records within {ARRIVAL_BOUND_SECONDS} s"
        return [CheckResult(PROBE_PREFIX + p.name, Status.ERROR, summary) for p in probes]
    out = []
    for probe in probes:
        queries = [NamedQuery(name, text) for name, text in probe.queries.items()]
        results = mq.run_insights(ctx.clients("logs"), group, queries, start_ms, end_ms, sleep=ctx.sleep, clock=ctx.clock)
        ctx.usage.insights_bytes_scanned += len(queries) * ctx.probe_log.bytes_written
        outcome = probe.judge(results)
        status = Status.PASS if outcome.passed else Status.FAIL
        ctx.log(f"probe {probe.name}: {outcome.observed}")
        observations = [outcome.observed] + ([f"backs: {probe.decision}"] if probe.decision else [])
        data = {**outcome.data, "decision": probe.decision}
        out.append(CheckResult(PROBE_PREFIX + probe.name, status, probe.assumption, observations=observations, data=data))
    return out
