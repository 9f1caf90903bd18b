"""The main job, locally and end to end: serve, send traffic, monitor, alert, recover.

1. start the local API (the Lambda handler behind a loopback HTTP server);
2. send normal traffic (rows of the model's own data set) and evaluate: OK;
3. send drifted traffic (one feature shifted, so most rows are also outliers) and malformed
   requests, evaluate: ALARM,
   naming the checks that fired, with an alert written to the alert file;
4. send normal traffic again and evaluate: one recovery notice per check;
5. draw the drifted window against the training baseline (PNG) and stop the server.

No AWS account, no Docker. Exit status 0 only when each evaluation judged what it should.

    python -m local.demo [--model iris] [--workdir .local/demo]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions.contract.model_artifact import Baseline, load_model_artifact
from local import monitor as local_monitor

REPO = Path(__file__).resolve().parents[1]
BATCH = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_api(model: str, log_file: Path) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-m", "local.server", "--port", str(port), "--model", model, "--log-file", str(log_file)]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = call(port, "GET", "/health")
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the local API did not start (exit code {server.poll()})")
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = body if isinstance(body, str) or body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"} if payload else {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def normal_rows(model: str, baseline: Baseline, count: int, rng: random.Random) -> list[list[float]]:
    """Rows of the model's own data set when scikit-learn ships it, else draws from the training quantiles."""
    try:
        from models.train import DATASETS, load_sklearn_dataset

        if model in DATASETS:
            data = load_sklearn_dataset(model).x.tolist()
            return [list(rng.choice(data)) for _ in range(count)]
    except ImportError:
        pass
    return [[rng.choice(f.quantiles[5:-5]) for f in baseline.features] for _ in range(count)]


def send(port: int, rows: list[list[float]]) -> tuple[int, int]:
    accepted = 0
    for start in range(0, len(rows), BATCH):
        status, reply = call(port, "POST", "/predict", {"data": rows[start : start + BATCH]})
        if status != 200:
            raise SystemExit(f"normal traffic was refused: {status} {reply}")
        accepted += len(reply["predictions"])
    return accepted, len(rows) // BATCH + (1 if len(rows) % BATCH else 0)


def evaluate(args: argparse.Namespace, started: float, title: str, report: Path | None = None) -> dict[str, Any]:
    """One monitor evaluation over exactly this phase's traffic."""
    end = time.time() + 0.001
    minutes = (end - started) / 60 + 0.0001
    argv = [
        "--log-file", str(args.workdir / "predictions.jsonl"),
        "--model-dir", str(REPO / "models" / args.model),
        "--window-end", datetime.fromtimestamp(end, tz=UTC).isoformat(),
        "--window-minutes", f"{minutes:.6f}",
        "--alert-file", str(args.workdir / "alerts.jsonl"),
        "--state-file", str(args.workdir / "alert_state.json"),
        "--json",
    ]  # fmt: skip
    if report:
        argv += ["--report", str(report)]
    out = io.StringIO()
    if local_monitor.main(argv, out=out) != 0:
        raise SystemExit("the monitor could not read the window")
    lines = out.getvalue().splitlines()
    print(f"\n=== monitor: {title} ===")
    for line in lines:
        if not line.startswith("{"):
            print(line)
    return json.loads(next(line for line in reversed(lines) if line.startswith('{"model"')))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "demo")
    parser.add_argument("--rows", type=int, default=400, help="rows per phase")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in ("predictions.jsonl", "alerts.jsonl", "alert_state.json"):
        (args.workdir / name).unlink(missing_ok=True)
    baseline = load_model_artifact(REPO / "models" / args.model).baseline
    rng = random.Random(args.seed)
    drifted = baseline.features[0]
    failures: list[str] = []

    with local_api(args.model, args.workdir / "predictions.jsonl") as port:
        print(f"local API on http://127.0.0.1:{port}, model {baseline.model_name} {baseline.model_version}")

        started = time.time()
        rows, requests = send(port, normal_rows(args.model, baseline, args.rows, rng))
        print(f"\nphase 1: {rows} normal rows in {requests} requests")
        first = evaluate(args, started, "normal traffic")
        if first["status"] != "OK":
            failures.append(f"normal traffic judged {first['status']}: {first['alarms']}")

        started = time.time()
        shifted = normal_rows(args.model, baseline, args.rows, rng)
        for row in shifted:
            row[0] += 1.5 * drifted.std  # a location shift of one feature
        rows, requests = send(port, shifted)
        bad = 0
        for body in ('{"data": [[1, 2]]}', '{"data": [["x"]]}', "{}", '{"data": [[NaN]]}') * (args.rows // 40):
            status, _ = call(port, "POST", "/predict", body)
            bad += status >= 400
        print(f"\nphase 2: {rows} rows with {drifted.name} shifted by +1.5 std (unlike training), {bad} malformed requests")
        second = evaluate(args, started, "drift, outliers and bad requests", report=args.workdir / "drift_report.png")
        expected = {f"mean_shift:{drifted.name}", f"distribution:{drifted.name}", "outlier_ratio", "rejected_ratio"}
        if second["status"] != "ALARM" or not expected <= set(second["alarms"]):
            failures.append(
                f"drift judged {second['status']} with alarms {second['alarms']}, expected at least {sorted(expected)}"
            )

        started = time.time()
        rows, requests = send(port, normal_rows(args.model, baseline, args.rows, rng))
        print(f"\nphase 3: {rows} normal rows again")
        third = evaluate(args, started, "back to normal")
        recovered = {entry.split(":OK")[0] for entry in third["notified"] if entry.endswith(":OK")}
        if third["status"] != "OK" or not set(second["alarms"]) <= recovered:
            failures.append(f"recovery judged {third['status']}, recovered {sorted(recovered)}, alarms were {second['alarms']}")

    records = [json.loads(line) for line in (args.workdir / "predictions.jsonl").read_text().splitlines()]
    alerts = [json.loads(line) for line in (args.workdir / "alerts.jsonl").read_text().splitlines()]
    print(f"\n=== prediction log: {args.workdir / 'predictions.jsonl'} ===")
    predicted = sum(r["message"] == "prediction" for r in records)
    print(f"{predicted} prediction records, {len(records) - predicted} rejected")
    print(json.dumps(next(r for r in records if r["message"] == "prediction")))
    print(json.dumps(next(r for r in records if r["message"] == "rejected")))
    print(f"\n=== alerts: {args.workdir / 'alerts.jsonl'} ===")
    for alert in alerts:
        print(alert.get("subject", alert))
    print(f"\npicture of the drifted window: {args.workdir / 'drift_report.png'}")
    if failures:
        print("\nDEMO FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("\ndemo OK: normal -> OK, drift -> ALARM (alert sent), normal -> recovery notice sent")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
