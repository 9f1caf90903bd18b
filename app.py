#!/usr/bin/env python3
"""CDK app: `python app.py` or `cdk synth` / `cdk deploy`, offline, without Docker.

Context (all optional): -c model=iris -c alert_email=ops@example.com
-c slack_workspace_id=T0... -c slack_channel_id=C0... -c log_retention_days=30
-c tracing=true -c api_auth=iam|jwt -c api=rest|http -c waf=true -c retain_data=false -c snap_start=true -c layer_dir=.build/layer
-c stack_name=ServerlessInference (default ServerlessInference-<model>: one stack per model, side by side)

Data settings: -c archive_expiry_days=400 -c data_kms_key=true -c bucket_versioning=true
-c s3_access_logs=true -c api_gateway_account_role=false -c reserved_concurrency=true -c quality_schedule="rate(1 hour)"
-c quality_lookback_days=7 (docs/infrastructure.md says what each costs).

The output goes to $CDK_OUTDIR (set by the CDK CLI) or ./cdk.out. cdk-nag's AwsSolutions and
Serverless packs run as validation plugins: an unacknowledged finding fails synth.

cdk.json runs `python3 app.py`: with any virtualenv activated that is the virtualenv's Python.
When the interpreter lacks aws-cdk-lib (no virtualenv active, e.g. `npx cdk deploy` from make),
the app re-runs itself with $CDK_PYTHON, then $VIRTUAL_ENV's Python, then ./.venv or ./venv.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
VIRTUALENV_NAMES = (".venv", "venv", "env", ".env")


def python_with_cdk() -> Path | None:
    """An interpreter that has aws-cdk-lib, when this one does not (None: use this one, or none was found)."""
    if importlib.util.find_spec("aws_cdk") is not None:
        return None
    candidates = [Path(os.environ["CDK_PYTHON"])] if os.environ.get("CDK_PYTHON") else []
    if os.environ.get("VIRTUAL_ENV"):
        candidates.append(Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python")
    candidates += [REPO_ROOT / name / "bin" / "python" for name in VIRTUALENV_NAMES]
    # Not resolved: a virtualenv's bin/python is a symlink to the base interpreter, yet starts with the venv's packages.
    current = Path(sys.executable).absolute()
    return next((c for c in candidates if c.is_file() and c.absolute() != current), None)


if __name__ == "__main__" and importlib.util.find_spec("aws_cdk") is None:
    other = None if os.environ.get("_APP_PY_REEXEC") else python_with_cdk()
    os.environ["_APP_PY_REEXEC"] = "1"  # one re-run at most
    if other is None:
        sys.exit(
            f"error: {sys.executable} has no aws-cdk-lib. Activate the virtualenv where requirements-dev.txt is installed, "
            "or set CDK_PYTHON=/path/to/venv/bin/python."
        )
    os.execv(str(other), [str(other), *sys.argv])

import aws_cdk as cdk  # noqa: E402  (after the interpreter check above)

from functions.contract.model_artifact import ModelArtifactError  # noqa: E402
from infra.nag import nag_packs  # noqa: E402
from infra.settings import StackSettings  # noqa: E402
from infra.stack import InferenceStack, LayerMissingError  # noqa: E402


def main() -> int:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or str(REPO_ROOT / "cdk.out"))
    try:
        settings = StackSettings.from_context(app.node, REPO_ROOT)
        InferenceStack(
            app,
            settings.stack_name,
            model=settings.model,
            layer_dir=settings.layer_dir,
            alert_email=settings.alert_email,
            slack_workspace_id=settings.slack_workspace_id,
            slack_channel_id=settings.slack_channel_id,
            log_retention=settings.log_retention,
            tracing=settings.tracing,
            api_auth=settings.api_auth,
            retain_data=settings.retain_data,
            snap_start=settings.snap_start,
            api=settings.api,
            archive_expiry_days=settings.archive_expiry_days,
            data_kms_key=settings.data_kms_key,
            bucket_versioning=settings.bucket_versioning,
            s3_access_logs=settings.s3_access_logs,
            api_gateway_account_role=settings.api_gateway_account_role,
            reserved_concurrency=settings.reserved_concurrency,
            quality_schedule=settings.quality_schedule,
            quality_lookback_days=settings.quality_lookback_days,
            # Environment-agnostic on purpose: nothing is looked up, so the template is the same for every
            # account and region (the CLI's profile decides where `cdk deploy` goes).
        )
    except (LayerMissingError, ModelArtifactError, ValueError) as error:
        # Operator mistakes (missing layer, unknown model, bad -c value): one line, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        return 2
    cdk.Validations.of(app).add_plugins(*nag_packs(app))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
