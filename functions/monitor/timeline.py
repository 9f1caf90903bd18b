"""The monitor in minute mode: read each settled minute once, re-read minutes that grew, judge every horizon.

One run at time `now`:
1. the minutes before `now - settle` are settled; each settled minute of the last `RECHECK_MINUTES` not yet
   stored is read once (the engine's one aggregate definition, one minute wide) and stored as sums;
2. a stored minute whose row count is below the inference function's count for it (the `Predictions`
   metric on AWS, a count over the file locally) is read again and stored with the difference as late
   rows: records that land after their minute was judged are judged on the next run;
3. each completed hour of the recheck span is rolled up into one item, so a day's window reads 23 hours
   and two edges of minutes instead of 1,440 items;
4. every horizon's window ending at the newest settled minute is summed and judged (`horizons.judge`), with
   two deterministic checks: `no_traffic` (no rows for `no_traffic_minutes` after traffic in most minutes of
   the hour before) and `clock_skew` (records stamped in the future, or landing late, above a share);
5. alert state and notifications as in `service.Monitor` (conditional write first, state restored if the
   publish fails).
Dependencies come in as arguments: the same run serves the Lambda and `local/monitor.py`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from functions.contract.model_artifact import Baseline

from .adapters import Publisher, StateStore, StateStoreError
from .aggregates import WindowAggregates
from .alerts import AlertState, Decision, Notification
from .checks import CheckResult, Overall, Status
from .horizons import CHECK_CLOCK, CHECK_NO_TRAFFIC, Judged, build_horizon_notification, decide_horizons, judge, overall
from .minute_store import KIND_HOUR, KIND_MINUTE, MinuteStore, Stored, series_name
from .minutes import HOUR_MS, MINUTE_MS, Minutes, floor_minute, from_window, layout_key, minute_layout, to_window, total
from .service import MetricSink, PublishError, metric_points

RECHECK_MINUTES = 60  # late records are re-read this far back (the longest delay a re-judged minute absorbs)
STEADY_SHARE = 0.9  # "steady traffic": rows in at least this share of the hour's minutes before the quiet spell


class MinuteSource(Protocol):
    def read(self, start_ms: int, end_ms: int) -> WindowAggregates: ...


class RowCounter(Protocol):
    def rows_per_minute(self, start_ms: int, end_ms: int) -> dict[int, int]:
        """Prediction rows per minute start in [start_ms, end_ms), as the inference function counted them."""
        ...

    def future_rows(self, after_ms: int) -> int:
        """Records stamped after `after_ms` (a clock ahead, or a forged time)."""
        ...


@dataclass(frozen=True)
class TimeSettings:
    horizons: tuple[int, ...] = (2, 15, 60, 1440)
    settle_minutes: int = 2
    no_traffic_minutes: int = 15
    clock_skew_share: float = 0.01  # future records / rows of the last hour above this: data-quality ALARM
    late_share: float = 0.5  # late rows / rows of the last hour above this: the settle lag is too short
    max_reads_per_run: int = 6  # minute reads (each a few Logs Insights queries) per run
    read_budget_seconds: float = 20.0  # no new minute read starts after this (the function times out at 50 s)


@dataclass(frozen=True)
class MinuteRunResult:
    end_ms: int
    judged: tuple[Judged, ...]
    decision: Decision | None
    notification: Notification | None
    minutes_read: int
    minutes_reread: int
    late_records: int  # rows that landed after their minute was first read, over the recheck span
    future_records: int
    rows_seen: int  # rows in the stored minutes of the recheck span
    rows_counted: int | None  # the inference function's count for the same minutes (None: no counter)
    extra: tuple[CheckResult, ...] = ()
    published_to: str | None = None
    saved_to: str | None = None

    @property
    def status(self) -> str:
        """The alert state (ALARM / OK) once anything was judged; else NO_TRAFFIC / INSUFFICIENT_DATA."""
        if self.decision is None:
            return overall(self.judged).value
        return "ALARM" if self.decision.state.in_alarm() else "OK"

    @property
    def window_status(self) -> str:
        """The windows' own verdict: ALARM when any horizon's window alarms, even before the alert state follows."""
        return overall(self.judged).value

    def summary(self) -> dict[str, Any]:
        transitions = self.notification.transitions if self.notification else ()
        return {
            "mode": "minutes",
            "window_end_ms": self.end_ms,
            "status": self.status,
            "window_status": self.window_status,
            "alarms": self.decision.state.in_alarm() if self.decision else [],
            "horizons": [
                {
                    "minutes": j.horizon,
                    "rows": j.evaluation.window.rows,
                    "status": j.evaluation.overall.value,
                    "window_alarms": [c.check for c in j.evaluation.alarms],
                }
                for j in self.judged
            ],
            "extra_checks": {c.check: c.status.value for c in self.extra},
            "notified": [f"{t.check.check}:{t.current}" for t in transitions],
            "held": list(self.decision.held) if self.decision else [],
            "minutes_read": self.minutes_read,
            "minutes_reread": self.minutes_reread,
            "late_records": self.late_records,
            "future_records": self.future_records,
            "rows_seen": self.rows_seen,
            "rows_counted": self.rows_counted,
            "published_to": self.published_to,
            "state_saved_to": self.saved_to,
        }


def no_traffic_check(minutes: Mapping[int, Stored], end_ms: int, quiet_minutes: int) -> CheckResult:
    """ALARM when the last `quiet_minutes` minutes have no rows after rows in most minutes of the stretch before."""
    hint = "The service stopped being called: check the callers, the API's 4xx/5xx and the inference function's errors."

    def rows(start: int) -> int | None:
        stored = minutes.get(start)
        return None if stored is None else stored.minutes.rows

    quiet = [rows(end_ms - (i + 1) * MINUTE_MS) for i in range(quiet_minutes)]
    span = max(RECHECK_MINUTES - quiet_minutes, 15)  # the stretch before the quiet minutes, inside the recheck span
    before = [rows(end_ms - (quiet_minutes + i + 1) * MINUTE_MS) for i in range(span)]
    known_before = [r for r in before if r is not None]
    busy = sum(1 for r in known_before if r) / span
    if any(r is None for r in quiet) or len(known_before) < span * STEADY_SHARE:
        return CheckResult(
            CHECK_NO_TRAFFIC, Status.NOT_JUDGED, None, None, quiet_minutes, None, None, "minutes not read yet", hint
        )
    silent = all(r == 0 for r in quiet)
    status = Status.ALARM if silent and busy >= STEADY_SHARE else Status.OK
    detail = (
        f"no rows for {quiet_minutes} min after rows in {busy:.0%} of the {span} min before"
        if status is Status.ALARM
        else f"rows in the last {quiet_minutes} min, or traffic was not steady before (rows in {busy:.0%} of {span} min)"
    )
    return CheckResult(CHECK_NO_TRAFFIC, status, float(silent), busy, quiet_minutes, None, None, detail, hint,
                       condition=detail)  # fmt: skip


def clock_check(future: int, late: int, rows: int, settings: TimeSettings) -> CheckResult:
    hint = (
        "Records stamped ahead of the monitor's clock, or landing long after their minute: check the clients' or the "
        "functions' clocks and the log delivery delay (raise the settle lag if records keep landing late)."
    )
    if rows == 0 and future == 0:
        return CheckResult(CHECK_CLOCK, Status.NOT_JUDGED, None, None, settings.clock_skew_share, None, None, "no rows", hint)
    future_share = future / max(rows + future, 1)
    late_share = late / max(rows, 1)
    bad = future_share > settings.clock_skew_share or late_share > settings.late_share
    detail = (
        f"{future} record(s) stamped in the future ({future_share:.1%}), {late} of {rows} rows landed late "
        f"({late_share:.1%}); alarm above {settings.clock_skew_share:.0%} future or {settings.late_share:.0%} late"
    )
    return CheckResult(CHECK_CLOCK, Status.ALARM if bad else Status.OK, future_share, 0.0, settings.clock_skew_share, None,
                       None, detail, hint, condition=detail)  # fmt: skip


@dataclass
class MinuteMonitor:
    baseline: Baseline
    source: MinuteSource
    counter: RowCounter | None
    minute_store: MinuteStore
    state_store: StateStore
    publisher: Publisher
    where: str
    settings: TimeSettings = field(default_factory=TimeSettings)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        layout = layout_key(self.baseline)
        self._minutes = series_name(self.baseline.model_name, layout, KIND_MINUTE)
        self._hours = series_name(self.baseline.model_name, layout, KIND_HOUR)
        self._size = len(minute_layout(self.baseline))

    def settled_end(self, now_ms: int) -> int:
        return floor_minute(now_ms) - self.settings.settle_minutes * MINUTE_MS

    def _refresh(self, end_ms: int, now_ms: int) -> tuple[dict[int, Stored], int, int, int | None]:
        """Read new minutes once and grown minutes again; roll up completed hours. Returns the recent minutes."""
        span_start = end_ms - RECHECK_MINUTES * MINUTE_MS
        recent = self.minute_store.load(self._minutes, span_start - HOUR_MS, end_ms)
        recent = {k: v for k, v in recent.items() if len(v.minutes.values) == self._size}
        counts = self.counter.rows_per_minute(span_start, end_ms) if self.counter else None
        wanted: list[int] = []
        for start in range(end_ms - MINUTE_MS, span_start - 1, -MINUTE_MS):  # newest first
            if len(wanted) >= self.settings.max_reads_per_run:
                break  # the rest waits for the next runs: a long outage catches up without timing out
            old = recent.get(start)
            if old is None or (counts is not None and counts.get(start, 0) > old.minutes.rows):
                wanted.append(start)
        batch = getattr(self.source, "read_minutes", None)
        if batch:
            fresh_windows = batch(wanted)
        else:  # one minute at a time (Logs Insights), within the run's time budget: the rest waits for the next run
            fresh_windows = {}
            began = self.clock()
            for start in wanted:
                if fresh_windows and self.clock() - began > self.settings.read_budget_seconds:
                    break
                fresh_windows[start] = self.source.read(start, start + MINUTE_MS)
        read = reread = 0
        touched: set[int] = set()
        for start in [s for s in wanted if s in fresh_windows]:
            old = recent.get(start)
            fresh = from_window(self.baseline, fresh_windows[start])
            if old is None:
                read += 1
                item = Stored(fresh, 0)
            else:
                if fresh.rows == old.minutes.rows:
                    continue  # the counter is ahead of the log (metrics land first): read again next run
                reread += 1
                item = Stored(fresh, old.late + max(fresh.rows - old.minutes.rows, 0))
            self.minute_store.save(self._minutes, item, now_ms)
            recent[start] = item
            touched.add(start - start % HOUR_MS)
        for hour in sorted(touched):
            if hour + HOUR_MS <= end_ms and all(hour + i * MINUTE_MS in recent for i in range(60)):
                parts = [recent[hour + i * MINUTE_MS] for i in range(60)]
                rolled = total(self.baseline, [p.minutes for p in parts], hour, hour + HOUR_MS)
                self.minute_store.save(self._hours, Stored(rolled, sum(p.late for p in parts)), now_ms)
        counted = None if counts is None else sum(counts.get(s, 0) for s in range(span_start, end_ms, MINUTE_MS))
        return recent, read, reread, counted

    def _window(self, recent: Mapping[int, Stored], start_ms: int, end_ms: int) -> WindowAggregates:
        """Sum of stored minutes in [start, end): whole hours from roll-ups where the recent minutes do not reach,
        minute items only for the edge before the first whole hour and for hours without a roll-up."""
        oldest_recent = min(recent) if recent else end_ms
        parts: list[Minutes] = [v.minutes for k, v in recent.items() if max(start_ms, oldest_recent) <= k < end_ms]
        if start_ms < oldest_recent:
            first_hour = min(-(-start_ms // HOUR_MS) * HOUR_MS, oldest_recent)
            last_hour = max(oldest_recent - oldest_recent % HOUR_MS, first_hour)
            hours = {k: v for k, v in self.minute_store.load(self._hours, first_hour, last_hour).items()
                     if len(v.minutes.values) == self._size}  # fmt: skip
            parts += [v.minutes for v in hours.values()]
            ranges = [(start_ms, first_hour), (last_hour, oldest_recent)]
            ranges += [(h, h + HOUR_MS) for h in range(first_hour, last_hour, HOUR_MS) if h not in hours]
            for lo, hi in ranges:
                if lo < hi:
                    loaded = self.minute_store.load(self._minutes, lo, hi)
                    parts += [v.minutes for v in loaded.values() if len(v.minutes.values) == self._size]
        return to_window(self.baseline, total(self.baseline, parts, start_ms, end_ms))

    def run(self, now_ms: int, emit: MetricSink, end_ms: int | None = None) -> MinuteRunResult:
        end = self.settled_end(now_ms) if end_ms is None else end_ms
        recent, read, reread, counted = self._refresh(end, now_ms)
        span_start = end - RECHECK_MINUTES * MINUTE_MS
        in_span = [v for k, v in recent.items() if span_start <= k < end]
        rows_seen = sum(v.minutes.rows for v in in_span)
        late = sum(v.late for v in in_span)
        future = self.counter.future_rows(now_ms + MINUTE_MS) if self.counter else 0
        windows = {h: self._window(recent, end - h * MINUTE_MS, end) for h in self.settings.horizons}
        judged = judge(self.baseline, windows)
        extra = (
            no_traffic_check(recent, end, self.settings.no_traffic_minutes),
            clock_check(future, late, rows_seen, self.settings),
        )
        shortest = next((j for j in judged if j.evaluation.overall in (Overall.OK, Overall.ALARM)), judged[0] if judged else None)
        if shortest is not None:
            for name, value, unit in metric_points(shortest.evaluation):
                emit(name, value, unit)
        emit("LateRecords", float(late), "Count")
        emit("FutureRecords", float(future), "Count")
        base = MinuteRunResult(end, judged, None, None, read, reread, late, future, rows_seen, counted, extra)
        if not any(c.judged for j in judged for c in j.evaluation.checks) and not any(c.judged for c in extra):
            return base
        model = self.baseline.model_name
        previous: AlertState = self.state_store.load(model)
        decision, _ = decide_horizons(judged, previous, self.baseline.thresholds, end, extra)
        if decision.stale:
            return replace(base, decision=decision)
        self.state_store.save(model, decision.state, previous.version, now_ms)
        if not decision.notify:
            return replace(base, decision=decision, saved_to=self.state_store.location)
        notification = build_horizon_notification(model, self.baseline.model_version, judged, decision.notify, where=self.where)
        try:
            published_to = self.publisher.publish(notification)
        except Exception as error:
            restored = replace(previous, version=decision.state.version + 1)
            with contextlib.suppress(StateStoreError):
                self.state_store.save(model, restored, decision.state.version, now_ms)
            raise PublishError(f"could not publish the notification ({type(error).__name__}: {error}); state restored") from error
        return replace(base, decision=decision, notification=notification, published_to=published_to,
                       saved_to=self.state_store.location)  # fmt: skip


def parse_horizons(text: str) -> tuple[int, ...]:
    """'2,15,60,1440' -> (2, 15, 60, 1440); each 1..1440 minutes, distinct, at most 6."""
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as error:
        raise ValueError(f"horizons {text!r}: expected minutes separated by commas") from error
    if not values or len(values) > 6 or values[0] < 1 or values[-1] > 1440:
        raise ValueError(f"horizons {text!r}: 1 to 6 values from 1 to 1440 minutes")
    return values
