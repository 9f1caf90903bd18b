"""The code asset's file list, the layer build script (no network), settings parsing and app.py itself."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
import pytest

from functions.contract.model_artifact import ModelArtifactError
from infra.alerts import Alerts
from infra.asset_files import asset_hash, function_asset_files
from infra.bytecode import Interpreter
from infra.constants import LAYER_PACKAGES, LAYER_PYTHON_VERSION, stack_name_for
from infra.inference_api import RUNTIME
from infra.settings import StackSettings, retention

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_build_layer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_layer", REPO_ROOT / "layers" / "build_layer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    """A repository with the real model folders and a functions package full of things never to ship."""
    shutil.copytree(REPO_ROOT / "models" / "iris", tmp_path / "models" / "iris")
    package = tmp_path / "functions"
    for relative in ("__init__.py", "inference/handler.py", "contract/names.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("# code\n")
    for junk in ("__pycache__/handler.cpython-312.pyc", "inference/tests/test_x.py", "inference/stale.pyc", ".venv/lib.py"):
        (package / junk).parent.mkdir(parents=True, exist_ok=True)
        (package / junk).write_text("junk\n")
    return tmp_path


# --- code asset ---------------------------------------------------------------------------------------------
def test_asset_files_ship_code_and_model_only(fake_repo):
    files = [destination for destination, _ in function_asset_files(fake_repo, "iris")]
    assert files == [
        "functions/__init__.py",
        "functions/contract/names.py",
        "functions/inference/handler.py",
        "model/classifier.onnx",
        "model/outlier_detector.onnx",
        "model/baseline.json",
    ]


def test_asset_hash_changes_with_content_only(fake_repo):
    before = asset_hash(function_asset_files(fake_repo, "iris"))
    (fake_repo / "functions" / "__pycache__" / "other.pyc").write_text("ignored\n")
    assert asset_hash(function_asset_files(fake_repo, "iris")) == before
    (fake_repo / "functions" / "inference" / "handler.py").write_text("# changed\n")
    assert asset_hash(function_asset_files(fake_repo, "iris")) != before


def test_broken_or_missing_model_fails_before_deploy(fake_repo):
    with pytest.raises(ModelArtifactError, match="does not exist"):
        function_asset_files(fake_repo, "nosuchmodel")
    (fake_repo / "models" / "iris" / "outlier_detector.onnx").unlink()
    with pytest.raises(ModelArtifactError, match=r"outlier_detector\.onnx"):
        function_asset_files(fake_repo, "iris")


# --- layer build script (offline parts) ---------------------------------------------------------------------
def test_layer_pins_come_from_requirements_and_exclude_boto3():
    build_layer = load_build_layer()
    pins = build_layer.read_pins(REPO_ROOT / "requirements.txt", LAYER_PACKAGES)
    assert [pin.split("==")[0] for pin in pins] == list(LAYER_PACKAGES)
    assert all("==" in pin for pin in pins)
    assert not [pin for pin in pins if pin.startswith(("boto3", "botocore", "scikit-learn", "skl2onnx"))]


def test_lock_pins_every_layer_package_with_hashes_and_agrees_with_requirements():
    build_layer = load_build_layer()
    lock = build_layer.read_lock(build_layer.LOCK_FILE)
    assert {"numpy", "onnxruntime", "aws-lambda-powertools", "pydantic"} <= set(lock)
    assert {"protobuf", "flatbuffers", "packaging", "pydantic-core", "typing-extensions"} <= set(lock)  # transitive, pinned too
    build_layer.check_lock_against_requirements(lock, REPO_ROOT / "requirements.txt", LAYER_PACKAGES)
    assert not set(lock) & build_layer.FORBIDDEN_DISTRIBUTIONS
    tracer = build_layer.read_lock(build_layer.TRACER_LOCK_FILE)
    assert set(tracer) == {"aws-xray-sdk", "wrapt"}  # no botocore: the runtime has it


def test_lock_entry_without_a_hash_is_refused(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.4.6 \\\n    --hash=sha256:" + "a" * 64 + "\nprotobuf==7.36.2\n    # via onnxruntime\n")
    with pytest.raises(SystemExit, match="protobuf has no sha256 hash"):
        load_build_layer().read_lock(lock)


def test_a_stale_lock_is_refused(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==9.9.9\n")
    with pytest.raises(SystemExit, match=r"numpy: requirements\.txt 9\.9\.9, lock 2\.4\.6"):
        load_build_layer().check_lock_against_requirements({"numpy": "2.4.6"}, requirements, ("numpy",))


def test_installed_layer_must_equal_the_lock():
    build_layer = load_build_layer()
    lock = {"numpy": "2.4.6", "protobuf": "7.36.2"}
    build_layer.check_installed_equals_lock(dict(lock), lock)
    with pytest.raises(SystemExit, match=r"extra \['six'\]"):
        build_layer.check_installed_equals_lock({**lock, "six": "1.0"}, lock)
    with pytest.raises(SystemExit, match=r"other versions \['protobuf'\]"):
        build_layer.check_installed_equals_lock({**lock, "protobuf": "7.0.0"}, lock)


def test_built_layer_manifest_equals_the_lock():
    """After `make layer`: what is in .build/layer is exactly the lock (skipped on a clone that never built it)."""
    build_layer = load_build_layer()
    manifest_path = REPO_ROOT / ".build" / "layer-manifest.json"
    if not manifest_path.is_file():
        pytest.skip("no layer built here (make layer)")
    manifest = json.loads(manifest_path.read_text())
    expected = build_layer.read_lock(build_layer.LOCK_FILE)
    if manifest.get("tracer"):
        expected |= build_layer.read_lock(build_layer.TRACER_LOCK_FILE)
    assert manifest["distributions"] == expected


def test_layer_is_rebuilt_only_when_its_inputs_change(tmp_path, monkeypatch):
    build_layer = load_build_layer()
    output = tmp_path / "layer"
    (output / "python").mkdir(parents=True)
    calls = []
    monkeypatch.setattr(build_layer, "build", lambda *a, **k: calls.append(a) or {"tracer": False})
    monkeypatch.setattr(build_layer, "zipped_size", lambda directory: 1)
    fake = Interpreter(path=tmp_path / "python3.12", version="3.12.1", cache_tag="cpython-312", magic="cb0d0d0a")
    monkeypatch.setattr(build_layer, "find_python", lambda version, override=None: fake)
    monkeypatch.setattr(build_layer, "function_bytecode_bytes", lambda repo_root, model, interpreter: 0)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text((REPO_ROOT / "requirements.txt").read_text())
    args = ["--output", str(output), "--requirements", str(requirements), "--model", "iris"]
    assert build_layer.main(args) == 0 and len(calls) == 1  # no manifest yet: build
    assert build_layer.main(args) == 0 and len(calls) == 1  # same inputs: skipped, no network
    assert build_layer.main([*args, "--tracer"]) == 0 and len(calls) == 2  # another option: rebuild
    assert build_layer.main([*args, "--tracer"]) == 0 and len(calls) == 2
    requirements.write_text(requirements.read_text() + "# changed\n")
    assert build_layer.main([*args, "--tracer"]) == 0 and len(calls) == 3  # an input changed: rebuild
    assert build_layer.main([*args, "--tracer", "--force"]) == 0 and len(calls) == 4
    assert build_layer.main([*args, "--tracer", "--no-bytecode"]) == 0 and len(calls) == 5  # bytecode is an input
    assert build_layer.main([*args, "--tracer", "--no-bytecode"]) == 0 and len(calls) == 5
    assert build_layer.main([*args, "--tracer"]) == 0 and len(calls) == 6  # a layer without bytecode is rebuilt


def test_layer_build_refuses_unpinned_packages(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.4.6\nonnxruntime>=1.0\n")
    with pytest.raises(SystemExit, match="onnxruntime"):
        load_build_layer().read_pins(requirements, ("numpy", "onnxruntime"))


def test_layer_prune_removes_caches_and_test_suites_only(tmp_path):
    site = tmp_path / "python"
    layout = ("numpy/core/tests/test_a.py", "numpy/__pycache__/x.cpython-312.pyc", "numpy/testing/__init__.py", "numpy/a.pyc")
    for relative in layout:
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text("x" * 10)
    saved = load_build_layer().prune(site)
    remaining = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert remaining == ["numpy/testing/__init__.py"]
    assert saved == 30


def test_layer_python_version_matches_function_runtime():
    assert RUNTIME.name == f"python{LAYER_PYTHON_VERSION}"


def test_tracing_refuses_a_layer_built_without_the_xray_sdk(tmp_path):
    from infra.stack import LayerMissingError, check_layer

    (tmp_path / "layer" / "python").mkdir(parents=True)
    check_layer(tmp_path / "layer", tracing=True)  # no manifest (hand-made layer): trusted
    (tmp_path / "layer-manifest.json").write_text(json.dumps({"tracer": False}))
    check_layer(tmp_path / "layer", tracing=False)
    with pytest.raises(LayerMissingError, match="--tracer"):
        check_layer(tmp_path / "layer", tracing=True)
    (tmp_path / "layer-manifest.json").write_text(json.dumps({"tracer": True}))
    check_layer(tmp_path / "layer", tracing=True)


def test_a_layer_built_for_another_architecture_is_refused(tmp_path):
    from infra.stack import LayerMissingError, check_layer

    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer-manifest.json").write_text(json.dumps({"arch": "arm64", "tracer": False}))
    check_layer(tmp_path / "layer", tracing=False)  # the functions run on arm64
    (tmp_path / "layer-manifest.json").write_text(json.dumps({"arch": "x86_64", "tracer": False}))
    with pytest.raises(LayerMissingError, match=r"built for x86_64 .* run on arm64: .*--arch arm64"):
        check_layer(tmp_path / "layer", tracing=False)
    check_layer(tmp_path / "layer", tracing=False, architecture="x86_64")


# --- settings ----------------------------------------------------------------------------------------------------
def test_settings_defaults_and_overrides():
    assert StackSettings.from_context(cdk.App().node, REPO_ROOT).snap_start is False
    app = cdk.App(
        context={
            "tracing": "true",
            "api_auth": "iam",
            "log_retention_days": "90",
            "alert_email": " a@b.example ",
            "snap_start": "true",
        }
    )
    settings = StackSettings.from_context(app.node, REPO_ROOT)
    assert settings.snap_start is True
    assert settings.model == "iris"
    assert settings.tracing is True
    assert settings.api_auth.value == "iam"
    assert settings.alert_email == "a@b.example"
    assert settings.layer_dir == REPO_ROOT / ".build" / "layer"
    assert settings.retain_data is True


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"log_retention_days": "31"}, "not a CloudWatch retention"),
        ({"log_retention_days": "a month"}, "not a number of days"),
        ({"api_auth": "cognito"}, "api_auth"),
        ({"tracing": "maybe"}, "tracing"),
        ({"snap_start": "sometimes"}, "snap_start"),
        ({"alert_email": "not-an-address"}, "alert_email"),
    ],
)
def test_settings_reject_bad_context(context, message):
    with pytest.raises(ValueError, match=message):
        StackSettings.from_context(cdk.App(context=context).node, REPO_ROOT)


def test_data_settings_defaults_and_overrides():
    defaults = StackSettings.from_context(cdk.App().node, REPO_ROOT)
    assert (defaults.archive_expiry_days, defaults.data_kms_key, defaults.bucket_versioning, defaults.s3_access_logs) == (
        400,
        False,
        False,
        False,
    )
    assert defaults.api_gateway_account_role is True  # a fresh account has no role: the stack sets one
    assert defaults.reserved_concurrency is False  # a quota-10 account cannot reserve any
    assert defaults.stack_name == "ServerlessInference-iris"
    assert (defaults.quality_schedule, defaults.quality_lookback_days) == ("rate(1 hour)", 7)
    context = {
        "archive_expiry_days": "0",
        "data_kms_key": "true",
        "bucket_versioning": "yes",
        "s3_access_logs": "1",
        "api_gateway_account_role": "false",
        "reserved_concurrency": "true",
        "quality_schedule": "cron(0 6 * * ? *)",
        "quality_lookback_days": "30",
    }
    settings = StackSettings.from_context(cdk.App(context=context).node, REPO_ROOT)
    assert settings.archive_expiry_days == 0 and settings.data_kms_key and settings.bucket_versioning
    assert settings.s3_access_logs and not settings.api_gateway_account_role and settings.reserved_concurrency
    assert (settings.quality_schedule, settings.quality_lookback_days) == ("cron(0 6 * * ? *)", 30)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"archive_expiry_days": "-1"}, "archive_expiry_days"),
        ({"archive_expiry_days": "forever"}, "not a number of days"),
        ({"quality_schedule": "hourly"}, "quality_schedule"),
        ({"quality_lookback_days": "0"}, "quality_lookback_days"),
        ({"data_kms_key": "maybe"}, "data_kms_key"),
    ],
)
def test_data_settings_reject_bad_context(context, message):
    with pytest.raises(ValueError, match=message):
        StackSettings.from_context(cdk.App(context=context).node, REPO_ROOT)


def test_archive_expiry_must_follow_the_glacier_transition(stub_layer_dir):
    from infra.stack import InferenceStack

    with pytest.raises(ValueError, match="after the move to Glacier"):
        InferenceStack(cdk.App(), "ExpiryProbe", model="iris", layer_dir=stub_layer_dir, archive_expiry_days=60)


def test_retention_maps_days():
    assert retention(30).name == "ONE_MONTH"


def test_slack_needs_both_ids():
    stack = cdk.Stack(cdk.App(), "SlackProbe")
    with pytest.raises(ValueError, match="both"):
        Alerts(stack, "Alerts", slack_workspace_id="T0123")


# --- app.py ---------------------------------------------------------------------------------------------------------
def run_app(tmp_path: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))},
        # No credentials, and any AWS call would go nowhere: synth must not need either.
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_app_without_layer_says_run_make_layer(tmp_path):
    result = run_app(tmp_path, {"layer_dir": str(tmp_path / "missing")})
    assert result.returncode == 2
    assert "run `make layer`" in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))


def test_app_reports_bad_context_in_one_line(tmp_path, stub_layer_dir):
    result = run_app(tmp_path, {"layer_dir": str(stub_layer_dir), "model": "nosuchmodel"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: model folder")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_app_synthesizes_offline_into_cdk_outdir(tmp_path, stub_layer_dir):
    """`python app.py` with no credentials and a bogus endpoint: any AWS call would fail."""
    result = run_app(tmp_path, {"layer_dir": str(stub_layer_dir), "model": "wine", "alert_email": "ops@example.com"})
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "out" / f"{stack_name_for('wine')}.template.json").read_text())
    assert "predictions_wine" in json.dumps(template)


def test_app_reruns_itself_with_the_projects_python_whatever_the_virtualenv_is_called(tmp_path, stub_layer_dir):
    """`cdk synth` runs `python3 app.py`; an interpreter without aws-cdk-lib hands over to CDK_PYTHON (any name)."""
    wrapper = tmp_path / "my-env" / "bin" / "python"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "VIRTUAL_ENV", "_APP_PY"))},
        "CDK_PYTHON": str(wrapper),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps({"layer_dir": str(tmp_path / "missing")}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    # `-S`: no site-packages, so this interpreter cannot import aws_cdk and must hand over.
    result = subprocess.run(
        [sys.executable, "-S", "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "run `make layer`" in result.stderr  # reached the stack code: aws_cdk imported in the handed-over process


def test_app_without_any_cdk_python_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "VIRTUAL_ENV"))} | {"_APP_PY_REEXEC": "1"}
    result = subprocess.run([sys.executable, "-S", "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "has no aws-cdk-lib" in result.stderr and "CDK_PYTHON" in result.stderr
