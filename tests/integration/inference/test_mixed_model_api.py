"""A model with numeric and categorical features served in-process through real-shaped API Gateway REST, HTTP API
and Function URL events: one line per accepted row (categories as strings, unseen ones named), one rejected line per
refused request, unseen categories accepted or refused as UNSEEN_CATEGORIES says."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from functions.contract.prediction_log import MAX_CATEGORY_CHARS
from functions.inference.handler import create_handler
from functions.inference.settings import InferenceSettings
from tests.fixtures.mixed_model import FEATURE_NAMES, LABELS, mixed_model_dir
from tests.integration.inference.conftest import LambdaUnderTest
from tests.integration.inference.test_sam_events import EVENT_KINDS, JSON_HEADERS, answer, without_job_id

KNOWN = [5.8, 3.0, "pro", 4.35, 1.3, "eu"]
UNSEEN = [5.8, 3.0, "enterprise", 1.4, 1.3, "apac"]


def build(**overrides: str) -> LambdaUnderTest:
    stdout = io.StringIO()
    settings = InferenceSettings.from_env({"MODEL_DIR": str(mixed_model_dir()), **overrides})
    return LambdaUnderTest(create_handler(settings, stdout=stdout), stdout)


@pytest.fixture(scope="module")
def accepting() -> LambdaUnderTest:
    return build(LOG_CALLER="true")


@pytest.fixture(scope="module")
def refusing() -> LambdaUnderTest:
    return build(UNSEEN_CATEGORIES="refuse")


def post(lambda_: LambdaUnderTest, kind: str, rows: Any, path: str = "/predict") -> tuple[int, dict[str, Any]]:
    lambda_.clear()
    status, body, _ = answer(lambda_, EVENT_KINDS[kind]("POST", path, json.dumps({"data": rows}), JSON_HEADERS))
    return status, body


@pytest.mark.parametrize("kind", ["rest", "http", "url"])
def test_each_accepted_row_leaves_one_line_with_its_categories(accepting: LambdaUnderTest, kind: str) -> None:
    status, reply = post(accepting, kind, [KNOWN, UNSEEN])
    assert status == 200, reply
    assert [p["label"] for p in reply["predictions"]] == ["versicolor", "setosa"]
    first, second = accepting.records("prediction")
    assert accepting.records("rejected") == []
    assert (first["request_id"], first["row"], second["row"]) == (reply["job_id"], 0, 1)
    assert first["features"] == dict(zip(FEATURE_NAMES, KNOWN, strict=True))
    assert "unseen_categories" not in first
    assert second["unseen_categories"] == ["plan", "region"]
    assert second["features"]["plan"] == "enterprise" and second["features"]["region"] == "apac"
    if kind == "url":  # the caller's ARN stays the last key, after unseen_categories
        assert list(second)[-2:] == ["unseen_categories", "caller"]
    assert sum(accepting.metrics(LABELS)["Predictions"]) == 2.0


def test_the_three_event_kinds_answer_alike(accepting: LambdaUnderTest) -> None:
    replies = [post(accepting, kind, [KNOWN, UNSEEN]) for kind in ("rest", "http", "url")]
    assert len({(status, json.dumps(without_job_id(body))) for status, body in replies}) == 1


def test_a_category_reaches_the_model(accepting: LambdaUnderTest) -> None:
    _, reply = post(accepting, "rest", [KNOWN, [5.8, 3.0, "team", 4.35, 1.3, "eu"]])
    assert [p["label"] for p in reply["predictions"]] == ["versicolor", "virginica"]  # plan=team: virginica


@pytest.mark.parametrize("kind", ["rest", "http", "url"])
@pytest.mark.parametrize(
    ("row", "says"),
    [
        (
            [5.8, 3.0, 2, 4.35, 1.3, "eu"],
            "row 0, feature 'plan': expected a string (categorical: basic, pro, team), got a number",
        ),
        ([5.8, "3.0", "pro", 4.35, 1.3, "eu"], "row 0, feature 'sepal_width': expected a number, got a string"),
        ([5.8, 3.0, "pro", 4.35, 1.3, None], "row 0, feature 'region': expected a string (categorical: eu, us), got null"),
    ],
)
def test_a_wrong_type_is_a_422_naming_the_feature_with_one_rejected_line(
    accepting: LambdaUnderTest, kind: str, row: list[Any], says: str
) -> None:
    status, reply = post(accepting, kind, [KNOWN, row])
    assert (status, reply["error"]) == (422, "invalid_request")
    assert reply["message"] == says.replace("row 0", "row 1")
    assert accepting.records("prediction") == []
    (record,) = accepting.records("rejected")
    assert (record["request_id"], record["status"], record["reason"]) == (reply["job_id"], 422, reply["message"])


@pytest.mark.parametrize("kind", ["rest", "http", "url"])
def test_unseen_categories_are_refused_when_set_to(refusing: LambdaUnderTest, kind: str) -> None:
    status, reply = post(refusing, kind, [KNOWN, UNSEEN])
    assert (status, reply["error"]) == (422, "unseen_category")
    assert reply["details"][0] == {
        "location": "data[1][2]",
        "problem": "row 1, feature 'plan': 'enterprise' is not a known category (known: basic, pro, team)",
    }
    assert reply["details"][1]["problem"] == "row 1, feature 'region': 'apac' is not a known category (known: eu, us)"
    assert refusing.records("prediction") == [] and len(refusing.records("rejected")) == 1
    status, _ = post(refusing, kind, [KNOWN])
    assert status == 200 and len(refusing.records("prediction")) == 1


def test_a_long_category_is_cut_in_the_line_and_for_the_model(accepting: LambdaUnderTest) -> None:
    long = "basic" + "x" * 10_000
    status, _ = post(accepting, "rest", [[5.8, 3.0, long, 4.35, 1.3, "eu"]])
    assert status == 200
    (line,) = accepting.records("prediction")
    assert line["features"]["plan"] == long[:MAX_CATEGORY_CHARS] and line["unseen_categories"] == ["plan"]
    raw = [text for text in accepting.stdout.getvalue().split("\n") if '"message":"prediction"' in text]
    assert len(raw[0].encode()) < 1000


def test_any_text_leaves_a_valid_json_line(accepting: LambdaUnderTest) -> None:
    hostile = '"}\\\n\x00\u2028é😀'
    status, _ = post(accepting, "http", [[5.8, 3.0, hostile, 4.35, 1.3, "eu"]])
    assert status == 200
    (line,) = accepting.records("prediction")
    assert line["features"]["plan"] == hostile
    assert len([text for text in accepting.stdout.getvalue().split("\n") if text]) == 1  # one line, not cut in two


def test_a_lone_surrogate_is_a_422_not_a_500(accepting: LambdaUnderTest) -> None:
    accepting.clear()
    body = '{"data": [[5.8, 3.0, "x\\udc00", 4.35, 1.3, "eu"]]}'
    status, reply, _ = answer(accepting, EVENT_KINDS["rest"]("POST", "/predict", body, JSON_HEADERS))
    assert (status, reply["error"]) == (422, "invalid_request") and "lone surrogate" in reply["message"]
    assert len(accepting.records("rejected")) == 1 and accepting.records("failed") == []


def test_the_built_in_sample_is_the_baseline_sample_row(accepting: LambdaUnderTest) -> None:
    accepting.clear()
    status, reply, _ = answer(accepting, EVENT_KINDS["rest"]("GET", "/predict/test", None, {}))
    assert status == 200 and reply["predictions"][0]["label"] == "versicolor"
    (line,) = accepting.records("prediction")
    assert line["endpoint"] == "/predict/test"
    assert [line["features"][name] for name in ("plan", "region")] == ["basic", "eu"]  # the most frequent categories
    assert "unseen_categories" not in line


def test_metadata_and_openapi_describe_each_column(accepting: LambdaUnderTest, refusing: LambdaUnderTest) -> None:
    status, metadata, _ = answer(accepting, EVENT_KINDS["rest"]("GET", "/metadata", None, {}))
    assert status == 200
    assert [(f["name"], f["type"]) for f in metadata["input"]] == [
        (name, "categorical" if name in ("plan", "region") else "numeric") for name in FEATURE_NAMES
    ]
    assert metadata["input"][2]["categories"] == ["basic", "pro", "team"] and "mean" in metadata["input"][0]
    for lambda_, enum in ((accepting, False), (refusing, True)):
        _, document, _ = answer(lambda_, EVENT_KINDS["rest"]("GET", "/openapi.json", None, {}))
        request = document["components"]["schemas"]["PredictRequest"]
        positions = request["properties"]["data"]["items"]["prefixItems"]
        assert [p["type"] for p in positions] == ["number", "number", "string", "number", "number", "string"]
        assert ("enum" in positions[2]) is enum and positions[2].get("enum", positions[2].get("examples")) == [
            "basic",
            "pro",
            "team",
        ]
        assert request["examples"][0]["data"][0][2] == "basic"


def test_an_unscorable_mixed_row_names_a_numeric_feature(accepting: LambdaUnderTest) -> None:
    status, reply = post(accepting, "rest", [[5.8, 3.0, "pro", 3e38, 1.3, "eu"]])
    assert (status, reply["error"]) == (422, "unscorable_row"), reply
    assert "petal_length = 3e+38 is far outside its training range" in reply["message"]
    assert accepting.records("prediction") == [] and len(accepting.records("rejected")) == 1


def test_a_regression_model_with_categories_logs_them_and_its_number(tmp_path: Any) -> None:
    from tests.fixtures.mixed_model import write_mixed_regression_model

    stdout = io.StringIO()
    folder = write_mixed_regression_model(tmp_path / "mixed_regression")
    regression = LambdaUnderTest(create_handler(InferenceSettings.from_env({"MODEL_DIR": str(folder)}), stdout=stdout), stdout)
    status, reply = post(regression, "http", [[5.8, 3.0, "team", 4.0, 1.3, "eu"], [5.8, 3.0, "gold", 4.0, 1.3, "eu"]])
    assert status == 200, reply
    assert [p["prediction"] for p in reply["predictions"]] == [190.0, 140.0]  # 100 + 10 * 4 (+ 50 for team)
    first, second = regression.records("prediction")
    assert first["features"]["plan"] == "team" and "unseen_categories" not in first
    assert second["unseen_categories"] == ["plan"] and second["prediction"] == 140.0
    status, reply = post(regression, "rest", [[5.8, 3.0, 1, 4.0, 1.3, "eu"]])
    assert status == 422 and "feature 'plan': expected a string" in reply["message"]
    assert len(regression.records("rejected")) == 1
    regression.clear()
    status, sample, _ = answer(regression, EVENT_KINDS["rest"]("GET", "/predict/test", None, {}))
    assert status == 200 and regression.records("prediction")[0]["features"]["plan"] == "basic"
    assert sample["predictions"][0]["prediction"] == pytest.approx(100 + 10 * 4.25)


SHIPPED_MIXED = Path(__file__).resolve().parents[3] / "models" / "credit_card"


@pytest.mark.skipif(not SHIPPED_MIXED.is_dir(), reason="models/credit_card is not in this tree")
def test_the_shipped_mixed_model_serves_its_sample_row_unseen_categories_and_refusals() -> None:
    from functions.contract.model_artifact import load_model_artifact

    baseline = load_model_artifact(SHIPPED_MIXED).baseline
    assert baseline.has_categories
    stdout = io.StringIO()
    served = LambdaUnderTest(create_handler(InferenceSettings.from_env({"MODEL_DIR": str(SHIPPED_MIXED)}), stdout=stdout), stdout)
    first = baseline.categorical[0]
    position = baseline.feature_names.index(first.name)
    unseen_row = list(baseline.sample_row)
    unseen_row[position] = "not-a-training-category"
    status, reply = post(served, "rest", [baseline.sample_row, unseen_row])
    assert status == 200, reply
    known, unseen = served.records("prediction")
    assert "unseen_categories" not in known and unseen["unseen_categories"] == [first.name]
    assert known["features"][first.name] == first.mode
    wrong = list(baseline.sample_row)
    wrong[position] = 1
    status, reply = post(served, "http", [wrong])
    assert status == 422 and f"feature '{first.name}': expected a string" in reply["message"]
