"""Measure the bytes a prediction costs, then print the monthly cost per API option (README "What it costs").

Runs the inference handler in-process (REST proxy events, the model's own data set rows) and measures: the
prediction line per row, the EMF line per request, the response body for 1 and 100 rows, the gzip size of the
prediction lines in batches of 100 (what Firehose and S3 see), and the access-log line of each API type with the
caller's identity filled in with typical values. The prices and the arithmetic are `infra/api_pricing.py`.

    python bench/api_cost.py [--model iris] [--requests 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Typical values for the access-log variables (lengths as AWS fills them in); "-" where a field does not apply.
TYPICAL_CONTEXT = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "$context.requestTimeEpoch": "1795619508506",
    "$context.identity.sourceIp": "203.0.113.10",
    "$context.httpMethod": "POST",
    "$context.status": "200",
    "$context.protocol": "HTTP/1.1",
    "$context.responseLength": "214",
    "$context.responseLatency": "12",
    "$context.integrationLatency": "9",
    "$context.stage": "v1",
    "$context.error.responseType": "-",
    "$context.authorizer.claims.client_id": "-",
    "$context.authorizer.error": "-",
    "$context.wafResponseCode": "-",
}
IDENTITIES = {
    "api_key": {"$context.identity.apiKeyId": "a1b2c3d4e5"},
    "iam": {
        "$context.identity.userArn": "arn:aws:sts::123456789012:assumed-role/inference-client/session-1",
        "$context.identity.accountId": "123456789012",
    },
    "jwt": {"$context.authorizer.claims.sub": "0b5e6f3a-91c2-4d7e-8a6b-2f4c9d1e7a35"},
}


def access_log_bytes() -> dict[str, int]:
    from infra import api_access_log

    sizes = {}
    for api, fields, path, resource in (
        ("rest", api_access_log.REST_FIELDS, "/v1/predict", "/{proxy+}"),
        ("http", api_access_log.HTTP_FIELDS, "/predict", "POST /{proxy+}"),
    ):
        for auth, identity in IDENTITIES.items():
            if api == "http" and auth == "api_key":
                continue
            values = {**TYPICAL_CONTEXT, "$context.path": path, "$context.resourcePath": resource, "$context.routeKey": resource}
            values |= identity
            line = {key: values.get(variable, "-") for key, variable in fields.items()}
            sizes[f"{api}/{auth}"] = len(json.dumps(line, separators=(",", ":")).encode()) + 1
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    from functions.contract import names

    os.environ[names.ENV_MODEL_DIR] = str(REPO / "models" / args.model)
    from sklearn import datasets

    from functions.inference.handler import create_handler
    from functions.inference.settings import InferenceSettings
    from infra.api_pricing import PRICES_READ, ApiOption, Measured, monthly_lines, scenario
    from local.api_gateway import FakeContext, api_event

    rows = (datasets.load_iris if args.model == "iris" else datasets.load_wine)().data.tolist()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):  # the "model loaded" line is not a per-request cost
        handler = create_handler(InferenceSettings.from_env(), stdout=stdout)
    context = FakeContext()

    def run(batch: list[list[float]]) -> int:
        reply = handler(api_event("POST", "/predict", json.dumps({"data": batch})), context)
        assert reply["statusCode"] == 200, reply
        return len(reply["body"].encode())

    stdout.seek(0)
    stdout.truncate()
    one_row_bodies = [run([rows[i % len(rows)]]) for i in range(args.requests)]
    lines = stdout.getvalue().splitlines()
    records = [line for line in lines if '"message":"prediction"' in line]
    emf = [line for line in lines if '"_aws"' in line]
    assert len(records) == args.requests, (len(records), args.requests)
    record_bytes = statistics.mean(len(line.encode()) + 1 for line in records)
    emf_bytes = statistics.mean(len(line.encode()) + 1 for line in emf)
    batches = [records[i : i + 100] for i in range(0, len(records), 100)]
    gzip_per_record = statistics.mean(len(gzip.compress(("\n".join(b) + "\n").encode())) / len(b) for b in batches)
    hundred_bodies = [run([rows[(i + j) % len(rows)] for j in range(100)]) for i in range(50)]
    per_extra_row = (statistics.mean(hundred_bodies) - statistics.mean(one_row_bodies)) / 99
    access = access_log_bytes()

    print(f"model {args.model}, {args.requests} one-row requests + 50 of 100 rows, in-process handler")
    print(f"prediction line          {record_bytes:8.1f} B per row (incl. newline)")
    print(f"EMF line                 {emf_bytes:8.1f} B per request")
    print(f"gzip of prediction lines {gzip_per_record:8.1f} B per row (batches of 100)")
    print(f"response body            {statistics.mean(one_row_bodies):8.1f} B (1 row), +{per_extra_row:.1f} B per extra row")
    for key, size in access.items():
        print(f"access log line {key:9s}{size:8d} B")

    measured = Measured(
        record_bytes=round(record_bytes, 1),
        emf_bytes=round(emf_bytes, 1),
        gzip_bytes_per_record=round(gzip_per_record, 1),
        response_bytes_1_row=round(statistics.mean(one_row_bodies), 1),
        response_bytes_per_extra_row=round(per_extra_row, 1),
        access_log_bytes=float(max(access.values())),  # the widest identity (IAM role ARN): an upper bound
    )
    print(f"\n{measured}\nprices read {PRICES_READ}\n")

    for option in (ApiOption.REST, ApiOption.HTTP):
        print(f"### per million one-row predictions: {option.value}\n\n| Item | Arithmetic | $ |\n| --- | --- | --- |")
        cost_lines = monthly_lines(option, 1e6, 1, measured)
        for cost in cost_lines:
            print(f"| {cost.item} | {cost.arithmetic} | {cost.dollars:.3f} |")
        print(f"| **Total** | | **{sum(cost.dollars for cost in cost_lines):.2f}** |\n")

    volumes = (1e6, 100e6, 1e9)
    print("| API option | per million one-row requests | per million rows, 100-row requests |")
    print("| --- | --- | --- |")
    for option in ApiOption:
        one, hundred = scenario(option, 1e6, 1, measured), scenario(option, 1e6, 100, measured)
        waf = f" + ${one.fixed:.0f}/month" if one.fixed else ""
        print(f"| {option.value} | ${one.variable:.2f}{waf} | ${hundred.variable:.2f}{waf} |")
    print("\n| API option | rows per request | 1 M predictions/month | 100 M | 1 B |")
    print("| --- | --- | --- | --- | --- |")
    for option in ApiOption:
        for rows_per_request in (1, 100):
            cells = []
            for volume in volumes:
                month = scenario(option, volume, rows_per_request, measured)
                money = f"${month.total:,.2f}" if month.total < 100 else f"${month.total:,.0f}"
                cells.append(f"{money} ({month.dominant})")
            print(f"| {option.value} | {rows_per_request} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
