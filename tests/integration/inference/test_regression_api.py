"""A regression model served in-process: a number per row, numeric feedback, 404 on the label routes."""

from __future__ import annotations

import json

import pytest

from .conftest import LambdaUnderTest, build

JOB = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def diabetes() -> LambdaUnderTest:
    return build("diabetes")


def test_prediction_reply_and_line_carry_a_number(diabetes: LambdaUnderTest) -> None:
    diabetes.clear()
    row = [0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, -0.002, 0.02, -0.02]
    status, reply, _ = diabetes.call("POST", "/predict", json.dumps({"data": [row, row]}))
    assert status == 200
    assert [set(p) for p in reply["predictions"]] == [{"prediction", "is_outlier", "outlier_score"}] * 2
    value = reply["predictions"][0]["prediction"]
    assert isinstance(value, float) and 25.0 < value < 350.0  # the target's range
    first, _ = diabetes.records("prediction")
    assert first["prediction"] == value and first["request_id"] == reply["job_id"]
    assert not {"class_index", "confidence", "probabilities"} & set(first)
    assert first["features"]["age"] == 0.03


def test_label_routes_answer_404_and_leave_one_rejected_line(diabetes: LambdaUnderTest) -> None:
    for method, path, body in (
        ("POST", "/predict/label", json.dumps({"data": [[0.0] * 10]})),
        ("POST", "/predict/label", "not json"),  # refused for the route, before the body is read
        ("GET", "/predict/test/label", None),
        ("GET", "/label", None),
    ):
        diabetes.clear()
        status, reply, _ = diabetes.call(method, path, body)
        assert (status, reply["error"]) == (404, "no_label_for_regression"), (method, path)
        assert len(diabetes.records("rejected")) == 1 and not diabetes.records("prediction")
        assert diabetes.records("rejected")[0]["status"] == 404


def test_sample_and_metadata_say_regression(diabetes: LambdaUnderTest) -> None:
    status, reply, _ = diabetes.call("GET", "/predict/test")
    assert status == 200 and isinstance(reply["predictions"][0]["prediction"], float)
    status, metadata, _ = diabetes.call("GET", "/metadata")
    assert status == 200 and metadata["task"] == "regression" and metadata["labels"] == []
    assert set(metadata["prediction_statistics"]) == {"mean", "std", "min", "max"}
    _, iris_metadata, _ = build("iris").call("GET", "/metadata")
    assert iris_metadata["task"] == "classification" and "prediction_statistics" not in iris_metadata


def test_feedback_takes_numbers_and_refuses_the_rest(diabetes: LambdaUnderTest) -> None:
    diabetes.clear()
    body = {"labels": [{"job_id": JOB, "row": 0, "label": 135}, {"job_id": JOB, "row": 1, "label": 80.5}]}
    status, reply, _ = diabetes.call("POST", "/feedback", json.dumps(body))
    assert status == 202 and reply["accepted"] == 2
    lines = diabetes.records("feedback")
    assert [line["label"] for line in lines] == [135.0, 80.5] and "label_index" not in lines[0]
    for bad in ("135", True, None, 1e39):
        diabetes.clear()
        status, reply, _ = diabetes.call("POST", "/feedback", json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": bad}]}))
        assert status == 422, bad
        assert "finite number" in reply["details"][0]["problem"]
        assert len(diabetes.records("rejected")) == 1 and not diabetes.records("feedback")


def test_classifier_feedback_still_refuses_numbers() -> None:
    iris = build("iris")
    status, _, _ = iris.call("POST", "/feedback", json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": 1.0}]}))
    assert status == 422


def test_openapi_describes_the_regression_api(diabetes: LambdaUnderTest) -> None:
    status, document, _ = diabetes.call("GET", "/openapi.json")
    assert status == 200
    paths = document["paths"]
    predict = paths["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert predict.endswith("/RegressionPredictResponse")
    assert not {"/label", "/predict/label", "/predict/test/label"} & set(paths)  # answered 404, not part of this API
    assert "no_label_for_regression" in document["info"]["description"]
    schemas = document["components"]["schemas"]
    assert schemas["RegressionLabelItem"]["properties"]["label"]["type"] == "number"
    assert "LabelItem" not in schemas
