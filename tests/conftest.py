"""Fixtures shared by every tier: the committed model folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.contract.model_artifact import ModelArtifact, load_model_artifact

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "models"


@pytest.fixture(scope="session")
def iris_artifact() -> ModelArtifact:
    return load_model_artifact(MODELS_DIR / "iris")


@pytest.fixture(scope="session")
def wine_artifact() -> ModelArtifact:
    return load_model_artifact(MODELS_DIR / "wine")


@pytest.fixture(scope="session")
def diabetes_artifact() -> ModelArtifact:
    """The shipped regression model (docs/regression.md)."""
    return load_model_artifact(MODELS_DIR / "diabetes")
