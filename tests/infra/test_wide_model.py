"""A model at the feature limit synthesizes: stack, dashboard (a widget line per feature), monitor and cdk-nag.

The model is trained here (a plain logistic regression and a one-class SVM, exported through the training code),
in a repository root that links the real `functions/` package beside it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from functions.contract.model_artifact import MAX_FEATURES
from models.train import ThresholdedDetector, TrainingData, default_detector, export_model_folder
from tests.infra.conftest import REPO_ROOT, synthesize


def widest_model(models_dir: Path) -> None:
    x, y = make_classification(n_samples=600, n_features=MAX_FEATURES, n_informative=10, n_classes=2, random_state=0)
    names = [f"f{i:03d}" for i in range(MAX_FEATURES)]
    data = TrainingData("widest", "the feature limit", "make_classification", x, y, names, ["no", "yes"])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    detector = default_detector(0.1).fit(x)
    threshold = float(np.quantile(detector.decision_function(x), 0.05))
    export_model_folder(
        models_dir / "widest", data=data, classifier=classifier, outlier_detector=ThresholdedDetector(detector, threshold),
        x_train=x, x_test=x[:100], y_test=y[:100], owner="test",
    )  # fmt: skip


@pytest.mark.slow
def test_a_model_at_the_feature_limit_synthesizes(tmp_path: Path, stub_layer_dir: Path) -> None:
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    os.symlink(REPO_ROOT / "functions", root / "functions")
    widest_model(root / "models")
    synthesized = synthesize(tmp_path / "cdk", stub_layer_dir, model="widest", repo_root=root)
    assert synthesized.stack.baseline.n_features == MAX_FEATURES
    body = str(synthesized.json)
    assert "f199" in body  # the last feature reaches the dashboard
