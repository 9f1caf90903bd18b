"""A model with categorical features synthesizes: the Glue table types each category as a string inside `features`,
the dashboard draws distribution and mean-shift lines for the numeric features only, cfn-lint and cdk-nag stay clean.

The model folder is iris's with two categorical features inserted in its baseline (tests/unit/quality/mixed.py),
in a repository root that links the real `functions/` package beside it; synth reads only the baseline."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import aws_cdk as cdk
import pytest

from functions.contract import names
from functions.contract import prediction_log as log
from functions.contract.model_artifact import FEATURE_CATEGORICAL
from infra import constants as c
from infra.api_options import ApiOptions
from infra.archive import FEATURE_GLUE_TYPES, features_struct
from infra.observability import unseen_category_query
from tests.infra.conftest import REPO_ROOT, Synthesized, synthesize
from tests.infra.test_lint_and_nag import cfn_lint
from tests.infra.test_stack import flatten, only
from tests.unit.quality.logs import baseline_of, scenario
from tests.unit.quality.mixed import MIXED_MODEL, mixed_baseline, mixed_scenario, write_mixed_model_folder


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, stub_layer_dir: Path) -> Synthesized:
    root = tmp_path_factory.mktemp("mixed-repo")
    (root / "models").mkdir()
    os.symlink(REPO_ROOT / "functions", root / "functions")
    write_mixed_model_folder(root / "models" / MIXED_MODEL)
    return synthesize(
        tmp_path_factory.mktemp("cdk-mixed"),
        stub_layer_dir,
        model=MIXED_MODEL,
        repo_root=root,
        api=ApiOptions(unseen_categories=names.UNSEEN_REFUSE),
    )


def prediction_columns(synthesized: Synthesized) -> dict[str, str]:
    _, table = only(synthesized.json, "AWS::Glue::Table", "LogArchiveTable")
    return {col["Name"]: col["Type"] for col in table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]}


def struct_fields(struct: str) -> list[tuple[str, str]]:
    match = re.fullmatch(r"struct<(.*)>", struct)
    assert match is not None, struct
    return [(field.split(":")[0], field.split(":")[1]) for field in match.group(1).split(",")]


def test_the_features_struct_types_categories_as_strings_in_input_order(mixed: Synthesized) -> None:
    baseline = mixed.stack.baseline
    assert baseline.has_categories
    fields = struct_fields(prediction_columns(mixed)[log.KEY_FEATURES])
    assert [name for name, _ in fields] == list(baseline.feature_names)
    categorical = {feature.name for feature in baseline.categorical}
    assert {name for name, kind in fields if kind == "string"} == categorical == {"plan", "channel"}
    assert {name for name, kind in fields if kind == "double"} == {feature.name for feature in baseline.features}
    # the OpenX SerDe fails every query over a value it cannot read as its column's type: no category may be double
    assert not [name for name, kind in fields if name in categorical and kind != "string"]


def test_the_unseen_categories_key_is_an_array_of_strings_before_caller(mixed: Synthesized) -> None:
    columns = prediction_columns(mixed)
    assert columns[log.KEY_UNSEEN_CATEGORIES] == "array<string>"
    order = list(columns)
    assert order.index(log.KEY_PROBABILITIES) < order.index(log.KEY_UNSEEN_CATEGORIES) < order.index(log.KEY_CALLER)


def test_the_dashboard_draws_drift_lines_for_numeric_features_only(mixed: Synthesized) -> None:
    baseline = mixed.stack.baseline
    _, dashboard = only(mixed.json, "AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for feature in baseline.features:
        assert f'"{names.drift_metric(feature.name)}"' in body
        assert f'"{names.mean_shift_metric(feature.name)}"' in body
    for category in baseline.categorical:
        assert names.drift_metric(category.name) not in body
        assert names.mean_shift_metric(category.name) not in body
        assert f'"{names.category_drift_metric(category.name)}"' in body  # its own lines: PSI and unseen share
        assert f'"{names.unseen_category_metric(category.name)}"' in body
    assert "plan (categorical)" in body and "channel (categorical)" in body
    assert "Latest rows with unseen categories" in body
    assert json.dumps("\n| ".join(unseen_category_query(baseline)))[1:-1] in body


def test_the_unseen_category_query_reads_the_list_and_the_values_from_the_lines() -> None:
    """The widget's `parse` regex (Logs Insights writes named groups as (?<name>...)) over real mixed lines."""
    baseline = mixed_baseline()
    query = unseen_category_query(baseline)
    assert query[2] == "fields @timestamp, request_id, unseen, features.plan, features.channel"
    (pattern,) = re.findall(r"^parse @message /(.*)/$", query[1])
    parse = re.compile(pattern.replace("(?<", "(?P<"))
    lines = [
        json.loads(line) for line in mixed_scenario(scenario(baseline_of("iris"), seed=1), baseline).lines if line.endswith("}")
    ]
    predictions = [line for line in lines if line.get(log.KEY_MESSAGE) == log.MESSAGE_PREDICTION]
    with_unseen = [line for line in predictions if log.KEY_UNSEEN_CATEGORIES in line]
    assert 0 < len(with_unseen) < len(predictions)
    for line in predictions:
        found = parse.search(json.dumps(line, separators=(",", ":")))
        if log.KEY_UNSEEN_CATEGORIES not in line:
            assert found is None
            continue
        assert found is not None
        assert json.loads(f"[{found['unseen']}]") == line[log.KEY_UNSEEN_CATEGORIES]


def test_cfn_lint_finds_nothing_in_the_mixed_template(mixed: Synthesized) -> None:
    findings = cfn_lint(mixed.template_path)
    assert findings == [], "\n".join(findings)
    assert "predictions_mixed" in json.dumps(mixed.json)  # cdk-nag ran inside synth: the fixture would not exist otherwise


def test_glue_types_follow_the_contracts_feature_types() -> None:
    """Without synth: every feature type of the contract has a Glue type, and the struct is built from them."""
    baseline = mixed_baseline()
    assert set(FEATURE_GLUE_TYPES) == set(baseline.feature_types) | {"numeric"}
    fields = struct_fields(features_struct(baseline))
    assert [kind for _, kind in fields] == [
        "string" if kind == FEATURE_CATEGORICAL else "double" for kind in baseline.feature_types
    ]


def test_unseen_categories_refuse_reaches_the_function_and_accept_is_the_default(mixed: Synthesized, iris: Synthesized) -> None:
    """`-c unseen_categories=refuse` sets the inference function's variable; without it the function accepts them."""

    def inference_environment(synthesized: Synthesized) -> dict[str, str]:
        functions = synthesized.template.find_resources("AWS::Lambda::Function")
        (found,) = [f for f in functions.values() if f["Properties"]["Handler"] == c.INFERENCE_HANDLER]
        return dict(found["Properties"]["Environment"]["Variables"])

    assert inference_environment(mixed)[names.ENV_UNSEEN_CATEGORIES] == names.UNSEEN_REFUSE
    assert names.ENV_UNSEEN_CATEGORIES not in inference_environment(iris)
    assert ApiOptions.from_context(cdk.App(context={"unseen_categories": "REFUSE"}).node).unseen_categories == "refuse"
    with pytest.raises(ValueError, match="context 'unseen_categories'"):
        ApiOptions.from_context(cdk.App(context={"unseen_categories": "drop"}).node)
