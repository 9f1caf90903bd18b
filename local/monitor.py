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

Output: the human report on stdout, or with `--json` one JSON object instead
(`--json PATH` writes it to PATH and keeps the human report). Lines that are
not JSON (a truncated last line, garbage) are skipped and counted.

Exit codes: 0 the window was read and judged (OK, ALARM, NO_TRAFFIC or
INSUFFICIENT_DATA; see "status"); 2 the inputs could not be read (log file,
model folder, arguments); 3 the alert state could not be read or written, or
another evaluation saved it first (nothing was sent); 4 the notification could
not be published (the state was restored, the next run sends it again).
Every failure prints one line on stderr: "monitor: <what> (exit N)".
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
from functions.monitor.adapters import FilePublisher, JsonFileStateStore, Publisher, StateStore, StateStoreError
from functions.monitor.aggregates import WindowAggregates, feature_cuts
from functions.monitor.alerts import iso, window_text
from functions.monitor.checks import Evaluation
from functions.monitor.local_sql import read_json_call, read_row, readable, render_sql, sql_string
from functions.monitor.service import Monitor, PublishError, RunResult

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_STATE = 3
EXIT_PUBLISH = 4


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
        values: dict[str, float | None] = {}
        groups: dict[str, dict[str, int]] = {}
        unreadable = total = 0
        if self.path.stat().st_size:
            query = render_sql(self.baseline, str(self.path), start_ms, end_ms)
            try:
                row = self.connection.execute(query.sql).fetchone()
            except self._duckdb.Error as error:
                raise LocalMonitorError(f"cannot read {self.path}: {error}") from error
            values, groups, unreadable, total = read_row(query, row)
        return WindowAggregates.from_values(
            self.baseline, values, groups, start_ms=start_ms, end_ms=end_ms, unreadable_lines=unreadable, total_lines=total
        )

    def last_timestamp(self) -> int | None:
        """Newest record of this model in the file (epoch ms), or None when there is none."""
        self._check_file()
        if self.path.stat().st_size == 0:
            return None
        sql = (
            f"SELECT max(timestamp) FROM {read_json_call(self.baseline, str(self.path))} "
            f"WHERE model = {sql_string(self.baseline.model_name)} AND {readable(self.baseline)}"
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
    """What was judged and what was done, in a form a person reads at the terminal."""
    e = result.evaluation
    w = e.window
    out.write(f"model {e.model} (version {e.model_version}), window {window_text(w.start_ms, w.end_ms)}\n")
    skipped = f", {w.unreadable_lines} unreadable line(s) skipped" if w.unreadable_lines else ""
    unchanged = " (unchanged: stale window, below)" if result.decision is not None and result.decision.stale else ""
    out.write(
        f"rows {w.rows}, requests {w.requests}, rejected {w.rejected}, failed {w.failed}, outliers {w.outliers}{skipped}\n"
        f"window verdict {e.overall.value}; alert state {result.status}{unchanged}\n"
    )
    for c in e.checks:
        because = c.condition or c.detail
        out.write(f"  {c.status.value:<17} {c.check:<34} because {because}\n")
    out.write("metrics: " + ", ".join(f"{name}={value:.4g}" for name, value, _ in metrics) + "\n")
    decision = result.decision
    if decision is None:
        out.write("nothing judged: alert state left unchanged, nothing notified\n")
    elif decision.stale:
        last = decision.state.last_window_end_ms
        out.write(
            f"stale window: it ends at {iso(w.end_ms)}, not after the last window this alert state judged"
            f"{f' ({iso(last)})' if last is not None else ''}. Its verdict is above; the alert state only moves forward"
            " (so no message is sent twice or out of order), so it is left as it was and nothing is notified."
            " To judge a log again as a fresh history: --state-file <new file> (make monitor STATE_FILE=.local/replay.json)\n"
        )
    else:
        if result.notification is not None:
            names_ = ", ".join(f"{t.check.check} -> {t.current}" for t in result.notification.transitions)
            out.write(f"published to {result.published_to}: {names_}\n")
        else:
            out.write("no state change to notify\n")
        if decision.held:
            out.write(f"held by the notification limit (sent with the next message allowed): {', '.join(decision.held)}\n")
        out.write(f"state saved to {result.saved_to} (version {decision.state.version})\n")
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
    for index, (ax, feature) in enumerate(zip(flat, baseline.features, strict=False)):
        cuts, shares = feature_cuts(baseline, index)
        ax.step(cuts, shares, where="post", color="0.4", label="training")
        window = evaluation.window.feature(feature.name)
        if window.below is not None and window.count:
            ax.step(cuts, [b / window.count for b in window.below], "o-", where="post", color="tab:red",
                    label=f"window (n={window.count})")  # fmt: skip
        check = checks.get(f"distribution:{feature.name}")
        status = check.status.value if check else "NOT_JUDGED"
        distance = f"distance {check.observed:.2f}" if check and check.observed is not None else "no data"
        ax.set_title(f"{feature.name}: {distance} [{status}]", fontsize=9)
        ax.set_ylabel("share below", fontsize=8)
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


def _publisher(args: argparse.Namespace, out: IO[str] | None) -> Publisher:
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
    parser = argparse.ArgumentParser(
        prog="python -m local.monitor",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 judged (see status), 2 inputs unreadable, 3 alert state error or conflict, 4 publish failed.",
    )
    parser.add_argument("--log-file", default=".local/predictions.jsonl")
    parser.add_argument("--model-dir", default=f"models/{names.DEFAULT_MODEL}")
    parser.add_argument("--window-end", default="now", help="ISO 8601, 'now' or 'last' (just after the newest record)")
    parser.add_argument("--window-minutes", type=float, default=2, help="window length; fractions allowed (0.1 = 6 s)")
    parser.add_argument("--alert-file", default=".local/alerts.jsonl")
    parser.add_argument("--state-file", default=".local/alert_state.json")
    parser.add_argument("--report", default=None, help="write a PNG of the window against the baseline")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="PATH",
        help="print the evaluation summary as one JSON object instead of the report, or write it to PATH",
    )  # fmt: skip
    return parser.parse_args(argv)


def _fail(message: str, code: int) -> int:
    print(f"monitor: {message} (exit {code})".replace("\n", " "), file=sys.stderr)
    return code


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    """Exit codes in the module docstring: 0 judged, 2 inputs, 3 alert state, 4 publish."""
    out = out or sys.stdout
    args = parse_args(argv)
    json_only = args.json == "-"
    human: IO[str] | None = None if json_only else out
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
            publisher=_publisher(args, human),
            window_minutes=args.window_minutes,
            where="local",
        )
        metrics: list[tuple[str, float, str]] = []
        result = monitor.run(window_end, lambda name, value, unit: metrics.append((name, value, unit)), int(time.time() * 1000))
    except (LocalMonitorError, ModelArtifactError) as error:
        return _fail(str(error), EXIT_INPUT)
    except StateStoreError as error:
        return _fail(f"alert state: {error}", EXIT_STATE)
    except PublishError as error:
        return _fail(str(error), EXIT_PUBLISH)
    except Exception as error:  # boto3 / botocore: credentials, endpoint, permissions
        if type(error).__module__.startswith(("botocore", "boto3")):
            return _fail(f"AWS: {type(error).__name__}: {error}", EXIT_STATE)
        raise
    summary = json.dumps(result.summary())
    if human is not None:
        describe(result, metrics, human)
    if json_only:
        out.write(summary + "\n")
    elif args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(summary + "\n", encoding="utf-8")
        out.write(f"summary written to {args.json}\n")
    if args.report:
        write_report(Path(args.report), baseline, result.evaluation)
        if human is not None:
            out.write(f"report written to {args.report}\n")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
