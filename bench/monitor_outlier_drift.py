"""What a shift of one feature does to `outlier_shift` on the horizons bench's traffic, and how often a window under
a continuing drift looks clean enough to recover the alarm.

    .venv/bin/python bench/monitor_outlier_drift.py [--model iris] [--rate 5] [--shift 0.5] [--trials 20]

Prints (figures, never asserted):
- the detector's flagged share of the bench's traffic (bench/monitor_horizons.py: smoothed bootstrap of all labelled
  rows) undrifted and with the first feature moved by 0.5 and 1 training sd, over --rows rows each;
- whether flagged rows arrive independently under the drift: per-minute flagged counts of --trials drifted runs of
  --drift-minutes at --rate rows a minute (variance / mean, 1 for independent rows; lag-1 autocorrelation), and the
  flagged share of their 15-minute blocks against the binomial spread;
- the share a window of the bench's sizes (15 and 60 minutes) needs to alarm, and the probability (binomial, at the
  drifted share) that it is clean enough to count towards a recovery: by its score alone (under half its critical
  value) and with the rise also under the floor by the window's own error (the rule `horizons` applies to the longest
  window a recovery reads).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from monitor_horizons import traffic  # noqa: E402
from monitor_quality import load_model, predict, resample  # noqa: E402

from functions.monitor import minutes as mm  # noqa: E402
from functions.monitor.checks import check_outlier_shift  # noqa: E402
from functions.monitor.horizons import DEFAULT_HORIZONS, clearly_clean, horizon_alpha  # noqa: E402


def binomial_pmf(n: int, k: int, p: float) -> float:
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="iris")
    parser.add_argument("--rate", type=int, default=5)
    parser.add_argument("--shift", type=float, default=0.5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--drift-minutes", type=int, default=180)
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    model = load_model(args.model)
    model.healthy_x = np.vstack([model.train_x, model.holdout_x])
    b = model.baseline
    sd0 = b.features[0].std
    rng = np.random.default_rng(0)
    shares = {}
    for shift in (0.0, 0.5, 1.0, args.shift):
        if shift in shares:
            continue
        x = resample(model, args.rows, rng)
        x[:, 0] += shift * sd0
        shares[shift] = float(predict(model, x)[1].mean())
        print(f"flagged share, {b.features[0].name} +{shift:g} sd: {shares[shift]:.2%} of {args.rows:,} rows")

    slot = {name: i for i, name in enumerate(mm.minute_layout(b))}
    counts, rows, autocorrelations = [], [], []
    for trial in range(args.trials):
        vectors = traffic(model, args.rate, args.drift_minutes, np.random.default_rng(1000 + trial), args.shift, 0.0)
        counts.append(vectors[:, slot["outliers"]])
        rows.append(vectors[:, slot["rows"]])
        autocorrelations.append(float(np.corrcoef(counts[-1][:-1], counts[-1][1:])[0, 1]))
    flat = np.concatenate(counts)
    print(
        f"\n{args.trials} runs of {args.drift_minutes} min at {args.rate} rows/min, +{args.shift:g} sd: flagged share "
        f"{flat.sum() / np.concatenate(rows).sum():.2%}; per-minute flagged counts variance / mean "
        f"{flat.var() / flat.mean():.2f}; lag-1 autocorrelation mean {np.mean(autocorrelations):+.3f} "
        f"(min {min(autocorrelations):+.3f}, max {max(autocorrelations):+.3f})"
    )
    blocks = np.array([(c[i : i + 15].sum(), r[i : i + 15].sum()) for c, r in zip(counts, rows, strict=True)
                       for i in range(0, len(c) - 14, 15)])  # fmt: skip
    p = blocks[:, 0].sum() / blocks[:, 1].sum()
    print(
        f"15-minute blocks: {len(blocks)}, flagged share {np.mean(blocks[:, 0] / blocks[:, 1]):.2%} (max "
        f"{np.max(blocks[:, 0] / blocks[:, 1]):.1%}); variance of the flagged count {blocks[:, 0].var():.2f}, "
        f"binomial {np.mean(blocks[:, 1] * p * (1 - p)):.2f}"
    )

    alpha = horizon_alpha(b.thresholds, DEFAULT_HORIZONS)
    drifted = shares[args.shift]
    print(f"\nwindows judged at alpha {alpha:g}; probability of a clean window at the drifted share {drifted:.2%}:")
    for minutes in (15, 60):
        n = args.rate * minutes
        empty = list(mm.empty(b, 0, minutes * mm.MINUTE_MS).values)
        alarm_from, by_score, under_floor = None, 0.0, 0.0
        for k in range(n + 1):
            values = empty.copy()
            values[slot["rows"]], values[slot["outliers"]] = n, k
            result = check_outlier_shift(mm.to_window(b, mm.Minutes(0, minutes * mm.MINUTE_MS, tuple(values))), b, alpha)
            if result.in_alarm and alarm_from is None:
                alarm_from = k
            weight = binomial_pmf(n, k, drifted)
            by_score += weight * clearly_clean(result)
            under_floor += weight * clearly_clean(result, under_floor=True)
        alarm = f"alarms from {alarm_from} flagged ({alarm_from / n:.1%})" if alarm_from is not None else "never alarms"
        print(f"  {minutes}-minute window, {n} rows: {alarm}; clean by its score alone {by_score:.2%}, "
              f"rise also under the floor by its own error {under_floor:.2%}")  # fmt: skip


if __name__ == "__main__":
    main()
