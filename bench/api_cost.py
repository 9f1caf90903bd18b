"""Measure the bytes a prediction costs, then print what a month costs per front door (docs/cost.md).

Runs the inference handler in-process (the model's own data set rows) and measures: the prediction line per row,
the same line with the caller's IAM ARN (Function URL), the bytes a cold start writes (Powertools' "model loaded"
line and its ColdStart EMF document), the per-request EMF document (the alternative to the metric filters, for the
comparison table), the response body for 1 and 100 rows, the gzip size of the prediction lines in batches of 100
(what Firehose, S3 and CloudWatch's compressed storage see), each API type's access-log line with the caller's
identity filled in with typical values, and the prediction log of the 100-row requests re-laid out the ways a
$0.15-per-million-rows target would need (`layouts`: the same records, fewer bytes). The prices and the
arithmetic are `infra/api_pricing.py`.

    python bench/api_cost.py [--model iris] [--requests 2000]    # measure, then print docs/cost.md's tables
    python bench/api_cost.py --write                               # ... and write them into docs/cost.md

The tables in docs/cost.md are `render(Measured())`: `tests/unit/docs/test_cost_doc.py` fails when the page
differs from what this prints, or when `Measured()`'s defaults drift from what `measure()` finds.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import logging
import os
import platform
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from functions.contract.json_text import compact_json  # noqa: E402
from infra.api_pricing import (  # noqa: E402
    MEASURED_ON,
    PRICES_READ,
    ApiOption,
    FixedCounts,
    Measured,
    fixed_monthly_stack,
    insights_bytes,
    metrics_bytes_cost,
    monthly_lines,
    row_bytes_budget,
    scenario,
    with_row_bytes,
)

DOC = REPO / "docs" / "cost.md"
BEGIN, END = "<!-- BEGIN bench/api_cost.py -->", "<!-- END bench/api_cost.py -->"
CALLER = "arn:aws:sts::123456789012:assumed-role/inference-client/session-1"  # a typical IAM role session

# Typical values for the access-log variables (lengths as AWS fills them in); "-" where a field does not apply.
TYPICAL_CONTEXT = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "$context.identity.sourceIp": "203.0.113.10",
    "$context.httpMethod": "POST",
    "$context.status": "200",
    "$context.responseLatency": "12",
    "$context.error.responseType": "-",
    "$context.authorizer.error": "-",
    "$context.wafResponseCode": "-",
}
IDENTITIES = {
    "api_key": {"$context.identity.apiKeyId": "a1b2c3d4e5"},
    "iam": {"$context.identity.userArn": CALLER},
    "jwt": {"$context.authorizer.claims.sub": "0b5e6f3a-91c2-4d7e-8a6b-2f4c9d1e7a35"},
}


# keys another key of the same line implies: the prediction's place in the labels, the largest probability, the log
# event's own time (CloudWatch stamps @timestamp; Firehose's records carry it)
IMPLIED_KEYS = ("class_index", "confidence", "timestamp")
# keys with the same value on every row of a request
REQUEST_KEYS = ("timestamp", "endpoint", "model", "model_version", "latency_ms")
BATCH_ROWS = 100  # rows per request of the batch scenario
HUNDRED_ROW_TARGET = 0.15  # $ per million rows in 100-row requests, any front door

LAYOUTS = (
    ("1. one line per row (as the service writes it)", True),
    ("2. = 1 without the keys another key implies (" + ", ".join(IMPLIED_KEYS) + ")", True),
    ("3. = 2 with the features as an array in input order", True),
    ("4. = 3 with the keys a request's rows share (" + ", ".join(REQUEST_KEYS[1:]) + ", caller) on one request line", False),
    ("5. one line per request, each row key's values as an array (columns)", False),
)


def relaid(records: list[dict], feature_names: list[str]) -> list[list[dict]]:
    """One request's prediction records under each of LAYOUTS, in order: the lines each layout would write.

    Every layout keeps what the records say (the tests rebuild the records from layouts 4 and 5)."""
    lean = [{k: v for k, v in r.items() if k not in IMPLIED_KEYS} for r in records]
    flat = [{**r, "features": [r["features"][name] for name in feature_names]} for r in lean]
    head = {"message": "request", "request_id": records[0]["request_id"], **{k: records[0][k] for k in REQUEST_KEYS}}
    head["rows"] = len(records)
    rows = [{k: v for k, v in r.items() if k not in REQUEST_KEYS} for r in flat]
    varying = [k for k in rows[0] if k not in ("message", "request_id", "row", "features")]
    columns = {
        **head,
        "message": "predictions",
        **{k: [r[k] for r in rows] for k in varying},
        "features": {name: [r["features"][name] for r in lean] for name in feature_names},
    }
    return [records, lean, flat, [head, *rows], [columns]]


def layouts(requests: list[list[str]], feature_names: list[str]) -> tuple[float, ...]:
    """Bytes per row of the same records under each of LAYOUTS.

    `requests` holds each request's prediction lines as written; layout 1 is measured on them as they are. A layout
    without the caller on every row would carry it once, on its request line (the pricing adds it there)."""
    sizes: list[list[float]] = [[] for _ in LAYOUTS]
    for lines in requests:
        records = [json.loads(line) for line in lines]
        sizes[0].append(sum(len(line.encode()) + 1 for line in lines) / len(lines))
        for i, relaid_lines in enumerate(relaid(records, feature_names)[1:], start=1):
            sizes[i].append(sum(len(compact_json(r).encode()) + 1 for r in relaid_lines) / len(lines))
    return tuple(round(statistics.mean(s), 1) for s in sizes)


def fill(template: str, values: dict[str, str]) -> str:
    """Each $context variable of an access-log value as API Gateway fills it in ("-" when it has no value)."""
    return re.sub(r"\$context\.[\w.]+", lambda variable: values.get(variable.group(0), "-"), template)


def access_log_bytes() -> dict[str, int]:
    from infra import api_access_log
    from infra.api_options import ApiAuth

    sizes = {}
    for api, http, waf, path in (("rest", False, False, "/v1/predict"), ("restwaf", False, True, "/v1/predict"),
                                 ("http", True, False, "/predict")):  # fmt: skip
        for auth, identity in IDENTITIES.items():
            if http and auth == "api_key":
                continue
            fields = api_access_log.access_log_fields(http=http, auth=ApiAuth(auth), waf=waf)
            values = {**TYPICAL_CONTEXT, "$context.path": path, **identity}
            line = {key: fill(template, values) for key, template in fields.items()}
            sizes[f"{api}/{auth}"] = len(json.dumps(line, separators=(",", ":")).encode()) + 1
    return sizes


def measure(model: str = "iris", requests: int = 2000) -> tuple[Measured, dict[str, float]]:
    """The byte counts, as `Measured`, and the figures only the comparison needs (the EMF document)."""
    from sklearn import datasets

    from functions.contract import names
    from functions.contract.model_artifact import load_model_artifact

    with contextlib.redirect_stdout(io.StringIO()):  # importing builds Lambda's own handler (its line is not measured)
        from functions.inference.handler import create_handler
    from aws_lambda_powertools.metrics.provider.cold_start import reset_cold_start_flag

    from functions.inference.request_metrics import RequestMetrics
    from functions.inference.settings import InferenceSettings
    from local.api_gateway import FakeContext, api_event

    rows = (datasets.load_iris if model == "iris" else datasets.load_wine)().data.tolist()
    context = FakeContext()
    env = {**os.environ, names.ENV_MODEL_DIR: str(REPO / "models" / model)}

    def build(**more: str) -> tuple[object, io.StringIO, str]:
        """A handler writing its lines to a buffer; also what Powertools' logger wrote while building it."""
        stdout, logged = io.StringIO(), io.StringIO()
        settings = InferenceSettings.from_env({**env, **more})
        handlers = logging.getLogger(settings.service_name).handlers  # Powertools keeps the stream it was first given
        streams = [handler.setStream(logged) for handler in handlers if isinstance(handler, logging.StreamHandler)]
        try:
            with contextlib.redirect_stdout(logged):
                handler = create_handler(settings, stdout=stdout)
        finally:
            for handler_, stream in zip([h for h in handlers if isinstance(h, logging.StreamHandler)], streams, strict=True):
                handler_.setStream(stream)
        return handler, stdout, logged.getvalue()

    def run(handler: object, batch: list[list[float]], event: dict | None = None) -> int:
        event = event or api_event("POST", "/predict", json.dumps({"data": batch}))
        reply = handler(event, context)  # type: ignore[operator]
        assert reply["statusCode"] == 200, reply
        return len(reply["body"].encode())

    handler, stdout, logged = build()
    model_loaded = [line for line in logged.splitlines() if '"model loaded"' in line]
    assert len(model_loaded) == 1, logged
    cold = io.StringIO()
    reset_cold_start_flag()  # as in a new execution environment, whatever ran in this process before
    with contextlib.redirect_stdout(cold):  # the first call: Powertools' ColdStart EMF document
        run(handler, [rows[0]])
    assert '"ColdStart"' in cold.getvalue(), cold.getvalue()
    cold_start_bytes = len(model_loaded[0].encode()) + 1 + len(cold.getvalue().encode())
    stdout.seek(0)
    stdout.truncate()
    one_row_bodies = [run(handler, [rows[i % len(rows)]]) for i in range(requests)]
    lines = stdout.getvalue().splitlines()
    records = [line for line in lines if line.startswith('{"message":"prediction"')]
    assert len(records) == len(lines) == requests, (len(records), len(lines), requests)  # nothing beside the lines
    record_bytes = statistics.mean(len(line.encode()) + 1 for line in records)
    batches = [records[i : i + 100] for i in range(0, len(records), 100)]
    gzip_per_record = statistics.mean(len(gzip.compress(("\n".join(b) + "\n").encode())) / len(b) for b in batches)
    stdout.seek(0)
    stdout.truncate()
    hundred_bodies = [run(handler, [rows[(i + j) % len(rows)] for j in range(BATCH_ROWS)]) for i in range(50)]
    written = stdout.getvalue().splitlines()
    assert len(written) == 50 * BATCH_ROWS, len(written)
    hundred_lines = [written[i : i + BATCH_ROWS] for i in range(0, len(written), BATCH_ROWS)]
    per_extra_row = (statistics.mean(hundred_bodies) - statistics.mean(one_row_bodies)) / 99

    url_handler, url_stdout, _ = build(**{names.ENV_LOG_CALLER: "true"})
    with contextlib.redirect_stdout(io.StringIO()):
        event = api_event("POST", "/predict", json.dumps({"data": [rows[0]]}))
        event["requestContext"]["authorizer"] = {"iam": {"userArn": CALLER}}
        run(url_handler, [rows[0]], event)
    url_stdout.seek(0)
    url_stdout.truncate()
    for i in range(200):
        event = api_event("POST", "/predict", json.dumps({"data": [rows[i % len(rows)]]}))
        event["requestContext"]["authorizer"] = {"iam": {"userArn": CALLER}}
        run(url_handler, [], event)
    url_records = url_stdout.getvalue().splitlines()
    assert all(json.loads(line)["caller"] == CALLER for line in url_records)
    caller_bytes = statistics.mean(
        len(line.encode()) - len(line[: line.rindex(',"caller":')].encode()) - 1 for line in url_records
    )

    baseline = load_model_artifact(REPO / "models" / model).baseline
    counts = [1] + [0] * (len(baseline.label_names) - 1)
    emf = RequestMetrics(
        namespace=names.METRICS_NAMESPACE,
        dimensions={names.MODEL_DIMENSION: baseline.model_name, "service": names.INFERENCE_SERVICE},
        labels=baseline.label_names,
    ).prediction(rows=1, outliers=0, latency_ms=0.123, class_counts=counts)
    # the smaller alternative: one dimension, and only the class that was predicted (EMF leaves the others out)
    small = RequestMetrics(
        namespace=names.METRICS_NAMESPACE,
        dimensions={names.MODEL_DIMENSION: baseline.model_name},
        labels=[baseline.label_names[0]],
    )
    small_emf = small.prediction(rows=1, outliers=0, latency_ms=0.123, class_counts=[1])
    access = access_log_bytes()
    measured = Measured(
        record_bytes=round(record_bytes, 1),
        caller_bytes=round(caller_bytes, 1),
        cold_start_bytes=float(cold_start_bytes),
        rest_access_log_bytes=float(max(v for k, v in access.items() if k.startswith("rest/"))),
        rest_waf_access_log_bytes=float(max(v for k, v in access.items() if k.startswith("restwaf/"))),
        http_access_log_bytes=float(max(v for k, v in access.items() if k.startswith("http/"))),
        emf_bytes=float(len(emf.encode())),
        small_emf_bytes=float(len(small_emf.encode())),
        gzip_bytes_per_record=round(gzip_per_record, 1),
        response_bytes_1_row=round(statistics.mean(one_row_bodies), 1),
        response_bytes_per_extra_row=round(per_extra_row, 1),
        layout_bytes=layouts(hundred_lines, list(baseline.feature_names)),
    )
    return measured, {f"access {k}": float(v) for k, v in access.items()}


def money(dollars: float) -> str:
    return f"${dollars:,.2f}" if dollars < 100 else f"${dollars:,.0f}"


def render(m: Measured, counts: FixedCounts | None = None) -> str:
    """docs/cost.md's generated part: every table, from the byte counts and the prices."""
    out: list[str] = []
    out.append(f"Prices: {PRICES_READ}.\n")
    out.append(f"Bytes: `Measured()` in `infra/api_pricing.py`, measured by `python bench/api_cost.py` ({MEASURED_ON}).\n")
    out.append("| bytes | per | value |\n| --- | --- | --- |")
    out.append(f"| prediction line (incl. newline) | row | {m.record_bytes:g} B |")
    out.append(f"| caller's IAM ARN on the line (Function URL only) | row | +{m.caller_bytes:g} B |")
    out.append(f"| metrics beside the lines (metric filters count the lines) | request | {m.metrics_bytes:g} B |")
    out.append(f"| START/END/REPORT (system log level WARN) | invocation | {m.platform_bytes:g} B |")
    out.append(f'| "model loaded" line + ColdStart EMF document | cold start | {m.cold_start_bytes:g} B |')
    out.append(f"| access log, REST API (widest identity) | request | {m.rest_access_log_bytes:g} B |")
    out.append(f"| access log, REST API with WAF (+ its verdict) | request | {m.rest_waf_access_log_bytes:g} B |")
    out.append(f"| access log, HTTP API (widest identity) | request | {m.http_access_log_bytes:g} B |")
    out.append(f"| prediction lines gzip-compressed in batches of 100 | row | {m.gzip_bytes_per_record:g} B |")
    out.append(
        f"| response body | 1-row request | {m.response_bytes_1_row:g} B (+{m.response_bytes_per_extra_row:g} per extra row) |"
    )
    out.append(f"| the alternative: an EMF document per request (2 dimensions, every class) | request | {m.emf_bytes:g} B |")
    out.append(
        f"| the alternative: a smaller EMF document (1 dimension, the predicted class only) | request | {m.small_emf_bytes:g} B |"
    )
    out.append("\n#### Metrics: EMF per request or metric filters on the lines (ingestion + storage, one-row requests)\n")
    out.append("| Metrics from | bytes per request | 1 M | 100 M | 1 B |\n| --- | --- | --- | --- | --- |")
    for label, size in (
        ("EMF document per request", m.emf_bytes),
        ("smaller EMF document per request", m.small_emf_bytes),
        ("metric filters on the lines + EMF on cold start only", m.metrics_bytes),
    ):
        cells = [money(metrics_bytes_cost(size, volume, m)) for volume in (1e6, 100e6, 1e9)]
        out.append(f"| {label} | {size:g} | " + " | ".join(cells) + " |")
    out.append("")
    for option in (ApiOption.URL, ApiOption.HTTP, ApiOption.REST):
        lines = monthly_lines(option, 1e6, 1, m)
        out.append(f"#### Per million one-row predictions: {option.value}\n")
        out.append("| Item | Arithmetic | $ |\n| --- | --- | --- |")
        out += [f"| {line.item} | {line.arithmetic} | {line.dollars:.3f} |" for line in lines]
        out.append(f"| **Total** | | **{sum(line.dollars for line in lines):.2f}** |\n")
    out.append("#### Per million predictions, every front door\n")
    out.append("| Front door | one-row requests | 100-row requests (per million rows) |\n| --- | --- | --- |")
    for option in ApiOption:
        one, hundred = scenario(option, 1e6, 1, m), scenario(option, 1e6, 100, m)
        waf = f" + ${one.fixed:.0f}/month" if one.fixed else ""
        out.append(f"| {option.value} | ${one.variable:.2f}{waf} | ${hundred.variable:.2f}{waf} |")
    out.append("\n#### A month at 1 M, 100 M and 1 B predictions (traffic lines + the front door's fixed cost; dominant line)\n")
    out.append("| Front door | rows per request | 1 M | 100 M | 1 B |\n| --- | --- | --- | --- | --- |")
    for option in ApiOption:
        for rows_per_request in (1, 100):
            cells = []
            for volume in (1e6, 100e6, 1e9):
                month = scenario(option, volume, rows_per_request, m)
                cells.append(f"{money(month.total)} ({month.dominant})")
            out.append(f"| {option.value} | {rows_per_request} | " + " | ".join(cells) + " |")
    scanned = insights_bytes(1e6, m) / 1e9
    out.append(
        f"\nLogs Insights bytes scanned per million predictions: {m.insights_scans} scans x {m.record_bytes:g} B = "
        f"**{scanned:.2f} GB** (${scanned * 0.005:.4f}): each closed minute is read once by each query (minute "
        "aggregates), never again by an overlapping window.\n"
    )
    out.append(layout_table(m))
    out.append("#### Fixed monthly cost (iris, whichever front door)\n")
    out.append("| Item | before traffic | at steady traffic |\n| --- | --- | --- |")
    counts = counts or FixedCounts()
    idle, busy = fixed_monthly_stack(counts, traffic=False), fixed_monthly_stack(counts, traffic=True)
    for (item, before), (_, after) in zip(idle, busy, strict=True):
        out.append(f"| {item} | {before:.2f} | {after:.2f} |")
    out.append(f"| **Total** | **{sum(v for _, v in idle):.2f}** | **{sum(v for _, v in busy):.2f}** |")
    return "\n".join(out) + "\n"


def layout_table(m: Measured) -> str:
    """What a $0.15-per-million-rows target for 100-row requests asks of the prediction log, per front door."""
    doors = (ApiOption.URL, ApiOption.HTTP, ApiOption.REST)
    out = [
        "#### The prediction log of 100-row requests, laid out other ways "
        f"(per million rows; target ${HUNDRED_ROW_TARGET:.2f})\n",
        "| layout | B per row | " + " | ".join(door.value for door in doors) + " |",
        "| --- | --- | " + " | ".join("---" for _ in doors) + " |",
        "| bytes per row (caller included) that meet the target | | "
        + " | ".join(f"≤ {row_bytes_budget(door, HUNDRED_ROW_TARGET, BATCH_ROWS, m):.0f} B" for door in doors)
        + " |",
    ]
    for (name, caller_per_row), row_bytes in zip(LAYOUTS, m.layout_bytes, strict=True):
        cells = []
        for door in doors:
            caller = m.caller_bytes if caller_per_row else m.caller_bytes / BATCH_ROWS
            dollars = scenario(door, 1e6, BATCH_ROWS, with_row_bytes(m, row_bytes, caller)).variable
            cells.append(f"${dollars:.3f}" + (" (met)" if dollars <= HUNDRED_ROW_TARGET else ""))
        out.append(f"| {name} | {row_bytes:g} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write_doc(text: str) -> None:
    page = DOC.read_text()
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help="write the tables (from Measured()'s defaults) into docs/cost.md")
    args = parser.parse_args()

    measured, extra = measure(args.model, args.requests)
    print(f"model {args.model}, {args.requests} one-row requests + 50 of 100 rows, in-process handler")
    print(f"machine {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"measured: {measured}")
    for key, value in extra.items():
        if key.startswith("access "):
            print(f"  {key}: {value:g} B")
    defaults = Measured()
    drift = {k: (getattr(measured, k), getattr(defaults, k)) for k in ("record_bytes", "caller_bytes", "gzip_bytes_per_record")}
    print(f"Measured() defaults vs this run: {drift}\n")
    text = render(measured if args.model != "iris" else defaults)
    print(text)
    if args.write:
        write_doc(render(defaults))
        print(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
