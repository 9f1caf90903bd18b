"""What the category inputs cost a one-row prediction: `session.run` of each graph of a mixed model, with its
one-hot prefix (the served graphs: numbers and strings in), against the same graph fed the already encoded float
row (the prefix removed), on the sample row of the model's baseline. Also the graphs' sizes.

    python bench/category_encoding_bench.py [--model credit_card] [--runs 20000]

Single-threaded sessions, as the inference service creates them; median and p99 over `--runs` calls after 500
warm-up calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from functions.contract.model_artifact import load_model_artifact  # noqa: E402
from functions.contract.names import (  # noqa: E402
    CATEGORICAL_INPUT,
    CLASSIFIER_FILE,
    JOINT_DRIFT_FILE,
    NUMERIC_INPUT,
    OUTLIER_DETECTOR_FILE,
)
from models.categories import ENCODED  # noqa: E402


def session(model: bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def without_prefix(model: onnx.ModelProto) -> bytes:
    """The served graph cut after its prefix: the encoded float matrix is its one input."""
    return onnx.utils.Extractor(model).extract_model([ENCODED], [o.name for o in model.graph.output]).SerializeToString()


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    for _ in range(500):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="credit_card")
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    folder = REPO / "models" / args.model
    baseline = load_model_artifact(folder).baseline
    if not baseline.has_categories:
        raise SystemExit(f"models/{args.model} has no categorical features")
    row = baseline.sample_row
    numeric = np.array([[row[i] for i in baseline.numeric_positions]], dtype=np.float32)
    categories = np.array([[row[i] for i in baseline.categorical_positions]], dtype=str)
    feeds = {NUMERIC_INPUT: numeric, CATEGORICAL_INPUT: categories}
    print(f"# {args.model}: one row {row}, {args.runs} calls, median / p99 in microseconds")
    for name in (CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE, JOINT_DRIFT_FILE):
        model_bytes = (folder / name).read_bytes()
        model = onnx.load_from_string(model_bytes)
        served, inner = session(model_bytes), session(without_prefix(model))
        # the encoded row as the prefix computes it: the graph cut before the model
        prefix = onnx.utils.Extractor(model).extract_model([NUMERIC_INPUT, CATEGORICAL_INPUT], [ENCODED])
        inner_feeds = {ENCODED: session(prefix.SerializeToString()).run(None, feeds)[0]}
        with_prefix = timed(partial(served.run, None, feeds), args.runs)
        floats_only = timed(partial(inner.run, None, inner_feeds), args.runs)
        print(
            f"{name:22s} {len(model_bytes):>7,} bytes  strings+numbers in {with_prefix[0]:6.1f} / {with_prefix[1]:6.1f}"
            f"   encoded floats in {floats_only[0]:6.1f} / {floats_only[1]:6.1f}"
            f"   prefix adds {with_prefix[0] - floats_only[0]:+.1f} us (median)"
        )


if __name__ == "__main__":
    main()
