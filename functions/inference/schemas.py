"""Request and response models for the OpenAPI document (imported only when /openapi.json is first asked for).

Requests are parsed by `request_parsing`, without pydantic; `tests/unit/inference/test_openapi.py`
checks that these models and the parser agree.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from functions.inference.request_parsing import FLOAT32_MAX, MAX_LABELS_PER_REQUEST, MAX_ROWS_PER_REQUEST

# strict: "5.1" and true are refused, not coerced; the bounds keep float32 from overflowing to inf.
FeatureValue = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]


class PredictRequest(BaseModel):
    """`{"data": [[f1, f2, ...], ...]}`: 1 to 1,000 rows, each with one value per model feature, in input order: a
    finite number, or a string for a categorical feature."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"data": [[5.1, 3.5, 1.4, 0.2]]}]})

    data: Annotated[
        list[list[FeatureValue]],
        Field(
            min_length=1, max_length=MAX_ROWS_PER_REQUEST, description="Rows of feature values, in the order GET /metadata lists"
        ),
    ]


class LabelItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern="^[0-9a-f]{32}$", description="The job_id of the prediction being labelled")
    row: int = Field(ge=0, le=MAX_ROWS_PER_REQUEST - 1, description="Row index within that request")
    label: str = Field(description="The true label, one of GET /label")


class FeedbackRequest(BaseModel):
    """`{"labels": [{"job_id": ..., "row": 0, "label": ...}, ...]}`: 1 to 1,000 ground-truth labels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"labels": [{"job_id": "0123456789abcdef0123456789abcdef", "row": 0, "label": "setosa"}]}]
        },
    )

    labels: Annotated[list[LabelItem], Field(min_length=1, max_length=MAX_LABELS_PER_REQUEST)]


class RegressionLabelItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern="^[0-9a-f]{32}$", description="The job_id of the prediction being labelled")
    row: int = Field(ge=0, le=MAX_ROWS_PER_REQUEST - 1, description="Row index within that request")
    label: FeatureValue = Field(description="The true value (a regression model's target), a finite number")


class RegressionFeedbackRequest(BaseModel):
    """`{"labels": [{"job_id": ..., "row": 0, "label": 135.0}, ...]}`: 1 to 1,000 true values."""

    model_config = ConfigDict(extra="forbid")

    labels: Annotated[list[RegressionLabelItem], Field(min_length=1, max_length=MAX_LABELS_PER_REQUEST)]


class FeedbackResponse(BaseModel):
    job_id: str = Field(description="Id of this feedback request (its rejected line carries it when refused)")
    model: str
    model_version: str
    accepted: int = Field(description="Labels recorded, one feedback log line each")
    predictions: int = Field(description="Distinct job_ids labelled")
    rows: int = Field(description="Distinct (job_id, row) pairs labelled; the latest label of a pair wins")


class RowPrediction(BaseModel):
    label: str
    probabilities: dict[str, float] = Field(description="Class probabilities keyed by label")
    is_outlier: bool
    outlier_score: float = Field(description="Negated one-class SVM decision value: > 0 lies outside the training data")


class RowLabel(BaseModel):
    label: str
    is_outlier: bool
    outlier_score: float


class PredictResponse(BaseModel):
    job_id: str = Field(description="Unique id of this request; the log records carry it as request_id")
    model: str
    model_version: str
    predictions: list[RowPrediction]


class RegressionRowPrediction(BaseModel):
    prediction: float = Field(description="The regressor's estimate for the row")
    is_outlier: bool
    outlier_score: float = Field(description="Negated one-class SVM decision value: > 0 lies outside the training data")


class RegressionPredictResponse(BaseModel):
    job_id: str = Field(description="Unique id of this request; the log records carry it as request_id")
    model: str
    model_version: str
    predictions: list[RegressionRowPrediction]


class LabelResponse(BaseModel):
    job_id: str
    model: str
    model_version: str
    predictions: list[RowLabel]


class ErrorDetail(BaseModel):
    location: str
    problem: str


class ErrorResponse(BaseModel):
    error: str = Field(description="Machine-readable code, e.g. invalid_request, invalid_json, body_too_large")
    message: str = Field(description="What was wrong, for a person")
    details: list[ErrorDetail] = Field(default_factory=list)
    job_id: str | None = None


class HealthResponse(BaseModel):
    status: str
    model: str
    model_version: str


class LabelsResponse(BaseModel):
    model: str
    model_version: str
    labels: list[str] = Field(description="Labels in class-index order")


class FeatureDescription(BaseModel):
    name: str
    type: str = Field(description="numeric (a number) or categorical (a string)")
    mean: float | None = Field(default=None, description="Numeric: training mean")
    std: float | None = None
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = Field(
        default=None, description="Categorical: the known (training) categories, most frequent first"
    )
    shares: list[float] | None = Field(default=None, description="Categorical: each known category's training share")
    other_share: float | None = Field(
        default=None, description="Categorical: training share of the values not listed (sent values outside the list are unseen)"
    )


class MetadataResponse(BaseModel):
    model: dict[str, Any] = Field(description="Model card: version, description, owner, training data, libraries")
    task: str = Field(description="classification (labels, probabilities) or regression (one number per row)")
    input: list[FeatureDescription] = Field(description="Features in request order, with training statistics")
    labels: list[str]
    training_outlier_rate: float
    prediction_distribution: dict[str, float]
    prediction_statistics: dict[str, float] | None = Field(
        default=None, description="Regression: mean, std, min and max of the training predictions"
    )
    thresholds: dict[str, float]
    max_rows_per_request: int
