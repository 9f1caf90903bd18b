"""`make monitor`: the prediction monitor over the local JSON-lines prediction log.

    python -m local.monitor --log-file .local/predictions.jsonl --model-dir models/iris \
        --window-end now --window-minutes 2 --alert-file .local/alerts.jsonl \
        --state-file .local/alert_state.json [--report .local/report.png]

Same specs, checks, alert decisions and texts as the Lambda; only the engine
differs: one DuckDB statement over the file instead of Logs Insights. Alerts go
to stdout and the alert file, or to SNS when ALERT_TOPIC_ARN is set (boto3 then
honours AWS_ENDPOINT_URL, e.g. moto or LocalStack); alert state goes to the
state file, or to DynamoDB when ALERT_STATE_TABLE is set.

`--window-end last` ends the window just after the newest record of the model in
the file, so replaying an old file judges its last minutes instead of an empty
"now" window. DuckDB and matplotlib are imported here only, never by the Lambda.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from functions.contract import names
from functions.contract.model_artifact import Baseline, ModelArtifactError, load_baseline
from functions.monitor.adapters import FilePublisher, JsonFileStateStore, Publisher, StateStore
from functions.monitor.aggregates import WINDOW_QUANTILE_LEVELS, WindowAggregates
from functions.monitor.checks import Evaluation
from functions.monitor.local_sql import columns, read_row, render_sql, sql_string
from functions.monitor.service import Monitor, RunResult


class LocalMonitorError(RuntimeError):
    """The local monitor could not read its inputs; nothing was judged."""


@dataclass
class DuckDbEngine:
    """Reads a window's aggregates from the JSON-lines file with one DuckDB statement."""

    baseline: Baseline
    path: Path
    connection: Any = None

    def __post_init__(self) -> None:
        import duckdb

        self._duckdb = duckdb
        if self.connection is None:
            self.connection = duckdb.connect()

    def _check_file(self) -> None:
        if not self.path.is_file():
            raise LocalMonitorError(f"prediction log {self.path} does not exist")

    def read(self, start_ms: int, end_ms: int) -> WindowAggregates:
        self._check_file()
        if self.path.stat().st_size == 0:
            values: dict[str, float | None] = {}
            class_counts: dict[str, int] = {}
        else:
            query = render_sql(self.baseline, str(self.path), start_ms, end_ms)
            try:
                row = self.connection.execute(query.sql).fetchone()
            except self._duckdb.Error as error:
                raise LocalMonitorError(f"cannot read {self.path}: {error}") from error
            values, class_counts = read_row(query, row)
        return WindowAggregates.from_values(self.baseline, values, class_counts, start_ms=start_ms, end_ms=end_ms)

    def last_timestamp(self) -> int | None:
        """Newest record of this model in the file (epoch ms), or None when there is none."""
        self._check_file()
        if self.path.stat().st_size == 0:
            return None
        types = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in columns(self.baseline).items())
        sql = (
            f"SELECT max(timestamp) FROM read_json({sql_string(str(self.path))}, format = 'newline_delimited', "
            f"columns = {{{types}}}) WHERE model = {sql_string(self.baseline.model_name)}"
        )
        try:
            row = self.connection.execute(sql).fetchone()
        except self._duckdb.Error as error:
            raise LocalMonitorError(f"cannot read {self.path}: {error}") from error
        return None if row is None or row[0] is None else int(row[0])


def parse_window_end(text: str, engine: DuckDbEngine, now: datetime) -> datetime:
    if text == "now":
        return now
    if text == "last":
        last = engine.last_timestamp()
        return now if last is None else datetime.fromtimestamp((last + 1) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise LocalMonitorError(f"--window-end {text!r}: expected ISO 8601, 'now' or 'last'") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def describe(result: RunResult, metrics: list[tuple[str, float, str]], out: IO[str]) -> None:
    """What was judged, in a form a person reads at the terminal."""
    e = result.evaluation
    w = e.window
    start = datetime.fromtimestamp(w.start_ms / 1000, tz=UTC).isoformat(timespec="seconds")
    end = datetime.fromtimestamp(w.end_ms / 1000, tz=UTC).isoformat(timespec="seconds")
    out.write(f"model {e.model} (version {e.model_version}), window {start} .. {end}\n")
    out.write(f"rows {w.rows}, requests {w.requests}, rejected {w.rejected}, outliers {w.outliers} -> {e.overall.value}\n")
    for c in e.checks:
        score = "" if c.score is None else f" score {c.score:.4f} vs threshold {c.threshold:g}"
        out.write(f"  {c.status.value:<10} {c.check:<32}{score}  {c.detail}\n")
    out.write("metrics: " + ", ".join(f"{name}={value:.4g}" for name, value, _ in metrics) + "\n")
    if result.notification is None:
        out.write("no state change: nothing notified\n")
    out.flush()


def write_report(path: Path, baseline: Baseline, evaluation: Evaluation) -> None:
    """PNG: each feature's window quantiles against the training quantiles, and the outlier ratio vs threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = baseline.n_features + 1
    cols = min(4, panels)
    rows = (panels + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    checks = {c.check: c for c in evaluation.checks}
    for ax, feature in zip(flat, baseline.features, strict=False):
        ax.plot(feature.quantiles, baseline.quantile_levels, color="0.4", label="training")
        window = evaluation.window.feature(feature.name)
        if window.quantiles is not None:
            ax.plot(window.quantiles, WINDOW_QUANTILE_LEVELS, "o-", color="tab:red", label=f"window (n={window.count})")
        check = checks.get(f"distribution:{feature.name}")
        status = check.status.value if check else "NOT_JUDGED"
        distance = f"KS {check.observed:.2f}" if check and check.observed is not None else "no data"
        ax.set_title(f"{feature.name}: {distance} [{status}]", fontsize=9)
        ax.set_ylabel("cumulative share", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    ax = flat[baseline.n_features]
    w = evaluation.window
    ratio = w.outliers / w.rows if w.rows else 0.0
    ax.bar(["training", "window"], [baseline.training_outlier_rate, ratio], color=["0.6", "tab:red"])
    ax.axhline(baseline.thresholds.outlier_ratio, color="black", linestyle="--", label="threshold")
    ax.set_title(f"outlier ratio (n={w.rows})", fontsize=9)
    ax.legend(fontsize=7)
    for extra in flat[panels:]:
        extra.axis("off")
    figure.suptitle(f"{baseline.model_name} {baseline.model_version}: {evaluation.overall.value}", fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _publisher(args: argparse.Namespace, out: IO[str]) -> Publisher:
    topic = os.environ.get(names.ENV_ALERT_TOPIC_ARN)
    if topic:
        import boto3

        from functions.monitor.adapters import SnsPublisher

        return SnsPublisher(boto3.client("sns"), topic)
    return FilePublisher(Path(args.alert_file), out)


def _state_store(args: argparse.Namespace) -> StateStore:
    table = os.environ.get(names.ENV_ALERT_STATE_TABLE)
    if table:
        import boto3

        from functions.monitor.adapters import DynamoStateStore

        return DynamoStateStore(boto3.client("dynamodb"), table)
    return JsonFileStateStore(Path(args.state_file))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.monitor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-file", default=".local/predictions.jsonl")
    parser.add_argument("--model-dir", default=f"models/{names.DEFAULT_MODEL}")
    parser.add_argument("--window-end", default="now", help="ISO 8601, 'now' or 'last' (just after the newest record)")
    parser.add_argument("--window-minutes", type=float, default=2, help="window length; fractions allowed (0.1 = 6 s)")
    parser.add_argument("--alert-file", default=".local/alerts.jsonl")
    parser.add_argument("--state-file", default=".local/alert_state.json")
    parser.add_argument("--report", default=None, help="write a PNG of the window against the baseline")
    parser.add_argument("--json", action="store_true", help="also print the evaluation summary as one JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    """Exit 0 when the window was judged (healthy, alarm or no traffic), 2 when it could not be read."""
    out = out or sys.stdout
    args = parse_args(argv)
    try:
        if not 0 < args.window_minutes <= 60:
            raise LocalMonitorError("--window-minutes must be above 0 and at most 60")
        baseline = load_baseline(Path(args.model_dir) / names.BASELINE_FILE)
        engine = DuckDbEngine(baseline, Path(args.log_file))
        window_end = parse_window_end(args.window_end, engine, datetime.now(tz=UTC))
        monitor = Monitor(
            baseline=baseline,
            source=engine,
            state_store=_state_store(args),
            publisher=_publisher(args, out),
            window_minutes=args.window_minutes,
            where="local",
        )
        metrics: list[tuple[str, float, str]] = []
        result = monitor.run(window_end, lambda name, value, unit: metrics.append((name, value, unit)), int(time.time() * 1000))
    except (LocalMonitorError, ModelArtifactError) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    describe(result, metrics, out)
    if args.json:
        out.write(json.dumps(result.summary()) + "\n")
    if args.report:
        write_report(Path(args.report), baseline, result.evaluation)
        out.write(f"report written to {args.report}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
