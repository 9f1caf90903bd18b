"""6. Archive: prediction records reach S3 through Firehose within its buffer time plus a margin, as exactly the
contract's JSON lines (Firehose's message extraction, no CloudWatch envelope); an Athena query on the Glue table
returns them with the right types; a feedback line reaches its own table when the stack has one.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from functions.contract import names
from functions.contract import prediction_log as log
from infra import constants as c

from ..context import RunContext, Sent
from ..results import CheckResult, Status

NAME_S3 = "6 archive: records reach S3"
NAME_ATHENA = "6 archive: athena types"
NAME_FEEDBACK = "6 archive: feedback table"
FIREHOSE_BUFFER_SECONDS = 300  # infra/archive.py BUFFERING_INTERVAL
MARGIN_SECONDS = 300
ATHENA_BOUND_SECONDS = 180
# Athena's type names for the Glue columns (infra/archive.py glue_columns), after the SerDe's renames.
EXPECTED_TYPES = {
    "request_id": "varchar",
    "row_index": "integer",
    "timestamp_ms": "bigint",
    "is_outlier": "boolean",
    "outlier_score": "double",
    "class_index": "integer",
    "probabilities": "array",
    "features": "row",
}


def archive_prefix(model: str) -> str:
    return f"{c.ARCHIVE_PREFIX}/{names.MODEL_DIMENSION}={model}/"


def parse_archive_object(raw: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Records of one delivered object, and every line that is not a contract prediction record."""
    text = gzip.decompress(raw).decode("utf-8") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8")
    records, strays = [], []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            strays.append(line[:200])
            continue
        if isinstance(value, dict) and value.get(log.KEY_MESSAGE) == log.MESSAGE_PREDICTION:
            records.append(value)
        else:
            strays.append(line[:200])
    return records, strays


def check_s3(ctx: RunContext) -> list[CheckResult]:
    s3 = ctx.clients("s3")
    if not ctx.sent:
        return [CheckResult(NAME_S3, Status.ERROR, "no traffic was sent before this check")]
    first: Sent = ctx.sent[0]
    wanted = {s.request_id: s.rows for s in ctx.sent if s.path == "/predict"}
    # Every request sent so far must arrive within the bound after it was sent: wait for the last one's.
    deadline_ms = max(s.sent_ms for s in ctx.sent) + (FIREHOSE_BUFFER_SECONDS + MARGIN_SECONDS) * 1000
    seen_keys: set[str] = set()
    found: dict[str, set[int]] = {}
    strays: list[str] = []
    latency: float | None = None
    while True:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=ctx.outputs.archive_bucket, Prefix=archive_prefix(ctx.config.model)
        ):
            for item in page.get("Contents", []):
                if item["Key"] in seen_keys:
                    continue
                seen_keys.add(item["Key"])
                body = s3.get_object(Bucket=ctx.outputs.archive_bucket, Key=item["Key"])["Body"].read()
                ctx.usage.s3_gets += 1
                records, bad = parse_archive_object(body)
                strays += bad
                for record in records:
                    if record.get(log.KEY_REQUEST_ID) == first.request_id and latency is None:
                        latency = item["LastModified"].timestamp() - first.sent_ms / 1000
                    found.setdefault(str(record.get(log.KEY_REQUEST_ID)), set()).add(int(record.get(log.KEY_ROW, -1)))
        complete = [rid for rid, rows in wanted.items() if found.get(rid) == set(range(rows))]
        if len(complete) == len(wanted) or ctx.wall_ms() >= deadline_ms:
            break
        ctx.sleep(30)
    ctx.shared["archived_request"] = first.request_id if first.request_id in complete else None
    ctx.usage.firehose_records += sum(len(v) for v in found.values())
    ctx.usage.s3_puts += len(seen_keys)
    notes = [f"{len(seen_keys)} objects, {len(complete)} of {len(wanted)} requests complete"]
    if latency is not None:
        notes.append(
            f"first request archived {latency:.0f} s after it was sent (bound {FIREHOSE_BUFFER_SECONDS + MARGIN_SECONDS} s)"
        )
    if strays:
        return [
            CheckResult(
                NAME_S3, Status.FAIL, f"{len(strays)} archived lines are not contract records", observations=notes + strays[:5]
            )
        ]
    if len(complete) != len(wanted):
        missing = sorted(set(wanted) - set(complete))[:5]
        return [
            CheckResult(
                NAME_S3,
                Status.FAIL,
                f"{len(wanted) - len(complete)} requests incomplete in S3 by the bound",
                observations=[*notes, *missing],
            )
        ]
    return [
        CheckResult(
            NAME_S3, Status.PASS, f"every sent row archived as a contract line ({len(seen_keys)} objects)", observations=notes
        )
    ]


def run_athena(ctx: RunContext, sql: str) -> tuple[list[dict[str, str]], list[list[str | None]]]:
    """Column info and rows (header excluded) of one query in the stack's workgroup, bounded in time."""
    athena = ctx.clients("athena")
    query_id = athena.start_query_execution(QueryString=sql, WorkGroup=ctx.outputs.athena_workgroup)["QueryExecutionId"]
    ctx.usage.athena_queries += 1
    started = ctx.clock()
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            ctx.usage.athena_bytes_scanned += int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
            break
        if state in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"Athena query {state}: {execution['Status'].get('StateChangeReason')}")
        if ctx.clock() - started > ATHENA_BOUND_SECONDS:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise RuntimeError(f"Athena query still {state} after {ATHENA_BOUND_SECONDS} s; stopped")
        ctx.sleep(3)
    result = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]
    columns = result["ResultSetMetadata"]["ColumnInfo"]
    rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"][1:]]
    return columns, rows


def judge_types(columns: Sequence[Mapping[str, str]]) -> list[str]:
    got = {col["Name"]: col["Type"] for col in columns}
    return [
        f"{name}: Athena type {got.get(name)!r}, expected {want!r}"
        for name, want in EXPECTED_TYPES.items()
        if got.get(name) != want
    ]


def check_athena(ctx: RunContext) -> list[CheckResult]:
    request_id = ctx.shared.get("archived_request")
    if not request_id:
        return [CheckResult(NAME_ATHENA, Status.ERROR, "no request was archived to query (see the S3 row)")]
    day = datetime.fromtimestamp(ctx.sent[0].sent_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    sql = (
        f'SELECT {", ".join(EXPECTED_TYPES)} FROM "{ctx.outputs.glue_database}"."{ctx.outputs.glue_table}" '
        f"WHERE dt >= '{day}' AND request_id = '{request_id}' ORDER BY row_index"
    )
    columns, rows = run_athena(ctx, sql)
    problems = judge_types(columns)
    expected_rows = next(s.rows for s in ctx.sent if s.request_id == request_id)
    if len(rows) != expected_rows:
        problems.append(f"Athena returned {len(rows)} rows for {request_id}, {expected_rows} were sent")
    names_in_order = [col["Name"] for col in columns]
    for index, row in enumerate(rows):
        values = dict(zip(names_in_order, row, strict=True))
        if values.get("row_index") != str(index) or values.get("is_outlier") not in ("true", "false"):
            problems.append(f"row {index}: unexpected values {values}")
    notes = [f"{col['Name']}: {col['Type']}" for col in columns]
    if problems:
        return [CheckResult(NAME_ATHENA, Status.FAIL, problems[0], observations=problems + notes)]
    return [CheckResult(NAME_ATHENA, Status.PASS, f"{len(rows)} rows with the Glue table's types", observations=notes)]


def feedback_table(glue: Any, database: str) -> str | None:
    """The stack's feedback table, when the model-quality work has added one."""
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page.get("TableList", []):
            if "feedback" in str(table["Name"]).lower():
                return str(table["Name"])
    return None


def feedback_body(request_id: str, row: int, label: str) -> dict[str, Any]:
    """The POST /feedback body. Re-point here if the merged feedback route takes another shape."""
    return {log.KEY_REQUEST_ID: request_id, log.KEY_ROW: row, log.KEY_LABEL: label}


def check_feedback(ctx: RunContext) -> list[CheckResult]:
    table = feedback_table(ctx.clients("glue"), ctx.outputs.glue_database)
    if table is None:
        return [CheckResult(NAME_FEEDBACK, Status.SKIP, "not present: this stack has no feedback table")]
    request_id = ctx.shared.get("archived_request") or ctx.sent[0].request_id
    reply = ctx.api.post_json("/feedback", feedback_body(request_id, 0, ctx.baseline.label_names[0]))
    if reply.status >= 300:
        return [CheckResult(NAME_FEEDBACK, Status.FAIL, f"POST /feedback answered {reply.status}: {reply.body[:200]!r}")]
    deadline = ctx.clock() + FIREHOSE_BUFFER_SECONDS + MARGIN_SECONDS
    sql = f'SELECT * FROM "{ctx.outputs.glue_database}"."{table}" WHERE request_id = \'{request_id}\''
    rows: list[list[str | None]] = []
    while ctx.clock() < deadline:
        _, rows = run_athena(ctx, sql)
        if rows:
            break
        ctx.sleep(60)
    if not rows:
        return [
            CheckResult(
                NAME_FEEDBACK, Status.FAIL, f"no feedback line in {table} within {FIREHOSE_BUFFER_SECONDS + MARGIN_SECONDS} s"
            )
        ]
    ctx.shared[NAME_FEEDBACK] = 1  # feedback lines in the table, for the quality run
    return [CheckResult(NAME_FEEDBACK, Status.PASS, f"the feedback line reached {table}")]
