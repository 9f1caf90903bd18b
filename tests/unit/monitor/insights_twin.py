"""A DuckDB twin of Logs Insights for the monitor's own (golden) query shapes, behind a fake `logs` client.

It runs exactly the text `render_queries` produces (the golden files' shapes): `filter` with `=`, `>=`, `<`,
`and`, `in`/`not in [...]` (strings too); `fields` of `least(1, greatest(0, ceil(c - field))) as alias`
(null when the field is missing, as in Logs Insights); `stats` of `count(*)`, `count(f)`,
`count_distinct(f)`, `avg`, `stddev`, `sum`, optionally `by` fields, then `sort <field> asc|desc` and
`limit N`. Lines are parsed as Python's `json` does (it reads NaN, Infinity and 1e308 as numbers), which is
the hostile case: whatever Logs Insights makes of such a value, the monitor must not crash on it.
Results come back as Logs Insights sends them: every value a string.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

import duckdb

FIELD = r"[A-Za-z_@][\w.]*"


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            out.update(_flatten({str(i): v for i, v in enumerate(value)}, name + "."))
        else:
            out[name] = value
    return out


def _ident(field: str) -> str:
    return '"' + field + '"'


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


class InsightsTwin:
    """start_query / get_query_results / stop_query over JSON lines held in memory."""

    def __init__(self, lines: list[str]) -> None:
        self.records = []
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                continue  # Logs Insights extracts no fields from a line that is not JSON
            if isinstance(value, dict):
                self.records.append(_flatten(value))
        self.fields = sorted({key for record in self.records for key in record})
        # a field with any number is numeric; its other values (a timestamp "soon") read as no number, as a comparison
        # with a number would find nothing
        self.numeric = {f for f in self.fields if any(isinstance(r.get(f), int | float) for r in self.records)}
        self.connection = duckdb.connect()
        columns = ", ".join(f"{_ident(f)} {'DOUBLE' if f in self.numeric else 'VARCHAR'}" for f in self.fields)
        self.connection.execute(f"CREATE TABLE events ({columns})")
        if self.records:
            marks = ", ".join("?" for _ in self.fields)
            self.connection.executemany(
                f"INSERT INTO events VALUES ({marks})",
                [[self._cell(f, r.get(f)) for f in self.fields] for r in self.records],
            )
        self.ids = itertools.count()
        self.answers: dict[str, list[list[dict[str, str]]]] = {}
        self.queries: list[str] = []

    def _cell(self, field: str, value: Any) -> Any:
        if value is None:
            return None
        if field in self.numeric:
            return float(value) if isinstance(value, int | float) else None
        return _text(value)

    def sql(self, text: str) -> str:
        """The twin's SQL for one query text of the monitor's shapes; anything else raises."""
        parts = [part.strip() for part in text.split("\n| ")]
        where = parts[0].removeprefix("filter ")
        where = re.sub(r'"((?:[^"\\]|\\.)*)"', lambda m: "'" + m.group(1).replace("'", "''") + "'", where)
        where = re.sub(
            rf"(?<!')\b(?!not\b|in\b|and\b)({FIELD})(?=\s*(?:=|>=|<|not in \[|in \[))", lambda m: _ident(m.group(1)), where
        )
        where = re.sub(r"\bnot in \[([^\]]*)\]", r"NOT IN (\1)", where)
        where = re.sub(r"\bin \[([^\]]*)\]", r"IN (\1)", where)
        computed = []
        stats = ""
        order = limit = ""
        for part in parts[1:]:
            if part.startswith("sort "):  # after stats: `sort n desc`
                field, direction = part.removeprefix("sort ").split()
                order = f" ORDER BY {field} {direction.upper()}"
                continue
            if part.startswith("limit "):
                limit = f" LIMIT {int(part.removeprefix('limit '))}"
                continue
            if part.startswith("fields "):
                for term in part.removeprefix("fields ").split(",\n"):
                    match = re.fullmatch(
                        rf"\s*least\(1, greatest\(0, ceil\(([-\d.e]+) - ({FIELD})\)\)\) as (\w+)\s*", term.strip(",")
                    )
                    if not match:
                        raise ValueError(f"twin: unknown fields term {term!r}")
                    cut, field, alias = match.groups()
                    column = _ident(field)
                    computed.append(
                        f"CASE WHEN {column} IS NULL THEN NULL ELSE least(1, greatest(0, ceil({cut} - {column}))) END AS {alias}"
                    )
            elif part.startswith("stats "):
                stats = part.removeprefix("stats ")
            else:
                raise ValueError(f"twin: unknown command {part!r}")
        by: list[str] = []
        if " by " in stats:
            stats, by_text = stats.rsplit(" by ", 1)
            by = [f.strip() for f in by_text.split(",")]
        select = []
        for term in stats.split(",\n"):
            match = re.fullmatch(rf"\s*(\w+)\((\*|{FIELD})\) as (\w+)\s*", term.strip(","))
            if not match:
                raise ValueError(f"twin: unknown stats term {term!r}")
            func, field, alias = match.groups()
            column = "*" if field == "*" else (field if re.fullmatch(r"if\d+_b\d+", field) else _ident(field))
            expression = {
                "count": f"count({column})",
                "count_distinct": f"count(DISTINCT {column})",
                "avg": f"avg({column})",
                "stddev": f"stddev_samp({column})",
                "sum": f"sum({column})",
            }[func]
            select.append(f"{expression} AS {alias}")
        inner = ", ".join(["*", *computed])
        group = ", ".join(_ident(f) for f in by)
        head = ", ".join([*(f"{_ident(f)} AS {_ident(f)}" for f in by), *select])
        grouped = f" GROUP BY {group}" if by else ""
        return f"SELECT {head} FROM (SELECT {inner} FROM events WHERE {where}) AS matched{grouped}{order}{limit}"

    # --- the boto3 "logs" client surface the runner uses ---
    def start_query(self, **request: Any) -> dict[str, str]:
        """StartQuery's keywords (logGroupName, startTime, endTime, queryString)."""
        queryString = request["queryString"]  # noqa: N806  # boto3's spelling
        self.queries.append(queryString)
        fields_ok = all(
            re.sub(r"[\w.]", "", f) == "" or f.startswith("@") for f in self.fields
        )  # the twin only knows plain names
        assert fields_ok
        named = re.findall(r"\b(?:features|probabilities)\.\w+|\breconstruction_error\b", queryString)
        missing = list(dict.fromkeys(f for f in named if f not in self.fields))
        for field in missing:  # a field no line has: Logs Insights treats it as null
            self.connection.execute(f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {_ident(field)} DOUBLE")
            self.fields.append(field)
        cursor = self.connection.execute(self.sql(queryString))
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        by_query = " by " in queryString.rsplit("| stats ", 1)[-1]
        if not by_query and rows and all(value in (None, 0) for value in rows[0]):
            rows = [row for row in rows if any(value not in (None, 0) for value in row)]  # no events: no row
        query_id = f"twin-{next(self.ids)}"
        self.answers[query_id] = [
            [{"field": name, "value": _text(value)} for name, value in zip(names, row, strict=True) if value is not None]
            for row in rows
        ]
        return {"queryId": query_id}

    def get_query_results(self, **request: Any) -> dict[str, Any]:
        return {"status": "Complete", "results": self.answers[request["queryId"]]}

    def stop_query(self, **_: Any) -> dict[str, bool]:
        return {"success": True}
