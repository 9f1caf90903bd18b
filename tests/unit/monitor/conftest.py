"""The shipped models' baselines, which most monitor tests judge traffic against."""

from __future__ import annotations

import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact


@pytest.fixture
def iris(iris_artifact: ModelArtifact) -> Baseline:
    return iris_artifact.baseline


@pytest.fixture
def wine(wine_artifact: ModelArtifact) -> Baseline:
    return wine_artifact.baseline


@pytest.fixture
def diabetes(diabetes_artifact: ModelArtifact) -> Baseline:
    return diabetes_artifact.baseline
