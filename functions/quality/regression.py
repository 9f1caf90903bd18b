"""Realized quality of a regression model: MAE, RMSE and R² on labelled traffic against the model's reference. Pure.

The same states and the same rule as classification (`report.py`): a figure is in ALARM only when its 95 %
interval on the labelled traffic lies entirely on the worse side of the reference's 95 % interval (z = 1.96 on
both sides, so a false alarm needs a deviation of about 2.8 standard errors). The intervals are normal ones
for a mean, from the sums the SQL returns:

- MAE: the mean of |error|, its spread from the sum of squared errors;
- RMSE: the square root of the interval of the mean squared error, whose spread comes from the sum of error⁴;
- R²: 1 - MSE / variance of the true values in the same rows, so its interval is the MSE's, scaled. Traffic whose
  true values vary less than the reference's shows a lower R² for the same errors: read it with the MAE.

The reference is the baseline's `quality_reference` (out-of-fold training predictions plus the hold-out), else its
`holdout`. States: NO_TRAFFIC, INSUFFICIENT_DATA (fewer scored rows than `min_labelled`, or no reference), OK, ALARM.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from functions.contract import names
from functions.contract.model_artifact import Baseline

from . import sql
from .report import DEFAULT_Z, QualityCheck, QualityEvaluation, State, iso_seconds

CHECK_MAE = "realized_mae"
CHECK_RMSE = "realized_rmse"
CHECK_R2 = "realized_r2"
METRIC_REALIZED_MAE = "RealizedMAE"
METRIC_REALIZED_RMSE = "RealizedRMSE"
METRIC_REALIZED_R2 = "RealizedR2"
HINT_ERRORS = (
    "The errors grew on rows whose inputs may look like training (the per-minute drift checks can stay OK): "
    "compare recent true values with the predictions, look for a changed target definition or a new population, "
    "then export the labelled rows (make training-set) and retrain."
)


@dataclass(frozen=True)
class RegressionVersionQuality:
    """One model version over the lookback: sums of errors on the scored rows (prediction and label both numbers)."""

    model_version: str
    predicted_rows: int
    labelled_rows: int
    scored_rows: int
    unmatched_feedback: int
    sum_abs_error: float
    sum_squared_error: float
    sum_fourth_power_error: float
    sum_actual: float
    sum_actual_squared: float
    median_label_delay_ms: float | None
    labels: tuple[str, ...] = ()  # the classification figures' shape, for the shared summary and metrics
    accuracy: float | None = None

    @property
    def labelled_fraction(self) -> float | None:
        return self.labelled_rows / self.predicted_rows if self.predicted_rows else None

    @property
    def mae(self) -> float | None:
        return self.sum_abs_error / self.scored_rows if self.scored_rows else None

    @property
    def mse(self) -> float | None:
        return self.sum_squared_error / self.scored_rows if self.scored_rows else None

    @property
    def rmse(self) -> float | None:
        mse = self.mse
        return None if mse is None else math.sqrt(mse)

    @property
    def target_variance(self) -> float | None:
        if self.scored_rows < 2:
            return None
        mean = self.sum_actual / self.scored_rows
        return max(self.sum_actual_squared / self.scored_rows - mean * mean, 0.0)

    @property
    def r2(self) -> float | None:
        variance, mse = self.target_variance, self.mse
        return None if not variance or mse is None else 1.0 - mse / variance

    def spread(self, total_of_squares: float, mean: float) -> float:
        """Sample standard deviation from a sum of squares and the mean."""
        n = self.scored_rows
        return math.sqrt(max(total_of_squares - n * mean * mean, 0.0) / (n - 1)) if n > 1 else 0.0


def _number(value: Any) -> float:
    return float(value) if value not in (None, "") else 0.0


def parse_regression_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, RegressionVersionQuality]:
    """Result rows (strings from Athena, typed values from DuckDB) -> figures per model version."""
    parts: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        kind = row[sql.COL_KIND]
        if kind not in (sql.KIND_LABELLED, sql.KIND_UNLABELLED, sql.KIND_UNMATCHED):
            raise ValueError(f"unexpected kind {kind!r} in the regression quality query's result")
        parts.setdefault(str(row[sql.COL_MODEL_VERSION] or ""), {})[kind] = row
    result = {}
    for version, kinds in parts.items():
        labelled = kinds.get(sql.KIND_LABELLED, {})
        labelled_rows = int(_number(labelled.get(sql.COL_ROWS)))
        delay = labelled.get(sql.COL_MEDIAN_DELAY)
        result[version] = RegressionVersionQuality(
            model_version=version,
            predicted_rows=labelled_rows + int(_number(kinds.get(sql.KIND_UNLABELLED, {}).get(sql.COL_ROWS))),
            labelled_rows=labelled_rows,
            scored_rows=int(_number(labelled.get(sql.COL_SCORED))),
            unmatched_feedback=int(_number(kinds.get(sql.KIND_UNMATCHED, {}).get(sql.COL_ROWS))),
            sum_abs_error=_number(labelled.get(sql.COL_SUM_ABS)),
            sum_squared_error=_number(labelled.get(sql.COL_SUM_SQUARED)),
            sum_fourth_power_error=_number(labelled.get(sql.COL_SUM_FOURTH)),
            sum_actual=_number(labelled.get(sql.COL_SUM_ACTUAL)),
            sum_actual_squared=_number(labelled.get(sql.COL_SUM_ACTUAL_SQUARED)),
            median_label_delay_ms=None if delay in (None, "") else float(delay),
        )
    return result


@dataclass(frozen=True)
class ErrorReference:
    """What the model scored on rows it did not learn from."""

    rows: int
    mae: float
    mae_sd: float
    mse: float
    mse_sd: float
    target_variance: float
    source: str


def error_reference(baseline: Baseline) -> ErrorReference | None:
    """`quality_reference` when complete, else `holdout`; None when neither has the figures."""
    document = baseline.document
    for key in ("quality_reference", "holdout"):
        raw = document.get(key)
        if not isinstance(raw, dict):
            continue
        try:
            values = {name: float(raw[name]) for name in ("rows", "mae", "mae_sd", "mse", "mse_sd", "target_variance")}
        except (KeyError, TypeError, ValueError):
            continue
        if values["rows"] >= 2 and all(math.isfinite(v) and v >= 0 for v in values.values()):
            return ErrorReference(int(values["rows"]), values["mae"], values["mae_sd"], values["mse"], values["mse_sd"],
                                  values["target_variance"], key)  # fmt: skip
    return None


def _interval(mean: float, sd: float, n: int, z: float) -> tuple[float, float]:
    half = z * sd / math.sqrt(n)
    return mean - half, mean + half


def _judge(name: str, what: str, observed: float, observed_bound: float, reference: float, reference_bound: float,
           *, higher_is_worse: bool, n: int, ref: ErrorReference, z: float) -> QualityCheck:  # fmt: skip
    """ALARM when the observed interval's better end is still worse than the reference interval's worse end."""
    alarm = observed_bound > reference_bound if higher_is_worse else observed_bound < reference_bound
    side = ("above", "lower bound", "upper bound") if higher_is_worse else ("below", "upper bound", "lower bound")
    verdict = side[0] if alarm else f"not {side[0]}"
    detail = (
        f"{what} {observed:.4g} on {n} labelled rows ({side[1]} {observed_bound:.4g}) is {verdict} the reference's "
        f"{side[2]} {reference_bound:.4g} (reference {reference:.4g} on {ref.rows} unseen rows; normal, z={z:g})"
    )
    state = State.ALARM if alarm else State.OK
    return QualityCheck(name, state, observed, reference, reference_bound, abs(observed - observed_bound), detail, HINT_ERRORS)


def evaluate_regression(
    baseline: Baseline,
    versions: Mapping[str, RegressionVersionQuality],
    start_ms: int,
    end_ms: int,
    *,
    min_labelled: int | None = None,
    z: float = DEFAULT_Z,
) -> QualityEvaluation:
    """Judge the baseline's version; other versions are reported, not judged."""
    version = baseline.model_version
    current = versions.get(version)

    def result(state: State, checks: tuple[QualityCheck, ...] = ()) -> QualityEvaluation:
        return QualityEvaluation(baseline.model_name, version, start_ms, end_ms, state, checks, current, dict(versions))  # type: ignore[arg-type]

    if current is None or current.predicted_rows == 0:
        return result(State.NO_TRAFFIC)
    reference = error_reference(baseline)
    need = max(min_labelled if min_labelled is not None else baseline.thresholds.min_rows, 2)
    names_and_values = ((CHECK_MAE, current.mae), (CHECK_RMSE, current.rmse), (CHECK_R2, current.r2))
    if reference is None or current.scored_rows < need or current.target_variance in (None, 0.0):
        why = (
            "the baseline has no error reference (MAE, RMSE): retrain the model with models/train.py"
            if reference is None
            else f"{current.scored_rows} scored labelled rows, fewer than the {need} needed to judge (or no spread in them)"
        )
        checks = tuple(QualityCheck(name, State.INSUFFICIENT_DATA, value, None, None, None, why, HINT_ERRORS)
                       for name, value in names_and_values)  # fmt: skip
        return result(State.INSUFFICIENT_DATA, checks)
    n = current.scored_rows
    mae, mse, variance = current.mae or 0.0, current.mse or 0.0, current.target_variance or 0.0
    mae_low, _ = _interval(mae, current.spread(current.sum_squared_error, mae), n, z)
    mse_low, _ = _interval(mse, current.spread(current.sum_fourth_power_error, mse), n, z)
    _, ref_mae_high = _interval(reference.mae, reference.mae_sd, reference.rows, z)
    _, ref_mse_high = _interval(reference.mse, reference.mse_sd, reference.rows, z)
    ref_r2 = 1.0 - reference.mse / reference.target_variance
    checks = (
        _judge(CHECK_MAE, "MAE", mae, mae_low, reference.mae, ref_mae_high, higher_is_worse=True, n=n, ref=reference, z=z),
        _judge(CHECK_RMSE, "RMSE", math.sqrt(mse), math.sqrt(max(mse_low, 0.0)), math.sqrt(reference.mse),
               math.sqrt(ref_mse_high), higher_is_worse=True, n=n, ref=reference, z=z),
        _judge(CHECK_R2, "R²", 1.0 - mse / variance, 1.0 - max(mse_low, 0.0) / variance, ref_r2,
               1.0 - ref_mse_high / reference.target_variance, higher_is_worse=False, n=n, ref=reference, z=z),
    )  # fmt: skip
    state = State.ALARM if any(c.state is State.ALARM for c in checks) else State.OK
    return result(state, checks)


def regression_metric_points(evaluation: QualityEvaluation) -> list[tuple[str, float, str]]:
    """EMF metrics of the judged version: only numbers the data supports."""
    current: Any = evaluation.current
    if current is None:
        return [(names.METRIC_LABELLED_ROWS, 0.0, "Count")]
    points: list[tuple[str, float, str]] = [
        (names.METRIC_LABELLED_ROWS, float(current.labelled_rows), "Count"),
        ("UnmatchedFeedback", float(current.unmatched_feedback), "Count"),
    ]
    if current.labelled_fraction is not None:
        points.append(("LabelledFraction", current.labelled_fraction, "None"))
    for metric, value in (
        (METRIC_REALIZED_MAE, current.mae),
        (METRIC_REALIZED_RMSE, current.rmse),
        (METRIC_REALIZED_R2, current.r2),
    ):
        if value is not None:
            points.append((metric, value, "None"))
    if current.median_label_delay_ms is not None:
        points.append(("LabelDelayMedianSeconds", current.median_label_delay_ms / 1000, "Seconds"))
    if evaluation.checks and evaluation.checks[0].judged:
        points.append(("QualityChecksInAlarm", float(len(evaluation.alarms)), "Count"))
    return points


def regression_summary(current: object) -> dict[str, float | None]:
    """MAE, RMSE and R² for the run summary when the judged figures are a regression model's; else nothing."""
    if not isinstance(current, RegressionVersionQuality):
        return {}
    return {"mae": current.mae, "rmse": current.rmse, "r2": current.r2}


def _figure(value: float | None, digits: str = ".4g") -> str:
    return "n/a" if value is None else format(value, digits)


def regression_report_text(evaluation: QualityEvaluation) -> str:
    lines = [
        f"Realized quality of regression model {evaluation.model} (version {evaluation.model_version}): {evaluation.state.value}",
        f"Lookback: {iso_seconds(evaluation.start_ms)} to {iso_seconds(evaluation.end_ms)} "
        f"({(evaluation.end_ms - evaluation.start_ms) / 86_400_000:g} days, end exclusive)",
    ]
    for version, quality in sorted(evaluation.versions.items()):
        q: Any = quality
        judged = " (judged)" if version == evaluation.model_version else " (other version: reported, not judged)"
        delay = q.median_label_delay_ms
        lines += [
            "",
            f"Version {version}{judged}",
            f"  predicted rows {q.predicted_rows}, labelled {q.labelled_rows} (scored {q.scored_rows}), unmatched "
            f"feedback {q.unmatched_feedback}, median label delay " + ("n/a" if delay is None else f"{delay / 1000:.0f} s"),
            f"  MAE {_figure(q.mae)}, RMSE {_figure(q.rmse)}, R² {_figure(q.r2, '.3f')}",
        ]
    if not evaluation.versions:
        lines += ["", "No prediction or feedback line of this model in the lookback."]
    if evaluation.checks:
        lines += ["", "Checks:"]
        lines += [f"  {c.state.value:<17} {c.check}: {c.detail}" for c in evaluation.checks]
    return "\n".join(lines)
