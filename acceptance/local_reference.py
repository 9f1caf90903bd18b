"""What the local server writes for a request: the handler run in-process in a child process.

A child process, because the inference module configures itself from the environment at import (as Lambda
does); the runner's own environment stays untouched. Reads {"method", "path", "body"} on stdin, prints
{"status", "body", "lines"} where lines are the prediction-log records the handler wrote.

    echo '{"method": "POST", "path": "/predict", "body": "{\\"data\\": [[5.1, 3.5, 1.4, 0.2]]}"}' \
        | python -m acceptance.local_reference --model iris
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from functions.contract import names

from .config import REPO_ROOT

TIMEOUT_SECONDS = 120


def _serve_one(model: str, request: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="acceptance-ref-") as folder:
        log_file = Path(folder) / "predictions.jsonl"
        os.environ[names.ENV_MODEL_DIR] = str(REPO_ROOT / "models" / model)
        os.environ[names.ENV_PREDICTION_LOG_FILE] = str(log_file)
        os.environ.setdefault(names.ENV_SERVICE_NAME, names.INFERENCE_SERVICE)
        os.environ.setdefault(names.ENV_METRICS_NAMESPACE, names.METRICS_NAMESPACE)
        with contextlib.redirect_stdout(io.StringIO()):
            from functions.inference.handler import lambda_handler
            from local.api_gateway import FakeContext, api_event

            event = api_event(request["method"], request["path"], request.get("body"))
            reply = lambda_handler(event, FakeContext())
        lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").split("\n") if line.strip()]
    return {"status": reply["statusCode"], "body": reply.get("body"), "lines": lines}


def reference(model: str, method: str, path: str, body: str | None) -> dict[str, Any]:
    """Run the handler for one request in a child process; raises with its stderr when it fails."""
    payload = json.dumps({"method": method, "path": path, "body": body})
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "acceptance.local_reference", "--model", model],
        input=payload,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"local reference handler failed ({done.returncode}): {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", default=names.DEFAULT_MODEL)
    args = parser.parse_args()
    result = _serve_one(args.model, json.loads(sys.stdin.read()))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
