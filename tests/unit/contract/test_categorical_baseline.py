"""A baseline may mix numeric and categorical features: input order, types and the checks on the category lists."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from functions.contract.model_artifact import (
    FEATURE_CATEGORICAL,
    FEATURE_NUMERIC,
    MAX_CATEGORIES,
    ModelArtifactError,
    parse_baseline,
)
from functions.contract.prediction_log import MAX_CATEGORY_CHARS
from tests.unit.quality.mixed import PLAN

MODELS = Path(__file__).resolve().parents[3] / "models"


def mixed_document() -> dict[str, Any]:
    """Iris with a categorical `plan` between its second and third feature."""
    document: dict[str, Any] = json.loads((MODELS / "iris" / "baseline.json").read_text())
    document["features"].insert(2, copy.deepcopy(PLAN))
    return document


def test_mixed_features_keep_input_order_and_numeric_statistics() -> None:
    baseline = parse_baseline(mixed_document())
    assert baseline.feature_names == ("sepal_length", "sepal_width", "plan", "petal_length", "petal_width")
    assert [f.name for f in baseline.features] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert baseline.feature_types[2] == FEATURE_CATEGORICAL
    assert baseline.feature_types.count(FEATURE_NUMERIC) == 4
    assert baseline.numeric_positions == (0, 1, 3, 4)
    assert baseline.categorical_positions == (2,)
    assert baseline.has_categories
    plan = baseline.categorical_feature("plan")
    assert plan.mode == "basic" and plan.share("pro") == 0.3 and plan.share("gold") is None
    sample = baseline.sample_row
    assert sample[2] == "basic" and sample[:2] + sample[3:] == baseline.medians
    assert baseline.row_with([1.0, 2.0, 3.0, 4.0]) == [1.0, 2.0, "basic", 3.0, 4.0]


def test_numeric_only_baseline_has_no_categories() -> None:
    document = mixed_document()
    del document["features"][2]
    baseline = parse_baseline(document)
    assert not baseline.has_categories
    assert baseline.sample_row == baseline.medians


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.update(type="text"), "'type' must be one of"),
        (lambda f: f.update(categories=[]), "'categories' must list"),
        (lambda f: f.update(categories=[f"c{i}" for i in range(MAX_CATEGORIES + 1)]), "'categories' must list"),
        (lambda f: f.update(categories=["basic", "basic", "team"]), "duplicates"),
        (lambda f: f.update(categories=["basic", "x" * (MAX_CATEGORY_CHARS + 1), "team"]), "at most"),
        (lambda f: f.update(categories=["basic", 3, "team"]), "non-empty string"),
        (lambda f: f.update(shares=[0.5, 0.5]), "2 shares for 3 categories"),
        (lambda f: f.update(other_share=0.2), "sum to 1"),
        (lambda f: f.pop("categories"), "missing key 'categories'"),
    ],
)
def test_bad_category_lists_are_refused(change: Any, message: str) -> None:
    document = copy.deepcopy(mixed_document())
    change(document["features"][2])
    with pytest.raises(ModelArtifactError, match=message):
        parse_baseline(document)


def test_category_thresholds_are_read_and_bounded() -> None:
    document = mixed_document()
    document["thresholds"]["category_psi"] = 0.1
    assert parse_baseline(document).thresholds.category_psi == 0.1
    document["thresholds"]["unseen_category_floor"] = 2.0
    with pytest.raises(ModelArtifactError, match="unseen_category_floor"):
        parse_baseline(document)
