"""A mixed-type model for the monitor's tests: iris's baseline.json with two categorical features inserted.

`channel` (position 1) lists 4 categories and has a 3 % unlisted tail; `plan` (position 4) lists 2 and has none.
The numeric features keep iris's statistics, so their checks behave as on iris. The training size is raised to
10,000 rows (a categorical reference of iris's 120 rows could not see a 10-point share move at 500 rows).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from functions.contract.model_artifact import Baseline, CategoricalBaseline, parse_baseline

IRIS = Path(__file__).resolve().parents[3] / "models" / "iris" / "baseline.json"
TRAINING_ROWS = 10_000
CHANNEL = {
    "name": "channel",
    "type": "categorical",
    "display_name": "Sales channel",
    "count": TRAINING_ROWS,
    "categories": ["web", "app", "branch", "phone"],
    "shares": [0.45, 0.30, 0.15, 0.07],
    "other_share": 0.03,
}
PLAN = {
    "name": "plan",
    "type": "categorical",
    "count": TRAINING_ROWS,
    "categories": ["basic", "pro"],
    "shares": [0.8, 0.2],
    "other_share": 0.0,
}


def mixed_document(model: str = "mixed") -> dict[str, Any]:
    document = copy.deepcopy(json.loads(IRIS.read_text(encoding="utf-8")))
    document["model"]["name"] = model
    document["training_rows"] = TRAINING_ROWS
    features = document["features"]
    features.insert(1, copy.deepcopy(CHANNEL))
    features.insert(4, copy.deepcopy(PLAN))
    return document


def mixed_baseline(model: str = "mixed") -> Baseline:
    return parse_baseline(mixed_document(model))


def stationary_counts(feature: CategoricalBaseline, n: int, rng: np.random.Generator, windows: int) -> np.ndarray:
    """Windows of traffic from the population training was sampled from: the population's shares are drawn around
    the training shares (Dirichlet on the training counts + 1/2), so the training shares' own sampling error, which
    a window much larger than training exposes, is in the simulation too."""
    population = rng.dirichlet(np.asarray([*feature.shares, feature.other_share]) * feature.count + 0.5, size=windows)
    return np.stack([rng.multinomial(n, p) for p in population])
