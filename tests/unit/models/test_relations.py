"""The relations block: which features training ties together, and what the contract refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.contract.model_artifact import ModelArtifactError, parse_baseline
from models.relations import MIN_R2, fit_relations

MODELS = Path(__file__).resolve().parents[3] / "models"


def test_a_feature_built_from_two_others_is_tied_to_them_with_their_coefficients() -> None:
    rng = np.random.default_rng(0)
    a, b, noise = rng.normal(size=(3, 500))
    x = np.column_stack([a, b, 2.0 * a - 0.5 * b + 3.0 + 0.3 * noise, rng.normal(size=500)])
    block = fit_relations(x, ["a", "b", "c", "d"])
    assert block is not None and block["rows"] == 500
    by_feature = {entry["feature"]: entry for entry in block["features"]}
    assert "d" not in by_feature  # independent of the rest
    c = by_feature["c"]
    assert c["coefficients"]["a"] == pytest.approx(2.0, abs=0.05) and c["coefficients"]["b"] == pytest.approx(-0.5, abs=0.05)
    assert c["intercept"] == pytest.approx(3.0, abs=0.05) and c["residual_std"] == pytest.approx(0.3, rel=0.1)
    assert all(entry["r2"] >= MIN_R2 for entry in block["features"])


def test_independent_columns_or_one_column_give_no_block() -> None:
    rng = np.random.default_rng(1)
    assert fit_relations(rng.normal(size=(400, 5)), list("abcde")) is None
    assert fit_relations(rng.normal(size=(400, 1)), ["a"]) is None


def iris_document() -> dict[str, Any]:
    return json.loads((MODELS / "iris" / "baseline.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(feature="petal_size"), "is not a numeric feature"),
        (lambda r: r["coefficients"].update({r["feature"]: 1.0}), "must be another numeric feature"),
        (lambda r: r.update(residual_std=0.0), "'residual_std' must be > 0"),
        (lambda r: r.update(r2=1.0), "'r2' in \\[0, 1\\)"),
        (lambda r: r.update(coefficients={}), "at least one predictor"),
    ],
)
def test_a_broken_relation_is_refused_naming_the_entry(change: Any, message: str) -> None:
    document = copy.deepcopy(iris_document())
    change(document["relations"]["features"][0])
    with pytest.raises(ModelArtifactError, match=rf"baseline.relations.features\[0\]: .*{message}"):
        parse_baseline(document)


def test_a_baseline_written_before_relations_loads_without_them() -> None:
    document = iris_document()
    document.pop("relations")
    assert parse_baseline(document).relations == ()
