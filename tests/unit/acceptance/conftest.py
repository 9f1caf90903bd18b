"""Shared builders for the acceptance suite's offline tests: contract records of a known window."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline

START_MS = 1_795_600_000_000
END_MS = START_MS + 120_000


def window_records(baseline: Baseline, requests: int = 12, rows_per_request: int = 5, seed: int = 1) -> list[dict[str, Any]]:
    """Prediction lines as the contract writes them, some outliers, two rejected lines and a health probe."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for r in range(requests):
        rows = [[round(rng.uniform(f.min, f.max), 3) for f in baseline.features] for _ in range(rows_per_request)]
        labels = [rng.randrange(len(baseline.label_names)) for _ in rows]
        lines = log.prediction_lines(
            timestamp_ms=START_MS + r * 1000,
            request_id=f"{r:032x}",
            endpoint="/predict",
            model=baseline.model_name,
            model_version=baseline.model_version,
            feature_names=baseline.feature_names,
            rows=rows,
            labels=[baseline.label_names[i] for i in labels],
            class_indices=labels,
            probabilities=[[1.0 if j == i else 0.0 for j in range(len(baseline.label_names))] for i in labels],
            is_outlier=[rng.random() < 0.2 for _ in rows],
            outlier_scores=[round(rng.uniform(-1, 1), 4) for _ in rows],
            latency_ms=1.5,
        )
        records += [json.loads(line) for line in lines]
    for r in range(2):
        records.append(
            json.loads(
                log.rejected_line(
                    timestamp_ms=START_MS + 500 + r,
                    request_id=f"bad{r}",
                    endpoint="/predict",
                    model=baseline.model_name,
                    model_version=baseline.model_version,
                    status=422,
                    reason="x",
                )
            )
        )
    probe = dict(records[0], endpoint="/predict/test", request_id="probe")
    records.append(probe)
    records.append(dict(records[1], timestamp=END_MS + 5, request_id="late"))  # outside the window
    return records


@pytest.fixture
def iris_records(iris_artifact: Any) -> list[dict[str, Any]]:
    return window_records(iris_artifact.baseline)
