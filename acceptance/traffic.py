"""Rows to send: the model's own data (normal traffic) and rows far outside the training support (outliers)."""

from __future__ import annotations

import random

from functions.contract.model_artifact import Baseline

BATCH = 20  # rows per request: several requests per window, as real clients send


def normal_rows(model: str, baseline: Baseline, count: int, seed: int) -> list[list[float]]:
    """Real rows of the model (the same source `make demo` uses: its training data resampled, else holdout.csv)."""
    from local.demo import REPO, real_rows

    rows = real_rows(REPO / "models" / model, baseline)
    return rows.phase(count, random.Random(seed), min_rows=count)


def outlier_rows(baseline: Baseline, count: int) -> list[list[float]]:
    """Every feature three training ranges above its maximum: outside the one-class SVM's support."""
    return [[round(f.max + 3 * (f.max - f.min) + 0.01 * i, 4) for f in baseline.features] for i in range(count)]


def batches(rows: list[list[float]], size: int = BATCH) -> list[list[list[float]]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]
