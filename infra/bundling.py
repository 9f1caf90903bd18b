"""The Lambda code asset: `functions/` plus the selected model folder as `model/`, bundled locally.

CDK's bundling normally runs in Docker; here a jsii `ILocalBundling` copies files
in-process, so `cdk synth` needs neither Docker nor network. The asset hash is
computed from exactly the files that are copied, so the CDK never fingerprints
the whole repository (which holds a 600 MB virtualenv) and an unrelated change
does not redeploy the functions.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.asset_files import asset_hash, function_asset_files
from infra.constants import FUNCTIONS_PACKAGE


@jsii.implements(cdk.ILocalBundling)
class CopyFilesBundler:
    """Local bundler that copies a fixed file list into the asset output directory."""

    def __init__(self, files: list[tuple[str, Path]]) -> None:
        self._files = files

    def try_bundle(self, output_dir: str, *_options: Any, **_kwargs: Any) -> bool:
        """Copy the files; the bundling options (image, command...) do not apply to a plain copy."""
        out = Path(output_dir)
        for destination, source in self._files:
            target = out / destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return True


def function_code(repo_root: Path, model: str) -> lambda_.AssetCode:
    """Lambda code asset for either function: same package, same model, one upload."""
    files = function_asset_files(repo_root, model)
    return lambda_.Code.from_asset(
        str(repo_root / FUNCTIONS_PACKAGE),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(files),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, so CDK does not fall back to Docker.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=CopyFilesBundler(files),
        ),
    )
