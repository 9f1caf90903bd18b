"""The OpenAPI 3.1 document of one model's API, built from the pydantic models when first asked for.

Per model: a row has exactly as many values as the model has features (`minItems` =
`maxItems`), labels are the model's labels (`enum`), and every error a route can answer is
listed, so a client generated from the document (or schemathesis) sends what is accepted.
"""

from __future__ import annotations

from typing import Any

from functions.contract.model_artifact import Baseline
from functions.contract.prediction_log import MAX_CATEGORY_CHARS

JSON = "application/json"
POST_ERRORS = (
    (400, "Empty body, invalid JSON, or a base64 body that does not decode"),
    (413, "Body larger than the configured limit, counted in bytes"),
    (415, "Content type is not application/json (curl: -H 'content-type: application/json')"),
    (
        422,
        "JSON that is not a valid request: duplicate key, missing or unexpected key, wrong row length, "
        "a value of the wrong type (a string for a number, a number for a category), non-finite value, float32 "
        "overflow, too many rows or labels, unknown label, an unseen category when the service refuses them "
        "(unseen_category), or a row the model cannot score (its output is not finite; the reply names the row and feature)",
    ),
)
COMMON_ERRORS = (
    (405, "Method not allowed on this path; the Allow header lists the allowed ones"),
    (500, "The service could not answer; the reply carries the job_id of its `failed` log line"),
)

# (method, path) -> (summary, request model, success status, response model)
OPERATIONS: dict[tuple[str, str], tuple[str, str | None, int, str]] = {
    ("GET", "/health"): ("Liveness and the model version being served", None, 200, "HealthResponse"),
    ("GET", "/metadata"): ("Model card and input/output description, from the model's baseline", None, 200, "MetadataResponse"),
    ("GET", "/label"): ("Labels in class-index order", None, 200, "LabelsResponse"),
    ("POST", "/predict"): ("Class probabilities and outlier flag per row", "PredictRequest", 200, "PredictResponse"),
    ("POST", "/predict/label"): ("Predicted label and outlier flag per row", "PredictRequest", 200, "LabelResponse"),
    ("GET", "/predict/test"): (
        "Probabilities for a built-in sample (each feature's training median or most frequent category)",
        None,
        200,
        "PredictResponse",
    ),
    ("GET", "/predict/test/label"): ("Label for the built-in sample", None, 200, "LabelResponse"),
    ("POST", "/feedback"): (
        "Ground-truth labels for predicted rows (latest label per row wins)",
        "FeedbackRequest",
        202,
        "FeedbackResponse",
    ),
}


def _response(description: str, model: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


# A regression model (docs/regression.md): a number per row, numeric feedback, no label routes.
REGRESSION_OPERATIONS: dict[tuple[str, str], tuple[str, str | None, int, str]] = {
    **OPERATIONS,
    ("POST", "/predict"): ("Estimate (a number) and outlier flag per row", "PredictRequest", 200, "RegressionPredictResponse"),
    ("GET", "/predict/test"): (
        "Estimate for a built-in sample (each feature's training median or most frequent category)",
        None,
        200,
        "RegressionPredictResponse",
    ),
    ("POST", "/feedback"): (
        "True values for predicted rows (latest value per row wins)",
        "RegressionFeedbackRequest",
        202,
        "FeedbackResponse",
    ),
}
NO_LABEL_ROUTES = (("GET", "/label"), ("POST", "/predict/label"), ("GET", "/predict/test/label"))


def row_schema(baseline: Baseline, number: dict[str, Any], *, refuse_unseen: bool) -> dict[str, Any]:
    """A mixed model's row: one schema per position (`prefixItems`), a number or a string as the feature's type.

    A category's known values are listed; while unseen categories are accepted they are `examples` and the
    description (any string is a valid request, logged as unseen); when they are refused, an `enum`."""
    categorical = {f.name: f for f in baseline.categorical}
    positions: list[dict[str, Any]] = []
    for name in baseline.feature_names:
        feature = categorical.get(name)
        if feature is None:
            positions.append({**number, "title": name, "description": f"{name}: a number"})
            continue
        known = list(feature.categories)
        if refuse_unseen:
            positions.append(
                {"type": "string", "enum": known, "title": name, "description": f"{name}: categorical, one of {', '.join(known)}"}
            )
        else:
            positions.append(
                {
                    "type": "string",
                    "title": name,
                    "examples": known,
                    "description": (
                        f"{name}: categorical; known categories {', '.join(known)}. Any other string is accepted, "
                        f"scored as unseen and named in the log's unseen_categories; longer than {MAX_CATEGORY_CHARS} "
                        "characters is cut"
                    ),
                }
            )
    width = baseline.n_features
    return {
        "type": "array",
        "prefixItems": positions,
        "minItems": width,
        "maxItems": width,
        "description": "One value per feature, in this order: "
        + ", ".join(f"{name} ({kind})" for name, kind in zip(baseline.feature_names, baseline.feature_types, strict=True)),
    }


def openapi_document(
    baseline: Baseline, max_rows: int, routes: dict[str, list[str]], *, refuse_unseen: bool = False
) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from functions.inference import schemas

    regression = baseline.is_regression
    operations = REGRESSION_OPERATIONS if regression else OPERATIONS
    requests = [schemas.PredictRequest, schemas.RegressionFeedbackRequest if regression else schemas.FeedbackRequest]
    responses = [
        schemas.RegressionPredictResponse if regression else schemas.PredictResponse,
        schemas.LabelResponse,
        schemas.ErrorResponse,
        schemas.HealthResponse,
        schemas.LabelsResponse,
        schemas.MetadataResponse,
        schemas.FeedbackResponse,
    ]
    modes: list[Any] = [(model, "validation") for model in requests] + [(model, "serialization") for model in responses]
    _, definitions = models_json_schema(
        modes,
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = definitions["$defs"]
    data = components["PredictRequest"]["properties"]["data"]
    data["maxItems"] = max_rows
    width = baseline.n_features
    if baseline.has_categories:
        data["items"] = row_schema(baseline, data["items"]["items"], refuse_unseen=refuse_unseen)
    else:
        data["items"].update(
            minItems=width, maxItems=width, description="One value per feature: " + ", ".join(baseline.feature_names)
        )
    sample = [round(v, 4) if isinstance(v, float) else v for v in baseline.sample_row]
    components["PredictRequest"]["examples"] = [{"data": [sample]}]
    if regression:
        example = baseline.prediction_stats.mean if baseline.prediction_stats else 0.0
        components["RegressionFeedbackRequest"]["examples"] = [
            {"labels": [{"job_id": "0123456789abcdef0123456789abcdef", "row": 0, "label": round(example, 4)}]}
        ]
    else:
        components["LabelItem"]["properties"]["label"]["enum"] = list(baseline.label_names)
        components["FeedbackRequest"]["examples"] = [
            {"labels": [{"job_id": "0123456789abcdef0123456789abcdef", "row": 0, "label": baseline.label_names[0]}]}
        ]

    paths: dict[str, Any] = {}
    for path, methods in routes.items():
        for method in methods:
            if regression and (method, path) in NO_LABEL_ROUTES:
                continue  # not part of a regression model's API: they answer 404 like any unknown route
            if (method, path) not in operations:
                continue
            summary, request, status, response = operations[(method, path)]
            operation: dict[str, Any] = {
                "summary": summary,
                "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_')}",
                "responses": {str(status): _response(summary, response)},
            }
            errors = (POST_ERRORS if request else ()) + COMMON_ERRORS
            for code, description in errors:
                headers = {"Allow": {"description": "The allowed methods", "schema": {"type": "string"}}} if code == 405 else None
                operation["responses"][str(code)] = _response(description, "ErrorResponse", headers)
            if request:
                operation["requestBody"] = {
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{request}"}}},
                }
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{baseline.model_name} inference API",
            "version": baseline.model_version,
            "summary": f"ONNX {'regressor' if regression else 'classifier'} with an outlier detector; every prediction is logged",
            "description": baseline.description
            + (
                " A regression model: POST /predict answers a number per row; the label routes (/label, /predict/label, "
                "/predict/test/label) answer 404 no_label_for_regression."
                if regression
                else ""
            ),
        },
        "paths": paths,
        "components": {"schemas": components},
    }
