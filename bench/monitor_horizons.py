"""Monitor time side: horizons 2 min to 24 h judged every minute from minute aggregates, at 5 to 2,000 rows a minute.

    .venv/bin/python bench/monitor_horizons.py [--model iris] [--rates 5 20 200 2000] [--trials 20] [--weeks 1]

Traffic is the quality bench's (bench/monitor_quality.py): a smoothed bootstrap of the model's labelled rows
(training and hold-out, the population the baseline describes; `--healthy holdout` for the hold-out rows alone)
run through its own ONNX files, the joint-drift model included. Each simulated minute becomes one minute vector exactly as
`functions/monitor/minutes.py` stores it; every run sums the minutes of each horizon (prefix sums) and goes
through the production path: `minutes.to_window`, `horizons.judge`, `horizons.decide_horizons`.

Figures, per rate:
- stationary traffic for --weeks simulated weeks: notifications per week (all horizons together), and the
  share of clock hours in which every run had a judged window (OK or ALARM) on some horizon;
- a +0.5 sd and a +1 sd shift of the first feature starting at a random instant (inside a minute), after a
  day of normal traffic, continuing for --drift-minutes: minutes from onset to the first ALARM message
  (median, p95, share notified within 30 minutes) and recovery messages sent while the drift continued;
- the same +1 sd shift with every record 3 minutes late (settle lag 2 min: minutes are read before their
  records land, then re-read when their count grows): minutes to the first ALARM message.
Figures are printed, never asserted. Progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from monitor_quality import Minute, Model, load_model, predict, reconstruction_errors, resample, window_of  # noqa: E402

from functions.monitor import minutes as mm  # noqa: E402
from functions.monitor.alerts import AlertState  # noqa: E402
from functions.monitor.checks import Overall  # noqa: E402
from functions.monitor.horizons import DEFAULT_HORIZONS, RECOVERY_MIN_MINUTES, decide_horizons, judge  # noqa: E402

WEEK = 7 * 24 * 60
DAY = 24 * 60


def minute_vector(model: Model, x: np.ndarray) -> np.ndarray:
    """One minute's slots as the production path stores them (`minutes.from_window`), from the rows."""
    b = model.baseline
    if not len(x):
        return np.asarray(mm.empty(b, 0, mm.MINUTE_MS).values, dtype=float)
    classes, outliers, confidence = predict(model, x)
    part = Minute(x, classes, outliers, confidence, reconstruction_errors(model, x))
    return np.asarray(mm.from_window(b, window_of(model, [part], 0, mm.MINUTE_MS)).values, dtype=float)


def traffic(model: Model, rate: int, minutes: int, rng: np.random.Generator, shift_sd: float = 0.0, onset: float | None = None,
            progress: str = "", until: int | None = None) -> np.ndarray:  # fmt: skip
    """(minutes, slots): Poisson(rate) rows a minute; from `onset` (minutes, fractional) feature 0 moves by shift_sd."""
    sd0 = model.baseline.features[0].std
    out = []
    started = time.perf_counter()
    for t in range(minutes):
        n = int(rng.poisson(rate))
        x = resample(model, n, rng)
        if onset is not None and t + 1 > onset and (until is None or t < until):
            at = rng.random(n) + t >= onset  # rows after the onset instant
            x[at, 0] += shift_sd * sd0
        out.append(minute_vector(model, x))
        if progress and t % 2000 == 1999:
            print(f"  {progress}: {t + 1}/{minutes} minutes generated ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return np.array(out)


@dataclass
class Runs:
    messages: int = 0
    alarms_first: int | None = None
    recoveries: int = 0
    judged_runs: list[bool] | None = None
    clear_at: int | None = None  # first run after count_from with no check in alarm, once one was
    recovered: tuple[str, ...] = ()  # the checks whose recovery messages were counted


def run(model: Model, vectors: np.ndarray, start: int, stop: int, *, delay: int = 0, settle: int = 2,
        horizons: tuple[int, ...] = DEFAULT_HORIZONS, count_from: int = 0) -> Runs:  # fmt: skip
    """Runs at minutes start..stop-1 (run t judges windows ending at minute t - settle); messages counted from count_from.

    With `delay`, minute m's rows are visible to runs at t >= m + 1 + delay (late records, re-read when they land).
    """
    b = model.baseline
    prefix = np.vstack([np.zeros(vectors.shape[1]), np.cumsum(vectors, axis=0)])
    state = AlertState()
    out = Runs(judged_runs=[])
    for t in range(start, stop):
        end = t - settle  # minutes [end - h, end)
        windows = {}
        for h in horizons:
            lo = max(end - h, 0)
            visible_end = min(end, t - delay)  # minutes whose records have landed
            hi = max(min(end, visible_end), lo)
            vec = prefix[hi] - prefix[lo]
            windows[h] = mm.to_window(b, mm.Minutes(lo * mm.MINUTE_MS, end * mm.MINUTE_MS, tuple(vec)))
        judged = judge(b, windows)
        decision, _ = decide_horizons(judged, state, b.thresholds, end * mm.MINUTE_MS)
        state = decision.state
        assert out.judged_runs is not None
        out.judged_runs.append(any(j.evaluation.overall in (Overall.OK, Overall.ALARM) for j in judged))
        if out.alarms_first is not None and out.clear_at is None and not state.in_alarm():
            out.clear_at = t
        if t < count_from or not decision.notify:
            continue
        out.messages += 1
        if any(tr.is_alarm for tr in decision.notify) and out.alarms_first is None:
            out.alarms_first = t
        out.recoveries += any(not tr.is_alarm for tr in decision.notify)
        out.recovered += tuple(tr.check.check for tr in decision.notify if not tr.is_alarm)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="iris")
    parser.add_argument("--rates", type=int, nargs="+", default=[5, 20, 200, 2000])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--weeks", type=float, default=1.0, help="simulated weeks of stationary traffic per rate")
    parser.add_argument("--drift-minutes", type=int, default=180, help="how long each drift continues")
    parser.add_argument("--healthy", choices=("all", "holdout"), default="all", help="rows healthy traffic is resampled from")
    args = parser.parse_args()
    started = time.perf_counter()
    model = load_model(args.model)
    if args.healthy == "all":  # the population the baseline describes, as in bench/monitor_quality.py
        model.healthy_x = np.vstack([model.train_x, model.holdout_x])
    b = model.baseline
    t = b.thresholds
    print(
        f"monitor horizons: {platform.node() or 'this machine'}, {platform.machine()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}; model {args.model}; horizons {DEFAULT_HORIZONS} min; family alpha {t.family_alpha:g} "
        f"split over the horizons; enter {t.alarm_windows} of {t.of_windows} or strong; recover after max({t.recovery_windows}, "
        f"alarm horizon, {RECOVERY_MIN_MINUTES}) clean runs on eligible windows; settle lag 2 min"
    )
    stationary_minutes = int(args.weeks * WEEK)
    print("\n| rows/min | notifications per week (stationary) | hours judged | shift | notified (median, p95 min) | "
          "within 30 min | false recoveries during drift (trials with any) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    late_rows = []
    recovery_rows: list[tuple[int, list[int | None]]] = []
    for rate in args.rates:
        rng = np.random.default_rng(rate)
        print(f"rate {rate}: stationary {stationary_minutes} minutes", file=sys.stderr)
        history = traffic(model, rate, stationary_minutes + DAY, rng, progress=f"rate {rate} stationary")
        quiet = run(model, history, DAY, DAY + stationary_minutes, count_from=DAY)
        per_week = quiet.messages / args.weeks
        judged = np.array(quiet.judged_runs)
        hours = judged[: len(judged) // 60 * 60].reshape(-1, 60).all(axis=1).mean() if len(judged) >= 60 else float("nan")
        for shift in (0.5, 1.0):
            delays: list[float] = []
            recoveries, any_recovery, recovered = 0, 0, set[str]()
            for trial in range(args.trials):
                trng = np.random.default_rng(rate * 1000 + int(shift * 10) * 100 + trial)
                onset = float(trng.uniform(0, 60))
                offset = int(trng.integers(0, stationary_minutes - DAY)) if stationary_minutes > DAY else 0
                before = history[offset : offset + DAY]
                after = traffic(model, rate, int(np.ceil(onset)) + args.drift_minutes, trng, shift, onset)
                vectors = np.vstack([before, after])
                result = run(model, vectors, DAY - 30, len(vectors), count_from=DAY + int(onset))
                if result.alarms_first is not None:
                    delays.append(result.alarms_first - (DAY + onset))
                recoveries += result.recoveries
                any_recovery += result.recoveries > 0
                recovered.update(result.recovered)
            notified = f"{percentile(delays, 50):.0f}, {percentile(delays, 95):.0f}" if delays else "never"
            within = sum(d <= 30 for d in delays) / args.trials
            missed = args.trials - len(delays)
            print(
                f"| {rate} | {per_week:.1f} | {hours:.0%} | +{shift:g} sd | {notified}"
                f"{f' ({missed} of {args.trials} never)' if missed else ''} | {within:.0%} | {recoveries} ({any_recovery}"
                f"{': ' + ', '.join(sorted(recovered)) if recovered else ''}) |",
                flush=True,
            )
            print(
                f"  rate {rate}, +{shift:g} sd: {args.trials} trials done ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
        # Records 3 minutes late: the +1 sd trial again, each minute visible only 3 minutes after it ends.
        trng = np.random.default_rng(rate + 7)
        late = []
        for trial in range(max(args.trials // 4, 3)):
            onset = float(trng.uniform(0, 60))
            after = traffic(model, rate, int(np.ceil(onset)) + 120, trng, 1.0, onset)
            vectors = np.vstack([history[trial * 60 : trial * 60 + DAY], after])
            result = run(model, vectors, DAY - 30, len(vectors), delay=3, count_from=DAY + int(onset))
            late.append(None if result.alarms_first is None else result.alarms_first - (DAY + onset))
        late_rows.append((rate, late))
        # A +1 sd drift that stops after 60 minutes: minutes from its end until no check is in alarm.
        clears = []
        for trial in range(max(args.trials // 4, 3)):
            after = traffic(model, rate, 60 + 240, trng, 1.0, 0.0, until=60)
            vectors = np.vstack([history[trial * 90 : trial * 90 + DAY], after])
            result = run(model, vectors, DAY - 30, len(vectors), count_from=DAY)
            clears.append(None if result.clear_at is None else result.clear_at - (DAY + 60))
        recovery_rows.append((rate, clears))
    print("\nRecords 3 minutes late (settle lag 2 min, re-read when they land), +1 sd: minutes to the first ALARM message")
    for rate, late in late_rows:
        seen = [d for d in late if d is not None]
        print(f"  {rate} rows/min: median {percentile(seen, 50):.0f} min, {len(seen)} of {len(late)} trials notified")
    print("\nA +1 sd drift that stops after 60 minutes: minutes from its end until no check is in alarm (true recovery)")
    for rate, clears in recovery_rows:
        done = [d for d in clears if d is not None]
        print(
            f"  {rate} rows/min: median {percentile(done, 50):.0f} min, max {max(done) if done else float('nan'):.0f} min, "
            f"{len(done)} of {len(clears)} trials recovered within 240 min"
        )
    print(f"\nbench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
