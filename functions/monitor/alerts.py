"""Alert decisions and texts: pure, so the persistence rules, the flapping bound and the message format are unit-tested.

Per check, the alert state follows the window verdicts with persistence (thresholds in the baseline):
- enter ALARM when M of the last N judged windows alarmed (2 of 3), or at once when the evidence is strong
  (score >= strong_factor x its critical value);
- recover after K clean windows in a row (2), or at once when a window is clearly clean (score below half
  its critical value), so one borderline window neither raises nor clears an alarm;
- INSUFFICIENT_DATA / NOT_JUDGED results and NO_TRAFFIC windows leave the state alone: no data is not a recovery.
Notifications: one message per evaluation lists every state change not yet notified. At most
`max_notifications_per_hour` messages per model in any 60 minutes of window time; a change that arrives
when the budget is spent is held (the state and the metrics still show it) and sent with the next message
the budget allows, or dropped if the check returned to its notified state meanwhile (a flap nobody needs).
A run whose window does not end after the last judged window's end is stale and decides nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from functions.contract.model_artifact import Thresholds
from functions.contract.names import MONITOR_SERVICE

from .checks import CheckResult, Evaluation, current_check_name

STATE_OK = "OK"
STATE_ALARM = "ALARM"
SNS_SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, fewer than 100 characters
HOUR_MS = 3_600_000
CLEARLY_CLEAN = 0.5  # strength below which one clean window recovers


def check_id(model: str, check: str) -> str:
    """A per-check item key, '<model>#<check>': the quality function's alert state (`adapters.CheckStateStore`)."""
    return f"{model}#{check}"


def state_key(model: str) -> str:
    """The alert-state item's partition key value: one item per model holds every check's state."""
    return f"{model}#alert-state"


@dataclass(frozen=True)
class CheckState:
    state: str = STATE_OK
    history: str = ""  # last N judged verdicts, oldest first: "A" alarm, "O" clean
    clean_streak: int = 0
    since_ms: int = 0  # window end when the state last changed
    detail: str = ""
    # Minute mode (functions/monitor/horizons.py): the window that raised the alarm and each horizon's verdicts.
    horizon: int = 0  # minutes of the shortest window that entered ALARM
    rows: int = 0  # its rows: a window recovers the alarm only with at least as many
    histories: Mapping[str, str] = field(default_factory=dict)  # horizon minutes -> last N verdicts

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"state": self.state, "history": self.history, "clean": self.clean_streak,
                                  "since_ms": self.since_ms, "detail": self.detail[:500]}  # fmt: skip
        if self.horizon or self.histories:
            out.update({"horizon": self.horizon, "rows": self.rows, "histories": dict(sorted(self.histories.items()))})
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> CheckState:
        state = str(raw.get("state", STATE_OK))
        return cls(
            state=state if state in (STATE_OK, STATE_ALARM) else STATE_OK,
            history=str(raw.get("history", ""))[-32:],
            clean_streak=int(raw.get("clean", 0)),  # type: ignore[call-overload]
            since_ms=int(raw.get("since_ms", 0)),  # type: ignore[call-overload]
            detail=str(raw.get("detail", "")),
            horizon=int(raw.get("horizon", 0)),  # type: ignore[call-overload]
            rows=int(raw.get("rows", 0)),  # type: ignore[call-overload]
            histories={str(k): str(v)[-32:] for k, v in dict(raw.get("histories", {})).items()},  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class AlertState:
    """Everything the monitor remembers about one model; `version` makes every write conditional."""

    version: int = 0  # 0: never saved
    last_window_end_ms: int | None = None
    checks: Mapping[str, CheckState] = field(default_factory=dict)
    notified: Mapping[str, str] = field(default_factory=dict)  # check -> state the last message announced
    sent_ms: tuple[int, ...] = ()  # window ends of the messages sent in the last hour

    def in_alarm(self) -> list[str]:
        return sorted(name for name, check in self.checks.items() if check.state == STATE_ALARM)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "last_window_end_ms": self.last_window_end_ms,
                "checks": {name: check.to_json() for name, check in sorted(self.checks.items())},
                "notified": dict(sorted(self.notified.items())),
                "sent_ms": list(self.sent_ms),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> AlertState:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("alert state: expected a JSON object")
        return cls(
            version=int(raw.get("version", 0)),
            last_window_end_ms=None if raw.get("last_window_end_ms") is None else int(raw["last_window_end_ms"]),
            checks={current_check_name(str(k)): CheckState.from_json(v) for k, v in dict(raw.get("checks", {})).items()},
            notified={current_check_name(str(k)): str(v) for k, v in dict(raw.get("notified", {})).items()},
            sent_ms=tuple(int(v) for v in raw.get("sent_ms", [])),
        )


@dataclass(frozen=True)
class Transition:
    check: CheckResult
    previous: str
    current: str

    @property
    def is_alarm(self) -> bool:
        return self.current == STATE_ALARM


@dataclass(frozen=True)
class Decision:
    state: AlertState  # to save (version already bumped)
    notify: tuple[Transition, ...]  # what the message announces now (empty: no message)
    held: tuple[str, ...]  # changes the notification budget holds back
    stale: bool = False


def clearly_clean(result: CheckResult, *, under_floor: bool = False) -> bool:
    """Below the effect floor is not enough to recover: the score must also be under half its critical value, so an
    effect that sits near its floor (a drift that goes on) cannot flap the alarm off and on.

    With `under_floor` (the longest window a recovery reads), a check whose alarm needs the effect beyond the floor by
    its margin of error (`window_error` set: outlier_shift) must also put the effect under the floor by half its
    critical value times the window's own error. Its margin is mostly the reference's error (30 hold-out rows: ~9
    points on any window), so a score under half its critical value is reached by a drift that sits between the floor
    and what any window can prove.
    """
    if result.in_alarm:
        return False
    strength = result.strength
    if strength is not None and strength >= CLEARLY_CLEAN:
        return False
    error = result.window_error
    if not under_floor or error is None or result.observed is None or result.baseline is None or not result.critical:
        return True
    return result.observed - result.baseline + CLEARLY_CLEAN * result.critical * error < result.threshold


def next_check_state(previous: CheckState, result: CheckResult, t: Thresholds, window_end_ms: int) -> CheckState:
    """One judged window's effect on one check's state (the persistence rule)."""
    alarm = result.in_alarm
    history = (previous.history + ("A" if alarm else "O"))[-t.of_windows :]
    strength = result.strength
    clean_streak = 0 if alarm else previous.clean_streak + 1
    state = previous.state
    if state == STATE_OK:
        strong = alarm and strength is not None and strength >= t.strong_factor
        if alarm and (strong or history.count("A") >= t.alarm_windows):
            state = STATE_ALARM
    else:
        # one window recovers alone only when it could have seen the effect: clearly clean, and for outlier_shift
        # the rise under its floor by the window's own error (the rule the horizons apply to their longest window)
        clean_at_once = not alarm and strength is not None and clearly_clean(result, under_floor=True)
        if not alarm and (clean_streak >= t.recovery_windows or clean_at_once):
            state = STATE_OK
    since = window_end_ms if state != previous.state else previous.since_ms
    return CheckState(state, history, clean_streak, since, result.detail)


def decide(evaluation: Evaluation, previous: AlertState, thresholds: Thresholds, window_end_ms: int) -> Decision:
    """The new alert state and the message to send, from the stored state and this window's verdicts."""
    if previous.last_window_end_ms is not None and window_end_ms <= previous.last_window_end_ms:
        return Decision(previous, (), (), stale=True)
    checks = dict(previous.checks)
    results = {c.check: c for c in evaluation.checks}
    for result in evaluation.checks:
        if result.judged:
            checks[result.check] = next_check_state(checks.get(result.check, CheckState()), result, thresholds, window_end_ms)
    notified = dict(previous.notified)
    pending = [
        name
        for name, check in sorted(checks.items())
        if check.state != notified.get(name, STATE_OK) and name in results and results[name].judged
    ]
    sent = tuple(ms for ms in previous.sent_ms if ms > window_end_ms - HOUR_MS)
    notify: tuple[Transition, ...] = ()
    held: tuple[str, ...] = ()
    if pending:
        if len(sent) < thresholds.max_notifications_per_hour:
            notify = tuple(Transition(results[name], notified.get(name, STATE_OK), checks[name].state) for name in pending)
            for name in pending:
                notified[name] = checks[name].state
            sent = (*sent, window_end_ms)
        else:
            held = tuple(pending)
    state = AlertState(previous.version + 1, window_end_ms, checks, notified, sent)
    return Decision(state, notify, held)


def with_version(state: AlertState, version: int) -> AlertState:
    return replace(state, version=version)


@dataclass(frozen=True)
class Notification:
    subject: str
    text: str  # email / default body
    chat: dict[str, object]  # AWS Chatbot (Amazon Q Developer in chat applications) custom notification
    transitions: tuple[Transition, ...]

    def sns_message(self) -> str:
        """Message for Publish(MessageStructure='json'): a body per protocol, `default` for the rest (SQS, Lambda)."""
        chat = json.dumps(self.chat, ensure_ascii=False)
        return json.dumps({"default": self.text, "email": self.text, "https": chat, "http": chat}, ensure_ascii=False)

    def record(self) -> dict[str, object]:
        """The JSON-lines form written by the local monitor."""
        return {
            "subject": self.subject,
            "state": STATE_ALARM if any(t.is_alarm for t in self.transitions) else STATE_OK,
            "checks": [
                {
                    "check": t.check.check,
                    "from": t.previous,
                    "to": t.current,
                    "observed": t.check.observed,
                    "baseline": t.check.baseline,
                    "threshold": t.check.threshold,
                    "margin": t.check.margin,
                    "condition": t.check.condition,
                    "detail": t.check.detail,
                }
                for t in self.transitions
            ],
            "text": self.text,
        }


def iso(ms: int) -> str:
    """UTC with seconds and milliseconds when there are any: short windows must not print as 'x to x'."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def window_text(start_ms: int, end_ms: int) -> str:
    seconds = (end_ms - start_ms) / 1000
    length = f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:.3g} s"
    return f"{iso(start_ms)} to {iso(end_ms)} ({length}, end exclusive)"


def fmt_number(value: float | None) -> str:
    """Four significant digits, or n/a."""
    return "n/a" if value is None else f"{value:.4g}"


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("\n", " ")


def compose_notification(
    *,
    model: str,
    model_version: str,
    where: str,
    transitions: tuple[Transition, ...],
    facts: Sequence[str],
    check_lines: Callable[[CheckResult], Sequence[str]],
    footer: str,
    chat_summary: str,
    chat_reason: Callable[[CheckResult], str],
    thread: str,
) -> Notification:
    """The layout every alerting function shares: subject, head, transitions grouped by direction, AWS Chatbot payload.

    `facts` are the head lines after Model and Where; `check_lines` what one check says in the body;
    `chat_summary` the first line of the chat description and `chat_reason` why each check changed.
    """
    alarms = [t for t in transitions if t.is_alarm]
    recoveries = [t for t in transitions if not t.is_alarm]
    state = STATE_ALARM if alarms else STATE_OK
    named = ", ".join(t.check.check for t in (alarms or recoveries))
    subject = _ascii(f"{state}: {model} model {named} ({where})")
    if len(subject) > SNS_SUBJECT_MAX:
        subject = subject[: SNS_SUBJECT_MAX - 3] + "..."

    head = [f"Model: {model} (version {model_version})", f"Where: {where}", *facts, ""]
    body: list[str] = []
    for title, group in (("Entered ALARM", alarms), ("Recovered (OK)", recoveries)):
        if not group:
            continue
        body.append(f"{title}:")
        for t in group:
            body.extend(check_lines(t.check))
            if t.is_alarm:
                body.append(f"  Check first: {t.check.hint}")
        body.append("")
    body.append(footer)
    text = "\n".join(head + body)

    description_lines = [f"*{t.check.check}* {t.previous} -> {t.current}: {chat_reason(t.check)}" for t in transitions]
    # AWS Chatbot custom notification (SNS https/http protocols; Slack, Teams, Chime via Chatbot).
    chat: dict[str, object] = {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": subject,
            "description": "\n".join([chat_summary, *description_lines]),
            "nextSteps": [t.check.hint for t in alarms][:5],
            "keywords": [model, state],
        },
        "metadata": {"threadId": f"{model}-{thread}", "summary": subject},
    }
    return Notification(subject=subject, text=text, chat=chat, transitions=transitions)


def build_notification(evaluation: Evaluation, transitions: tuple[Transition, ...], *, where: str) -> Notification:
    """Subject says what and where; body has observed vs baseline numbers, the deciding condition and what to check."""
    window = evaluation.window
    return compose_notification(
        model=evaluation.model,
        model_version=evaluation.model_version,
        where=where,
        transitions=transitions,
        facts=[
            f"Window: {window_text(window.start_ms, window.end_ms)}",
            f"Rows: {window.rows} predicted rows, {window.requests} requests, {window.rejected} rejected requests, "
            f"{window.failed} failed requests",
            f"Checks now in alarm in this window: {len(evaluation.alarms)}",
        ],
        check_lines=lambda c: [
            f"- {c.check} {c.status.value} because {c.condition}",
            f"  observed {fmt_number(c.observed)} vs baseline {fmt_number(c.baseline)}; {c.detail}",
        ],
        footer=f"Sent by the {MONITOR_SERVICE} service when a check's alert state changes (M of N windows to enter, K clean "
        "windows to recover); persisting alarms are not repeated.",
        chat_summary=f"Window {window_text(window.start_ms, window.end_ms)}, {window.rows} rows, "
        f"model version {evaluation.model_version}.",
        chat_reason=lambda c: c.condition,
        thread="monitor",
    )
