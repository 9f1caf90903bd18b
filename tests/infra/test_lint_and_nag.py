"""cfn-lint and cdk-nag over the synthesized templates.

cdk-nag runs inside synth (the session fixtures would fail to build if any
AwsSolutions finding were left unacknowledged); the test here proves the plugin
is really active by adding a non-compliant resource and expecting synth to fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cfnlint.api import ManualArgs, lint_file

from infra.nag import nag_packs
from infra.stack import InferenceStack

# The only cfn-lint rule ignored, an artefact of aws-cdk-lib's own output:
#   W3005  redundant DependsOn: CDK adds DependsOn on roles that a GetAtt already orders.
# (W7001, the Firehose module's unused CIDR mapping, is gone: the archive streams are CloudFormation resources now.)
CFN_LINT_IGNORED = ("W3005",)


def cfn_lint(template: Path) -> list[str]:
    """cfn-lint findings as 'RULE level: message' strings (in-process: no 2-second CLI start-up)."""
    matches = lint_file(template, config=ManualArgs(ignore_checks=list(CFN_LINT_IGNORED), regions=["us-east-1"]))
    return [f"{m.rule.id} {m.rule.severity}: {m.message} ({m.linenumber})" for m in matches]


def test_cfn_lint_finds_nothing(synthesized):
    findings = cfn_lint(synthesized.template_path)
    assert findings == [], "\n".join(findings)


def test_cfn_lint_would_report_a_broken_template(tmp_path, iris):
    """Guard against a lint call that silently checks nothing."""
    broken = json.loads(iris.template_path.read_text())
    function_id = next(k for k, v in broken["Resources"].items() if v["Type"] == "AWS::Lambda::Function")
    broken["Resources"][function_id]["Properties"]["Runtime"] = "python2.1"
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    assert any(f.startswith("E") for f in cfn_lint(path))


def acknowledged_rules(outdir: Path, stack_name: str = "ServerlessInference") -> dict[str, str]:
    metadata = json.loads((outdir / f"{stack_name}.metadata.json").read_text())
    rules: dict[str, str] = {}
    for entries in metadata.values():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                rules |= entry["data"]
    return rules


def test_cdk_nag_acknowledgements_are_recorded_with_reasons(iris, wine):
    for synthesized in (iris, wine):
        rules = acknowledged_rules(synthesized.outdir)
        for rule in (
            "AwsSolutions::AwsSolutions-L1",
            "AwsSolutions::AwsSolutions-APIG2",
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions::AwsSolutions-SQS3",
            "AwsSolutions::AwsSolutions-S1",
            "Serverless::Serverless-LambdaLatestVersion",
            "Serverless::Serverless-SQSRedrivePolicy",
        ):
            assert rule in rules, rule
        assert all(len(reason) > 40 for reason in rules.values()), rules
    assert "AwsSolutions::AwsSolutions-APIG4" in acknowledged_rules(iris.outdir)  # API key: cdk-nag does not count it
    assert "AwsSolutions::AwsSolutions-APIG4" not in acknowledged_rules(wine.outdir)  # IAM auth satisfies APIG4
    for reason in acknowledged_rules(iris.outdir).values():
        assert "audited with CloudTrail" not in reason  # no trail with S3 data events exists
    assert "not authentication" in acknowledged_rules(iris.outdir)["AwsSolutions::AwsSolutions-APIG4"]


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(tmp_path, stub_layer_dir):
    app = cdk.App(outdir=str(tmp_path))
    stack = InferenceStack(app, "NagProbe", model="iris", layer_dir=stub_layer_dir)
    # No TLS enforcement, no DLQ, no encryption: AwsSolutions-SQS2/SQS3/SQS4 must fire.
    sqs.Queue(stack, "Noncompliant", enforce_ssl=False, encryption=sqs.QueueEncryption.UNENCRYPTED)
    cdk.Validations.of(app).add_plugins(*nag_packs(app))
    with pytest.raises(Exception, match="Validation"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violated = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert "AwsSolutions-SQS4" in violated
    assert "Serverless-SQSRedrivePolicy" in violated  # the Serverless pack runs too
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    paths = {construct["constructPath"] for v in violations for construct in v["violatingConstructs"]}
    assert all(path.startswith("NagProbe/Noncompliant") for path in paths), paths
