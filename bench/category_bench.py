"""The categorical checks' false alarms and power, by simulation from the training shares.

    .venv/bin/python bench/category_bench.py [--windows 2000] [--seed 7] [--floors 0.02]

Model: the monitor tests' mixed fixture (tests/unit/monitor/mixed.py): iris's 4 numeric features plus `channel`
(web 45 %, app 30 %, branch 15 %, phone 7 %, unlisted tail 3 %) and `plan` (basic 80 %, pro 20 %, no tail), 10,000
training rows. Each window's category counts are a multinomial draw; the checks run at the family alpha split
over the 6 features (window mode), and also split over the 4 default horizons (minute mode).

Printed:
- false alarms: windows of stationary traffic in which category_drift or unseen_category alarmed, per window
  size, against the budget (windows x the checks' alpha). Stationary: the population the training rows were
  sampled from, its shares drawn around the training shares (Dirichlet on the training counts), so the training
  shares' own error is simulated too; then the same with alpha raised to 0.05 per model (floors off) so that
  a miscalibrated test would show;
- power per window, at the baseline's category_psi and at the --floors given: the share of 500-row windows
  that name `category_drift:channel` when one category's share moves 10 points (the others scaled to keep the
  sum), and `unseen_category:plan` when 3 % of values are unseen;
- why these tests (alpha 0.05 per model, floors off): the shipped tests' false alarms against two normal-z
  variants (category_drift without the training size 1/m, unseen_category as a two-proportion z with the 0 %
  tail guarded by half a training row), and the shipped category_drift's power against Pearson's chi-square
  of the window-vs-training table (scipy, printed only here: the Lambda ships no scipy);
- windows to a notification: consecutive independent 500-row windows until the alert state (2 of 3 windows, or
  one window at 1.5x its critical value) enters ALARM, median and 95th percentile.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from functions.contract.model_artifact import Baseline, CategoricalBaseline  # noqa: E402
from functions.monitor.aggregates import CategoryWindow  # noqa: E402
from functions.monitor.alerts import STATE_ALARM, CheckState, next_check_state  # noqa: E402
from functions.monitor.checks import CheckResult, check_category_drift, check_unseen_category  # noqa: E402
from functions.monitor.stats import bonferroni, normal_critical, pooled_buckets, psi  # noqa: E402
from tests.unit.monitor.mixed import mixed_baseline, stationary_counts  # noqa: E402

SIZES = (30, 100, 500, 5_000, 50_000)
HORIZONS = 4


def window(feature: CategoricalBaseline, counts: np.ndarray) -> CategoryWindow:
    return CategoryWindow(feature.name, int(counts.sum()), tuple(int(c) for c in counts[:-1]), int(counts[-1]))


def moved(feature: CategoricalBaseline, index: int, points: float) -> list[float]:
    shares = [*feature.shares, feature.other_share]
    target = shares[index] + points
    rest = 1.0 - shares[index]
    return [target if j == index else s * (1.0 - target) / rest for j, s in enumerate(shares)]


def judge(baseline: Baseline, feature: CategoricalBaseline, counts: np.ndarray, alpha: float) -> tuple[CheckResult, CheckResult]:
    observed = window(feature, counts)
    return check_category_drift(feature, observed, baseline, alpha), check_unseen_category(feature, observed, baseline, alpha)


def windows_to_alarm(baseline: Baseline, feature: CategoricalBaseline, shares: list[float], check: int, alpha: float,
                     rng: np.random.Generator, trials: int, limit: int = 50) -> list[int]:  # fmt: skip
    out = []
    for _ in range(trials):
        state = CheckState()
        for k in range(1, limit + 1):
            result = judge(baseline, feature, rng.multinomial(500, shares), alpha)[check]
            state = next_check_state(state, result, baseline.thresholds, k)
            if state.state == STATE_ALARM:
                break
        out.append(k)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=2_000, help="simulated windows per size and feature")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--floors", type=float, nargs="*", default=[0.02], help="category_psi values to compare")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    baseline = mixed_baseline()
    modes = {"window": bonferroni(baseline.thresholds.family_alpha, baseline.n_features)}
    modes["minute"] = modes["window"] / HORIZONS
    bare = baseline._replace(thresholds=baseline.thresholds._replace(category_psi=0.0, unseen_category_floor=0.0))
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python {platform.python_version()}, "
          f"{args.windows} windows per size and feature, seed {args.seed}")  # fmt: skip
    print("\n## False alarms on stationary traffic (2 categorical features x 2 checks per window)\n")
    print(
        "| rows per window | mode | alpha per check | category_drift alarms | unseen_category alarms "
        "| budget (expected at most) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    calibration = {**modes, "alpha 0.05, no floors": bonferroni(0.05, baseline.n_features)}
    for n in SIZES:
        for mode, alpha in calibration.items():
            drift = unseen = 0
            judged = bare if mode.startswith("alpha") else baseline
            for feature in baseline.categorical:
                for counts in stationary_counts(feature, n, rng, args.windows):
                    d, u = judge(judged, feature, counts, alpha)
                    drift += d.in_alarm
                    unseen += u.in_alarm
            budget = 2 * len(baseline.categorical) * args.windows * alpha
            print(f"| {n:,} | {mode} | {alpha:.2g} | {drift} | {unseen} | {budget:.2f} |")

    print("\n## Power at 500 rows per window\n")
    print("| change | PSI of the change | check | mode | category_psi | windows named | windows to notification (median, p95) |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: |")
    floors = {baseline.thresholds.category_psi, *args.floors}
    channel, plan = baseline.categorical_feature("channel"), baseline.categorical_feature("plan")
    cases = [(channel, i, p, 0) for i in range(4) for p in (0.10, -0.10) if channel.shares[i] + p > 0]
    trials = max(args.windows // 10, 50)
    for feature, index, points, check in [*cases, (plan, 2, 0.03, 1)]:
        shares = moved(feature, index, points)
        label = [*feature.categories, "(unseen)"][index]
        name = ("category_drift" if check == 0 else "unseen_category") + f":{feature.name}"
        change = psi([s * 500 for s in shares], [*feature.shares, feature.other_share], feature.count)
        for floor in sorted(floors, reverse=True):
            judged = baseline._replace(thresholds=baseline.thresholds._replace(category_psi=floor))
            for mode, alpha in modes.items():
                named = sum(judge(judged, feature, counts, alpha)[check].in_alarm
                            for counts in rng.multinomial(500, shares, size=args.windows))  # fmt: skip
                waits = sorted(windows_to_alarm(judged, feature, shares, check, alpha, rng, trials))
                p95 = waits[int(0.95 * (len(waits) - 1))]
                print(f"| {feature.name} '{label}' {points * 100:+.0f} points | {change:.3f} | {name} | {mode} | {floor:g} | "
                      f"{named / args.windows:.1%} | {statistics.median(waits):g}, {p95} |")  # fmt: skip
    ablation(baseline, rng, args.windows)


def normal_bucket_z(count: int, n: int, p0: float, m: int) -> float:
    """The variant without the training size: a normal z on the window's sampling error alone."""
    p = min(max(p0, 0.5 / m), 1 - 0.5 / m)
    return abs(count / n - p0) / math.sqrt(p * (1 - p) / n)


def normal_unseen_z(feature: CategoricalBaseline, observed: CategoryWindow, m: int) -> float:
    """The variant two-proportion z for unseen values, the 0 % tail guarded by half a training row."""
    p0, n = feature.other_share, observed.count
    p = min(max(p0, 0.5 / m), 1 - 0.5 / m)
    return (observed.unseen / n - p0) / math.sqrt(p * (1 - p) * (1.0 / n + 1.0 / m))


def ablation(baseline: Baseline, rng: np.random.Generator, windows: int) -> None:
    from scipy import stats as scipy_stats

    bare = baseline._replace(thresholds=baseline.thresholds._replace(category_psi=0.0, unseen_category_floor=0.0))
    alpha = bonferroni(0.05, baseline.n_features)
    print("\n## Why these tests: false alarms at alpha 0.05 per model, floors off\n")
    print("| rows per window | budget per check | category_drift | without 1/m | unseen_category | normal z |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in SIZES:
        shipped_drift = variant_drift = shipped_unseen = variant_unseen = 0
        for feature in baseline.categorical:
            for counts in stationary_counts(feature, n, rng, windows):
                observed = window(feature, counts)
                drift = check_category_drift(feature, observed, bare, alpha)
                shipped_drift += drift.in_alarm
                shipped_unseen += check_unseen_category(feature, observed, bare, alpha).in_alarm
                shares = [*feature.shares, feature.other_share]
                buckets = pooled_buckets(shares, n, feature.count)
                if len(buckets) > 1:
                    zs = [normal_bucket_z(sum(int(counts[j]) for j in b), n, sum(shares[j] for j in b), feature.count)
                          for b in buckets]  # fmt: skip
                    variant_drift += max(zs) > normal_critical(alpha / len(buckets) / 2)
                variant_unseen += normal_unseen_z(feature, observed, feature.count) > normal_critical(alpha)
        budget = len(baseline.categorical) * windows * alpha
        print(f"| {n:,} | {budget:.1f} | {shipped_drift} | {variant_drift} | {shipped_unseen} | {variant_unseen} |")
    print("\n## Why the largest z: share of 500-row windows named, alpha 5e-5 per check, floors off\n")
    print("| change | largest two-proportion z (shipped) | Pearson chi-square, same buckets |")
    print("| --- | ---: | ---: |")
    channel = baseline.categorical_feature("channel")
    alpha = bonferroni(baseline.thresholds.family_alpha, baseline.n_features)
    for index in (0, 1):
        shares = moved(channel, index, 0.10)
        named = chi = 0
        for counts in rng.multinomial(500, shares, size=windows):
            named += check_category_drift(channel, window(channel, counts), bare, alpha).in_alarm
            table = np.array([counts, np.asarray([*channel.shares, channel.other_share]) * channel.count])
            chi += scipy_stats.chi2_contingency(table, correction=False).pvalue < alpha
        print(f"| channel '{channel.categories[index]}' +10 points | {named / windows:.1%} | {chi / windows:.1%} |")


if __name__ == "__main__":
    main()
