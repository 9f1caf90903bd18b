"""Rows to send: the model's own data (normal traffic) and rows far outside the training support (outliers)."""

from __future__ import annotations

import random

from functions.contract.model_artifact import Baseline

Row = list[float | str]  # numbers, and strings for a model's categorical features

BATCH = 20  # rows per request: several requests per window, as real clients send


def normal_rows(model: str, baseline: Baseline, count: int, seed: int) -> list[Row]:
    """Real rows of the model (the same source `make demo` uses: its training data resampled, else holdout.csv)."""
    from local.demo import REPO, real_rows

    rows = real_rows(REPO / "models" / model, baseline)
    return rows.phase(count, random.Random(seed), min_rows=count)


def outlier_rows(baseline: Baseline, count: int) -> list[Row]:
    """Every numeric feature three training ranges above its maximum: outside the one-class SVM's support. A
    categorical feature keeps its most frequent category, so the rows are outliers by their numbers alone."""
    return [
        baseline.row_with([round(f.max + 3 * (f.max - f.min) + 0.01 * i, 4) for f in baseline.features]) for i in range(count)
    ]


def batches(rows: list[Row], size: int = BATCH) -> list[list[Row]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]
