"""DuckDB over the JSON-lines log: the local engine for the same SQL (transpiled by sqlglot).

One view stands in for both Glue tables: it renames `row`/`timestamp` as the archive does and derives the
`dt` day partition from the timestamp, so the one SQL runs unchanged. Its `features` struct is typed as the Glue
table's is (numbers DOUBLE, categories VARCHAR): a category read as DOUBLE would come back NULL. Unreadable lines
(a truncated last line while the server writes, garbage) are skipped by DuckDB's `ignore_errors`, not fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import FEATURE_CATEGORICAL, FEATURE_NUMERIC, Baseline

from . import sql

VIEW = "quality_log"
# A line that is JSON with a timestamp a clock could write (make_timestamp overflows on ±2^63, datetime past 9999)
READABLE = f"message IS NOT NULL AND timestamp BETWEEN 0 AND {log.LAST_TIMESTAMP_MS}"
FEATURE_DUCKDB_TYPES = {FEATURE_NUMERIC: "DOUBLE", FEATURE_CATEGORICAL: "VARCHAR"}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class DuckDbRunner:
    log_path: Path
    feature_names: Sequence[str] = ()  # needed only for the training-set export
    feature_types: Sequence[str] = ()  # each feature's type in baseline order; numeric when not given

    @classmethod
    def for_model(cls, log_path: Path, baseline: Baseline) -> DuckDbRunner:
        """A runner whose features struct follows the model's feature names and types."""
        return cls(log_path, baseline.feature_names, baseline.feature_types)

    def _feature_columns(self) -> str:
        types = list(self.feature_types) or [FEATURE_NUMERIC] * len(self.feature_names)
        if len(types) != len(self.feature_names):
            raise ValueError(f"{len(types)} feature types for {len(self.feature_names)} feature names")
        return ", ".join(
            f"{_ident(name)} {FEATURE_DUCKDB_TYPES[kind]}" for name, kind in zip(self.feature_names, types, strict=True)
        )

    def _connect(self) -> Any:
        import duckdb

        if not self.log_path.is_file():
            raise FileNotFoundError(f"prediction log {self.log_path} does not exist")
        features = self._feature_columns()
        columns = {
            log.KEY_MESSAGE: "VARCHAR",
            log.KEY_TIMESTAMP: "BIGINT",
            log.KEY_REQUEST_ID: "VARCHAR",
            log.KEY_ROW: "INTEGER",
            log.KEY_ENDPOINT: "VARCHAR",
            log.KEY_MODEL: "VARCHAR",
            log.KEY_MODEL_VERSION: "VARCHAR",
            log.KEY_PREDICTION: "VARCHAR",
            log.KEY_LABEL: "VARCHAR",
        }
        if features:
            columns[log.KEY_FEATURES] = f"STRUCT({features})"
        spec = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items()) + "}"
        self._source = (
            f"read_json({_literal(str(self.log_path))}, format = 'newline_delimited', ignore_errors = true, columns = {spec})"
        )
        extra = f", {_ident(log.KEY_FEATURES)}" if features else ""
        day = f"CASE WHEN {READABLE} THEN strftime(make_timestamp({_ident(log.KEY_TIMESTAMP)} * 1000), '%Y-%m-%d') END"
        connection = duckdb.connect()
        connection.execute(
            f"""CREATE TEMP VIEW {VIEW} AS
            SELECT {_ident(log.KEY_MESSAGE)} AS message, {_ident(log.KEY_TIMESTAMP)} AS timestamp_ms,
                   {_ident(log.KEY_REQUEST_ID)} AS request_id, {_ident(log.KEY_ROW)} AS row_index,
                   {_ident(log.KEY_ENDPOINT)} AS endpoint, {_ident(log.KEY_MODEL)} AS model,
                   {_ident(log.KEY_MODEL_VERSION)} AS model_version, {_ident(log.KEY_PREDICTION)} AS prediction,
                   {_ident(log.KEY_LABEL)} AS label{extra},
                   {day} AS {sql.PARTITION_COLUMN}
            FROM {self._source}
            WHERE {READABLE}"""
        )
        return connection

    def unreadable_lines(self) -> int:
        """Lines of the whole file the view leaves out (they carry no usable timestamp to place them)."""
        connection = self._connect()
        try:
            row = connection.execute(
                f"SELECT count(*) FILTER (WHERE NOT coalesce({READABLE}, false)) FROM {self._source}"
            ).fetchone()
        finally:
            connection.close()
        return int(row[0]) if row else 0

    def run(self, source_sql: str, parameters: Sequence[str | int]) -> list[dict[str, Any]]:
        """Run one of this package's Trino-syntax queries in DuckDB; rows as {column: value}."""
        text = sql.transpile(source_sql, "duckdb").replace(sql.PREDICTIONS_TOKEN, VIEW).replace(sql.FEEDBACK_TOKEN, VIEW)
        connection = self._connect()
        try:
            cursor = connection.execute(text, list(parameters))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            connection.close()
