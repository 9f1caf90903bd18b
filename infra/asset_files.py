"""Which files make up the Lambda code asset: `functions/` plus the model folder as `model/`.

Kept free of CDK imports so the layer build can measure the asset without starting jsii.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from functions.contract.model_artifact import load_model_artifact
from functions.contract.names import BASELINE_FILE, CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE
from infra.constants import FUNCTIONS_PACKAGE, MODEL_ASSET_DIR

# Never shipped: caches, test suites, type stubs and anything local-only.
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache", "local"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo", ".pyi", ".md", ".log", ".jsonl"})
EXCLUDED_FILE_NAMES = frozenset({".DS_Store", "py.typed", "conftest.py"})
MODEL_FILES = (CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE, BASELINE_FILE)


def model_directory(repo_root: Path, model: str) -> Path:
    return repo_root / "models" / model


def function_asset_files(repo_root: Path, model: str) -> list[tuple[str, Path]]:
    """(path inside the asset, source file) for every file the Lambda code asset contains, sorted.

    The model folder is validated with the same loader the functions use at cold start,
    so a broken or incomplete model fails `cdk synth` instead of the first request.
    """
    package = repo_root / FUNCTIONS_PACKAGE
    files: list[tuple[str, Path]] = []
    for source in sorted(package.rglob("*")):
        relative = source.relative_to(package)
        if not source.is_file() or any(part in EXCLUDED_DIR_NAMES or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if source.suffix in EXCLUDED_SUFFIXES or source.name in EXCLUDED_FILE_NAMES:
            continue
        files.append((f"{FUNCTIONS_PACKAGE}/{relative.as_posix()}", source))
    model_dir = model_directory(repo_root, model)
    load_model_artifact(model_dir)
    files += [(f"{MODEL_ASSET_DIR}/{name}", model_dir / name) for name in MODEL_FILES]
    return files


def asset_hash(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for destination, source in files:
        digest.update(destination.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()
