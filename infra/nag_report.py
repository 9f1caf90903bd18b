"""Print cdk-nag findings per pack, open and acknowledged, for the default stack (`python -m infra.nag_report`).

AwsSolutions and Serverless run in every synth and must have 0 open findings; NIST 800-53 R5 is not
enforced: its open findings, and the settings that close them, are listed in docs/infrastructure.md.
A stub layer is used, so this needs neither `make layer` nor the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import NIST80053R5Checks

from infra.nag import nag_packs
from infra.settings import StackSettings
from infra.stack import InferenceStack

REPO_ROOT = Path(__file__).resolve().parent.parent


def report(context: dict[str, str]) -> dict[str, dict[str, Counter[str]]]:
    """{pack: {"open": Counter(rule), "acknowledged": Counter(rule)}} for one configuration."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "layer" / "python").mkdir(parents=True)
        app = cdk.App(outdir=str(Path(tmp) / "out"), context={"layer_dir": str(Path(tmp) / "layer"), **context})
        settings = StackSettings.from_context(app.node, REPO_ROOT)
        fields = {k: v for k, v in settings.__dict__.items() if k not in ("stack_name", "layer_dir")}
        InferenceStack(app, settings.stack_name, layer_dir=settings.layer_dir, **fields)
        cdk.Validations.of(app).add_plugins(*nag_packs(app), NIST80053R5Checks(app))
        with contextlib.suppress(Exception):  # NIST findings are expected to fail validation; the report says which
            app.synth()
        result: dict[str, dict[str, Counter[str]]] = {}
        report_path = Path(tmp) / "out" / "validation-report.json"
        if report_path.is_file():
            for plugin in json.loads(report_path.read_text())["pluginReports"]:
                for violation in plugin["violations"]:
                    pack = violation["ruleName"].split("-")[0]
                    result.setdefault(pack, {"open": Counter(), "acknowledged": Counter()})["open"][violation["ruleName"]] += len(
                        violation["violatingConstructs"]
                    )
        metadata = json.loads((Path(tmp) / "out" / f"{settings.stack_name}.metadata.json").read_text())
        for entries in metadata.values():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for rule in entry["data"]:
                        pack, _, name = rule.partition("::")
                        result.setdefault(pack, {"open": Counter(), "acknowledged": Counter()})["acknowledged"][name] += 1
        return result


def main() -> int:
    context = dict(arg.split("=", 1) for arg in sys.argv[1:])
    for pack, counts in sorted(report(context).items()):
        print(f"{pack}: open {sum(counts['open'].values())}, acknowledged {sum(counts['acknowledged'].values())}")
        for rule, count in sorted(counts["open"].items()):
            print(f"  open  {rule} x{count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
