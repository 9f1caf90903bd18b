"""Which feature relation_shift names when one feature moves: the moved one, or others that travel with it.

    .venv/bin/python bench/relation_naming.py [--models iris wine diabetes] [--sizes 100 400] [--windows 200]

For every model whose baseline lists relations, every feature in turn is moved by +0.5 training sd in windows of
n rows (a smoothed bootstrap of the model's own data set: each value plus N(0, (0.1 sd)^2)); mean_shift and
relation_shift are judged by the monitor's own `evaluate` (`mean_shift` first, its features counting as moved).
Printed per model and size: undrifted windows (nothing moved) that name any feature, the windows where the moved
feature is named (by either check) and the names of features that did not move, most frequent first. A wrong name
tells the operator to look at a feature that did not change, so it matters more than a missed one, which the
distribution and joint checks may still catch.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from functions.contract.model_artifact import Baseline, load_baseline  # noqa: E402
from functions.monitor.aggregates import FeatureWindow, WindowAggregates  # noqa: E402
from functions.monitor.checks import CHECK_MEAN_SHIFT, CHECK_RELATION_SHIFT, evaluate  # noqa: E402
from models.regression import load_shipped_dataset  # noqa: E402

SHIFT_SD = 0.5
JITTER_SD = 0.1


def draw(x: np.ndarray, sd: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows of a smoothed bootstrap of the data set."""
    rows = x[rng.integers(0, len(x), n)]
    return rows + rng.normal(0.0, 1.0, rows.shape) * sd * JITTER_SD


def window(baseline: Baseline, rows: np.ndarray) -> WindowAggregates:
    """Only what mean_shift and relation_shift read: each feature's count, mean and sd."""
    n = len(rows)
    features = tuple(
        FeatureWindow(f.name, n, float(rows[:, i].mean()), float(rows[:, i].std(ddof=1)), None)
        for i, f in enumerate(baseline.features)
    )
    return WindowAggregates(
        start_ms=0, end_ms=120_000, rows=n, outliers=0, requests=n, rejected=0, class_counts={}, features=features,
        confidence_count=0, confidence_mean=None, confidence_std=None,
        reconstruction_count=0, reconstruction_mean=None, reconstruction_std=None,
    )  # fmt: skip


def named(baseline: Baseline, aggregates: WindowAggregates) -> set[str]:
    """The features mean_shift and relation_shift name, judged by the monitor's own `evaluate`."""
    return {
        result.check.partition(":")[2]
        for result in evaluate(baseline, aggregates).checks
        if result.in_alarm and result.check.startswith((f"{CHECK_MEAN_SHIFT}:", f"{CHECK_RELATION_SHIFT}:"))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["iris", "wine", "diabetes"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 400])
    parser.add_argument("--windows", type=int, default=200, help="windows per moved feature and size")
    args = parser.parse_args()
    print(
        f"# bench/relation_naming.py, {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"CPython {platform.python_version()}; +{SHIFT_SD} sd on one feature at a time, {args.windows} windows each\n"
    )
    print(
        "| model | relations | rows | undrifted windows naming a feature | moved feature named "
        "| features named that did not move (windows) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        baseline = load_baseline(REPO / "models" / model / "baseline.json")
        if not baseline.relations:
            continue
        data = load_shipped_dataset(model)
        assert data is not None, model
        sd = np.array([f.std for f in baseline.features])
        for n in args.sizes:
            rng = np.random.default_rng(2)
            hits, wrong = 0, Counter[str]()
            for k, feature in enumerate(baseline.features):
                for _ in range(args.windows):
                    rows = draw(data.x, sd, n, rng)
                    rows[:, k] += SHIFT_SD * sd[k]
                    names = named(baseline, window(baseline, rows))
                    hits += feature.name in names
                    wrong.update(f"{feature.name} -> {other}" for other in names - {feature.name})
            total = args.windows * len(baseline.features)
            false_alarms = sum(bool(named(baseline, window(baseline, draw(data.x, sd, n, rng)))) for _ in range(total))
            top = ", ".join(f"{pair} {count}" for pair, count in sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
            print(
                f"| {model} | {len(baseline.relations)} | {n} | {false_alarms} / {total:,} "
                f"| {hits:,} / {total:,} ({100 * hits / total:.0f} %) | "
                f"{sum(wrong.values())}{f' ({top})' if top else ''} |"
            )


if __name__ == "__main__":
    main()
