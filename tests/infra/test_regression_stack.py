"""A regression model synthesizes like a classifier: cdk-nag passes, its Lambda asset carries the regression model
folder and the quality function's regression Athena text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.asset_files import function_asset_files
from infra.constants import stack_name_for
from tests.infra.test_packaging import REPO_ROOT, run_app


def test_the_asset_ships_the_regression_sql_and_the_model_folder() -> None:
    shipped = {name for name, _ in function_asset_files(REPO_ROOT, "diabetes")}
    assert "functions/quality/quality_regression_athena.sql" in shipped
    assert "functions/inference/regression.py" in shipped and "functions/quality/regression.py" in shipped
    assert {"model/baseline.json", "model/classifier.onnx", "model/outlier_detector.onnx"} <= shipped


@pytest.mark.slow
def test_a_regression_model_synthesizes_offline_with_cdk_nag(tmp_path: Path, stub_layer_dir: Path) -> None:
    result = run_app(tmp_path, {"layer_dir": str(stub_layer_dir), "model": "diabetes"})
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "out" / f"{stack_name_for('diabetes')}.template.json").read_text())
    assert "predictions_diabetes" in json.dumps(template)
