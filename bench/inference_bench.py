"""Inference latency and cold start against their floors, in one run on this machine.

Prints: the in-process handler for POST /predict with 1 row and with 1,000 rows
(median, p99), the bare floor (the two `session.run` calls on the same row), their
ratio, and cold initialisation in fresh processes beside its floor (import numpy
and onnxruntime, create both sessions). Log lines go to /dev/null, as the cost
of a write to the Lambda runtime's pipe is not ours to measure here.

    python bench/inference_bench.py [--model iris] [--warm 5000] [--cold 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLD_HANDLER = """
import time
t0 = time.perf_counter()
import io, os
from functions.inference.handler import lambda_handler
from local.api_gateway import FakeContext, api_event
reply = lambda_handler(api_event("POST", "/predict", '{{"data": [[{row}]]}}'), FakeContext())
assert reply["statusCode"] == 200, reply
print("COLD", time.perf_counter() - t0)
"""

COLD_FLOOR = """
import time
t0 = time.perf_counter()
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
c = ort.InferenceSession("{model_dir}/classifier.onnx", options, providers=["CPUExecutionProvider"])
d = ort.InferenceSession("{model_dir}/outlier_detector.onnx", options, providers=["CPUExecutionProvider"])
x = np.array([[{row}]], dtype=np.float32)
c.run(None, {{c.get_inputs()[0].name: x}}); d.run(None, {{d.get_inputs()[0].name: x}})
print("COLD", time.perf_counter() - t0)
"""


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return ordered[len(ordered) // 2] / 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000


def time_calls(call: Callable[[], object], count: int) -> tuple[float, float]:
    for _ in range(min(200, count)):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        call()
        samples.append(clock() - start)
    return percentiles(samples)


def cold(script: str, runs: int, env: dict[str, str]) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, cwd=REPO).stdout
        times.append(float(next(line for line in out.splitlines() if line.startswith("COLD")).split()[1]) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris")
    parser.add_argument("--warm", type=int, default=5000, help="timed calls for the 1-row figures")
    parser.add_argument("--cold", type=int, default=15, help="fresh processes per cold figure")
    args = parser.parse_args()
    model_dir = REPO / "models" / args.model

    import numpy as np

    from functions.contract.model_artifact import load_model_artifact
    from functions.inference.handler import create_handler
    from functions.inference.onnx_model import OnnxModel
    from functions.inference.settings import InferenceSettings
    from local.api_gateway import FakeContext, api_event

    artifact = load_model_artifact(model_dir)
    row = artifact.baseline.medians
    sink = open(os.devnull, "w")  # noqa: SIM115
    handler = create_handler(InferenceSettings.from_env({"MODEL_DIR": str(model_dir)}), stdout=sink)
    context = FakeContext()
    one = api_event("POST", "/predict", json.dumps({"data": [row]}))
    thousand = api_event("POST", "/predict", json.dumps({"data": [row] * 1000}))
    assert handler(one, context)["statusCode"] == 200
    assert handler(thousand, context)["statusCode"] == 200

    model = OnnxModel(artifact)
    x = np.asarray([row], dtype=np.float32)
    classifier, detector = model._classifier, model._detector
    c_in, d_in = classifier.get_inputs()[0].name, detector.get_inputs()[0].name

    def floor_call() -> None:
        classifier.run(None, {c_in: x})
        detector.run(None, {d_in: x})

    floor_median, floor_p99 = time_calls(floor_call, args.warm)
    one_median, one_p99 = time_calls(lambda: handler(one, context), args.warm)
    thousand_median, thousand_p99 = time_calls(lambda: handler(thousand, context), max(50, args.warm // 50))

    env = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_DIR": str(model_dir), "POWERTOOLS_METRICS_NAMESPACE": "bench"}
    row_text = ", ".join(repr(v) for v in row)
    cold_handler_median, cold_handler_min = cold(COLD_HANDLER.format(row=row_text), args.cold, env)
    cold_floor_median, cold_floor_min = cold(COLD_FLOOR.format(model_dir=model_dir, row=row_text), args.cold, env)

    rows = [
        ("floor: two session.run on 1 row", f"median {floor_median:8.1f} us   p99 {floor_p99:8.1f} us"),
        (
            "handler POST /predict, 1 row",
            f"median {one_median:8.1f} us   p99 {one_p99:8.1f} us   ratio to floor {one_median / floor_median:5.1f}x",
        ),
        (
            "handler POST /predict, 1,000 rows",
            f"median {thousand_median / 1000:8.2f} ms   p99 {thousand_p99 / 1000:8.2f} ms"
            f"   per row {thousand_median / 1000:6.1f} us",
        ),
        ("cold floor: numpy + onnxruntime + sessions", f"median {cold_floor_median:6.0f} ms   min {cold_floor_min:6.0f} ms"),
        ("cold handler: import + first POST /predict", f"median {cold_handler_median:6.0f} ms   min {cold_handler_min:6.0f} ms"),
    ]
    print(f"model {args.model} ({artifact.baseline.model_version}), python {sys.version.split()[0]}, {os.cpu_count()} cores")
    for label, figures in rows:
        print(f"{label:<44}{figures}")
    print(f"cold ratio {cold_handler_median / cold_floor_median:4.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
