"""Build the Lambda layer (onnxruntime, numpy, Powertools, pydantic) without Docker.

Lambda runs Linux on Graviton (arm64) with CPython 3.12, so pip is told to fetch
binary wheels for that platform (`--platform ... --only-binary=:all:`) instead of
building anything for this machine. onnxruntime publishes only `manylinux_2_28`
wheels for cp312, hence both platform tags. boto3 is left out on purpose (the
runtime ships it) and so is everything training-only (scikit-learn, skl2onnx, onnx).

Output (git-ignored):
  .build/layer/python/...        the layer asset directory (CDK zips it)
  .build/layer-manifest.json     pins, platform and sizes; app.py refuses a stale layer

The unzipped size of the layer plus the function asset (functions/ and the model
folder, exactly what CDK bundles) is printed and checked against Lambda's 250 MB
limit; the script exits non-zero when it is exceeded.

With `--tracer` the X-Ray SDK (what Powertools' Tracer imports when the stack is
deployed with `-c tracing=true`) is added without its botocore dependency, which the
runtime provides; a layer copy would shadow the runtime's botocore and urllib3.

Usage: python layers/build_layer.py [--tracer] [--model iris] [--output .build/layer] [--python-version 3.12] [--arch arm64]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from infra.asset_files import function_asset_files  # noqa: E402  (needs the repo root on sys.path)
from infra.constants import (  # noqa: E402
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    LAYER_BUILD_DIR,
    LAYER_MANIFEST,
    LAYER_PACKAGES,
    LAYER_PYTHON_VERSION,
    LAYER_TRACER_PACKAGES,
)

PLATFORMS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
# Directories nobody imports at run time. numpy's `tests` folders are its own test suite
# (numpy.testing, which is a module users import, is not touched).
PRUNE_DIR_NAMES = frozenset({"__pycache__", "tests"})
# Never allowed in a Lambda asset: training-only or provided by the runtime.
FORBIDDEN_DISTRIBUTIONS = frozenset({"scikit-learn", "sklearn", "skl2onnx", "onnx", "boto3", "botocore", "s3transfer"})
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s#;]+)")


def read_pins(requirements: Path, packages: tuple[str, ...]) -> list[str]:
    """Return `name==version` for each layer package, as pinned in requirements.txt."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[_normalise(match.group(1).split("[")[0])] = f"{match.group(1)}=={match.group(2)}"
    missing = [name for name in packages if _normalise(name) not in pins]
    if missing:
        raise SystemExit(f"{requirements}: no '==' pin for {', '.join(missing)}")
    return [pins[_normalise(name)] for name in packages]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def prune(site: Path) -> int:
    """Delete caches and bundled test suites; returns the bytes saved."""
    saved = 0
    for directory in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and directory.name in PRUNE_DIR_NAMES:
            saved += directory_size(directory)
            shutil.rmtree(directory)
    for compiled in site.rglob("*.py[co]"):
        saved += compiled.stat().st_size
        compiled.unlink()
    return saved


def installed_distributions(site: Path) -> dict[str, str]:
    found = {}
    for meta in site.glob("*.dist-info"):
        name, _, version = meta.name[: -len(".dist-info")].partition("-")
        found[_normalise(name)] = version
    return found


def zipped_size(directory: Path) -> int:
    """Size of the layer zip as CDK would upload it (deflate), measured in a temp file."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(directory.rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(directory))
        return archive.stat().st_size


def pip_install(site: Path, python_version: str, arch: str, requirements: list[str], *, no_deps: bool = False) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    for platform in PLATFORMS[arch]:
        command += ["--platform", platform]
    command += ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    command += [*(["--no-deps"] if no_deps else []), "--target", str(site), *requirements]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "PIP_NO_INPUT": "1"})


def build(output: Path, python_version: str, arch: str, requirements: Path, *, tracer: bool = False) -> dict[str, object]:
    pins = read_pins(requirements, LAYER_PACKAGES)
    staging = output.with_name(output.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    site = staging / "python"
    pip_install(site, python_version, arch, pins)
    if tracer:
        pip_install(site, python_version, arch, list(LAYER_TRACER_PACKAGES), no_deps=True)

    distributions = installed_distributions(site)
    forbidden = sorted(FORBIDDEN_DISTRIBUTIONS & set(distributions))
    if forbidden:
        raise SystemExit(f"layer would contain {', '.join(forbidden)}: training-only or runtime-provided packages")
    saved = prune(site)
    # Swap in atomically so a failed build never leaves a half-filled layer that synth would accept.
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    return {"pins": pins, "distributions": distributions, "pruned_bytes": saved, "tracer": tracer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / LAYER_BUILD_DIR)
    parser.add_argument("--python-version", default=LAYER_PYTHON_VERSION)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--model", default=None, help="model folder under models/ counted in the size check (default: all)")
    parser.add_argument("--requirements", type=Path, default=REPO_ROOT / "requirements.txt")
    parser.add_argument("--check-only", action="store_true", help="only measure an existing layer")
    parser.add_argument("--tracer", action="store_true", help="add the X-Ray SDK for -c tracing=true deployments")
    args = parser.parse_args(argv)

    output: Path = args.output.resolve()
    info: dict[str, object] = {}
    if not args.check_only:
        info = build(output, args.python_version, args.arch, args.requirements, tracer=args.tracer)
    elif not (output / "python").is_dir():
        raise SystemExit(f"{output}/python does not exist: run `make layer`")

    layer_bytes = directory_size(output)
    layer_zip = zipped_size(output)
    models = [args.model] if args.model else sorted(p.name for p in (REPO_ROOT / "models").iterdir() if p.is_dir())
    function_bytes = max(sum(f.stat().st_size for _, f in function_asset_files(REPO_ROOT, m)) for m in models)
    total = layer_bytes + function_bytes
    mib = 1024 * 1024
    print(f"layer unzipped:    {layer_bytes / mib:8.1f} MiB ({layer_bytes} bytes)")
    print(f"layer zipped:      {layer_zip / mib:8.1f} MiB ({layer_zip} bytes)")
    print(f"function asset:    {function_bytes / mib:8.3f} MiB (largest of models: {', '.join(models)})")
    print(f"function + layers: {total / mib:8.1f} MiB of {LAMBDA_UNZIPPED_LIMIT_BYTES / mib:.0f} MiB allowed unzipped")
    if "pruned_bytes" in info:
        print(f"pruned caches/tests: {int(info['pruned_bytes']) / mib:.1f} MiB")  # type: ignore[call-overload]

    manifest = {
        **info,
        "python_version": args.python_version,
        "arch": args.arch,
        "layer_unzipped_bytes": layer_bytes,
        "layer_zipped_bytes": layer_zip,
        "function_asset_bytes": function_bytes,
    }
    if not args.check_only:
        (output.parent / LAYER_MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if total > LAMBDA_UNZIPPED_LIMIT_BYTES:
        print(f"FAIL: {total} bytes exceed Lambda's unzipped limit of {LAMBDA_UNZIPPED_LIMIT_BYTES} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
