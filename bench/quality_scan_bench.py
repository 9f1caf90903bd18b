"""Bytes the hourly realized-quality query scans in Athena, measured on the archive's own format, and its price.

The archive holds the contract's JSON lines gzip-compressed, one object per Firehose buffer (5 minutes), in day
partitions (infra/archive.py). JSON has no column pruning, so Athena reads every byte of the partitions the
lookback touches: the predictions and feedback objects of `lookback + 1` days (the partition filter is by day).
This script writes one simulated day in that format (realistic lines: hold-out rows with jitter, answered by
the committed ONNX model; a share of rows labelled), measures the compressed bytes, and prices a run and a
month of hourly runs at Athena's list price. Printed, never asserted.

    python bench/quality_scan_bench.py --model iris --rows-per-second 1 --label-share 0.3
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import platform
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from functions.contract import prediction_log as log
from functions.contract.model_artifact import load_model_artifact
from models.train import load_csv_dataset, onnx_predict

ROOT = Path(__file__).resolve().parents[1]
# Athena list price (us-east-1, SQL queries): $5 per TB scanned, rounded up to the MB, 10 MB minimum per query.
# Third-party summaries of the AWS pricing page; verify on https://aws.amazon.com/athena/pricing/ before relying on it.
PRICE_PER_TB = 5.0
MIN_BYTES_PER_QUERY = 10 * 1024 * 1024
BUFFER_SECONDS = 300  # Firehose buffering interval: one gzip object per 5 minutes


def simulated_day(model: str, rows_per_second: float, label_share: float, seed: int) -> tuple[int, int, int, int]:
    """(prediction bytes raw, gzip; feedback bytes raw, gzip) for one day."""
    artifact = load_model_artifact(ROOT / "models" / model)
    baseline = artifact.baseline
    held = load_csv_dataset(ROOT / "models" / model / "holdout.csv", target="label", name=model, description="")
    rng = np.random.default_rng(seed)
    rows = int(rows_per_second * 86_400)
    picks = rng.integers(0, len(held.y), rows)
    x = held.x[picks] * (1 + rng.normal(0, 0.01, (rows, held.x.shape[1])))
    out = onnx_predict(artifact.classifier_path.read_bytes(), artifact.outlier_detector_path.read_bytes(), x)
    x32 = x.astype(np.float32)
    start_ms = int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000)
    objects_p: dict[int, list[str]] = {}
    objects_f: dict[int, list[str]] = {}
    for i in range(rows):
        t = start_ms + int(i * 86_400_000 / rows)
        request_id = uuid.UUID(int=int(rng.integers(0, 2**63))).hex
        probabilities = [float(p) for p in out["probabilities"][i]]
        index = int(out["class_index"][i])
        record = json.loads(
            log.prediction_lines(
                timestamp_ms=t, request_id=request_id, endpoint="/predict", model=baseline.model_name,
                model_version=baseline.model_version, feature_names=baseline.feature_names,
                rows=[[float(v) for v in x32[i]]], labels=[baseline.label_names[index]], class_indices=[index],
                probabilities=[probabilities], is_outlier=[bool(out["decision"][i] < 0)],
                outlier_scores=[float(-out["decision"][i])], latency_ms=float(rng.uniform(1, 5)),
            )[0]
        )  # fmt: skip
        record[log.KEY_CONFIDENCE] = max(probabilities)  # this wave's contract adds it to every prediction line
        bucket = (t - start_ms) // (BUFFER_SECONDS * 1000)
        objects_p.setdefault(bucket, []).append(json.dumps(record, separators=(",", ":")))
        if rng.random() < label_share:
            label = held.label_names[held.y[picks[i]]]
            feedback = {
                log.KEY_MESSAGE: log.MESSAGE_FEEDBACK, log.KEY_TIMESTAMP: t + 3_600_000, log.KEY_REQUEST_ID: request_id,
                log.KEY_ROW: 0, log.KEY_MODEL: baseline.model_name, log.KEY_MODEL_VERSION: baseline.model_version,
                log.KEY_LABEL: label, log.KEY_LABEL_INDEX: baseline.label_names.index(label),
            }  # fmt: skip
            objects_f.setdefault(bucket, []).append(json.dumps(feedback, separators=(",", ":")))

    def sizes(objects: dict[int, list[str]]) -> tuple[int, int]:
        raw = compressed = 0
        for lines in objects.values():
            data = ("\n".join(lines) + "\n").encode()
            raw += len(data)
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
                handle.write(data)
            compressed += len(buffer.getvalue())
        return raw, compressed

    return (*sizes(objects_p), *sizes(objects_f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="iris")
    parser.add_argument("--rows-per-second", type=float, default=1.0)
    parser.add_argument("--label-share", type=float, default=0.3)
    parser.add_argument("--lookback-days", type=int, default=7)
    parser.add_argument("--runs-per-day", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    raw_p, gz_p, raw_f, gz_f = simulated_day(args.model, args.rows_per_second, args.label_share, args.seed)
    days = args.lookback_days + 1  # day partitions: the first day is read whole
    scanned = (gz_p + gz_f) * days
    billed = max(MIN_BYTES_PER_QUERY, -(-scanned // 2**20) * 2**20)
    per_run = billed / 1e12 * PRICE_PER_TB
    rows_day = int(args.rows_per_second * 86_400)
    elapsed = time.perf_counter() - started
    print(f"machine: {platform.machine()} {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}; {elapsed:.1f} s")
    share = f"{args.label_share:.0%}"
    print(f"traffic: {args.model}, {args.rows_per_second:g} rows/s = {rows_day:,} predicted rows/day, {share} labelled")
    print(f"one day: predictions {raw_p / 1e6:.1f} MB raw -> {gz_p / 1e6:.2f} MB gzip ({raw_p / rows_day:.0f} B/line raw, "
          f"{gz_p / rows_day:.0f} B/line gzip); feedback {raw_f / 1e6:.2f} MB -> {gz_f / 1e6:.2f} MB")  # fmt: skip
    print(f"one run ({args.lookback_days}-day lookback, {days} day partitions): {scanned / 1e6:.1f} MB scanned, "
          f"{billed / 1e6:.1f} MB billed -> ${per_run:.5f} per run")  # fmt: skip
    month = per_run * args.runs_per_day * 30
    print(f"{args.runs_per_day} runs/day x 30 days: ${month:.2f} per month at ${PRICE_PER_TB:g}/TB (list price, verify)")


if __name__ == "__main__":
    main()
