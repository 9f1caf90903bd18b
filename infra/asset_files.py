"""Which files make up the Lambda code asset: `functions/` plus the model folder as `model/`, and its bytecode.

Kept free of CDK imports so the layer build and the bench can build or measure the asset without starting jsii.
The repository's own `__pycache__` is never shipped (whatever Python wrote it); the asset's `.pyc` files are
compiled into the asset directory by `write_function_asset` with a CPython of the runtime's version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from functions.contract.model_artifact import load_model_artifact
from functions.contract.names import BASELINE_FILE, CLASSIFIER_FILE, OUTLIER_DETECTOR_FILE
from infra.bytecode import BytecodeError, CompileReport, Interpreter, compile_tree
from infra.constants import FUNCTIONS_PACKAGE, LAMBDA_TASK_ROOT, MODEL_ASSET_DIR

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


def asset_hash(files: list[tuple[str, Path]], bytecode: Interpreter | None = None) -> str:
    """sha256 over the shipped files and, when `.pyc` files are added, what decides their bytes.

    Without bytecode the hash is the sources-only hash; with it, it changes with the cache tag, magic number
    and compile options, not with the interpreter's patch release or path.
    """
    digest = hashlib.sha256()
    for destination, source in files:
        digest.update(destination.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    if bytecode is not None:
        digest.update(b"bytecode\0" + json.dumps(bytecode.settings(), sort_keys=True).encode())
    return digest.hexdigest()


def write_function_asset(out: Path, files: list[tuple[str, Path]], bytecode: Interpreter | None) -> CompileReport | None:
    """Copy the asset's files into `out`; with an interpreter, add `__pycache__/*.<tag>.pyc` for every `.py`.

    The bytecode records `/var/task/...` as its file names (where Lambda unpacks the asset). A module of
    ours that does not compile on the runtime's version fails here, at synth, rather than at the cold start.
    """
    for destination, source in files:
        target = out / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    if bytecode is None:
        return None
    report = compile_tree(bytecode, out / FUNCTIONS_PACKAGE, strip=out, prepend=LAMBDA_TASK_ROOT)
    if report.failed:
        raise BytecodeError(
            f"{len(report.failed)} module(s) of {FUNCTIONS_PACKAGE}/ do not compile on Python {bytecode.version}: "
            f"{', '.join(report.failed)}\n{report.output}"
        )
    return report
