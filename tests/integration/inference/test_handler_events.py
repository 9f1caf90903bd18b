"""The Lambda handler answering real API Gateway proxy events: every endpoint, every bad-input class."""

from __future__ import annotations

import json

import pytest

from local.api_gateway import FakeContext, api_event
from tests.integration.inference.conftest import LambdaUnderTest

SETOSA = [5.1, 3.5, 1.4, 0.2]


def test_health(iris_lambda: LambdaUnderTest) -> None:
    status, body, headers = iris_lambda.call("GET", "/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["model"] == "iris"
    assert len(body["model_version"]) == 12
    assert headers["Content-Type"] == "application/json"


def test_metadata_is_the_model_card_from_the_baseline(iris_lambda: LambdaUnderTest, iris_artifact) -> None:
    status, body, _ = iris_lambda.call("GET", "/metadata")
    assert status == 200
    baseline = iris_artifact.baseline
    assert body["model"]["version"] == baseline.model_version
    assert body["model"]["owner"] == baseline.owner
    assert [f["name"] for f in body["input"]] == list(baseline.feature_names)
    assert body["input"][2]["mean"] == pytest.approx(baseline.feature("petal_length").mean)
    assert body["labels"] == list(baseline.label_names)
    assert body["thresholds"]["outlier_ratio"] == 0.2
    assert body["max_rows_per_request"] == 1000


def test_labels(iris_lambda: LambdaUnderTest) -> None:
    status, body, _ = iris_lambda.call("GET", "/label")
    assert (status, body["labels"]) == (200, ["setosa", "versicolor", "virginica"])


def test_predict_returns_probabilities_and_logs_each_row(iris_lambda: LambdaUnderTest) -> None:
    status, body, _ = iris_lambda.call("POST", "/predict", json.dumps({"data": [SETOSA, [6.4, 3.2, 4.5, 1.5]]}))
    assert status == 200
    assert [p["label"] for p in body["predictions"]] == ["setosa", "versicolor"]
    assert set(body["predictions"][0]["probabilities"]) == {"setosa", "versicolor", "virginica"}
    records = iris_lambda.records("prediction")
    assert [(r["request_id"], r["row"], r["endpoint"]) for r in records] == [
        (body["job_id"], 0, "/predict"),
        (body["job_id"], 1, "/predict"),
    ]
    assert iris_lambda.emf() == []  # no metrics document beside the lines: metric filters count them
    metrics = iris_lambda.metrics()
    assert sum(metrics["Predictions"]) == 2 and sum(metrics["Requests"]) == 1
    assert sum(metrics["PredictedClass_setosa"]) == 1 and sum(metrics["PredictedClass_versicolor"]) == 1
    assert metrics["LatencyMs"] == [records[0]["latency_ms"]]


def test_predict_label(iris_lambda: LambdaUnderTest) -> None:
    status, body, _ = iris_lambda.call("POST", "/predict/label", json.dumps({"data": [SETOSA]}))
    assert status == 200
    assert body["predictions"][0]["label"] == "setosa"
    assert "probabilities" not in body["predictions"][0]
    assert iris_lambda.records("prediction")[0]["endpoint"] == "/predict/label"


@pytest.mark.parametrize(("path", "has_probabilities"), [("/predict/test", True), ("/predict/test/label", False)])
def test_built_in_sample_endpoints(iris_lambda: LambdaUnderTest, path: str, has_probabilities: bool) -> None:
    status, body, _ = iris_lambda.call("GET", path)
    assert status == 200
    assert len(body["predictions"]) == 1
    assert ("probabilities" in body["predictions"][0]) is has_probabilities
    (record,) = iris_lambda.records("prediction")
    assert record["endpoint"] == path


def test_base64_encoded_body_is_decoded(iris_lambda: LambdaUnderTest) -> None:
    status, body, _ = iris_lambda.call("POST", "/predict", json.dumps({"data": [SETOSA]}), base64_encoded=True)
    assert status == 200, body


def test_body_that_is_not_base64_is_refused_with_400_and_one_rejected_record(iris_lambda: LambdaUnderTest) -> None:
    event_body = "not base64 at all!"
    event = api_event("POST", "/predict", event_body)
    event["isBase64Encoded"] = True
    reply = iris_lambda.handler(event, FakeContext())
    assert reply["statusCode"] == 400
    body = json.loads(reply["body"])
    assert body["error"] == "invalid_base64"
    (record,) = iris_lambda.records("rejected")
    assert record["request_id"] == body["job_id"]


def test_openapi_document_is_generated_from_the_models(iris_lambda: LambdaUnderTest) -> None:
    status, document, _ = iris_lambda.call("GET", "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/health",
        "/metadata",
        "/label",
        "/predict",
        "/predict/label",
        "/predict/test",
        "/predict/test/label",
        "/feedback",
    }
    predict = document["paths"]["/predict"]["post"]
    assert predict["requestBody"]["required"] is True
    assert predict["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictRequest")
    assert set(predict["responses"]) == {"200", "400", "405", "413", "415", "422", "500"}
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200", "405", "500"}
    data = document["components"]["schemas"]["PredictRequest"]["properties"]["data"]
    assert (data["minItems"], data["maxItems"], data["items"]["minItems"], data["items"]["maxItems"]) == (1, 1000, 4, 4)
    label = document["components"]["schemas"]["LabelItem"]["properties"]["label"]
    assert label["enum"] == ["setosa", "versicolor", "virginica"]
    schemas = document["components"]["schemas"]
    assert {"PredictRequest", "PredictResponse", "ErrorResponse", "LabelResponse"} <= set(schemas)
    assert document["info"]["version"] == iris_lambda.call("GET", "/health")[1]["model_version"]


BAD_REQUESTS = [
    ("wrong row length", "/predict", '{"data": [[1, 2, 3]]}', "application/json", 422, "expected 4"),
    ("zero rows", "/predict", '{"data": []}', "application/json", 422, "no rows"),
    ("too many rows", "/predict", json.dumps({"data": [SETOSA] * 1001}), "application/json", 422, "at most 1000"),
    ("non-number", "/predict", '{"data": [[1, [2], 3, 4]]}', "application/json", 422, "must be a number"),
    ("string", "/predict", '{"data": [["5.1", 3.5, 1.4, 0.2]]}', "application/json", 422, "got a string"),
    ("boolean", "/predict/label", '{"data": [[true, 3.5, 1.4, 0.2]]}', "application/json", 422, "got a boolean"),
    ("NaN", "/predict", '{"data": [[NaN, 3.5, 1.4, 0.2]]}', "application/json", 422, "finite"),
    ("Infinity", "/predict", '{"data": [[Infinity, 3.5, 1.4, 0.2]]}', "application/json", 422, "finite"),
    ("-Infinity", "/predict", '{"data": [[-Infinity, 3.5, 1.4, 0.2]]}', "application/json", 422, "finite"),
    ("float32 overflow", "/predict", '{"data": [[1e39, 3.5, 1.4, 0.2]]}', "application/json", 422, "overflows float32"),
    ("missing key", "/predict", "{}", "application/json", 422, "missing key 'data'"),
    ("extra key", "/predict", '{"data": [[1, 2, 3, 4]], "model": "x"}', "application/json", 422, "unexpected key 'model'"),
    ("invalid JSON", "/predict", '{"data": [[1, 2, 3, 4]', "application/json", 400, "not valid JSON"),
    ("no body", "/predict", None, "application/json", 400, "no body"),
    ("wrong content type", "/predict", '{"data": [[1, 2, 3, 4]]}', "text/csv", 415, "application/json"),
    ("form content type", "/predict/label", "data=1", "application/x-www-form-urlencoded", 415, "application/json"),
    ("oversized body", "/predict", '{"data": [[' + "1," * 600_000 + "1]]}", "application/json", 413, "at most"),
]


@pytest.mark.parametrize(
    ("case", "path", "body", "content_type", "status", "says"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_input_gets_a_4xx_json_reply_and_one_rejected_record(
    iris_lambda: LambdaUnderTest, case: str, path: str, body: str | None, content_type: str, status: int, says: str
) -> None:
    got_status, reply, _ = iris_lambda.call("POST", path, body, content_type=None, headers={"Content-Type": content_type})
    assert got_status == status, reply
    assert says in reply["message"]
    assert reply["error"]
    assert iris_lambda.records("prediction") == []
    (record,) = iris_lambda.records("rejected")
    assert (record["request_id"], record["status"], record["endpoint"]) == (reply["job_id"], status, path)
    assert record["reason"] == reply["message"]
    metrics = iris_lambda.metrics()
    assert (sum(metrics["RejectedRequests"]), sum(metrics["Requests"]), metrics["Predictions"]) == (1, 1, [])


def test_unknown_route_is_a_json_404_with_one_rejected_record(iris_lambda: LambdaUnderTest) -> None:
    status, body, _ = iris_lambda.call("GET", "/nowhere")
    assert (status, body["error"]) == (404, "not_found")
    (record,) = iris_lambda.records("rejected")
    assert (record["status"], record["endpoint"], record["request_id"]) == (404, "/nowhere", body["job_id"])


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/predict", "POST"), ("PUT", "/feedback", "POST"), ("POST", "/health", "GET"), ("HEAD", "/metadata", "GET")],
)
def test_wrong_method_on_a_known_path_is_405_with_allow_and_logged(
    iris_lambda: LambdaUnderTest, method: str, path: str, allow: str
) -> None:
    status, body, headers = iris_lambda.call(method, path)
    assert (status, body["error"], headers["Allow"]) == (405, "method_not_allowed", allow)
    assert f"{method} is not allowed on {path}" in body["message"]
    (record,) = iris_lambda.records("rejected")
    assert (record["status"], record["endpoint"]) == (405, path)


def test_wine_accepts_13_values_and_logs_wine_feature_names(wine_lambda: LambdaUnderTest, wine_artifact) -> None:
    row = [13.2, 1.78, 2.14, 11.2, 100.0, 2.65, 2.76, 0.26, 1.28, 4.38, 1.05, 3.4, 1050.0]
    status, body, _ = wine_lambda.call("POST", "/predict", json.dumps({"data": [row]}))
    assert status == 200, body
    assert body["model"] == "wine"
    assert body["predictions"][0]["label"] == "class_0"
    (record,) = wine_lambda.records("prediction")
    assert list(record["features"]) == list(wine_artifact.baseline.feature_names)
    assert len(record["features"]) == 13


def test_wine_refuses_iris_width_naming_the_expected_width(wine_lambda: LambdaUnderTest) -> None:
    status, body, _ = wine_lambda.call("POST", "/predict", json.dumps({"data": [SETOSA]}))
    assert status == 422
    assert "row 0 has 4 values; expected 13 (alcohol, malic_acid" in body["message"]


def test_cold_start_metric_is_emitted_once(iris_lambda: LambdaUnderTest) -> None:
    iris_lambda.call("GET", "/health")
    iris_lambda.call("GET", "/health")
    cold = [line for line in iris_lambda.emf() if "ColdStart" in line]
    assert len(cold) <= 1  # Powertools tracks cold start per process; an earlier test may have taken it
