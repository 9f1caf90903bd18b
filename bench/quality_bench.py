"""False-alarm and detection rates of the realized-quality check, against a naive fixed-margin rule. Printed only.

Labelled traffic is simulated per class: each true class keeps the share and the recall of the model's reference
figures (out-of-fold training predictions plus the hold-out), misses spread over the other classes. "drop"
scenarios lower one class's recall (concept drift on that class). The naive rule alarms when the realized
accuracy is more than 5 points below the reference accuracy, whatever the sample size.

    python bench/quality_bench.py --model iris --trials 2000
"""

from __future__ import annotations

import argparse
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from functions.contract.model_artifact import load_model_artifact
from functions.quality.report import State, VersionQuality, evaluate, reference_figures

ROOT = Path(__file__).resolve().parents[1]


def simulate(recalls: list[float], n: int, rng: np.random.Generator) -> tuple[tuple[int, ...], ...]:
    k = len(recalls)
    actual = rng.multinomial(n, [1 / k] * k)
    rows = []
    for i, (count, recall) in enumerate(zip(actual, recalls, strict=True)):
        right = rng.binomial(count, recall)
        wrong = rng.multinomial(count - right, [1 / (k - 1) if j != i else 0.0 for j in range(k)])
        wrong[i] = right
        rows.append(tuple(int(v) for v in wrong))
    return tuple(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="iris")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    baseline = load_model_artifact(ROOT / "models" / args.model).baseline
    figures = reference_figures(baseline)
    assert figures is not None
    (accuracy, _), per_class = figures
    base = [per_class[label][0] for label in baseline.label_names]
    scenarios = {
        "healthy": base,
        "one class recall -10 pt": [base[0] - 0.10, *base[1:]],
        "one class recall -30 pt": [base[0] - 0.30, *base[1:]],
    }
    rng = np.random.default_rng(args.seed)
    print(f"{args.model}: reference accuracy {accuracy:.3f}, per-class recall {', '.join(f'{r:.3f}' for r in base)}; "
          f"{args.trials} trials per cell; {platform.machine()}, {datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
    print("| scenario | labelled rows | this check: % ALARM | naive (accuracy < reference - 5 pt): % ALARM |")
    print("|---|---|---|---|")
    for name, recalls in scenarios.items():
        for n in (30, 100, 400, 2000):
            ours = naive = 0
            for _ in range(args.trials):
                confusion = simulate(recalls, n, rng)
                quality = VersionQuality(baseline.model_version, baseline.label_names, n, n, 0, confusion, None)
                ours += evaluate(baseline, {baseline.model_version: quality}, 0, 1).state is State.ALARM
                naive += (quality.accuracy or 0) < accuracy - 0.05
            print(f"| {name} | {n} | {100 * ours / args.trials:.1f} | {100 * naive / args.trials:.1f} |")


if __name__ == "__main__":
    main()
