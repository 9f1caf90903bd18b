"""Inference latency and cold start against their floors, in one run on this machine.

Prints: the in-process handler for POST /predict with 1 row and with 1,000 rows
(median, p99), the bare floor (the two `session.run` calls on the same row), their
ratio, the resolver's own share (GET /health), and cold initialisation in fresh
processes step by step from its floor (import numpy and onnxruntime, create both
sessions, one run; then + Powertools Logger and Metrics, + the event handler,
+ pydantic, and the real handler), with what a SnapStart restore would skip.

The events are the ones AWS SAM CLI generates (tests/fixtures/events: 18 headers on
the REST event), not a minimal one of our own. Stdout goes to /dev/null, flushed on
every write as the Lambda runtime's stdout is: the cost of a write to the runtime's
pipe is not ours to measure, the number of writes is. Cold runs load every module
from bytecode, as the layer and the code asset ship it.

Then where the 1-row request's time goes, step by step: each step timed inside real
requests (the handler's own objects, wrapped with a clock; the wrappers add ~0.2 us a step)
and alone in a tight loop. Alone, a step runs with its code and data hot in the CPU's
caches; inside a request it shares them with everything else the request touches, and
takes up to twice as long. The floor above is a tight loop too.

    python bench/inference_bench.py [--model iris] [--warm 5000] [--cold 15] [--warm-only]

`--model-dir` serves any model folder, e.g. one with categorical features (the row is the baseline's sample row:
medians and most frequent categories; the floor feeds both inputs). The cold start and the step breakdown are
measured for numbers-only models, so such a folder needs `--warm-only --no-steps`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The event and context are literals, as the Lambda runtime hands them over: building them with a helper
# module would count that module's imports against the handler.
COLD_HANDLER = """
import time
t0 = time.perf_counter()
from functions.inference.handler import lambda_handler
t1 = time.perf_counter()
class Context:
    function_name = "inference"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference"
    aws_request_id = "0123456789abcdef"
reply = lambda_handler({event!r}, Context())
assert reply["statusCode"] == 200, reply
t2 = time.perf_counter()
print("COLD", t2 - t0, "INIT", t1 - t0)
"""

FLOOR_BODY = """
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
c = ort.InferenceSession("{model_dir}/classifier.onnx", options, providers=["CPUExecutionProvider"])
d = ort.InferenceSession("{model_dir}/outlier_detector.onnx", options, providers=["CPUExecutionProvider"])
x = np.array([[{row}]], dtype=np.float32)
c.run(None, {{c.get_inputs()[0].name: x}}); d.run(None, {{d.get_inputs()[0].name: x}})
"""
# The steps of issue 15's table: each adds one layer to the floor, in a fresh process.
COLD_STEPS = {
    "floor": "",
    "logger_metrics": (
        "from aws_lambda_powertools import Logger, Metrics\nLogger(service='b'); Metrics(namespace='b', service='b')\n"
    ),
    "event_handler": "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\nAPIGatewayRestResolver()\n",
    "pydantic": "import pydantic\n",
    "powertools_as_loaded": (
        "from functions.inference.lazy_package import defer_unused_powertools\n"
        "defer_unused_powertools()\n"
        "from aws_lambda_powertools import Logger, Metrics\n"
        "Logger(service='b'); Metrics(namespace='b', service='b')\n"
        "from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver\nAPIGatewayRestResolver()\n"
    ),
}


COLD_LABELS = {
    "floor": "numpy + onnxruntime + both sessions + one run (floor)",
    "logger_metrics": "+ Powertools Logger and Metrics",
    "event_handler": "+ Powertools event handler (whole package)",
    "pydantic": "+ pydantic (the handler no longer imports it)",
    "powertools_as_loaded": "floor + Logger, Metrics, REST resolver as the handler loads them",
    "handler": "import functions.inference.handler + first POST /predict",
}


def cold_step_script(steps: list[str], model_dir: Path, row: str) -> str:
    extra = "".join(COLD_STEPS[step] for step in steps)
    return (
        "import time\nt0 = time.perf_counter()\n"
        + FLOOR_BODY.format(model_dir=model_dir, row=row)
        + extra
        + ('print("COLD", time.perf_counter() - t0)\n')
    )


EVENTS = REPO / "tests" / "fixtures" / "events"


class LambdaStdout:
    """Lambda's Python runtime wraps stdout so that every write is flushed (awslambdaric's `Unbuffered`):
    each write is a system call there, and so it is here."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        self.stream.flush()
        return written


def rest_event(body: str) -> dict[str, Any]:
    """The REST API event SAM CLI generates (`sam local generate-event apigateway aws-proxy`), with this body."""
    event = json.loads((EVENTS / "rest-v1-post-predict.json").read_text())
    event.update(body=body, isBase64Encoded=False)
    event["headers"]["Content-Type"] = "application/json"
    event["multiValueHeaders"]["Content-Type"] = ["application/json"]
    return event


def http_event(body: str) -> dict[str, Any]:
    """The HTTP API event SAM CLI generates (payload format 2.0), with this body."""
    event = json.loads((EVENTS / "http-v2-post-predict.json").read_text())
    event.update(body=body, isBase64Encoded=False)
    event["headers"]["content-type"] = "application/json"
    return event


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


STEPS = (
    ("resolver in: event, route match, middleware, our route function", "handle>", "svc>"),
    ("job id, content type, body size", "svc>", "parse>"),
    ("parse the JSON body, check it", "parse>", "parse<"),
    ("ONNX: classifier + outlier detector (bound buffers)", "onnx>", "onnx<"),
    ("round, finite check, label, latency", "onnx<", "lines>"),
    ("prediction log line (contract)", "lines>", "lines<"),
    ("EMF document", "emf>", "emf<"),
    ("one write: line + EMF (flushed, as on Lambda)", "log>", "log<"),
    ("reply text", "reply>", "reply<"),
    ("resolver out: Response, build, headers", "svc<", "handle<"),
)


def step_breakdown(model_dir: Path, event: dict[str, Any], count: int) -> list[tuple[str, float, float]]:
    """(step, median inside real requests, median alone in a tight loop), in microseconds."""
    import functions.inference.prediction_service as service_module
    from functions.contract.model_artifact import load_model_artifact
    from functions.contract.prediction_log import PredictionLineFormat, PredictionLogWriter, quoted_id, quoted_text
    from functions.inference.api import InferenceApi
    from functions.inference.onnx_model import OnnxModel
    from functions.inference.prediction_service import OneRowReplyFormat, PredictionService
    from functions.inference.request_metrics import RequestMetrics
    from local.api_gateway import FakeContext

    artifact = load_model_artifact(model_dir)
    baseline = artifact.baseline
    sink = LambdaStdout(open(os.devnull, "w"))  # noqa: SIM115
    service = PredictionService(
        model=OnnxModel(artifact),
        baseline=baseline,
        log=PredictionLogWriter(cast(IO[str], sink)),
        metrics=RequestMetrics(namespace="bench", dimensions={"model": "m", "service": "s"}, labels=baseline.label_names),
        max_rows=1000,
        max_body_bytes=1 << 20,
    )
    api = InferenceApi(service)
    clock = time.perf_counter_ns
    marks: dict[str, int] = {}
    originals: dict[str, Callable[..., Any]] = {}

    def clocked(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        originals[label] = function

        def call(*args: Any, **kwargs: Any) -> Any:
            marks[label + ">"] = clock()
            result = function(*args, **kwargs)
            marks[label + "<"] = clock()
            return result

        return call

    service.predict_request = clocked("svc", service.predict_request)  # type: ignore[method-assign]
    service.model.predict_one = clocked("onnx", service.model.predict_one)  # type: ignore[method-assign]
    service.log.write = clocked("log", service.log.write)  # type: ignore[method-assign]
    service.metrics.prediction = clocked("emf", service.metrics.prediction)  # type: ignore[method-assign]
    service_module.parse_rows_array = clocked("parse", service_module.parse_rows_array)
    PredictionLineFormat.line = clocked("lines", PredictionLineFormat.line)  # type: ignore[method-assign]
    OneRowReplyFormat.reply = clocked("reply", OneRowReplyFormat.reply)  # type: ignore[method-assign]
    context = FakeContext()
    inside: dict[str, list[int]] = {name: [] for name, _, _ in STEPS}
    whole = []
    try:
        for round_ in range(count + 200):
            marks["handle>"] = clock()
            api.handle(event, context)
            marks["handle<"] = clock()
            if round_ >= 200:
                whole.append(marks["handle<"] - marks["handle>"])
                for name, start, end in STEPS:
                    inside[name].append(marks[end] - marks[start])
    finally:
        service_module.parse_rows_array = originals["parse"]
        PredictionLineFormat.line = originals["lines"]  # type: ignore[method-assign]
        OneRowReplyFormat.reply = originals["reply"]  # type: ignore[method-assign]

    body = event["body"]
    values = originals["parse"](body, feature_names=baseline.feature_names, max_rows=1000).values[0]
    result = originals["onnx"](values)
    probabilities = [round(p, 4) for p in result.probabilities]
    form = service._line_formats["/predict"]
    label = quoted_text(baseline.label_names[result.class_index])
    request = quoted_id("0" * 32)
    line = form.line(1, request, 0, False, 0.5, label, result.class_index, 0.1, values, probabilities)
    reply = service._replies[False]
    assert reply is not None
    document = originals["emf"](rows=1, outliers=0, latency_ms=0.1, class_counts=[1] + [0] * (len(baseline.label_names) - 1))
    alone = {
        STEPS[2][0]: lambda: originals["parse"](body, feature_names=baseline.feature_names, max_rows=1000),
        STEPS[3][0]: lambda: originals["onnx"](values),
        STEPS[5][0]: lambda: form.line(1, request, 0, False, 0.5, label, result.class_index, 0.1, values, probabilities),
        STEPS[6][0]: lambda: originals["emf"](
            rows=1, outliers=0, latency_ms=0.1, class_counts=[1] + [0] * (len(baseline.label_names) - 1)
        ),
        STEPS[7][0]: lambda: originals["log"]([line], document),
        STEPS[8][0]: lambda: reply.reply(request, label, probabilities, False, 0.5),
    }
    health = dict(event, httpMethod="GET", path="/health", body=None)
    table = []
    for name, _, _ in STEPS:
        alone_median = time_calls(alone[name], count)[0] if name in alone else math.nan
        table.append((name, statistics.median(inside[name]) / 1000, alone_median))
    table.append(
        (
            "whole request (GET /health: resolver alone)",
            statistics.median(whole) / 1000,
            time_calls(lambda: api.handle(health, context), count)[0],
        )
    )
    return table


def cold_runs(scripts: dict[str, str], runs: int, env: dict[str, str]) -> dict[str, dict[str, list[float]]]:
    """Fresh processes, round-robin so drifting machine load hits every script alike.

    For each script: in-process time from its first line (ms), and whole-process wall time
    seen from here (ms, interpreter start included, as the issue's table measures it)."""
    results: dict[str, dict[str, list[float]]] = {name: {"inside": [], "wall": [], "init": []} for name in scripts}
    for script in scripts.values():  # untimed: writes the bytecode of every module, as the layer and asset ship it
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, env=env, cwd=REPO)
    for _ in range(runs):
        for name, script in scripts.items():
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, cwd=REPO
            ).stdout
            wall = (time.perf_counter() - started) * 1000
            fields = next(line for line in out.splitlines() if line.startswith("COLD")).split()
            results[name]["inside"].append(float(fields[1]) * 1000)
            results[name]["wall"].append(wall)
            if "INIT" in fields:
                results[name]["init"].append(float(fields[3]) * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris")
    parser.add_argument("--model-dir", type=Path, help="a model folder anywhere (instead of models/<model>)")
    parser.add_argument("--warm", type=int, default=5000, help="timed calls for the 1-row figures")
    parser.add_argument("--cold", type=int, default=15, help="fresh processes per cold figure")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold start (for alternating A/B sittings)")
    parser.add_argument("--no-steps", action="store_true", help="skip the step breakdown (it reads this tree's internals)")
    parser.add_argument(
        "--cold-steps",
        default=",".join(COLD_LABELS),
        help=f"a comma-separated subset of {','.join(COLD_LABELS)}; floor always runs",
    )
    args = parser.parse_args()
    model_dir = args.model_dir or REPO / "models" / args.model

    from functions.contract.model_artifact import load_model_artifact
    from functions.inference.handler import create_handler
    from functions.inference.onnx_model import OnnxModel, probe_feed
    from functions.inference.settings import InferenceSettings
    from local.api_gateway import FakeContext, api_event

    artifact = load_model_artifact(model_dir)
    mixed = artifact.baseline.has_categories
    if mixed and not (args.warm_only and args.no_steps):
        parser.error(f"{model_dir} has categorical features: run it with --warm-only --no-steps")
    row = artifact.baseline.sample_row
    sink = LambdaStdout(open(os.devnull, "w"))  # noqa: SIM115
    handler = create_handler(InferenceSettings.from_env({"MODEL_DIR": str(model_dir)}), stdout=cast(IO[str], sink))
    context = FakeContext()
    one = rest_event(json.dumps({"data": [row]}))
    thousand = rest_event(json.dumps({"data": [row] * 1000}))
    one_http = http_event(json.dumps({"data": [row]}))
    one_minimal = api_event("POST", "/predict", json.dumps({"data": [row]}))
    for event in (one, thousand, one_http, one_minimal):
        assert handler(event, context)["statusCode"] == 200, event

    model = OnnxModel(artifact)
    classifier, detector = model._classifier, model._detector
    c_in, d_in = classifier.get_inputs()[0].name, detector.get_inputs()[0].name
    c_feed, d_feed = probe_feed(artifact.baseline, c_in), probe_feed(artifact.baseline, d_in)

    def floor_call() -> None:
        classifier.run(None, c_feed)
        detector.run(None, d_feed)

    floor_median, floor_p99 = time_calls(floor_call, args.warm)
    health = dict(one, httpMethod="GET", path="/health", body=None)
    health_median, health_p99 = time_calls(lambda: handler(health, context), args.warm)
    one_median, one_p99 = time_calls(lambda: handler(one, context), args.warm)
    http_median, http_p99 = time_calls(lambda: handler(one_http, context), args.warm)
    minimal_median, minimal_p99 = time_calls(lambda: handler(one_minimal, context), args.warm)
    thousand_median, thousand_p99 = time_calls(lambda: handler(thousand, context), max(50, args.warm // 50))

    print(
        f"model {artifact.baseline.model_name} ({artifact.baseline.model_version}), "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} (1 min) after the warm figures"
    )
    print("warm, in-process (stdout to /dev/null, flushed on every write as on Lambda; REST events are SAM CLI's):")
    print(f"  {'floor: two session.run on 1 row':<46}median {floor_median:8.1f} us   p99 {floor_p99:8.1f} us")
    print(
        f"  {'handler GET /health (routing and reply only)':<46}median {health_median:8.1f} us   p99 {health_p99:8.1f} us"
        f"   x floor {health_median / floor_median:5.1f}"
    )
    print(
        f"  {'handler POST /predict, 1 row':<46}median {one_median:8.1f} us   p99 {one_p99:8.1f} us"
        f"   x floor {one_median / floor_median:5.1f}   (target <= 4x)"
    )
    print(
        f"  {'  same, HTTP API event (payload 2.0)':<46}median {http_median:8.1f} us   p99 {http_p99:8.1f} us"
        f"   x floor {http_median / floor_median:5.1f}"
    )
    print(
        f"  {'  same, minimal REST event (4 headers)':<46}median {minimal_median:8.1f} us   p99 {minimal_p99:8.1f} us"
        f"   x floor {minimal_median / floor_median:5.1f}"
    )
    print(
        f"  {'handler POST /predict, 1,000 rows':<46}median {thousand_median / 1000:8.2f} ms   p99 {thousand_p99 / 1000:8.2f} ms"
        f"   per row {thousand_median / 1000:6.1f} us"
    )
    if not args.no_steps:
        print(f"where POST /predict with 1 row spends its time, median of {args.warm} requests (us):")
        print(f"  {'step':<62}{'in the handler':>15}{'alone':>8}")
        for name, inside_us, alone_us in step_breakdown(model_dir, one, args.warm):
            alone_text = f"{alone_us:8.1f}" if not math.isnan(alone_us) else f"{'':8}"
            print(f"  {name:<62}{inside_us:15.1f}{alone_text}")
    if args.warm_only:
        return
    env = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_DIR": str(model_dir), "POWERTOOLS_METRICS_NAMESPACE": "bench"}
    # Every module loads from bytecode, as on Lambda, where the layer and the code asset ship it
    # (layers/build_layer.py, infra/bundling.py): a run without it measures the compiler instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    row_text = ", ".join(repr(v) for v in row)
    chosen = {"floor", *args.cold_steps.split(",")}
    every_script = {
        "floor": cold_step_script(["floor"], model_dir, row_text),
        "logger_metrics": cold_step_script(["floor", "logger_metrics"], model_dir, row_text),
        "event_handler": cold_step_script(["floor", "logger_metrics", "event_handler"], model_dir, row_text),
        "pydantic": cold_step_script(["floor", "logger_metrics", "event_handler", "pydantic"], model_dir, row_text),
        "powertools_as_loaded": cold_step_script(["floor", "powertools_as_loaded"], model_dir, row_text),
        "handler": COLD_HANDLER.format(event=rest_event(json.dumps({"data": [row]}))),
    }
    scripts = {name: script for name, script in every_script.items() if name in chosen}
    cold = cold_runs(scripts, args.cold, env)
    median = statistics.median
    floor_inside, floor_wall = median(cold["floor"]["inside"]), median(cold["floor"]["wall"])

    print(f"cold, fresh processes, median of {args.cold} (in-process from the first line; wall = whole process):")
    for name, label in COLD_LABELS.items():
        if name not in scripts:
            continue
        inside, wall = median(cold[name]["inside"]), median(cold[name]["wall"])
        print(
            f"  {label:<58}{inside:6.0f} ms  x floor {inside / floor_inside:4.2f}"
            f"   wall {wall:6.0f} ms  x floor {wall / floor_wall:4.2f}"
        )
    if "handler" not in scripts:
        return
    handler_inside = median(cold["handler"]["inside"])
    init = median(cold["handler"]["init"])
    handler_wall = median(cold["handler"]["wall"])
    print(f"cold ratio {handler_inside / floor_inside:4.2f}x in-process, {handler_wall / floor_wall:4.2f}x wall (target <= 1.5x)")
    print(
        f"SnapStart: a restore skips the init phase (imports, both sessions, routes): {init:.0f} ms of the"
        f" {handler_inside:.0f} ms cold start here; it still pays the restore and the first request"
        f" ({handler_inside - init:.0f} ms here)"
    )


if __name__ == "__main__":
    main()
