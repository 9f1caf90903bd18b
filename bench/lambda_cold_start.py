"""A Lambda-like cold start, with and without shipped bytecode, in fresh CPython 3.12 processes.

Lambda's code (/var/task) and layer (/opt/python) directories are read-only: Python cannot
write `__pycache__` there, so every module shipped without a `.pyc` is compiled from source at
every cold start. This script measures what the shipped `.pyc` files save:

1. builds (or reuses) a layer for this machine's architecture with `layers/build_layer.py`
   (x86_64 here; measurement only, under .build/bench-lambda/, with its own manifest, so the
   deployable arm64 layer in .build/layer is left alone; needs PyPI the first time);
2. lays out two copies of layer + function asset: one as shipped (`.pyc` next to every `.py`,
   the asset written by the same code as the CDK bundler) and one with sources only;
3. runs, round-robin, fresh processes of the 3.12 interpreter with PYTHONDONTWRITEBYTECODE=1,
   PYTHONPATH=<layer>/python:<asset>, MODEL_DIR=<asset>/model and the function's environment,
   the asset as working directory:
   (a) the floor: import numpy + onnxruntime, both ONNX sessions (1 intra/inter-op thread), one run each;
   (b) import functions.inference.handler and answer one POST /predict (event built inline: local/ is not
       in the asset).

Prints the medians (in-process from the script's first line, and wall time of the whole process),
the handler/floor ratio, the saving, the `.pyc` bytes added, how many modules each copy loaded from
bytecode or compiled from source (one untimed `python -v` run each), and the load average.

    python bench/lambda_cold_start.py [--runs 10] [--model iris] [--arch x86_64] [--bytecode-python PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from functions.contract import names  # noqa: E402  (needs the repo root on sys.path)
from functions.contract.model_artifact import load_model_artifact  # noqa: E402
from infra.asset_files import function_asset_files, write_function_asset  # noqa: E402
from infra.bytecode import BytecodeError, Interpreter, find_python, missing_interpreter_message  # noqa: E402
from infra.constants import LAYER_PYTHON_VERSION, MODEL_ASSET_DIR  # noqa: E402

MACHINE_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
WORKDIR = REPO / ".build" / "bench-lambda"
MIB = 1024 * 1024

FLOOR = """
import time
t0 = time.perf_counter()
import os
import numpy as np
import onnxruntime as ort
model_dir = os.environ["MODEL_DIR"]
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
c = ort.InferenceSession(f"{{model_dir}}/classifier.onnx", options, providers=["CPUExecutionProvider"])
d = ort.InferenceSession(f"{{model_dir}}/outlier_detector.onnx", options, providers=["CPUExecutionProvider"])
x = np.array([[{row}]], dtype=np.float32)
c.run(None, {{c.get_inputs()[0].name: x}}); d.run(None, {{d.get_inputs()[0].name: x}})
print("COLD", time.perf_counter() - t0)
"""

# An API Gateway REST proxy event (payload 1.0) and a context, inline: local.api_gateway is not in the asset.
HANDLER = """
import time
t0 = time.perf_counter()
from functions.inference.handler import lambda_handler
t1 = time.perf_counter()
headers = {{"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Content-Type": "application/json", "Accept": "*/*"}}
event = {{
    "resource": "/{{proxy+}}", "path": "/predict", "httpMethod": "POST", "headers": headers,
    "multiValueHeaders": {{k: [v] for k, v in headers.items()}}, "queryStringParameters": None,
    "multiValueQueryStringParameters": None, "pathParameters": {{"proxy": "predict"}}, "stageVariables": None,
    "requestContext": {{
        "resourceId": "abc123", "resourcePath": "/{{proxy+}}", "httpMethod": "POST", "path": "/prod/predict",
        "accountId": "123456789012", "protocol": "HTTP/1.1", "stage": "prod", "domainPrefix": "abc123",
        "requestTimeEpoch": int(time.time() * 1000), "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {{"sourceIp": "127.0.0.1", "userAgent": "bench", "apiKey": "bench-key"}},
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "apiId": "abc123",
    }},
    "body": '{{"data": [[{row}]]}}', "isBase64Encoded": False,
}}
class Context:
    function_name = "inference"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference"
    aws_request_id = "0e4f8a2c-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/inference"
    log_stream_name = "2026/11/25/[$LATEST]0123456789abcdef"
    def get_remaining_time_in_millis(self):
        return 29_000
reply = lambda_handler(event, Context())
assert reply["statusCode"] == 200, reply
print("COLD", time.perf_counter() - t0, "INIT", t1 - t0)
"""

_CODE_OBJECT = re.compile(r"^# code object from '?(.+?)'?$")


def build_layer(arch: str, interpreter: Interpreter, output: Path) -> None:
    """The layer for this machine (the script skips the build when its inputs have not changed)."""
    command = [sys.executable, str(REPO / "layers" / "build_layer.py"), "--arch", arch, "--output", str(output)]
    command += ["--bytecode-python", str(interpreter.path)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def without_bytecode(layer: Path, target: Path) -> None:
    """The same layer, `__pycache__` left out (hard links: no copy of the 150 MB)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(layer, target, ignore=shutil.ignore_patterns("__pycache__"), copy_function=os.link)


def function_environment(layer_python: Path, asset: Path) -> dict[str, str]:
    """What Lambda and the stack give the inference function, pointed at these directories."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": f"{layer_python}{os.pathsep}{asset}",
        "LAMBDA_TASK_ROOT": str(asset),
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "inference",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        names.ENV_MODEL_DIR: str(asset / MODEL_ASSET_DIR),
        names.ENV_SERVICE_NAME: names.INFERENCE_SERVICE,
        names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
        names.ENV_TRACING_ENABLED: "false",
        names.ENV_LOG_LEVEL: "INFO",
    }


def run_once(python: Path, script: str, env: dict[str, str], cwd: Path, *flags: str) -> tuple[str, str, float]:
    """(stdout, stderr, wall milliseconds) of one fresh process."""
    started = time.perf_counter()
    result = subprocess.run([str(python), *flags, "-c", script], capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"child failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout, result.stderr, wall


def loaded_modules(python: Path, script: str, env: dict[str, str], cwd: Path, roots: tuple[Path, ...]) -> tuple[int, int]:
    """(modules loaded from a .pyc, modules compiled from source) under `roots`, read from `python -v`."""
    _, stderr, _ = run_once(python, script, env, cwd, "-v")
    from_pyc = from_source = 0
    prefixes = tuple(str(root) for root in roots)
    for line in stderr.splitlines():
        match = _CODE_OBJECT.match(line)
        if not match or not match.group(1).startswith(prefixes):
            continue
        if match.group(1).endswith(".pyc"):
            from_pyc += 1
        else:
            from_source += 1
    return from_pyc, from_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per figure (median)")
    parser.add_argument("--model", default="iris")
    parser.add_argument("--arch", default=MACHINE_ARCH.get(platform.machine().lower(), "x86_64"), help="this machine's")
    parser.add_argument("--bytecode-python", type=Path, help=f"CPython {LAYER_PYTHON_VERSION} (default: found)")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()

    try:
        interpreter = find_python(LAYER_PYTHON_VERSION, args.bytecode_python)
    except BytecodeError as error:
        raise SystemExit(f"error: {error}") from None
    if interpreter is None:
        raise SystemExit(f"error: {missing_interpreter_message(LAYER_PYTHON_VERSION)}")
    workdir: Path = args.workdir.resolve()
    layer = workdir / "layer"  # its manifest goes to workdir/layer-manifest.json, not .build/'s
    build_layer(args.arch, interpreter, layer)

    files = function_asset_files(REPO, args.model)
    variants: dict[str, tuple[Path, Path]] = {
        "with .pyc": (layer, workdir / "asset-pyc"),
        "sources": (workdir / "layer-src", workdir / "asset-src"),
    }
    without_bytecode(layer, workdir / "layer-src")
    shutil.rmtree(workdir / "asset-pyc", ignore_errors=True)
    shutil.rmtree(workdir / "asset-src", ignore_errors=True)
    asset_report = write_function_asset(workdir / "asset-pyc", files, interpreter)
    write_function_asset(workdir / "asset-src", files, None)
    layer_pyc = list(layer.rglob("*.pyc"))
    layer_pyc_bytes = sum(p.stat().st_size for p in layer_pyc)

    row = ", ".join(repr(float(value)) for value in load_model_artifact(REPO / "models" / args.model).baseline.medians)
    scripts = {"floor": FLOOR.format(row=row), "handler": HANDLER.format(row=row)}
    envs = {name: function_environment(layer_dir / "python", asset) for name, (layer_dir, asset) in variants.items()}

    print("\nmodules under layer + asset, one `python -v` run each (handler script):")
    for name, (layer_dir, asset) in variants.items():
        from_pyc, from_source = loaded_modules(interpreter.path, scripts["handler"], envs[name], asset, (layer_dir, asset))
        print(f"  {name:<10} {from_pyc:4d} loaded from .pyc, {from_source:4d} compiled from source")

    load_before = os.getloadavg()
    inside: dict[tuple[str, str], list[float]] = {(s, v): [] for s in scripts for v in variants}
    wall: dict[tuple[str, str], list[float]] = {(s, v): [] for s in scripts for v in variants}
    init: dict[str, list[float]] = {v: [] for v in variants}
    started = time.perf_counter()
    for _ in range(args.runs):  # round-robin: a change in machine load hits every figure alike
        for script_name, script in scripts.items():
            for name, (_, asset) in variants.items():
                stdout, _, elapsed = run_once(interpreter.path, script, envs[name], asset)
                fields = next(line for line in stdout.splitlines() if line.startswith("COLD")).split()
                inside[script_name, name].append(float(fields[1]) * 1000)
                wall[script_name, name].append(elapsed)
                if "INIT" in fields:
                    init[name].append(float(fields[3]) * 1000)
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()

    median = statistics.median
    print(
        f"\nLambda-like cold start: CPython {interpreter.version}, {args.arch} layer, model {args.model}, "
        f"median of {args.runs} fresh processes each ({seconds:.0f} s)"
    )
    print(f"  {'ms (in-process from the first line / whole process)':<52}{'with .pyc':>18}{'sources only':>18}{'saving':>18}")
    labels = {"floor": "floor: numpy+onnxruntime, 2 sessions, 1 run", "handler": "handler import + first POST /predict"}
    for script_name, label in labels.items():
        cells = []
        for name in variants:
            cells.append(f"{median(inside[script_name, name]):6.0f} / {median(wall[script_name, name]):5.0f}")
        saved_in = median(inside[script_name, "sources"]) - median(inside[script_name, "with .pyc"])
        saved_wall = median(wall[script_name, "sources"]) - median(wall[script_name, "with .pyc"])
        print(f"  {label:<52}{cells[0]:>18}{cells[1]:>18}{f'{saved_in:6.0f} / {saved_wall:5.0f}':>18}")
    print(f"  {'  of which handler import (init)':<52}", end="")
    print(f"{median(init['with .pyc']):>11.0f}{'':>7}{median(init['sources']):>11.0f}{'':>7}", end="")
    print(f"{median(init['sources']) - median(init['with .pyc']):>11.0f}")
    ratios = []
    for name in variants:
        in_ratio = median(inside["handler", name]) / median(inside["floor", name])
        wall_ratio = median(wall["handler", name]) / median(wall["floor", name])
        ratios.append(f"{in_ratio:6.2f} / {wall_ratio:5.2f}")
    print(f"  {'ratio handler / floor':<52}{ratios[0]:>18}{ratios[1]:>18}")
    asset_pyc = asset_report.added_bytes if asset_report else 0
    asset_files = asset_report.pyc_files if asset_report else 0
    print(
        f".pyc added: layer {layer_pyc_bytes / MIB:.1f} MiB ({len(layer_pyc)} files), "
        f"function asset {asset_pyc / MIB:.2f} MiB ({asset_files} files)"
    )
    print(
        f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
