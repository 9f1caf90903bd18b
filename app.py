#!/usr/bin/env python3
"""CDK app: `python app.py` or `cdk synth` / `cdk deploy`, offline, without Docker.

Context (all optional): -c model=iris -c alert_email=ops@example.com
-c slack_workspace_id=T0... -c slack_channel_id=C0... -c log_retention_days=30
-c tracing=true -c api_auth=iam -c retain_data=false -c snap_start=true -c layer_dir=.build/layer
-c stack_name=ServerlessInference-wine (one stack per model, side by side)

The output goes to $CDK_OUTDIR (set by the CDK CLI) or ./cdk.out. cdk-nag's
AwsSolutions checks run as a validation plugin: an unacknowledged finding fails synth.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk

from functions.contract.model_artifact import ModelArtifactError
from infra.nag import nag_packs
from infra.settings import StackSettings
from infra.stack import InferenceStack, LayerMissingError

REPO_ROOT = Path(__file__).resolve().parent


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
