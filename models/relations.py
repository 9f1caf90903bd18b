"""Relations between numeric features: each feature as a linear function of the few features it travels with.

A feature that moves while the features it is tied to stay put (a unit change in one column, a sensor that drifts,
a client that rescales one field) shows in the feature's residual from that relation long before it shows in its
own mean: the residual's spread is sqrt(1 - r2) of the feature's, so the same shift is 1 / sqrt(1 - r2) times as
many standard errors away (iris's sepal length: r2 0.87, 2.7 times). The monitor needs no new log field for it:
a linear model's mean is the model at the means, so the window's per-feature means, which it already reads, give
the window's mean residual (`relation_shift` in functions/monitor/checks.py).

Each feature gets at most MAX_PREDICTORS predictors, chosen greedily by the variance they explain, and a relation
is kept only when it explains at least MIN_R2 of the feature's variance: below that the mean test is nearly as
strong and the extra test would only add chances of a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_PREDICTORS = 5
MIN_R2 = 0.5  # the residual test is then at least sqrt(2) times as strong as the feature's own mean test
ROWS_PER_PARAMETER = 10  # fewer training rows than this per fitted parameter: fewer predictors


def _chosen_predictors(correlation: np.ndarray, target: int, limit: int) -> list[int]:
    """Greedy forward selection on the correlation matrix: each step adds the predictor that raises r2 most."""
    chosen: list[int] = []
    candidates = [j for j in range(len(correlation)) if j != target]
    best_r2 = 0.0
    while candidates and len(chosen) < limit:
        scores = []
        for j in candidates:
            subset = [*chosen, j]
            block = correlation[np.ix_(subset, subset)]
            link = correlation[subset, target]
            try:
                weights = np.linalg.solve(block, link)
            except np.linalg.LinAlgError:
                continue
            scores.append((float(link @ weights), j))
        if not scores:
            break
        r2, j = max(scores)
        if r2 - best_r2 < 1e-3:  # another predictor would explain almost nothing more
            break
        chosen.append(j)
        candidates.remove(j)
        best_r2 = r2
    return chosen


def fit_relations(x_train: np.ndarray, names: Sequence[str]) -> dict[str, Any] | None:
    """The baseline's `relations` block for the numeric training columns `x_train`, or None when no feature is
    tied to the others strongly enough (or there is only one numeric feature)."""
    x = np.asarray(x_train, dtype=np.float64)
    rows, width = x.shape
    if width < 2 or rows < 3 * ROWS_PER_PARAMETER:
        return None
    std = x.std(axis=0)
    varying = [i for i in range(width) if std[i] > 0]
    if len(varying) < 2:
        return None
    correlation = np.atleast_2d(np.corrcoef(x[:, varying], rowvar=False))
    limit = min(MAX_PREDICTORS, rows // ROWS_PER_PARAMETER - 1)
    relations = []
    for position, target in enumerate(varying):
        chosen = [varying[j] for j in _chosen_predictors(correlation, position, limit)]
        if not chosen:
            continue
        design = np.column_stack([np.ones(rows), x[:, chosen]])
        coefficients, *_ = np.linalg.lstsq(design, x[:, target], rcond=None)
        residual = x[:, target] - design @ coefficients
        r2 = 1.0 - float(residual.var() / x[:, target].var())
        if r2 < MIN_R2 or r2 >= 1.0:  # r2 of 1: a column that is a copy of others has no residual to test
            continue
        relations.append(
            {
                "feature": names[target],
                "intercept": float(coefficients[0]),
                "coefficients": {names[j]: float(c) for j, c in zip(chosen, coefficients[1:], strict=True)},
                "residual_std": float(np.sqrt((residual**2).sum() / (rows - len(chosen) - 1))),
                "r2": round(r2, 4),
            }
        )
    if not relations:
        return None
    return {
        "method": f"least squares on the training rows, up to {MAX_PREDICTORS} predictors per feature chosen greedily; "
        f"kept when r2 >= {MIN_R2}",
        "rows": rows,
        "features": relations,
    }
