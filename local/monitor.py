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
from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline, ModelArtifactError, load_baseline
from functions.monitor.adapters import FilePublisher, JsonFileStateStore, Publisher, StateStore, StateStoreError
from functions.monitor.aggregates import WindowAggregates, feature_cuts
from functions.monitor.alerts import iso, window_text
from functions.monitor.checks import Evaluation
from functions.monitor.local_sql import read_json_call, read_row, readable, render_sql, sql_string
from functions.monitor.minute_store import JsonFileMinuteStore
from functions.monitor.minutes import MINUTE_MS, floor_minute
from functions.monitor.service import Monitor, PublishError, RunResult
from functions.monitor.timeline import RECHECK_MINUTES, MinuteMonitor, MinuteRunResult, TimeSettings, parse_horizons

DEFAULT_SETTLE_MINUTES = 2
FUTURE_TOLERANCE_MS = 60_000  # records stamped more than this ahead of the clock are in the future
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

    def read_minutes(self, starts: list[int]) -> dict[int, WindowAggregates]:
        """Many minutes in one scan (GROUP BY minute): minutes with no line come back as empty windows."""
        self._check_file()
        out = {
            start: WindowAggregates.from_values(self.baseline, {}, {}, start_ms=start, end_ms=start + MINUTE_MS)
            for start in starts
        }
        if not starts or self.path.stat().st_size == 0:
            return out
        query = render_sql(self.baseline, str(self.path), min(starts), max(starts) + MINUTE_MS, by_minute=True)
        for row in self._query(query.sql):
            start = int(row[0])
            if start in out:
                values, groups, _unreadable, total = read_row(query, row[1:])  # grouped rows have a timestamp: never unreadable
                out[start] = WindowAggregates.from_values(
                    self.baseline, values, groups, start_ms=start, end_ms=start + MINUTE_MS, total_lines=total
                )
        return out

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        self._check_file()
        if self.path.stat().st_size == 0:
            return []
        try:
            return list(self.connection.execute(sql).fetchall())
        except self._duckdb.Error as error:
            raise LocalMonitorError(f"cannot read {self.path}: {error}") from error

    def _predictions(self) -> str:
        probes = ", ".join(sql_string(e) for e in log.SAMPLE_ENDPOINTS)
        return (
            f"FROM {read_json_call(self.baseline, str(self.path))} WHERE model = {sql_string(self.baseline.model_name)} "
            f"AND message = {sql_string(log.MESSAGE_PREDICTION)} AND endpoint NOT IN ({probes})"
        )

    def last_timestamp(self, before_ms: int | None = None) -> int | None:
        """Newest record of this model in the file (epoch ms) stamped before `before_ms`, or None when there is none."""
        bound = "" if before_ms is None else f" AND timestamp < {int(before_ms)}"
        rows = self._query(
            f"SELECT max(timestamp) FROM {read_json_call(self.baseline, str(self.path))} "
            f"WHERE model = {sql_string(self.baseline.model_name)} AND {readable(self.baseline)}{bound}"
        )
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def rows_per_minute(self, start_ms: int, end_ms: int) -> dict[int, int]:
        """The local stand-in for the inference function's Predictions metric: prediction rows per minute."""
        rows = self._query(
            f"SELECT timestamp - timestamp % 60000 AS minute, count(*) {self._predictions()} "
            f"AND timestamp >= {int(start_ms)} AND timestamp < {int(end_ms)} GROUP BY 1"
        )
        return {int(minute): int(n) for minute, n in rows}

    def future_rows(self, after_ms: int) -> int:
        rows = self._query(f"SELECT count(*) {self._predictions()} AND timestamp >= {int(after_ms)}")
        return int(rows[0][0]) if rows else 0


def parse_window_end(text: str, engine: DuckDbEngine, now: datetime) -> datetime:
    if text == "now":
        return now
    if text == "last":  # the newest record not stamped in the future: a forged time cannot hide the real window
        last = engine.last_timestamp(before_ms=int(now.timestamp() * 1000) + FUTURE_TOLERANCE_MS)
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


def describe_minutes(result: MinuteRunResult, out: IO[str]) -> None:
    """Minute mode: each horizon's window, the time checks, what was read and what was done."""
    out.write(f"minute mode: windows ending {iso(result.end_ms)}; read {result.minutes_read} new minute(s), "
              f"re-read {result.minutes_reread} that grew\n")  # fmt: skip
    for j in result.judged:
        w = j.evaluation.window
        alarms = ", ".join(c.check for c in j.evaluation.alarms) or "-"
        out.write(f"  {j.horizon:>5} min: {w.rows:>8} rows  {j.evaluation.overall.value:<17} window alarms: {alarms}\n")
    for c in result.extra:
        out.write(f"  {c.status.value:<17} {c.check:<12} {c.detail}\n")
    counted = "n/a" if result.rows_counted is None else str(result.rows_counted)
    in_alarm = result.decision.state.in_alarm() if result.decision else []
    out.write(
        f"last hour: rows seen {result.rows_seen}, counted by the service {counted}, late records {result.late_records}, "
        f"future records {result.future_records}\nwindows {result.window_status}; alert state {result.status}"
        + (f" ({', '.join(in_alarm)})" if in_alarm else "")
        + "\n"
    )
    if result.notification is not None:
        out.write(f"published to {result.published_to}: {', '.join(result.summary()['notified'])}\n")
    out.flush()


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
    parser.add_argument(
        "--horizons", default=None, metavar="MINUTES",
        help="minute mode: judge windows of these lengths (e.g. 2,15,60,1440) from stored minute aggregates",
    )  # fmt: skip
    parser.add_argument("--minute-file", default=None, help="minute mode: the minute store (default: beside the log)")
    parser.add_argument("--settle-minutes", type=int, default=DEFAULT_SETTLE_MINUTES, help="minute mode: settle lag")
    parser.add_argument("--no-traffic-minutes", type=int, default=15, help="minute mode: quiet minutes that notify")
    parser.add_argument("--report", default=None, help="write a PNG of the window against the baseline")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="PATH",
        help="print the evaluation summary as one JSON object instead of the report, or write it to PATH",
    )  # fmt: skip
    return parser.parse_args(argv)


def _fail(message: str, code: int) -> int:
    print(f"monitor: {message} (exit {code})".replace("\n", " "), file=sys.stderr)
    return code


def run_minutes(
    args: argparse.Namespace, baseline: Baseline, engine: DuckDbEngine, out: IO[str], human: IO[str] | None, json_only: bool
) -> int:
    """Minute mode: the Lambda's run over the local file, minutes stored beside the log."""
    try:
        horizons = parse_horizons(args.horizons)
    except ValueError as error:
        raise LocalMonitorError(str(error)) from error
    now = datetime.now(tz=UTC)
    end_ms: int | None = None
    if args.window_end == "last":
        last = engine.last_timestamp(before_ms=int(now.timestamp() * 1000) + FUTURE_TOLERANCE_MS)
        end_ms = None if last is None else floor_minute(last) + MINUTE_MS
    elif args.window_end != "now":
        now = parse_window_end(args.window_end, engine, now)
    monitor = MinuteMonitor(
        baseline=baseline,
        source=engine,
        counter=engine,
        minute_store=JsonFileMinuteStore(Path(args.minute_file or f"{args.log_file}.minutes.json")),
        state_store=_state_store(args),
        publisher=_publisher(args, human),
        where="local",
        settings=TimeSettings(
            horizons=horizons,
            settle_minutes=args.settle_minutes,
            no_traffic_minutes=args.no_traffic_minutes,
            max_reads_per_run=RECHECK_MINUTES,  # one DuckDB scan reads them all
        ),
    )
    result = monitor.run(int(now.timestamp() * 1000), lambda *_: None, end_ms=end_ms)
    summary = json.dumps(result.summary())
    if human is not None:
        describe_minutes(result, human)
    if json_only:
        out.write(summary + "\n")
    elif args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(summary + "\n", encoding="utf-8")
    return EXIT_OK


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
        if args.horizons:
            return run_minutes(args, baseline, engine, out, human, json_only)
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
