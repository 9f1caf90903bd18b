"""The same window aggregates rendered as one DuckDB statement over the JSON-lines prediction log.

Pure string building (no duckdb import): `local/monitor.py` executes it. One
scan computes everything. `read_json` gets explicit column types (no schema
sampling) and `ignore_errors`, so a truncated last line or a garbage line
becomes an all-NULL row: counted as unreadable, never fatal. Because such a
line has no timestamp, the unreadable count covers the whole file; every
other aggregate is filtered to the window. Grouped counts use `histogram`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

from .aggregates import ANY_MESSAGE, COUNTED_MESSAGES, AggregateSpec, Func, build_specs

ALIAS_UNREADABLE = "__unreadable"
ALIAS_TOTAL = "__total"


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(field: str) -> str:
    return ".".join(_ident(part) for part in field.split("."))


def columns(baseline: Baseline) -> dict[str, str]:
    """Explicit read_json column types: only what the specs read (other keys are ignored)."""
    struct = ", ".join(f"{_ident(name)} DOUBLE" for name in baseline.feature_names)
    return {
        log.KEY_MESSAGE: "VARCHAR",
        log.KEY_TIMESTAMP: "BIGINT",
        log.KEY_REQUEST_ID: "VARCHAR",
        log.KEY_MODEL: "VARCHAR",
        log.KEY_ENDPOINT: "VARCHAR",
        log.KEY_FEATURES: f"STRUCT({struct})",
        log.KEY_PREDICTION: "VARCHAR",
        log.KEY_IS_OUTLIER: "VARCHAR",  # read as text, parsed like Logs Insights' answer ("true" / "1")
        log.KEY_CONFIDENCE: "DOUBLE",
        log.KEY_RECONSTRUCTION_ERROR: "DOUBLE",
    }


def read_json_call(baseline: Baseline, path: str) -> str:
    types = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in columns(baseline).items())
    return f"read_json({sql_string(path)}, format = 'newline_delimited', ignore_errors = true, columns = {{{types}}})"


@dataclass(frozen=True)
class LocalQuery:
    sql: str
    output: tuple[AggregateSpec | str, ...]  # per selected column: its spec, or ALIAS_UNREADABLE / ALIAS_TOTAL


def render_sql(baseline: Baseline, path: str, start_ms: int, end_ms: int) -> LocalQuery:
    window = (
        f"{log.KEY_MODEL} = {sql_string(baseline.model_name)}"
        f" AND {log.KEY_TIMESTAMP} >= {int(start_ms)} AND {log.KEY_TIMESTAMP} < {int(end_ms)}"
        f" AND {log.KEY_ENDPOINT} NOT IN ({', '.join(sql_string(e) for e in log.SAMPLE_ENDPOINTS)})"
    )
    select: list[str] = []
    output: list[AggregateSpec | str] = []
    for spec in build_specs(baseline):
        if spec.message == ANY_MESSAGE:
            which = f"{log.KEY_MESSAGE} IN ({', '.join(sql_string(m) for m in COUNTED_MESSAGES)})"
        else:
            which = f"{log.KEY_MESSAGE} = {sql_string(spec.message)}"
        where = f"{which} AND {window}"
        column = "*" if spec.field is None else _column(spec.field)
        if spec.func is Func.BELOW:
            select.append(f"count(*) FILTER (WHERE {where} AND {column} < {float(spec.cut or 0.0)!r})")
        else:
            expression = {
                Func.COUNT: f"count({column})",
                Func.AVG: f"avg({column})",
                Func.STDDEV: f"stddev_samp({column})",
                Func.COUNT_DISTINCT: f"count(DISTINCT {column})",
                Func.COUNT_BY: f"histogram({column})",
            }[spec.func]
            select.append(f"{expression} FILTER (WHERE {where})")
        output.append(spec)
    select += [f"count(*) FILTER (WHERE {log.KEY_MESSAGE} IS NULL)", "count(*)"]
    output += [ALIAS_UNREADABLE, ALIAS_TOTAL]
    sql = "SELECT\n  " + ",\n  ".join(select) + f"\nFROM {read_json_call(baseline, path)}"
    return LocalQuery(sql=sql, output=tuple(output))


def read_row(query: LocalQuery, row: Sequence[object]) -> tuple[dict[str, float | None], dict[str, dict[str, int]], int, int]:
    """Map the single result row back to (values, groups, unreadable lines, total lines)."""
    values: dict[str, float | None] = {}
    groups: dict[str, dict[str, int]] = {}
    unreadable = total = 0
    for item, cell in zip(query.output, row, strict=True):
        if item == ALIAS_UNREADABLE:
            unreadable = int(cell or 0)  # type: ignore[call-overload]
        elif item == ALIAS_TOTAL:
            total = int(cell or 0)  # type: ignore[call-overload]
        elif isinstance(item, AggregateSpec) and item.func is Func.COUNT_BY:
            histogram: Mapping[object, object] = cell or {}  # type: ignore[assignment]
            groups[item.alias] = {str(key): int(n) for key, n in histogram.items()}  # type: ignore[call-overload]
        elif isinstance(item, AggregateSpec):
            values[item.alias] = None if cell is None else float(cell)  # type: ignore[arg-type]
    return values, groups, unreadable, total
