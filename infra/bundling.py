"""The Lambda code asset: `functions/` plus the selected model folder as `model/`, bundled locally.

CDK's bundling normally runs in Docker; here a jsii `ILocalBundling` copies files
in-process, so `cdk synth` needs neither Docker nor network. The asset hash is
computed from exactly the files that are copied, so the CDK never fingerprints
the whole repository (which holds a 600 MB virtualenv) and an unrelated change
does not redeploy the functions.

The bundler also writes `__pycache__/<module>.cpython-312.pyc` (unchecked-hash) for every
shipped `.py`, compiled by a CPython 3.12 found on this machine (`infra.bytecode.find_python`),
because Lambda cannot write bytecode into /var/task. Without one, synth still succeeds and
ships sources only, with one warning line; the asset hash tells the two apart.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.asset_files import asset_hash, function_asset_files, write_function_asset
from infra.bytecode import ENV_BYTECODE_PYTHON, Interpreter, find_python
from infra.constants import FUNCTIONS_PACKAGE, LAYER_PYTHON_VERSION


@jsii.implements(cdk.ILocalBundling)
class CopyFilesBundler:
    """Local bundler that copies a fixed file list into the asset output directory, plus their bytecode."""

    def __init__(self, files: list[tuple[str, Path]], bytecode: Interpreter | None = None) -> None:
        self._files = files
        self._bytecode = bytecode

    def try_bundle(self, output_dir: str, *_options: Any, **_kwargs: Any) -> bool:
        """Copy the files and compile them; the bundling options (image, command...) do not apply here."""
        write_function_asset(Path(output_dir), self._files, self._bytecode)
        return True


@functools.cache
def asset_bytecode_python() -> Interpreter | None:
    """The interpreter that compiles the asset's bytecode, looked up once per process; None warns once."""
    interpreter = find_python(LAYER_PYTHON_VERSION)
    if interpreter is None:
        print(
            f"warning: no CPython {LAYER_PYTHON_VERSION} found: the function asset ships sources only and every cold start "
            f"will compile the {FUNCTIONS_PACKAGE} package (install python{LAYER_PYTHON_VERSION} or set ${ENV_BYTECODE_PYTHON})",
            file=sys.stderr,
            flush=True,
        )
    return interpreter


def function_code(repo_root: Path, model: str) -> lambda_.AssetCode:
    """Lambda code asset for either function: same package, same model, one upload."""
    files = function_asset_files(repo_root, model)
    bytecode = asset_bytecode_python()
    return lambda_.Code.from_asset(
        str(repo_root / FUNCTIONS_PACKAGE),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(files, bytecode),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, so CDK does not fall back to Docker.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=CopyFilesBundler(files, bytecode),
        ),
    )
