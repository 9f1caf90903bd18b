"""The joint-drift model: its ONNX graph computes what the NumPy reference does, and rows off the plane score high."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from functions.contract.model_artifact import ModelArtifactError, load_model_artifact
from functions.contract.names import JOINT_DRIFT_FILE
from models.joint_drift import JointDriftModel, fit_joint_drift

MODELS = Path(__file__).resolve().parents[3] / "models"


def correlated(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    return np.hstack([base * 2 + 5, base * -3 + rng.normal(scale=0.3, size=(n, 1)), rng.normal(size=(n, 1)) * 10])


def test_onnx_equals_the_numpy_reference() -> None:
    x = correlated(500, 0)
    onnx_bytes, block = fit_joint_drift(x[:400], x[400:], seed=0)
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x[400:].astype(np.float32)})[0].reshape(-1)
    np.testing.assert_allclose(got, JointDriftModel(x[:400]).errors(x[400:]), rtol=1e-4, atol=1e-4)
    assert block["reference"]["rows"] == 400 and block["holdout"]["rows"] == 100


def test_a_flipped_correlation_raises_the_error_with_the_marginals_unchanged() -> None:
    x = correlated(2000, 1)
    model = JointDriftModel(x[:1000])
    flipped = x[1000:].copy()
    flipped[:, 1] = 2 * flipped[:, 1].mean() - flipped[:, 1]  # mirror: same spread, correlation reversed
    assert model.errors(flipped).mean() > 1.5 * model.errors(x[1000:]).mean()  # measured 1.57 against 0.82


def test_reference_is_out_of_fold_so_unseen_rows_match_it() -> None:
    x = correlated(3000, 2)
    _, block = fit_joint_drift(x[:1500], x[1500:], seed=0)
    reference, holdout = block["reference"], block["holdout"]
    assert abs(reference["mean"] - holdout["mean"]) < 3 * reference["std"] / np.sqrt(holdout["rows"])


def test_a_folder_describing_joint_drift_without_its_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(MODELS / "iris", folder)
    assert load_model_artifact(folder).joint_drift_path == folder / JOINT_DRIFT_FILE
    (folder / JOINT_DRIFT_FILE).unlink()
    with pytest.raises(ModelArtifactError, match="joint_drift"):
        load_model_artifact(folder)
    document = json.loads((folder / "baseline.json").read_text())
    document.pop("joint_drift")
    (folder / "baseline.json").write_text(json.dumps(document))
    assert load_model_artifact(folder).joint_drift_path is None
