"""Horizons: one alert state per check across windows of 2 min to 24 h; thin windows never recover an alarm."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact, parse_baseline
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.alerts import STATE_ALARM, STATE_OK, AlertState
from functions.monitor.checks import CheckResult, Status
from functions.monitor.horizons import (
    CHECK_NO_TRAFFIC,
    RECOVERY_MIN_MINUTES,
    Judged,
    decide_horizons,
    horizon_alpha,
    judge,
)
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic

MIN = 60_000
CHECK = "mean_shift:petal_length"


def window(b: Baseline, n: int, seed: int, factor: float = 1.0) -> WindowAggregates:
    shift = {"petal_length": factor} if factor != 1.0 else None
    return numpy_aggregates(b, sample_traffic(b, n, np.random.default_rng(seed), shift=shift, confidence=0.9))


def run(b: Baseline, state: AlertState, minute: int, windows: dict[int, WindowAggregates]) -> tuple[AlertState, list[str]]:
    decision, _ = decide_horizons(judge(b, windows), state, b.thresholds, minute * MIN)
    return decision.state, [f"{t.check.check}:{t.current}" for t in decision.notify]


def alarmed(b: Baseline) -> AlertState:
    """A strong drift on the 15-min window with 400 rows puts the check in ALARM."""
    state, sent = run(b, AlertState(), 100, {2: window(b, 10, 1), 15: window(b, 400, 2, 1.5)})
    assert state.checks[CHECK].state == STATE_ALARM and state.checks[CHECK].horizon == 15 and state.checks[CHECK].rows == 400
    assert f"{CHECK}:ALARM" in sent
    return state


def test_alpha_is_split_over_the_horizons(iris_artifact: ModelArtifact) -> None:
    t = iris_artifact.baseline.thresholds
    assert horizon_alpha(t, [2, 15, 60, 1440]) == pytest.approx(t.family_alpha / 4)
    judged = judge(
        iris_artifact.baseline, {2: window(iris_artifact.baseline, 200, 3), 60: window(iris_artifact.baseline, 200, 3)}
    )
    single = judge(iris_artifact.baseline, {2: window(iris_artifact.baseline, 200, 3)})
    crit = {j.horizon: next(c.critical for c in j.evaluation.checks if c.check == CHECK) for j in judged}
    assert crit[2] > next(c.critical for c in single[0].evaluation.checks if c.check == CHECK)


def test_thin_or_short_clean_windows_never_recover(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    state = alarmed(b)
    for minute in range(101, 101 + 3 * RECOVERY_MIN_MINUTES):
        # Clean, but on the 2-min horizon (shorter than the alarm's) or on a 15-min window with fewer rows.
        state, sent = run(b, state, minute, {2: window(b, 500, minute), 15: window(b, 100, minute + 1000)})
        assert state.checks[CHECK].state == STATE_ALARM and not sent


def test_clean_powerful_windows_recover_after_a_whole_window_of_runs(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    state = alarmed(b)
    recovered_at = None
    for minute in range(101, 101 + 2 * RECOVERY_MIN_MINUTES):
        state, sent = run(b, state, minute, {2: window(b, 60, minute), 15: window(b, 450, minute + 1000),
                                              60: window(b, 1800, minute + 2000)})  # fmt: skip
        if f"{CHECK}:OK" in sent:
            recovered_at = minute
            break
    assert recovered_at == 100 + RECOVERY_MIN_MINUTES


def test_an_alarm_on_any_window_in_reach_restarts_the_clean_count(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    state = alarmed(b)
    for minute in range(101, 101 + 3 * RECOVERY_MIN_MINUTES):
        drifted = minute % 10 == 0
        windows = {15: window(b, 450, minute), 60: window(b, 1800, minute + 1, 1.5 if drifted else 1.0)}
        state, _ = run(b, state, minute, windows)
        assert state.checks[CHECK].state == STATE_ALARM


def test_deterministic_check_follows_its_verdict_and_stale_runs_decide_nothing(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    quiet = CheckResult(CHECK_NO_TRAFFIC, Status.ALARM, 0.0, 20.0, 15.0, None, None, "no rows for 20 min", "check callers")
    decision, _ = decide_horizons([], AlertState(), b.thresholds, 10 * MIN, extra=[quiet])
    assert [t.current for t in decision.notify] == [STATE_ALARM]
    again, _ = decide_horizons([], decision.state, b.thresholds, 10 * MIN, extra=[quiet])
    assert again.stale and not again.notify
    back, _ = decide_horizons([], decision.state, b.thresholds, 11 * MIN, extra=[replace(quiet, status=Status.OK)])
    assert [t.current for t in back.notify] == [STATE_OK]


def test_state_round_trips_with_horizon_fields(iris_artifact: ModelArtifact) -> None:
    state = alarmed(iris_artifact.baseline)
    assert AlertState.from_json(state.to_json()).checks[CHECK] == state.checks[CHECK]


def test_judged_is_sorted_shortest_first(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    judged = judge(b, {60: window(b, 50, 1), 2: window(b, 50, 2)})
    assert [j.horizon for j in judged] == [2, 60] and all(isinstance(j, Judged) for j in judged)


def test_an_effect_near_its_floor_keeps_the_alarm(iris_artifact: ModelArtifact) -> None:
    """Not in alarm but the score over half its critical value (a drift sitting at its floor): no recovery."""
    b = iris_artifact.baseline
    state = alarmed(b)
    w15, w60 = window(b, 450, 5), window(b, 1800, 6)
    for minute in range(101, 101 + 3 * RECOVERY_MIN_MINUTES):
        judged = []
        for h, w in ((15, w15), (60, w60)):
            e = judge(b, {h: w})[0].evaluation
            checks = tuple(replace(c, score=0.8 * (c.critical or 1.0)) if c.check == CHECK else c for c in e.checks)
            judged.append(Judged(h, replace(e, checks=checks)))
        decision, _ = decide_horizons(judged, state, b.thresholds, minute * MIN)
        state = decision.state
        assert state.checks[CHECK].state == STATE_ALARM


def test_a_longer_window_diluted_by_rows_from_before_the_alarm_does_not_recover(iris_artifact: ModelArtifact) -> None:
    """A day window has more rows, but most predate the alarm: it could not see the effect, so it cannot clear it."""
    b = iris_artifact.baseline
    state = alarmed(b)
    day = window(b, 20_000, 77)
    for minute in range(101, 101 + 3 * RECOVERY_MIN_MINUTES):
        state, sent = run(b, state, minute, {15: window(b, 100, minute), 1440: day})
        assert state.checks[CHECK].state == STATE_ALARM and f"{CHECK}:OK" not in sent


OUTLIER = "outlier_shift"


def thirty_row_holdout(b: Baseline) -> Baseline:
    """iris's reference for the detector: 30 hold-out rows, none flagged (its error is ~9 points on any window)."""
    document = copy.deepcopy(b.document)
    document["holdout"] = {**document.get("holdout", {}), "rows": 30, "outlier_rate": 0.0}
    return parse_baseline(document)


def flagged(b: Baseline, rows: int, outliers: int, seed: int) -> WindowAggregates:
    return replace(window(b, rows, seed), outliers=outliers)


def outlier_alarm(b: Baseline) -> AlertState:
    """The bench's case (5 rows/min, +0.5 sd, one trial): a 15-min window of 74 rows flags 14 (18.9 %)."""
    windows = {2: flagged(b, 12, 3, 1), 15: flagged(b, 74, 14, 2), 60: flagged(b, 293, 25, 3), 1440: flagged(b, 7235, 79, 4)}
    state, sent = run(b, AlertState(), 100, windows)
    assert state.checks[OUTLIER].state == STATE_ALARM and state.checks[OUTLIER].horizon == 15
    assert f"{OUTLIER}:ALARM" in sent
    return state


def test_an_outlier_rise_still_inside_the_floor_by_the_windows_own_error_keeps_the_alarm(
    iris_artifact: ModelArtifact,
) -> None:
    """The drift goes on (the detector flags 7.5 % of its rows): an hour's window that dips to 4.2 % is under half its
    critical value (the 30-row reference dominates the score) but cannot put the effect under the 5-point floor."""
    b = thirty_row_holdout(iris_artifact.baseline)
    state = outlier_alarm(b)
    for minute in range(160, 160 + 3 * RECOVERY_MIN_MINUTES):  # the alarm has lasted an hour: the 60-min window is eligible
        windows = {2: flagged(b, 8, 0, minute), 15: flagged(b, 71, 2, minute + 1), 60: flagged(b, 283, 12, minute + 2),
                   1440: flagged(b, 7250, 106, minute + 3)}  # fmt: skip
        hour = next(c for c in judge(b, windows)[2].evaluation.checks if c.check == OUTLIER)
        assert not hour.in_alarm and hour.strength is not None and hour.strength < 0.5  # clean by its score alone
        state, sent = run(b, state, minute, windows)
        assert state.checks[OUTLIER].state == STATE_ALARM and f"{OUTLIER}:OK" not in sent


def test_an_outlier_alarm_recovers_once_the_longest_window_puts_the_share_under_the_floor(
    iris_artifact: ModelArtifact,
) -> None:
    """The hour's window (300 rows, 1 %) puts the share under the floor; the 15-min window (80 rows, 2 of them flagged)
    is clean by its score but too thin to put 2.5 % under 5 points by its own error: it does not hold the alarm."""
    b = thirty_row_holdout(iris_artifact.baseline)
    state = outlier_alarm(b)
    recovered_at = None
    for minute in range(160, 160 + 2 * RECOVERY_MIN_MINUTES):
        windows = {2: flagged(b, 10, 0, minute), 15: flagged(b, 80, 2, minute + 1), 60: flagged(b, 300, 3, minute + 2),
                   1440: flagged(b, 7250, 90, minute + 3)}  # fmt: skip
        state, sent = run(b, state, minute, windows)
        if f"{OUTLIER}:OK" in sent:
            recovered_at = minute
            break
    assert recovered_at == 159 + RECOVERY_MIN_MINUTES
