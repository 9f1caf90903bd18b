"""Realized quality: the SQL's result rows become per-version figures, judged against the model's reference. Pure.

The reference is what the model scored on rows it did not learn from: the baseline's `quality_reference`
(out-of-fold training predictions plus the hold-out; 150 rows for iris) or, for older baselines, the hold-out.
The judgement is sample-size aware with Wilson score intervals (sensible at 0 % and 100 %, where the normal
approximation collapses): a figure is in ALARM only when the upper end of its interval on the labelled traffic
lies below the lower end of the reference's interval. With z = 1.96 on both sides, two 95 % intervals that do not
overlap: a false alarm needs a deviation of about 2.8 standard errors, under 0.5 % per comparison. The
reference's own sampling error is part of the rule, not ignored.

States: NO_TRAFFIC (no prediction of the current version in the lookback), INSUFFICIENT_DATA (fewer labelled
rows than `min_labelled`, or no hold-out figures to compare with), OK or ALARM. Never OK on unjudged data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from functions.contract import names
from functions.contract.model_artifact import Baseline

from . import sql

DEFAULT_Z = 1.96
MIN_CLASS_ROWS = 10  # labelled rows of one true class before its recall is judged
CHECK_ACCURACY = "realized_accuracy"
CHECK_RECALL_PREFIX = "realized_recall:"
# Metrics of this function beyond the two the contract names (names.METRIC_LABELLED_ROWS, METRIC_REALIZED_ACCURACY).
METRIC_LABELLED_FRACTION = "LabelledFraction"
METRIC_UNMATCHED_FEEDBACK = "UnmatchedFeedback"
METRIC_LABEL_DELAY = "LabelDelayMedianSeconds"
METRIC_QUALITY_CHECKS_IN_ALARM = "QualityChecksInAlarm"
METRIC_RECALL_PREFIX = "RealizedRecall_"


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    NO_TRAFFIC = "NO_TRAFFIC"


@dataclass(frozen=True)
class VersionQuality:
    """One model version over the lookback. confusion[actual][predicted], in `labels` order (scikit-learn's layout)."""

    model_version: str
    labels: tuple[str, ...]
    predicted_rows: int
    labelled_rows: int
    unmatched_feedback: int
    confusion: tuple[tuple[int, ...], ...]
    median_label_delay_ms: float | None

    @property
    def labelled_fraction(self) -> float | None:
        return self.labelled_rows / self.predicted_rows if self.predicted_rows else None

    @property
    def correct(self) -> int:
        return sum(self.confusion[i][i] for i in range(len(self.labels)))

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled_rows if self.labelled_rows else None

    def actual_rows(self, index: int) -> int:
        return sum(self.confusion[index])

    def predicted_as(self, index: int) -> int:
        return sum(row[index] for row in self.confusion)

    def recall(self, index: int) -> float | None:
        total = self.actual_rows(index)
        return self.confusion[index][index] / total if total else None

    def precision(self, index: int) -> float | None:
        total = self.predicted_as(index)
        return self.confusion[index][index] / total if total else None


def _int(value: Any) -> int:
    return int(float(value)) if value not in (None, "") else 0


def parse_rows(rows: Iterable[Mapping[str, Any]], labels: Sequence[str]) -> dict[str, VersionQuality]:
    """Result rows (strings from Athena, typed values from DuckDB) -> figures per model version.

    Labels outside the model's label set (should the feedback path ever let one through) get their own
    row and column, so every labelled row is counted and wrong predictions stay wrong.
    """
    cells: dict[str, dict[tuple[str, str], int]] = {}
    unlabelled: dict[str, int] = {}
    unmatched: dict[str, int] = {}
    delays: dict[str, float | None] = {}
    extra: set[str] = set()
    for row in rows:
        version = str(row[sql.COL_MODEL_VERSION] or "")
        count = _int(row[sql.COL_ROWS])
        cells.setdefault(version, {})
        if _int(row[sql.COL_LEVEL]) == sql.TOTAL_LEVEL:
            delay = row[sql.COL_MEDIAN_DELAY]
            delays[version] = None if delay in (None, "") else float(delay)
            continue
        kind = row[sql.COL_KIND]
        if kind == sql.KIND_LABELLED:
            key = (str(row[sql.COL_ACTUAL]), str(row[sql.COL_PREDICTED]))
            cells[version][key] = cells[version].get(key, 0) + count
            extra.update(label for label in key if label not in labels)
        elif kind == sql.KIND_UNLABELLED:
            unlabelled[version] = unlabelled.get(version, 0) + count
        elif kind == sql.KIND_UNMATCHED:
            unmatched[version] = unmatched.get(version, 0) + count
        else:
            raise ValueError(f"unexpected kind {kind!r} in the quality query's result")
    order = (*labels, *sorted(extra))
    result = {}
    for version, version_cells in cells.items():
        confusion = tuple(tuple(version_cells.get((actual, predicted), 0) for predicted in order) for actual in order)
        labelled = sum(map(sum, confusion))
        result[version] = VersionQuality(
            model_version=version,
            labels=order,
            predicted_rows=labelled + unlabelled.get(version, 0),
            labelled_rows=labelled,
            unmatched_feedback=unmatched.get(version, 0),
            confusion=confusion,
            median_label_delay_ms=delays.get(version),
        )
    return result


def wilson_interval(successes: float, trials: int, z: float = DEFAULT_Z) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class QualityCheck:
    check: str
    state: State
    observed: float | None
    baseline: float | None
    threshold: float | None  # the hold-out's lower bound: below it (with margin) is an alarm
    margin: float | None  # upper bound of the observed figure minus the figure
    detail: str
    hint: str

    @property
    def judged(self) -> bool:
        return self.state in (State.OK, State.ALARM)


@dataclass(frozen=True)
class QualityEvaluation:
    model: str
    model_version: str  # the version the baseline describes (the one judged)
    start_ms: int
    end_ms: int
    state: State
    checks: tuple[QualityCheck, ...]
    current: VersionQuality | None
    versions: Mapping[str, VersionQuality] = field(default_factory=dict)

    @property
    def alarms(self) -> tuple[QualityCheck, ...]:
        return tuple(c for c in self.checks if c.state is State.ALARM)


HINT_ACCURACY = (
    "Compare the confusion matrix with the hold-out: a new population or a changed labelling rule (concept drift) "
    "shows as one class absorbing another; the per-minute drift checks may stay OK. Export the labelled rows "
    "(make training-set) and retrain."
)


def _hint_recall(label: str) -> str:
    return (
        f"Rows labelled '{label}' are now predicted as other classes: check whether the meaning of '{label}' changed "
        "for the labellers or the clients, then retrain on the exported labelled rows."
    )


def _compare(
    name: str,
    successes: int,
    trials: int,
    reference: float,
    reference_rows: int,
    *,
    z: float,
    min_rows: int,
    what: str,
    hint: str,
) -> QualityCheck:
    reference_low, _ = wilson_interval(reference * reference_rows, reference_rows, z)
    if trials < min_rows:
        return QualityCheck(
            name,
            State.INSUFFICIENT_DATA,
            successes / trials if trials else None,
            reference,
            reference_low,
            None,
            f"{trials} labelled rows for {what}, fewer than the {min_rows} needed to judge it",
            hint,
        )
    observed = successes / trials
    _, upper = wilson_interval(successes, trials, z)
    alarm = upper < reference_low
    verdict = "below" if alarm else "not below"
    detail = (
        f"{what} {observed:.3f} on {trials} labelled rows (upper bound {upper:.3f}) is {verdict} the reference's "
        f"lower bound {reference_low:.3f} (reference {reference:.3f} on {reference_rows} unseen rows; Wilson, z={z:g})"
    )
    state = State.ALARM if alarm else State.OK
    return QualityCheck(name, state, observed, reference, reference_low, upper - observed, detail, hint)


def reference_figures(baseline: Baseline) -> tuple[tuple[float, int], dict[str, tuple[float, int]]] | None:
    """(accuracy, rows) and per-class (recall, rows) that healthy traffic should reach.

    `quality_reference` (out-of-fold training predictions plus the hold-out, written by models/train.py) when the
    baseline has it: five times the rows, so a tighter reference. Else the hold-out (`holdout.per_class` when
    present, else every class held to the hold-out accuracy). None without hold-out figures.
    """
    holdout = baseline.holdout
    if holdout is None:
        return None
    document = baseline.document
    reference = document.get("quality_reference") or {}
    source = reference if reference.get("accuracy") is not None and reference.get("rows") else None
    accuracy = (float(source["accuracy"]), int(source["rows"])) if source else (holdout.accuracy, holdout.rows)
    per_class_raw = (source or {}).get("per_class") or (document.get("holdout") or {}).get("per_class") or {}
    per_class: dict[str, tuple[float, int]] = {}
    for label in baseline.label_names:
        entry = per_class_raw.get(label)
        if isinstance(entry, dict) and entry.get("recall") is not None and entry.get("rows"):
            per_class[label] = (float(entry["recall"]), int(entry["rows"]))
        else:
            per_class[label] = (accuracy[0], max(1, accuracy[1] // len(baseline.label_names)))
    return accuracy, per_class


def evaluate(
    baseline: Baseline,
    versions: Mapping[str, VersionQuality],
    start_ms: int,
    end_ms: int,
    *,
    min_labelled: int | None = None,
    z: float = DEFAULT_Z,
) -> QualityEvaluation:
    """Judge the baseline's version; other versions (before or after a deployment) are reported, not judged."""
    version = baseline.model_version
    current = versions.get(version)

    def result(state: State, checks: tuple[QualityCheck, ...] = ()) -> QualityEvaluation:
        return QualityEvaluation(baseline.model_name, version, start_ms, end_ms, state, checks, current, dict(versions))

    if current is None or current.predicted_rows == 0:
        return result(State.NO_TRAFFIC)
    figures = reference_figures(baseline)
    need = min_labelled if min_labelled is not None else baseline.thresholds.min_rows
    if figures is None:
        check = QualityCheck(
            CHECK_ACCURACY,
            State.INSUFFICIENT_DATA,
            current.accuracy,
            None,
            None,
            None,
            "the baseline has no hold-out figures to compare with: retrain the model with models/train.py",
            HINT_ACCURACY,
        )
        return result(State.INSUFFICIENT_DATA, (check,))
    accuracy, per_class = figures
    checks = [
        _compare(
            CHECK_ACCURACY,
            current.correct,
            current.labelled_rows,
            accuracy[0],
            accuracy[1],
            z=z,
            min_rows=need,
            what="accuracy",
            hint=HINT_ACCURACY,
        )
    ]
    for index, label in enumerate(baseline.label_names):
        reference = per_class[label]
        checks.append(
            _compare(
                f"{CHECK_RECALL_PREFIX}{label}",
                current.confusion[index][index],
                current.actual_rows(index),
                reference[0],
                reference[1],
                z=z,
                min_rows=MIN_CLASS_ROWS,
                what=f"recall of '{label}'",
                hint=_hint_recall(label),
            )
        )
    if any(c.state is State.ALARM for c in checks):
        state = State.ALARM
    elif checks[0].judged:
        state = State.OK
    else:
        state = State.INSUFFICIENT_DATA
    return result(state, tuple(checks))


def metric_points(evaluation: QualityEvaluation) -> list[tuple[str, float, str]]:
    """EMF metrics of the judged version: only numbers the data supports (no accuracy without labels)."""
    current = evaluation.current
    if current is None:
        return [(names.METRIC_LABELLED_ROWS, 0.0, "Count")]
    points: list[tuple[str, float, str]] = [
        (names.METRIC_LABELLED_ROWS, float(current.labelled_rows), "Count"),
        (METRIC_UNMATCHED_FEEDBACK, float(current.unmatched_feedback), "Count"),
    ]
    if current.labelled_fraction is not None:
        points.append((METRIC_LABELLED_FRACTION, current.labelled_fraction, "None"))
    if current.accuracy is not None:
        points.append((names.METRIC_REALIZED_ACCURACY, current.accuracy, "None"))
    if current.median_label_delay_ms is not None:
        points.append((METRIC_LABEL_DELAY, current.median_label_delay_ms / 1000, "Seconds"))
    for index, label in enumerate(current.labels):
        recall = current.recall(index)
        if recall is not None:
            points.append((f"{METRIC_RECALL_PREFIX}{label}", recall, "None"))
    if evaluation.checks and evaluation.checks[0].judged:
        points.append((METRIC_QUALITY_CHECKS_IN_ALARM, float(len(evaluation.alarms)), "Count"))
    return points[:100]  # EMF: at most 100 metrics per event


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def confusion_text(quality: VersionQuality) -> str:
    """The confusion matrix as text: rows are the true labels, columns the predictions."""
    labels = quality.labels
    width = max(8, *(len(label) for label in labels)) + 1
    cell = max(7, *(len(label) + 2 for label in labels), *(len(str(v)) + 2 for row in quality.confusion for v in row))
    lines = [" " * width + "predicted ->", "actual".ljust(width) + "".join(label.rjust(cell) for label in labels)]
    for label, row in zip(labels, quality.confusion, strict=True):
        lines.append(label.ljust(width) + "".join(str(v).rjust(cell) for v in row))
    return "\n".join(lines)


def iso_seconds(ms: int) -> str:
    """UTC to the second: how the report and the quality alerts print the lookback."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def report_text(evaluation: QualityEvaluation) -> str:
    """The human report: state, per-version figures, confusion matrix, per-class precision and recall, checks."""
    if evaluation.versions and not all(isinstance(v, VersionQuality) for v in evaluation.versions.values()):
        from .regression import regression_report_text  # a regression model's figures: MAE, RMSE, R²

        return regression_report_text(evaluation)
    lines = [
        f"Realized quality of model {evaluation.model} (version {evaluation.model_version}): {evaluation.state.value}",
        f"Lookback: {iso_seconds(evaluation.start_ms)} to {iso_seconds(evaluation.end_ms)} "
        f"({(evaluation.end_ms - evaluation.start_ms) / 86_400_000:g} days, end exclusive)",
    ]
    for version, quality in sorted(evaluation.versions.items()):
        judged = " (judged)" if version == evaluation.model_version else " (other version: reported, not judged)"
        delay = quality.median_label_delay_ms
        lines += [
            "",
            f"Version {version}{judged}",
            f"  predicted rows {quality.predicted_rows}, labelled {quality.labelled_rows} ({_pct(quality.labelled_fraction)}), "
            f"unmatched feedback {quality.unmatched_feedback}, median label delay "
            + ("n/a" if delay is None else f"{delay / 1000:.0f} s"),
            f"  accuracy {_pct(quality.accuracy)}",
        ]
        if quality.labelled_rows:
            lines += ["  " + line for line in confusion_text(quality).splitlines()]
            lines.append("  class: precision / recall (rows labelled)")
            for index, label in enumerate(quality.labels):
                precision, recall = _pct(quality.precision(index)), _pct(quality.recall(index))
                lines.append(f"    {label}: {precision} / {recall} ({quality.actual_rows(index)})")
    if not evaluation.versions:
        lines += ["", "No prediction or feedback line of this model in the lookback."]
    if evaluation.checks:
        lines += ["", "Checks:"]
        lines += [f"  {c.state.value:<17} {c.check}: {c.detail}" for c in evaluation.checks]
    return "\n".join(lines)
