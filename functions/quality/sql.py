"""The one SQL of realized quality: prediction lines joined to feedback lines on (request_id, row).

Defined once, here, in Trino syntax (Athena engine 3). sqlglot renders it for DuckDB (the local engine,
over the JSON-lines log) and for Athena. The Lambda does not ship sqlglot: it reads the Athena text from
`quality_athena.sql`, which a unit test regenerates and compares (golden file), so the shipped text cannot
drift from this definition. Values travel as positional `?` parameters (Athena ExecutionParameters, DuckDB
prepared parameters), so the text is constant; only the two table names are substituted, after validation.

Semantics:
- predictions: `message = 'prediction'` of the model in [start, end), the built-in sample endpoints left out,
  one row per (request_id, row) (an at-least-once duplicate in the archive counts once);
- feedback: `message = 'feedback'` in [start, end); when a row got several labels, the latest wins
  (then the greatest label, so ties are deterministic);
- FULL OUTER JOIN: `labelled` (both), `unlabelled` (prediction only), `unmatched` (feedback for no prediction
  in the lookback: an unknown job id, or a prediction older than the lookback);
- one result row per (model_version, kind, predicted, actual) cell, plus one total row per model version
  (grouping_level 7) carrying the median label delay (approximate percentile in both engines).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from functions.contract import prediction_log as log

SOURCE_DIALECT = "trino"
PREDICTIONS_TOKEN = "__predictions__"
FEEDBACK_TOKEN = "__feedback__"
ATHENA_SQL_FILE = Path(__file__).with_name("quality_athena.sql")
ATHENA_REGRESSION_SQL_FILE = Path(__file__).with_name("quality_regression_athena.sql")
# Glue table names: lower-case letters, digits, underscores (Athena folds names to lower case).
TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")
PARTITION_COLUMN = "dt"  # the archive's day partition ('yyyy-MM-dd', see infra/archive.py), used for pruning

# Result columns, in order.
COL_MODEL_VERSION = "model_version"
COL_KIND = "kind"
COL_PREDICTED = "predicted"
COL_ACTUAL = "actual"
COL_ROWS = "row_count"
COL_MEDIAN_DELAY = "median_delay_ms"
COL_LEVEL = "grouping_level"
RESULT_COLUMNS = (COL_MODEL_VERSION, COL_KIND, COL_PREDICTED, COL_ACTUAL, COL_ROWS, COL_MEDIAN_DELAY, COL_LEVEL)
KIND_LABELLED = "labelled"
KIND_UNLABELLED = "unlabelled"
KIND_UNMATCHED = "unmatched"
TOTAL_LEVEL = 7  # GROUPING(kind, predicted, actual) on the per-version total row

_SAMPLE_ENDPOINTS = ", ".join("'" + endpoint.replace("'", "''") + "'" for endpoint in log.SAMPLE_ENDPOINTS)
_WINDOW = f"model = ? AND {PARTITION_COLUMN} BETWEEN ? AND ? AND timestamp_ms >= ? AND timestamp_ms < ?"

# The first copy of each predicted row and the latest label of each labelled row, in the window: both reports
# (classification and regression) join these two.
_PREDICTED_AND_LABELLED = f"""WITH predicted AS (
  SELECT request_id, row_index, model_version, prediction, timestamp_ms,
         ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms, model_version) AS copy_index
  FROM {PREDICTIONS_TOKEN}
  WHERE message = '{log.MESSAGE_PREDICTION}' AND {_WINDOW}
    AND endpoint NOT IN ({_SAMPLE_ENDPOINTS})
),
labelled AS (
  SELECT request_id, row_index, model_version, label, timestamp_ms,
         ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms DESC, label DESC) AS recency
  FROM {FEEDBACK_TOKEN}
  WHERE message = '{log.MESSAGE_FEEDBACK}' AND {_WINDOW}
),
"""

# Column names are the Glue table's: `row` and `timestamp` are reserved words in Athena, so the archive
# maps them to `row_index` and `timestamp_ms` (infra/archive.py RENAMED_KEYS); the DuckDB views do the same.
QUALITY_SQL = f"""
{_PREDICTED_AND_LABELLED}joined AS (
  SELECT COALESCE(p.model_version, f.model_version) AS model_version,
         CASE WHEN p.request_id IS NULL THEN '{KIND_UNMATCHED}'
              WHEN f.request_id IS NULL THEN '{KIND_UNLABELLED}'
              ELSE '{KIND_LABELLED}' END AS kind,
         p.prediction AS predicted,
         f.label AS actual,
         f.timestamp_ms - p.timestamp_ms AS delay_ms
  FROM (SELECT * FROM predicted WHERE copy_index = 1) AS p
  FULL OUTER JOIN (SELECT * FROM labelled WHERE recency = 1) AS f
    ON p.request_id = f.request_id AND p.row_index = f.row_index
)
SELECT model_version, kind, predicted, actual, COUNT(*) AS {COL_ROWS},
       APPROX_PERCENTILE(delay_ms, 0.5) AS {COL_MEDIAN_DELAY},
       GROUPING(kind, predicted, actual) AS {COL_LEVEL}
FROM joined
GROUP BY GROUPING SETS ((model_version, kind, predicted, actual), (model_version))
ORDER BY model_version, {COL_LEVEL}, kind, predicted, actual
"""


# Lines the table cannot read (the SerDe's ignore.malformed.json gives an all-NULL row) or whose timestamp no
# clock could write: skipped by QUALITY_SQL, counted here so the run reports them as the monitor does.
# Plain SQL that Athena and DuckDB both read as is.
UNREADABLE_COLUMN = "unreadable_lines"
UNREADABLE_SQL = f"""
SELECT COUNT(*) AS {UNREADABLE_COLUMN}
FROM {PREDICTIONS_TOKEN}
WHERE {PARTITION_COLUMN} BETWEEN ? AND ?
  AND (message IS NULL OR timestamp_ms IS NULL OR timestamp_ms < 0 OR timestamp_ms > {log.LAST_TIMESTAMP_MS})
"""


def unreadable_parameters(start_ms: int, end_ms: int) -> list[str | int]:
    return [day(start_ms), day(end_ms)]


# A regression model (docs/regression.md): the same join, summed into error sums per (model_version, kind).
# `prediction` and `label` are numbers in the log but string columns in the Glue tables (shared with classifiers),
# so both are cast; a value that is not a number (TRY_CAST gives NULL) is a labelled row that is not scored.
COL_SCORED = "scored_count"  # labelled rows where prediction and label are both numbers
COL_SUM_ABS = "sum_abs_error"
COL_SUM_SQUARED = "sum_squared_error"
COL_SUM_FOURTH = "sum_fourth_power_error"  # the squared errors' own spread: the MSE interval's width
COL_SUM_ACTUAL = "sum_actual"
COL_SUM_ACTUAL_SQUARED = "sum_actual_squared"
REGRESSION_RESULT_COLUMNS = (
    COL_MODEL_VERSION, COL_KIND, COL_ROWS, COL_SCORED, COL_SUM_ABS, COL_SUM_SQUARED, COL_SUM_FOURTH,
    COL_SUM_ACTUAL, COL_SUM_ACTUAL_SQUARED, COL_MEDIAN_DELAY,
)  # fmt: skip
QUALITY_REGRESSION_SQL = f"""
{_PREDICTED_AND_LABELLED}joined AS (
  SELECT COALESCE(p.model_version, f.model_version) AS model_version,
         CASE WHEN p.request_id IS NULL THEN '{KIND_UNMATCHED}'
              WHEN f.request_id IS NULL THEN '{KIND_UNLABELLED}'
              ELSE '{KIND_LABELLED}' END AS kind,
         TRY_CAST(f.label AS DOUBLE) - TRY_CAST(p.prediction AS DOUBLE) AS error,
         TRY_CAST(f.label AS DOUBLE) AS actual,
         f.timestamp_ms - p.timestamp_ms AS delay_ms
  FROM (SELECT * FROM predicted WHERE copy_index = 1) AS p
  FULL OUTER JOIN (SELECT * FROM labelled WHERE recency = 1) AS f
    ON p.request_id = f.request_id AND p.row_index = f.row_index
),
scored AS (
  SELECT model_version, kind, delay_ms, error,
         CASE WHEN error IS NULL THEN NULL ELSE actual END AS actual
  FROM joined
)
SELECT model_version, kind, COUNT(*) AS {COL_ROWS}, COUNT(error) AS {COL_SCORED},
       SUM(ABS(error)) AS {COL_SUM_ABS}, SUM(error * error) AS {COL_SUM_SQUARED},
       SUM(error * error * error * error) AS {COL_SUM_FOURTH},
       SUM(actual) AS {COL_SUM_ACTUAL}, SUM(actual * actual) AS {COL_SUM_ACTUAL_SQUARED},
       APPROX_PERCENTILE(delay_ms, 0.5) AS {COL_MEDIAN_DELAY}
FROM scored
GROUP BY model_version, kind
ORDER BY model_version, kind
"""


def transpile(sql: str, dialect: str) -> str:
    """The SQL in `dialect` ("athena", "duckdb"); needs sqlglot (a development dependency, not in the Lambda)."""
    import sqlglot

    return sqlglot.transpile(sql, read=SOURCE_DIALECT, write=dialect, pretty=True)[0] + "\n"


def athena_template(regression: bool = False) -> str:
    """The shipped Athena text (generated from QUALITY_SQL or QUALITY_REGRESSION_SQL; `python -m
    functions.quality.sql` rewrites both)."""
    return (ATHENA_REGRESSION_SQL_FILE if regression else ATHENA_SQL_FILE).read_text(encoding="utf-8")


def with_tables(template: str, predictions_table: str, feedback_table: str) -> str:
    for name in (predictions_table, feedback_table):
        if not TABLE_NAME.match(name):
            raise ValueError(f"table name {name!r} must match {TABLE_NAME.pattern}")
    return template.replace(PREDICTIONS_TOKEN, f'"{predictions_table}"').replace(FEEDBACK_TOKEN, f'"{feedback_table}"')


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def parameters(model: str, start_ms: int, end_ms: int) -> list[str | int]:
    """Values for the `?` placeholders, in order: the same window for predictions, then feedback."""
    one: list[str | int] = [model, day(start_ms), day(end_ms), start_ms, end_ms]
    return [*one, *one]


def athena_parameters(values: Sequence[str | int]) -> list[str]:
    """Athena ExecutionParameters are SQL literals: strings single-quoted (quotes doubled), numbers bare."""
    return [str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'" for v in values]


def training_set_sql(feature_names: Sequence[str]) -> str:
    """Labelled rows for retraining: the features the model saw and the latest label, one row per (request_id, row).

    Every model version counts: features and ground truth do not depend on the model that answered.
    """
    features = ",\n  ".join(f'p.features."{name}" AS "{name}"' for name in feature_names)
    return f"""
WITH predicted AS (
  SELECT request_id, row_index, features,
         ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms) AS copy_index
  FROM {PREDICTIONS_TOKEN}
  WHERE message = '{log.MESSAGE_PREDICTION}' AND {_WINDOW}
    AND endpoint NOT IN ({_SAMPLE_ENDPOINTS})
),
labelled AS (
  SELECT request_id, row_index, label,
         ROW_NUMBER() OVER (PARTITION BY request_id, row_index ORDER BY timestamp_ms DESC, label DESC) AS recency
  FROM {FEEDBACK_TOKEN}
  WHERE message = '{log.MESSAGE_FEEDBACK}' AND {_WINDOW}
)
SELECT
  {features},
  f.label AS label
FROM (SELECT * FROM predicted WHERE copy_index = 1) AS p
JOIN (SELECT * FROM labelled WHERE recency = 1) AS f
  ON p.request_id = f.request_id AND p.row_index = f.row_index
ORDER BY p.request_id, p.row_index
"""


def main() -> None:
    ATHENA_SQL_FILE.write_text(transpile(QUALITY_SQL, "athena"), encoding="utf-8")
    ATHENA_REGRESSION_SQL_FILE.write_text(transpile(QUALITY_REGRESSION_SQL, "athena"), encoding="utf-8")
    print(f"wrote {ATHENA_SQL_FILE} and {ATHENA_REGRESSION_SQL_FILE}")


if __name__ == "__main__":
    main()
