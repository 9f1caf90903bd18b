"""Alert decisions and texts: pure, so the no-storm rule and the message format are unit-tested.

A check notifies when it enters ALARM and once when it recovers to OK. NOT_JUDGED
checks and NO_TRAFFIC windows leave the stored state alone: no data is not a
recovery. One evaluation sends at most one message, listing every transition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from functions.contract.names import MONITOR_SERVICE

from .checks import CheckResult, Evaluation, Status

STATE_OK = "OK"
STATE_ALARM = "ALARM"
SNS_SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, fewer than 100 characters


def check_id(model: str, check: str) -> str:
    """The alert-state partition key value: '<model>#<check>'."""
    return f"{model}#{check}"


@dataclass(frozen=True)
class Transition:
    check: CheckResult
    previous: str
    current: str

    @property
    def is_alarm(self) -> bool:
        return self.current == STATE_ALARM


def decide(evaluation: Evaluation, previous: Mapping[str, str]) -> tuple[Transition, ...]:
    """Transitions against the stored states (check id -> OK/ALARM; unknown means OK)."""
    transitions = []
    for result in evaluation.checks:
        if result.status is Status.NOT_JUDGED:
            continue
        before = previous.get(check_id(evaluation.model, result.check), STATE_OK)
        now = STATE_ALARM if result.status is Status.ALARM else STATE_OK
        if before != now:
            transitions.append(Transition(result, before, now))
    return tuple(transitions)


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
                    "detail": t.check.detail,
                }
                for t in self.transitions
            ],
            "text": self.text,
        }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("\n", " ")


def build_notification(evaluation: Evaluation, transitions: tuple[Transition, ...], *, where: str) -> Notification:
    """Subject says what and where; body has observed vs baseline numbers and what to check first."""
    alarms = [t for t in transitions if t.is_alarm]
    recoveries = [t for t in transitions if not t.is_alarm]
    state = STATE_ALARM if alarms else STATE_OK
    named = ", ".join(t.check.check for t in (alarms or recoveries))
    subject = _ascii(f"{state}: {evaluation.model} model {named} ({where})")
    if len(subject) > SNS_SUBJECT_MAX:
        subject = subject[: SNS_SUBJECT_MAX - 3] + "..."

    window = evaluation.window
    head = [
        f"Model: {evaluation.model} (version {evaluation.model_version})",
        f"Where: {where}",
        f"Window: {_iso(window.start_ms)} to {_iso(window.end_ms)} (end exclusive)",
        f"Rows: {window.rows} predicted rows, {window.requests} requests, {window.rejected} rejected requests",
        f"Checks now in alarm: {len(evaluation.alarms)}",
        "",
    ]
    body: list[str] = []
    for title, group in (("Entered ALARM", alarms), ("Recovered (OK)", recoveries)):
        if not group:
            continue
        body.append(f"{title}:")
        for t in group:
            c = t.check
            body.append(
                f"- {c.check}: observed {_fmt(c.observed)} vs baseline {_fmt(c.baseline)}, threshold {_fmt(c.threshold)}"
                f" + margin {_fmt(c.margin)}"
            )
            body.append(f"  {c.detail}")
            if t.is_alarm:
                body.append(f"  Check first: {c.hint}")
        body.append("")
    body.append(f"Sent by the {MONITOR_SERVICE} service once per state change; persisting alarms are not repeated.")
    text = "\n".join(head + body)

    description_lines = [f"*{t.check.check}* {t.previous} -> {t.current}: {t.check.detail}" for t in transitions]
    chat: dict[str, object] = {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": subject,
            "description": "\n".join(
                [
                    f"Window {_iso(window.start_ms)} to {_iso(window.end_ms)}, {window.rows} rows, "
                    f"model version {evaluation.model_version}.",
                    *description_lines,
                ]
            ),
            "nextSteps": [t.check.hint for t in alarms][:5],
            "keywords": [evaluation.model, state],
        },
        "metadata": {"threadId": f"{evaluation.model}-monitor", "summary": subject},
    }
    return Notification(subject=subject, text=text, chat=chat, transitions=transitions)
