"""The same window aggregates rendered as one DuckDB statement over the JSON-lines prediction log.

Pure string building (no duckdb import): `local/monitor.py` executes it. One
scan computes everything; the deciles of a feature are one `quantile_cont`
list aggregate (interpolated like numpy's default), and `read_json` gets
explicit column types so DuckDB does not sample the file to infer a schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

from .aggregates import ALIAS_CLASS_COUNTS, OTHER_CLASS, AggregateSpec, Func, build_specs


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
        log.KEY_IS_OUTLIER: "BOOLEAN",
    }


@dataclass(frozen=True)
class LocalQuery:
    sql: str
    output: tuple[str, ...]  # per selected column: a spec alias, "class:<label>" or "pcts:<feature>"
    pct_specs: Mapping[str, tuple[AggregateSpec, ...]]  # feature -> its PCT specs in list order


def class_column(label: str) -> str:
    return f"class:{label}"


def render_sql(baseline: Baseline, path: str, start_ms: int, end_ms: int) -> LocalQuery:
    specs = build_specs(baseline)
    select: list[str] = []
    output: list[str] = []
    pct_specs: dict[str, list[AggregateSpec]] = {}
    for spec in specs:
        where = f"{log.KEY_MESSAGE} = {sql_string(spec.message)}"
        if spec.func is Func.COUNT_BY:
            if spec.alias != ALIAS_CLASS_COUNTS:
                raise ValueError(f"unexpected grouped aggregate {spec.alias}")
            labels = [sql_string(label) for label in baseline.label_names]
            for label in baseline.label_names:
                select.append(f"count(*) FILTER (WHERE {where} AND {_column(spec.field or '')} = {sql_string(label)})")
                output.append(class_column(label))
            select.append(f"count(*) FILTER (WHERE {where} AND {_column(spec.field or '')} NOT IN ({', '.join(labels)}))")
            output.append(class_column(OTHER_CLASS))
            continue
        if spec.func is Func.PCT:
            feature = spec.feature or ""
            if feature not in pct_specs:
                pct_specs[feature] = []
                select.append(f"__PCT__{feature}")
                output.append(f"pcts:{feature}")
            pct_specs[feature].append(spec)
            continue
        column = "*" if spec.field is None else _column(spec.field)
        expression = {
            Func.COUNT: f"count({column})",
            Func.SUM: f"sum(CAST({column} AS INTEGER))",
            Func.AVG: f"avg({column})",
            Func.STDDEV: f"stddev_samp({column})",
            Func.MIN: f"min({column})",
            Func.MAX: f"max({column})",
            Func.COUNT_DISTINCT: f"count(DISTINCT {column})",
        }[spec.func]
        select.append(f"{expression} FILTER (WHERE {where})")
        output.append(spec.alias)

    rendered: list[str] = []
    for item in select:
        if item.startswith("__PCT__"):
            feature = item.removeprefix("__PCT__")
            group = pct_specs[feature]
            levels = ", ".join(f"{(s.percent or 0) / 100:g}" for s in group)
            field = _column(group[0].field or "")
            where = f"{log.KEY_MESSAGE} = {sql_string(group[0].message)}"
            rendered.append(f"quantile_cont({field}, [{levels}]) FILTER (WHERE {where})")
        else:
            rendered.append(item)
    column_types = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in columns(baseline).items())
    sql = (
        "SELECT\n  "
        + ",\n  ".join(rendered)
        + f"\nFROM read_json({sql_string(path)}, format = 'newline_delimited', columns = {{{column_types}}})"
        + f"\nWHERE {log.KEY_MODEL} = {sql_string(baseline.model_name)}"
        + f" AND {log.KEY_TIMESTAMP} >= {int(start_ms)} AND {log.KEY_TIMESTAMP} < {int(end_ms)}"
        + f" AND {log.KEY_ENDPOINT} NOT IN ({', '.join(sql_string(e) for e in log.SAMPLE_ENDPOINTS)})"
    )
    return LocalQuery(sql=sql, output=tuple(output), pct_specs={k: tuple(v) for k, v in pct_specs.items()})


def read_row(query: LocalQuery, row: Sequence[object]) -> tuple[dict[str, float | None], dict[str, int]]:
    """Map the single result row back to spec aliases and class counts."""
    values: dict[str, float | None] = {}
    class_counts: dict[str, int] = {}
    for name, cell in zip(query.output, row, strict=True):
        if name.startswith("class:"):
            class_counts[name.removeprefix("class:")] = int(cell or 0)  # type: ignore[call-overload]
        elif name.startswith("pcts:"):
            group = query.pct_specs[name.removeprefix("pcts:")]
            points = list(cell) if cell is not None else [None] * len(group)  # type: ignore[call-overload]
            for spec, point in zip(group, points, strict=True):
                values[spec.alias] = None if point is None else float(point)
        else:
            values[name] = None if cell is None else float(cell)  # type: ignore[arg-type]
    return values, class_counts
