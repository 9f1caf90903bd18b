"""Realized model quality over the local JSON-lines log: the quality function's use case with DuckDB.

    python -m local.quality --log-file .local/predictions.jsonl --model-dir models/iris
    python -m local.quality --log-file .local/predictions.jsonl --model-dir models/iris --training-set labelled.csv

The first prints the report (confusion matrix as text; `--picture PATH` also draws it as a PNG) and sends state
changes to the local alert file (or to SNS/DynamoDB when ALERT_TOPIC_ARN / ALERT_STATE_TABLE are set, like
local.monitor). The second exports the labelled rows (features, then `label`) as a CSV that
`python -m models.train --csv FILE --target label` accepts.
Exit 0 when the log was judged (any state), 2 when it could not be read.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from functions.contract import names
from functions.contract.model_artifact import FEATURE_CATEGORICAL, Baseline, ModelArtifactError, load_baseline
from functions.contract.prediction_log import LAST_TIMESTAMP_MS
from functions.quality import sql
from functions.quality.alerting import CheckStateStore, FilePublisher, JsonFileCheckStore, Publisher
from functions.quality.local_engine import DuckDbRunner
from functions.quality.report import QualityEvaluation, report_text
from functions.quality.service import DAY_MS, QualityJob, QualityRunResult

HOLDOUT_LABEL_COLUMN = "label"
ATHENA_PARAMETER_HINT = (
    "model, first day, last day (yyyy-mm-dd), start ms, end ms; the same five again for the feedback table. "
    "Replace __predictions__ and __feedback__ by your Glue tables."
)


class LocalQualityError(RuntimeError):
    """The local log cannot be evaluated; the message says why."""


class DuckDbSource:
    def __init__(self, runner: DuckDbRunner, regression: bool = False) -> None:
        self.runner = runner
        self.sql = sql.QUALITY_REGRESSION_SQL if regression else sql.QUALITY_SQL

    def read(self, model: str, start_ms: int, end_ms: int) -> list[dict[str, object]]:
        return self.runner.run(self.sql, sql.parameters(model, start_ms, end_ms))

    def unreadable_lines(self, start_ms: int, end_ms: int) -> int:
        return self.runner.unreadable_lines()  # the whole file, as the local monitor counts them


def newest_timestamp_ms(path: Path) -> int | None:
    """The newest record's timestamp: '--end last' replays an old log."""
    import duckdb

    connection = duckdb.connect()
    try:
        row = connection.execute(
            f"SELECT max(timestamp) FROM read_json('{str(path).replace(chr(39), chr(39) * 2)}', format = 'newline_delimited', "
            "ignore_errors = true, columns = {'timestamp': 'BIGINT'}) "
            f"WHERE timestamp BETWEEN 0 AND {LAST_TIMESTAMP_MS}"
        ).fetchone()
    finally:
        connection.close()
    return None if row is None or row[0] is None else int(row[0])


def parse_end(value: str, path: Path, now: datetime) -> datetime:
    if value == "now":
        return now
    if value == "last":
        newest = newest_timestamp_ms(path)
        return now if newest is None else datetime.fromtimestamp((newest + 1) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise LocalQualityError(f"--end {value!r}: expected ISO 8601, 'now' or 'last'") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _publisher(args: argparse.Namespace, out: IO[str]) -> Publisher:
    topic = os.environ.get(names.ENV_ALERT_TOPIC_ARN)
    if topic:
        import boto3

        from functions.quality.alerting import SnsPublisher

        return SnsPublisher(boto3.client("sns"), topic)
    return FilePublisher(Path(args.alert_file), out)


def _state_store(args: argparse.Namespace) -> CheckStateStore:
    table = os.environ.get(names.ENV_ALERT_STATE_TABLE)
    if table:
        import boto3

        from functions.quality.alerting import DynamoCheckStore

        return DynamoCheckStore(boto3.client("dynamodb"), table)
    return JsonFileCheckStore(Path(args.state_file))


def csv_value(value: str | float, kind: str) -> str:
    """A feature value as the CSV loader reads it back: a number's shortest exact text, a category's own text."""
    return str(value) if kind == FEATURE_CATEGORICAL else repr(float(value))


def retrain_categorical_option(baseline: Baseline) -> str:
    """`--categorical` naming every category column: the loader would read one whose values look like numbers as
    numbers."""
    names = [feature.name for feature in baseline.categorical]
    return f"--categorical {','.join(names)} " if names else ""


def export_training_set(baseline: Baseline, runner: DuckDbRunner, start_ms: int, end_ms: int, path: Path) -> int:
    """Labelled rows as CSV: feature keys in input order, then `label` (the same header as holdout.csv).

    Categories stay strings (the loader makes a string column categorical); numbers are written exactly."""
    rows = runner.run(sql.training_set_sql(baseline.feature_names), sql.parameters(baseline.model_name, start_ms, end_ms))
    columns = list(zip(baseline.feature_names, baseline.feature_types, strict=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*baseline.feature_names, HOLDOUT_LABEL_COLUMN])
        written = 0
        for row in rows:
            values = [row[name] for name, _ in columns]
            if any(v is None or v == "" for v in values) or row[HOLDOUT_LABEL_COLUMN] is None:
                continue  # a line whose features the log did not carry cannot train anything
            writer.writerow(
                [*(csv_value(v, kind) for v, (_, kind) in zip(values, columns, strict=True)), row[HOLDOUT_LABEL_COLUMN]]
            )
            written += 1
    return written


def write_confusion_picture(path: Path, evaluation: QualityEvaluation) -> bool:
    """PNG of the judged version's confusion matrix with its per-class recall; False when nothing is labelled."""
    current = evaluation.current
    if current is None or not current.labelled_rows or not current.labels:  # a regression model has no confusion matrix
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.5, 1.1 * len(current.labels) + 2.5)
    figure, ax = plt.subplots(figsize=(size + 1, size))
    ConfusionMatrixDisplay(np.array(current.confusion), display_labels=list(current.labels)).plot(
        ax=ax, cmap="Blues", colorbar=False
    )
    recalls = [current.recall(i) for i in range(len(current.labels))]
    ax.set_yticks(
        range(len(current.labels)),
        [f"{label}\nrecall {'n/a' if r is None else f'{r:.0%}'}" for label, r in zip(current.labels, recalls, strict=True)],
        fontsize=8,
    )
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label (feedback)")
    alarms = ", ".join(c.check for c in evaluation.alarms) or "none"
    accuracy = "n/a" if current.accuracy is None else f"{current.accuracy:.1%}"
    ax.set_title(
        f"{evaluation.model} {evaluation.model_version}: {evaluation.state.value}\n"
        f"accuracy {accuracy} on {current.labelled_rows} labelled rows; alarms: {alarms}",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def describe(result: QualityRunResult, metrics: list[tuple[str, float, str]], out: IO[str]) -> None:
    out.write(report_text(result.evaluation) + "\n")
    if result.unreadable_lines:
        out.write(f"{result.unreadable_lines} unreadable line(s) skipped (not JSON, or a timestamp out of range)\n")
    out.write("Metrics: " + ", ".join(f"{name}={value:.4g}" for name, value, _ in metrics) + "\n")
    if result.notification is None:
        out.write("No state change: nothing sent.\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-file", default=".local/predictions.jsonl")
    parser.add_argument("--model-dir", default=f"models/{names.DEFAULT_MODEL}")
    parser.add_argument("--end", default="now", help="end of the lookback: ISO 8601, 'now' or 'last' (after the newest record)")
    parser.add_argument("--lookback-days", type=float, default=7)
    parser.add_argument(
        "--min-labelled", type=int, default=None, help="labelled rows needed to judge (default: baseline min_rows)"
    )
    parser.add_argument("--alert-file", default=".local/alerts.jsonl")
    parser.add_argument("--state-file", default=".local/alert_state.json")
    parser.add_argument("--training-set", default=None, help="export the labelled rows to this CSV instead of judging")
    parser.add_argument(
        "--athena-training-set-sql", action="store_true", help="print the Athena text of the training-set export and exit"
    )
    parser.add_argument("--json", action="store_true", help="print the run summary as one JSON line instead of the report")
    parser.add_argument("--summary-file", default=None, help="also write the run summary (JSON) to this file")
    parser.add_argument("--picture", default=None, help="also draw the confusion matrix of the judged version as a PNG")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    args = parse_args(argv)
    try:
        if not 0 < args.lookback_days <= 90:
            raise LocalQualityError("--lookback-days must be above 0 and at most 90")
        baseline = load_baseline(Path(args.model_dir) / names.BASELINE_FILE)
        if args.athena_training_set_sql:
            text = sql.transpile(sql.training_set_sql(baseline.feature_names), "athena")
            out.write(f"-- parameters, in order: {ATHENA_PARAMETER_HINT}\n{text}")
            return 0
        log_path = Path(args.log_file)
        if not log_path.is_file():
            raise LocalQualityError(f"prediction log {log_path} does not exist (start `make serve`, or run `make demo`)")
        runner = DuckDbRunner.for_model(log_path, baseline)
        end = parse_end(args.end, log_path, datetime.now(tz=UTC))
        end_ms = int(end.timestamp() * 1000)
        start_ms = end_ms - round(args.lookback_days * DAY_MS)
        if args.training_set:
            written = export_training_set(baseline, runner, start_ms, end_ms, Path(args.training_set))
            out.write(
                f"{written} labelled rows written to {args.training_set}; retrain into a new folder with: python -m models.train "
                f"--csv {args.training_set} --target {HOLDOUT_LABEL_COLUMN} --name {baseline.model_name} "
                + ("--task regression " if baseline.is_regression else "")
                + retrain_categorical_option(baseline)
                + f"--out .local/{baseline.model_name}-retrained (then MODEL_DIR=.local/{baseline.model_name}-retrained)\n"
            )
            return 0
        job = QualityJob(
            baseline=baseline,
            source=DuckDbSource(runner, baseline.is_regression),
            state_store=_state_store(args),
            publisher=_publisher(args, out),
            lookback_days=args.lookback_days,
            where="local",
            min_labelled=args.min_labelled,
        )
        metrics: list[tuple[str, float, str]] = []
        result = job.run(end, lambda name, value, unit: metrics.append((name, value, unit)), int(time.time() * 1000))
    except (LocalQualityError, ModelArtifactError, FileNotFoundError) as error:
        print(f"quality: {error}", file=sys.stderr)
        return 2
    if args.json:
        out.write(json.dumps(result.summary()) + "\n")
    else:
        describe(result, metrics, out)
    if args.summary_file:
        Path(args.summary_file).write_text(json.dumps(result.summary()) + "\n", encoding="utf-8")
    if args.picture:
        drawn = write_confusion_picture(Path(args.picture), result.evaluation)
        if not args.json:
            out.write(f"confusion matrix drawn to {args.picture}\n" if drawn else "no labelled rows: no confusion matrix drawn\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
