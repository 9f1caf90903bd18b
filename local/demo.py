"""The main job, locally and end to end: serve, send traffic, monitor, alert, recover.

1. start the local API (the Lambda handler behind a loopback HTTP server);
2. send normal traffic (real rows, see below) and evaluate: OK;
3. send the same kind of rows with one feature shifted (so most rows are also outliers) and malformed
   requests, evaluate: ALARM, naming the checks that fired, with an alert written to the alert file;
4. send normal traffic again and evaluate: one recovery notice;
5. concept drift: send the held-out rows (`holdout.csv`), then their ground-truth labels through `POST /feedback`
   with most of one class's rows relabelled as another class. The inputs look exactly like training, so the
   per-minute monitor stays OK; the realized quality check (`make quality`) goes to ALARM, naming realized
   accuracy and the recall of the class the labels moved to;
6. draw the drifted window against the training baseline and the confusion matrix (PNGs) and stop the server.

A model with categorical features (docs/models.md, "Categorical features"; `--model credit_card`) drifts a
category too in the drift phase: half its rows take the rarest listed category of the first categorical feature,
and the monitor must name `category_drift:<feature>` beside the shifted number.

A regression model (docs/regression.md) runs the same phases: the drifted feature is the one whose shift moves the
model's answers most, so the output-drift checks (prediction_drift, prediction_mean_shift) fire with the feature's;
the concept drift is true values that are now one target standard deviation higher than the held-out ones, so the
quality check alarms on realized MAE, RMSE and R².

Normal traffic is real rows, never values drawn feature by feature (that breaks the relations between
features and the outlier detector rightly flags such rows). The rows come from the data the model was
trained on when it can be found (the scikit-learn data set, or the CSV named in baseline.json), resampled;
otherwise from the model's `holdout.csv`, each row sent once per phase. Resampling 36 held-out rows into
400 would make the monitor treat 36 rows as 400 independent ones and judge the held-out sample's own
sampling error as drift (wine's flavanoids: +10.9 % against the training mean).

The concept-drift phase sends each held-out row once for the same reason, and because labels of repeated rows
would count as independent evidence for the quality check too. That gives 30 labelled rows for iris (the quality
check's minimum, the baseline's min_rows) and 36 for wine. Seven in ten rows of the class with the most held-out
rows move to the class with the fewest: on those sizes both Wilson comparisons clear the reference's lower bound
by a margin (iris: accuracy upper bound 0.88 against 0.93, recall 0.78 against 0.87), while half the share
would not alarm for iris.

No AWS account, no Docker. Exit status 0 only when each evaluation judged what it should.

    python -m local.demo [--model iris | --model-dir path/to/model] [--workdir .local/demo]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import io
import json
import math
import random
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions.contract.model_artifact import (
    FEATURE_CATEGORICAL,
    Baseline,
    CategoricalBaseline,
    FeatureBaseline,
    ModelArtifactError,
    load_model_artifact,
)
from functions.quality.report import CHECK_ACCURACY, CHECK_RECALL_PREFIX, MIN_CLASS_ROWS
from local import MODEL_FOLDER_HINT
from local import monitor as local_monitor
from local import quality as local_quality

REPO = Path(__file__).resolve().parents[1]
BATCH = 10
HOLDOUT_FILE = "holdout.csv"  # written by models.train beside the model: feature keys in input order, then `label`
SKLEARN_SOURCE_PREFIX = "sklearn.datasets.load_"
DRIFT_STDS = 1.5  # the drifted phase's location shift, in training standard deviations
CATEGORY_DRIFT_SHARE = 0.5  # mixed models: this share of the drifted phase's rows take the rarest listed category
BAD_BODIES = ('{"data": [[1, 2]]}', '{"data": [["x"]]}', "{}", '{"data": [[NaN]]}')
HOLDOUT_LABEL = "label"  # the held-out file's last column: the true class
RELABEL_SHARE = 0.7  # the concept-drift phase's share of one class's rows that now carry another label
TRUTH_SHIFT_STDS = 1.0  # regression: the concept-drift phase raises the true values by this many target sd
FEEDBACK_BATCH = 1000  # POST /feedback takes at most 1,000 labels per call


Row = list[float | str]  # a request row: numbers, and strings for categorical features


class DemoError(SystemExit):
    """The demo cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class RealRows:
    """Real rows for the normal phases and where they came from."""

    rows: list[Row]
    source: str
    resample: bool  # True when the rows are the training data itself (resampling it keeps its distribution)

    def phase(self, count: int, rng: random.Random, min_rows: int) -> list[Row]:
        if self.resample:
            return [list(rng.choice(self.rows)) for _ in range(count)]
        # held-out rows: each once per phase, shuffled, so the monitor's n is the number of distinct rows
        rows = [list(row) for row in rng.sample(self.rows, len(self.rows))][:count]
        while len(rows) < min(count, min_rows):  # too few to judge at all: top up to the monitor's minimum
            rows.append(list(rng.choice(self.rows)))
        return rows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_api(model_dir: Path, log_file: Path) -> Iterator[int]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "local.server",
        "--port",
        str(port),
        "--model-dir",
        str(model_dir),
        "--log-file",
        str(log_file),
    ]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
                server.kill()
                error = (server.communicate()[1] or "").strip().splitlines()
                raise DemoError(f"the local API did not start (exit code {server.poll()}): {error[-1] if error else 'no output'}")
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


def _columns(header: list[str], baseline: Baseline, where: str) -> list[int]:
    """Index of each model feature in a CSV header: by feature key, by display name, or by the key of the header."""
    from models.train import feature_key  # only for CSV sources; imports scikit-learn

    display = {f["name"]: f.get("display_name") for f in baseline.document.get("features", []) if isinstance(f, dict)}
    indexes = []
    for feature in baseline.feature_names:
        matches = [i for i, name in enumerate(header) if name in (feature, display.get(feature)) or feature_key(name) == feature]
        if not matches:
            raise DemoError(f"{where}: no column for feature {feature!r} (columns: {', '.join(header)})")
        indexes.append(matches[0])
    return indexes


def read_csv_rows(path: Path, baseline: Baseline) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        table = [row for row in csv.reader(handle) if row]
    if len(table) < 2:
        raise DemoError(f"{path}: no rows")
    indexes = _columns(table[0], baseline, str(path))
    categorical = [kind == FEATURE_CATEGORICAL for kind in baseline.feature_types]
    try:
        return [[row[i] if text else float(row[i]) for i, text in zip(indexes, categorical, strict=True)] for row in table[1:]]
    except (ValueError, IndexError) as error:
        raise DemoError(f"{path}: every numeric feature's value must be a number ({error})") from None


def training_source(baseline: Baseline) -> Path | str | None:
    """The data set baseline.json says the model was trained on, when it is reachable from here."""
    source = str(baseline.document.get("model", {}).get("dataset") or "")
    if source.startswith(SKLEARN_SOURCE_PREFIX):
        return source
    if source.endswith(".csv"):
        for candidate in (Path(source), Path.cwd() / source, REPO / source):
            if candidate.is_file():
                return candidate
    return None


def real_rows(model_dir: Path, baseline: Baseline) -> RealRows:
    """The training data when it can be found (resampled), else the held-out rows saved with the model."""
    source = training_source(baseline)
    if isinstance(source, str):
        from models.regression import REGRESSION_DATASETS, load_diabetes_dataset
        from models.train import DATASETS, load_sklearn_dataset

        name = source.removeprefix(SKLEARN_SOURCE_PREFIX)
        if name in DATASETS or name in REGRESSION_DATASETS:
            data = load_sklearn_dataset(name) if name in DATASETS else load_diabetes_dataset()
            if list(data.feature_names) == list(baseline.feature_names):
                return RealRows(data.x.tolist(), f"{source} (the training data, resampled)", resample=True)
    elif isinstance(source, Path):
        return RealRows(read_csv_rows(source, baseline), f"{source} (the training data, resampled)", resample=True)
    holdout = model_dir / HOLDOUT_FILE
    if holdout.is_file():
        return RealRows(read_csv_rows(holdout, baseline), f"{holdout} (held-out rows, each once per phase)", resample=False)
    raise DemoError(
        f"no real rows to send: {model_dir} has no {HOLDOUT_FILE} and the training data "
        f"({baseline.document.get('model', {}).get('dataset')}) is not reachable from here. Retrain with "
        "`python -m models.train --csv your.csv --target <label column> --name <model>`, which writes holdout.csv"
    )


@dataclass(frozen=True)
class Drift:
    """The concept-drift phase's ground truth: the labels the world now gives, and which class moved where."""

    labels: list[str]
    source: str
    target: str
    moved: int


def read_holdout(path: Path, baseline: Baseline) -> tuple[list[Row], list[str]] | None:
    """Held-out rows and their true labels; None when the file has no `label` column of the model's labels."""
    rows = read_csv_rows(path, baseline)
    with path.open(newline="", encoding="utf-8") as handle:
        table = [row for row in csv.reader(handle) if row]
    if HOLDOUT_LABEL not in table[0]:
        return None
    column = table[0].index(HOLDOUT_LABEL)
    labels = [row[column] if column < len(row) else "" for row in table[1:]]
    if not set(labels) <= set(baseline.label_names):
        return None
    return rows, labels


def concept_drift(truths: list[str], label_names: Sequence[str], share: float, rng: random.Random) -> Drift:
    """Relabel `share` of the most frequent class's rows as the least frequent other class (ties: label order).

    Moving rows into the smallest class lowers its recall the most, so a small labelled sample still shows it.
    """
    counts = {label: truths.count(label) for label in label_names}
    source = max(label_names, key=lambda label: counts[label])  # max/min keep the first of equals
    target = min((label for label in label_names if label != source), key=lambda label: counts[label])
    rows = [i for i, label in enumerate(truths) if label == source]
    chosen = set(rng.sample(rows, math.ceil(share * len(rows)))) if rows else set()
    labels = [target if i in chosen else label for i, label in enumerate(truths)]
    return Drift(labels, source, target, len(chosen))


def too_few_to_judge(drift: Drift) -> str | None:
    """Why the quality check could not judge the moved class's recall on these labels (None when it can)."""
    rows = drift.labels.count(drift.target)
    if rows >= MIN_CLASS_ROWS:
        return None
    return (
        f"{len(drift.labels)} held-out rows give '{drift.target}' only {rows} labelled rows after the relabelling, "
        f"fewer than the {MIN_CLASS_ROWS} the quality check needs to judge a class's recall"
    )


def feedback_bodies(references: list[tuple[str, int]], labels: Sequence[Any], size: int = FEEDBACK_BATCH) -> list[dict[str, Any]]:
    """`POST /feedback` bodies: one label per (job_id, row) a prediction answered, at most `size` per call."""
    items = [{"job_id": job, "row": row, "label": label} for (job, row), label in zip(references, labels, strict=True)]
    return [{"labels": items[start : start + size]} for start in range(0, len(items), size)]


def drifted_feature(baseline: Baseline, model_dir: Path | None = None) -> FeatureBaseline:
    """The first feature that varies in training (a constant feature cannot be shifted by standard deviations).

    For a regression model, the feature whose shift moves the model's answer most (on the training medians): the
    demo's drift then shows in the output-drift checks too, as a real upstream change would."""
    varying = [f for f in baseline.features if f.std > 0] or [baseline.features[0]]
    if not baseline.is_regression or model_dir is None or baseline.has_categories:
        return varying[0]
    import numpy as np

    from functions.contract.model_artifact import load_model_artifact
    from functions.inference.regression import RegressionOnnxModel

    model = RegressionOnnxModel(load_model_artifact(model_dir))
    medians = baseline.medians
    rows = np.array([medians] * (len(varying) + 1), dtype=np.float32)
    for index, feature in enumerate(varying, start=1):
        rows[index, baseline.feature_names.index(feature.name)] += DRIFT_STDS * feature.std
    answers = model.predict(rows).prediction.astype(np.float64)
    return varying[int(np.argmax(np.abs(answers[1:] - answers[0])))]


def drifted_category(baseline: Baseline) -> CategoricalBaseline | None:
    """The categorical feature the drift phase moves: the first with two or more listed categories."""
    return next((feature for feature in baseline.categorical if len(feature.categories) > 1), None)


def shift_category(rows: list[Row], index: int, feature: CategoricalBaseline, rng: random.Random) -> int:
    """Give CATEGORY_DRIFT_SHARE of the rows the feature's rarest listed category (a share move, no unseen value)."""
    chosen = rng.sample(range(len(rows)), math.ceil(CATEGORY_DRIFT_SHARE * len(rows)))
    for position in chosen:
        rows[position][index] = feature.categories[-1]
    return len(chosen)


def send_rows(port: int, rows: list[Row], min_requests: int) -> tuple[list[tuple[str, int, str]], int]:
    """(job_id, row, predicted label) of each row sent, and the number of requests.

    Rows go in batches of 10, or smaller so that a short phase still makes enough requests to judge the rejected ratio.
    """
    batch = max(1, min(BATCH, len(rows) // min_requests))
    answered: list[tuple[str, int, str]] = []
    for start in range(0, len(rows), batch):
        status, reply = call(port, "POST", "/predict", {"data": rows[start : start + batch]})
        if status != 200:
            raise DemoError(f"normal traffic was refused: {status} {reply}")
        # a classifier answers a label, a regression model a number (`prediction`)
        answered += [
            (reply["job_id"], row, str(p.get("label", p.get("prediction")))) for row, p in enumerate(reply["predictions"])
        ]
    return answered, -(-len(rows) // batch)


def send(port: int, rows: list[Row], min_requests: int) -> tuple[int, int]:
    answered, requests = send_rows(port, rows, min_requests)
    return len(answered), requests


def summary_of(lines: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The monitor's --json summary printed among its lines (the JSON object with a status), and the other lines."""
    summary, human = None, []
    for line in lines:
        if line.startswith("{"):
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                document = None
            if isinstance(document, dict) and "status" in document:
                summary = document
                continue
        human.append(line)
    return summary, human


def json_to_a_file() -> bool:
    """Whether this monitor CLI takes `--json PATH` (summary to a file, report to the terminal) or a bare `--json`."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return bool(local_monitor.parse_args(["--json", "summary.json"]).json == "summary.json")
    except SystemExit:
        return False


def evaluate(args: argparse.Namespace, started: float, title: str, report: Path | None = None) -> dict[str, Any]:
    """One monitor evaluation over exactly this phase's traffic, through the `make monitor` CLI."""
    end = time.time() + 0.001
    minutes = (end - started) / 60 + 0.0001
    summary_file = args.workdir / "summary.json"
    summary_file.unlink(missing_ok=True)
    argv = [
        "--log-file", str(args.workdir / "predictions.jsonl"),
        "--model-dir", str(args.model_dir),
        "--window-end", datetime.fromtimestamp(end, tz=UTC).isoformat(),
        "--window-minutes", f"{minutes:.6f}",
        "--alert-file", str(args.workdir / "alerts.jsonl"),
        "--state-file", str(args.workdir / "alert_state.json"),
    ]  # fmt: skip
    argv += ["--json", str(summary_file)] if json_to_a_file() else ["--json"]
    if report:
        argv += ["--report", str(report)]
    out = io.StringIO()
    if local_monitor.main(argv, out=out) != 0:
        raise DemoError("the monitor could not read the window")
    summary, human = summary_of(out.getvalue().splitlines())
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        human = [line for line in human if not line.startswith("summary written to")]
    print(f"\n=== monitor: {title} ===")
    for line in human:
        print(line)
    if summary is None:
        raise DemoError("the monitor gave no --json summary")
    return summary


def judge_quality(args: argparse.Namespace, picture: Path, figures: str = "realized accuracy") -> dict[str, Any]:
    """One realized-quality run over the demo's log, through the `make quality` CLI (alerts to the demo's alert file)."""
    summary_file = args.workdir / "quality_summary.json"
    summary_file.unlink(missing_ok=True)
    argv = [
        "--log-file", str(args.workdir / "predictions.jsonl"),
        "--model-dir", str(args.model_dir),
        "--end", "last",
        "--alert-file", str(args.workdir / "alerts.jsonl"),
        "--state-file", str(args.workdir / "alert_state.json"),
        "--summary-file", str(summary_file),
        "--picture", str(picture),
    ]  # fmt: skip
    out = io.StringIO()
    if local_quality.main(argv, out=out) != 0 or not summary_file.is_file():
        raise DemoError("the quality check could not read the demo's log")
    print(f"\n=== quality: {figures} on the labelled rows ===")
    for line in out.getvalue().splitlines():
        if not line.startswith("confusion matrix drawn to"):
            print(line)
    return dict(json.loads(summary_file.read_text(encoding="utf-8")))


def concept_drift_phase(args: argparse.Namespace, port: int, baseline: Baseline, rng: random.Random) -> list[str] | None:
    """Phase 4: held-out rows, then their labels with one class partly relabelled. Failures, or None when skipped."""
    holdout_file = args.model_dir / HOLDOUT_FILE
    holdout = read_holdout(holdout_file, baseline) if holdout_file.is_file() else None
    if holdout is None:
        print(
            f"\nphase 4 skipped: no {HOLDOUT_FILE} with a {HOLDOUT_LABEL} column in {shown(args.model_dir)} (retrain to get one)"
        )
        return None
    rows, truths = holdout
    min_rows = baseline.thresholds.min_rows
    order = rng.sample(range(len(rows)), len(rows))  # each held-out row once
    while len(order) < min_rows:  # fewer held-out rows than the checks need: repeat some (counts them twice)
        order.append(rng.randrange(len(rows)))
    drift = concept_drift([truths[i] for i in order], baseline.label_names, RELABEL_SHARE, rng)
    reason = too_few_to_judge(drift)
    if reason:
        print(f"\nphase 4 skipped: {reason}")
        return None
    started = time.time()
    answered, requests = send_rows(port, [list(rows[i]) for i in order], min_rows)
    print(
        f"\nphase 4: {len(answered)} held-out rows in {requests} requests, then their {len(answered)} true labels through "
        f"POST /feedback with {drift.moved} '{drift.source}' rows relabelled '{drift.target}' (concept drift)"
    )
    monitor = evaluate(args, started, "held-out traffic (inputs like training)")
    for body in feedback_bodies([(job, row) for job, row, _ in answered], drift.labels):
        status, reply = call(port, "POST", "/feedback", body)
        if status != 202:
            raise DemoError(f"feedback was refused: {status} {reply}")
    quality = judge_quality(args, args.workdir / "confusion_matrix.png")
    print(f"\nconcept drift: per-minute monitor {monitor['status']}, realized quality {quality['status']}")
    return concept_drift_failures(monitor, quality, drift.target)


def regression_concept_drift_phase(args: argparse.Namespace, port: int, baseline: Baseline, rng: random.Random) -> list[str]:
    """Phase 4 for a regression model: held-out rows, then their true values raised by one target sd (the world's
    answers moved, the inputs did not). The monitor stays OK; realized MAE, RMSE and R² go to ALARM."""
    holdout_file = args.model_dir / HOLDOUT_FILE
    rows = read_csv_rows(holdout_file, baseline)
    with holdout_file.open(newline="", encoding="utf-8") as handle:
        table = [row for row in csv.reader(handle) if row]
    truths = [float(row[table[0].index(HOLDOUT_LABEL)]) for row in table[1:]]
    reference = baseline.document.get("quality_reference") or baseline.document.get("holdout") or {}
    raise_by = TRUTH_SHIFT_STDS * math.sqrt(float(reference.get("target_variance") or 0.0))
    order = rng.sample(range(len(rows)), len(rows))  # each held-out row once
    started = time.time()
    answered, requests = send_rows(port, [list(rows[i]) for i in order], baseline.thresholds.min_rows)
    print(
        f"\nphase 4: {len(answered)} held-out rows in {requests} requests, then their true values through POST /feedback, "
        f"each raised by {raise_by:.4g} ({TRUTH_SHIFT_STDS:g} target sd: concept drift)"
    )
    monitor = evaluate(args, started, "held-out traffic (inputs like training)")
    labels: list[Any] = [round(truths[i] + raise_by, 4) for i in order]
    for body in feedback_bodies([(job, row) for job, row, _ in answered], labels):
        status, reply = call(port, "POST", "/feedback", body)
        if status != 202:
            raise DemoError(f"feedback was refused: {status} {reply}")
    quality = judge_quality(args, args.workdir / "confusion_matrix.png", "realized MAE, RMSE and R²")
    print(f"\nconcept drift: per-minute monitor {monitor['status']}, realized quality {quality['status']}")
    failures = []
    if monitor["status"] != "OK":
        failures.append(f"held-out traffic judged {monitor['status']} by the monitor: {monitor['alarms']}")
    if quality["status"] != "ALARM" or "realized_mae" not in quality["alarms"]:
        failures.append(f"raised true values judged {quality['status']} with alarms {quality['alarms']}, expected realized_mae")
    return failures


def concept_drift_failures(monitor: dict[str, Any], quality: dict[str, Any], target: str) -> list[str]:
    """What the phase must show: the monitor OK on inputs like training, the quality check in ALARM on accuracy and
    on the recall of the class the labels moved to."""
    failures = []
    if monitor["status"] != "OK":
        failures.append(f"held-out traffic judged {monitor['status']} by the monitor: {monitor['alarms']}")
    expected = {CHECK_ACCURACY, f"{CHECK_RECALL_PREFIX}{target}"}
    if quality["status"] != "ALARM" or not expected <= set(quality["alarms"]):
        failures.append(
            f"relabelled feedback judged {quality['status']} by the quality check with alarms {quality['alarms']}, "
            f"expected {sorted(expected)}"
        )
    return failures


def shown(path: Path) -> str:
    """A path as short as it can be typed from here."""
    absolute = path.resolve()
    return str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(absolute)


def monitor_command(model_dir: Path, log_file: Path) -> str:
    """The `make monitor` command that judges this demo's log again (the last two minutes of it)."""
    if model_dir.parent.resolve() == (REPO / "models").resolve():
        where = f"MODEL={model_dir.name}"
    else:
        where = f"MODEL_DIR={shlex.quote(shown(model_dir))}"
    return f"make monitor {where} LOG_FILE={shlex.quote(shown(log_file))} WINDOW_END=last"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="iris", help="folder name under models/")
    parser.add_argument("--model-dir", type=Path, default=None, help="explicit model folder (overrides --model)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "demo")
    parser.add_argument("--rows", type=int, default=400, help="rows per phase (held-out rows: at most their number)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.model_dir = (args.model_dir or REPO / "models" / args.model).resolve()
    if not (args.model_dir / "baseline.json").is_file():
        known = sorted(p.name for p in (REPO / "models").iterdir() if (p / "baseline.json").is_file())
        raise DemoError(f"no model at {args.model_dir} (models here: {', '.join(known)}); train one with python -m models.train")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    log_file = args.workdir / "predictions.jsonl"
    for name in ("predictions.jsonl", "alerts.jsonl", "alert_state.json", "confusion_matrix.png"):
        (args.workdir / name).unlink(missing_ok=True)
    try:
        baseline = load_model_artifact(args.model_dir).baseline
    except ModelArtifactError as error:
        raise DemoError(f"{error} {MODEL_FOLDER_HINT}") from None
    rng = random.Random(args.seed)
    source = real_rows(args.model_dir, baseline)
    drifted = drifted_feature(baseline, args.model_dir)
    drift_index = baseline.feature_names.index(drifted.name)
    min_rows = baseline.thresholds.min_rows
    failures: list[str] = []

    with local_api(args.model_dir, log_file) as port:
        print(f"local API on http://127.0.0.1:{port}, model {baseline.model_name} {baseline.model_version}")
        print(f"normal traffic: real rows from {source.source}")

        started = time.time()
        rows, requests = send(port, source.phase(args.rows, rng, min_rows), min_rows)
        print(f"\nphase 1: {rows} normal rows in {requests} requests")
        first = evaluate(args, started, "normal traffic")
        if first["status"] != "OK":
            failures.append(f"normal traffic judged {first['status']}: {first['alarms']}")

        started = time.time()
        shifted = source.phase(args.rows, rng, min_rows)
        for row in shifted:
            row[drift_index] = float(row[drift_index]) + DRIFT_STDS * drifted.std  # a location shift of real rows
        category = drifted_category(baseline)
        if category is not None:
            moved = shift_category(shifted, baseline.feature_names.index(category.name), category, rng)
            print(f"phase 2: {moved} rows now say {category.name}={category.categories[-1]!r} (its rarest listed category)")
        rows, requests = send(port, shifted, min_rows)
        bad = 0
        for body in BAD_BODIES * max(1, requests // len(BAD_BODIES)):
            status, _ = call(port, "POST", "/predict", body)
            bad += status >= 400
        print(
            f"\nphase 2: {rows} rows with {drifted.name} shifted by +{DRIFT_STDS} std (unlike training), {bad} malformed requests"
        )
        second = evaluate(args, started, "drift, outliers and bad requests", report=args.workdir / "drift_report.png")
        # Required: ALARM, the rejected requests, and the drifted feature named by at least one check. Which of its checks
        # (mean, distribution) and whether the outlier check fire depends on the window size and the detector.
        alarms = set(second["alarms"])
        named = {a for a in alarms if a.endswith(f":{drifted.name}")}
        if second["status"] != "ALARM" or "rejected_ratio" not in alarms or not named:
            failures.append(
                f"drift judged {second['status']} with alarms {sorted(alarms)}, "
                f"expected rejected_ratio and a check on {drifted.name}"
            )
        if category is not None and f"category_drift:{category.name}" not in alarms:
            failures.append(f"category drift judged with alarms {sorted(alarms)}, expected category_drift:{category.name}")
        if baseline.is_regression and not alarms & {"prediction_drift", "prediction_mean_shift"}:
            failures.append(f"a regression model's drift judged with alarms {sorted(alarms)}, expected an output-drift check")

        started = time.time()
        rows, requests = send(port, source.phase(args.rows, rng, min_rows), min_rows)
        print(f"\nphase 3: {rows} normal rows again")
        third = evaluate(args, started, "back to normal")
        recovered = {entry.split(":OK")[0] for entry in third["notified"] if entry.endswith(":OK")}
        if third["status"] != "OK" or not set(second["alarms"]) <= recovered:
            failures.append(f"recovery judged {third['status']}, recovered {sorted(recovered)}, alarms were {second['alarms']}")

        if baseline.is_regression:
            drifted_concept: list[str] | None = regression_concept_drift_phase(args, port, baseline, rng)
        else:
            drifted_concept = concept_drift_phase(args, port, baseline, rng)
        failures += drifted_concept or []

    records = [json.loads(line) for line in log_file.read_text().split("\n") if line]
    alerts = [json.loads(line) for line in (args.workdir / "alerts.jsonl").read_text().split("\n") if line]
    print(f"\n=== prediction log: {shown(log_file)} ===")
    kinds = {kind: sum(r["message"] == kind for r in records) for kind in ("prediction", "rejected", "feedback")}
    print(f"{kinds['prediction']} prediction records, {kinds['rejected']} rejected, {kinds['feedback']} feedback")
    print(json.dumps(next(r for r in records if r["message"] == "prediction")))
    print(json.dumps(next(r for r in records if r["message"] == "rejected")))
    print(f"\n=== alerts: {shown(args.workdir / 'alerts.jsonl')} ===")
    for alert in alerts:
        print(alert.get("subject", alert))
    print(f"\npicture of the drifted window: {shown(args.workdir / 'drift_report.png')}")
    if drifted_concept is not None and not baseline.is_regression:
        print(f"picture of the confusion matrix: {shown(args.workdir / 'confusion_matrix.png')}")
    print(f"judge this log again: {monitor_command(args.model_dir, log_file)}")
    if failures:
        print("\nDEMO FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    relabelled = "raised true values" if baseline.is_regression else "relabelled held-out rows"
    concept = "" if drifted_concept is None else f", {relabelled} -> monitor OK, quality ALARM (alert sent)"
    print(f"\ndemo OK: normal -> OK, drift -> ALARM (alert sent), normal -> recovery notice sent{concept}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (DemoError, ModelArtifactError) as error:  # a model folder that cannot be served: one line, no traceback
        print(f"local.demo: {error}", file=sys.stderr)
        raise SystemExit(2) from None
