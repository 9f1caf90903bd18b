"""Windows from minutes to a day: judge every horizon each run and decide one alert state per check.

Every run judges the windows ending at the newest settled minute, one per horizon (2 min, 15 min, 1 h,
24 h by default), each summed from stored minutes. The horizons share the family false-alarm budget:
each window's checks run at family_alpha / number of horizons (Bonferroni), so adding horizons does not
add false alarms.

A check's alert state is shared by the horizons:
- enter ALARM when one horizon alarms strongly (score >= strong_factor x critical) or M of that horizon's
  last N verdicts alarmed; the alarm remembers the shortest horizon that entered it and that window's rows;
- recover only on windows with the power to see the alarm's effect again. A run votes clean when at least
  one *eligible* window is judged (a horizon at least as long as the alarm's, with at least as many rows,
  and no longer than the alarm has lasted, so rows from before the alarm do not dilute it), every
  eligible window and the next longer horizon's window are clearly clean (not in alarm and the score
  under half its critical value: an effect sitting near its floor keeps the alarm; for outlier_shift the
  longest of them must also put the rise under its floor by its own error), and no window up to that next horizon
  alarms on the check. Recovery takes clean votes for max(K, the alarm's horizon, 15) runs in a row: a
  whole new window of data judged clean, not two overlapping ones. A thin or short window never
  recovers an alarm, and a run with no eligible window leaves the count where it was (no data is not a
  recovery). While a drift goes on, every window inside the episode sees it; a day-long window full of
  the alarm's own past does not hold an alarm that every window inside the episode sees as over.
Deterministic checks (no_traffic, clock_skew) follow their verdict at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from functions.contract.model_artifact import Baseline, Thresholds

from .aggregates import WindowAggregates
from .alerts import (
    HOUR_MS,
    STATE_ALARM,
    STATE_OK,
    AlertState,
    CheckState,
    Decision,
    Notification,
    Transition,
    clearly_clean,
    compose_notification,
    fmt_number,
    window_text,
)
from .checks import CheckResult, Evaluation, Overall, evaluate
from .minutes import MINUTE_MS

DEFAULT_HORIZONS = (2, 15, 60, 1440)
CHECK_NO_TRAFFIC = "no_traffic"
CHECK_CLOCK = "clock_skew"
RECOVERY_MIN_MINUTES = 15  # clean runs in a row before an alarm recovers: a whole new 15-min window of data
DETERMINISTIC = frozenset({CHECK_NO_TRAFFIC, CHECK_CLOCK})


@dataclass(frozen=True)
class Judged:
    horizon: int  # minutes
    evaluation: Evaluation


def horizon_alpha(thresholds: Thresholds, horizons: Sequence[int]) -> float:
    return thresholds.family_alpha / max(len(horizons), 1)


def judge(baseline: Baseline, windows: Mapping[int, WindowAggregates]) -> tuple[Judged, ...]:
    """Each horizon's window judged at the shared alpha, shortest first."""
    alpha = horizon_alpha(baseline.thresholds, list(windows))
    return tuple(Judged(h, evaluate(baseline, windows[h], alpha)) for h in sorted(windows))


def _strong(result: CheckResult, t: Thresholds) -> bool:
    return result.in_alarm and result.strength is not None and result.strength >= t.strong_factor


def next_state(
    previous: CheckState, verdicts: Mapping[int, tuple[CheckResult, int]], t: Thresholds, end_ms: int
) -> tuple[CheckState, int | None]:
    """One run's effect on one check: (new state, the horizon whose window decided a change, if any)."""
    histories = dict(previous.histories)
    for h, (result, _rows) in verdicts.items():
        histories[str(h)] = (histories.get(str(h), "") + ("A" if result.in_alarm else "O"))[-t.of_windows :]
    state = replace(
        previous, histories=histories, detail=next(iter(verdicts.values()))[0].detail if verdicts else previous.detail
    )
    if previous.state == STATE_OK:
        entering = [
            h
            for h, (r, _) in verdicts.items()
            if r.in_alarm and (_strong(r, t) or histories[str(h)].count("A") >= t.alarm_windows)
        ]
        if not entering:
            return replace(state, clean_streak=0), None
        h = min(entering)
        result, rows = verdicts[h]
        return replace(state, state=STATE_ALARM, clean_streak=0, since_ms=end_ms, horizon=h, rows=rows, detail=result.detail), h
    lasted = (end_ms - previous.since_ms) // MINUTE_MS
    inside = max(previous.horizon, lasted)  # windows no longer than the episode: not diluted by what came before
    longer = [h for h in verdicts if h > previous.horizon]
    reach = max(inside, min(longer) if longer else 0)  # an alarm this far still shows the effect
    eligible = [h for h, (r, rows) in verdicts.items() if previous.horizon <= h <= inside and rows >= previous.rows]
    blocking = any(r.in_alarm for h, (r, _) in verdicts.items() if h <= reach)
    if blocking:
        return replace(state, clean_streak=0), None
    if not eligible:
        return state, None
    # The next longer window must be clearly clean too: it holds more of the episode's rows than a thin eligible one.
    required = set(eligible) | ({min(longer)} if longer else set())
    # The longest of them, the most rows of the episode, must also put the effect under its floor: a 40-row window
    # cannot tell a 0.9 % outlier share from 5 %, so asking it to would hold the alarm without telling anything.
    if not all(clearly_clean(verdicts[h][0], under_floor=h == max(required)) for h in required):
        return replace(state, clean_streak=0), None
    streak = previous.clean_streak + 1
    if streak >= max(t.recovery_windows, previous.horizon, RECOVERY_MIN_MINUTES):
        h = min(eligible)
        return replace(state, state=STATE_OK, clean_streak=streak, since_ms=end_ms, detail=verdicts[h][0].detail), h
    return replace(state, clean_streak=streak), None


def decide_horizons(
    judged: Sequence[Judged],
    previous: AlertState,
    t: Thresholds,
    end_ms: int,
    extra: Sequence[CheckResult] = (),
) -> tuple[Decision, dict[str, int]]:
    """The new alert state and the message to send; also which horizon decided each change."""
    if previous.last_window_end_ms is not None and end_ms <= previous.last_window_end_ms:
        return Decision(previous, (), (), stale=True), {}
    by_check: dict[str, dict[int, tuple[CheckResult, int]]] = {}
    for j in judged:
        for result in j.evaluation.checks:
            if result.judged:
                by_check.setdefault(result.check, {})[j.horizon] = (result, j.evaluation.window.rows)
    checks = dict(previous.checks)
    deciding: dict[str, int] = {}
    shown: dict[str, CheckResult] = {}
    for name, verdicts in by_check.items():
        new, h = next_state(checks.get(name, CheckState()), verdicts, t, end_ms)
        checks[name] = new
        held_horizon = checks[name].horizon if checks[name].horizon in verdicts else None
        pick = h if h is not None else held_horizon if held_horizon is not None else min(verdicts)
        deciding[name] = pick
        shown[name] = replace(verdicts[pick][0], detail=f"{pick} min window: {verdicts[pick][0].detail}")
    for result in extra:
        if not result.judged:
            continue
        old = checks.get(result.check, CheckState())
        state = STATE_ALARM if result.in_alarm else STATE_OK
        checks[result.check] = replace(old, state=state, since_ms=end_ms if state != old.state else old.since_ms,
                                       detail=result.detail)  # fmt: skip
        shown[result.check] = result
    notified = dict(previous.notified)
    pending = [name for name, c in sorted(checks.items()) if c.state != notified.get(name, STATE_OK) and name in shown]
    sent = tuple(ms for ms in previous.sent_ms if ms > end_ms - HOUR_MS)
    notify: tuple[Transition, ...] = ()
    held: tuple[str, ...] = ()
    if pending:
        if len(sent) < t.max_notifications_per_hour:
            notify = tuple(Transition(shown[name], notified.get(name, STATE_OK), checks[name].state) for name in pending)
            for name in pending:
                notified[name] = checks[name].state
            sent = (*sent, end_ms)
        else:
            held = tuple(pending)
    return Decision(AlertState(previous.version + 1, end_ms, checks, notified, sent), notify, held), deciding


def overall(judged: Sequence[Judged]) -> Overall:
    """ALARM if any window alarms, OK if any is judged clean, else the shortest horizon's NO_TRAFFIC/INSUFFICIENT_DATA."""
    states = [j.evaluation.overall for j in judged]
    if Overall.ALARM in states:
        return Overall.ALARM
    if Overall.OK in states:
        return Overall.OK
    if Overall.INSUFFICIENT_DATA in states:
        return Overall.INSUFFICIENT_DATA
    return Overall.NO_TRAFFIC


def build_horizon_notification(
    model: str, model_version: str, judged: Sequence[Judged], transitions: tuple[Transition, ...], *, where: str
) -> Notification:
    """One message for the run: each transition names the window that decided it; the head lists every window."""
    facts = [
        f"Window {j.horizon} min: {window_text(j.evaluation.window.start_ms, j.evaluation.window.end_ms)}, "
        f"{j.evaluation.window.rows} rows, {j.evaluation.overall.value}"
        for j in judged
    ]
    return compose_notification(
        model=model,
        model_version=model_version,
        where=where,
        transitions=transitions,
        facts=facts,
        check_lines=lambda c: [
            f"- {c.check} {c.status.value} because {c.condition or c.detail}",
            f"  observed {fmt_number(c.observed)} vs baseline {fmt_number(c.baseline)}; {c.detail}",
        ],
        footer="Sent by the monitor when a check's alert state changes. Windows of 2 min to 24 h are judged every minute; "
        "an alarm recovers only on windows at least as long and as large as the one that raised it.",
        chat_summary=f"{len(judged)} windows judged, model version {model_version}.",
        chat_reason=lambda c: c.condition or c.detail,
        thread="monitor",
    )
