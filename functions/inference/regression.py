"""A regression model's serving path: one number per row, the outlier detector as for classifiers.

The model folder keeps the classifier's file name (`classifier.onnx`) for the regressor; its first output is a
float tensor with one value per row. Requests are parsed and refused exactly as for classifiers; the reply and
the log line carry `prediction` (a number) instead of a label and probabilities, and `/feedback` takes the
true value as a number (docs/regression.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from functions.contract.json_text import compact_json
from functions.contract.model_artifact import ModelArtifact, ModelArtifactError
from functions.contract.prediction_log import regression_prediction_lines, with_caller
from functions.inference.onnx_model import _open_session, check_inputs, fast_runner, input_feed, model_arrays, probe_feed
from functions.inference.prediction_service import (
    PredictionService,
    rounded,
)
from functions.inference.request_parsing import Label, RequestRejected, parse_labels

PREDICTION_DIGITS = 7  # significant digits the reply and the log carry: float32's own precision (~7.2 digits)


class RegressionBatch(NamedTuple):
    prediction: np.ndarray  # (n,) float32
    outlier_score: np.ndarray  # (n,) float32; > 0 means outside the training support


class RegressionOnnxModel:
    """Regressor + outlier detector, checked against the baseline at cold start."""

    def __init__(self, artifact: ModelArtifact) -> None:
        baseline = artifact.baseline
        self.n_features = baseline.n_features
        self._regressor = _open_session(artifact.classifier_path)
        self._detector = _open_session(artifact.outlier_detector_path)
        for session, path in ((self._regressor, artifact.classifier_path), (self._detector, artifact.outlier_detector_path)):
            check_inputs(session, path, baseline)
        self._baseline = baseline
        output = self._regressor.get_outputs()[0]
        if output.type not in ("tensor(float)", "tensor(double)"):
            raise ModelArtifactError(
                f"{artifact.classifier_path}: a regression model's first output must be a float tensor, "
                f"found {output.name} {output.type}"
            )
        if "scores" not in [o.name for o in self._detector.get_outputs()]:
            raise ModelArtifactError(f"{artifact.outlier_detector_path}: needs a 'scores' output")
        self._regressor_input = self._regressor.get_inputs()[0].name
        self._detector_input = self._detector.get_inputs()[0].name
        self._regressor_outputs = [output.name]
        self._run_regressor = fast_runner(self._regressor, self._regressor_outputs, probe_feed(baseline, self._regressor_input))
        self._run_detector = fast_runner(self._detector, ["scores"], probe_feed(baseline, self._detector_input))
        try:
            answer = self.predict(*model_arrays([baseline.sample_row], baseline))
        except ValueError as error:  # more than one value per row
            raise ModelArtifactError(f"{artifact.classifier_path}: {error}") from error
        if answer.prediction.shape != (1,):
            raise ModelArtifactError(
                f"{artifact.classifier_path}: a regression model must give one value per row, "
                f"got shape {answer.prediction.shape} for one row"
            )

    def predict(self, rows: np.ndarray, categories: np.ndarray | None = None) -> RegressionBatch:
        """`categories`: only for a model with categorical features (the contract's second input)."""
        (values,) = self._run_regressor(self._regressor_outputs, input_feed(self._regressor_input, rows, categories))
        (scores,) = self._run_detector(["scores"], input_feed(self._detector_input, rows, categories))
        if values.ndim == 2 and values.shape[1] != 1:
            raise ValueError(f"the regressor answered {values.shape[1]} values per row, expected 1")
        return RegressionBatch(values.reshape(-1), -scores.reshape(-1))

    def predict_one(self, values: Sequence[Any]) -> RegressionBatch:
        """One row in input order: numbers, and strings for a model's categorical features."""
        return self.predict(*model_arrays([values], self._baseline))


def regression_reply(*, job_id: str, model: str, model_version: str, predictions: Sequence[float],
                     is_outlier: Sequence[bool], outlier_scores: Sequence[float]) -> dict[str, Any]:  # fmt: skip
    """The reply to POST /predict for a regression model (its shape is in the OpenAPI document)."""
    return {
        "job_id": job_id,
        "model": model,
        "model_version": model_version,
        "predictions": [
            {"prediction": value, "is_outlier": flag, "outlier_score": score}
            for value, flag, score in zip(predictions, is_outlier, outlier_scores, strict=True)
        ],
    }


def no_label_rejection(model: str) -> RequestRejected:
    return RequestRejected(
        404,
        "no_label_for_regression",
        f"model '{model}' is a regression model: it predicts a number, not a label; "
        "POST /predict answers it as 'prediction' (GET /predict/test for the built-in sample)",
    )


@dataclass
class RegressionPredictionService(PredictionService):
    """`PredictionService` for a regressor: the same parsing, refusals, records and metrics; other outputs."""

    model: Any  # RegressionOnnxModel (or a test double with its `predict`)

    def __post_init__(self) -> None:
        self._set_inputs()
        self._line_formats = {}
        self._replies = {False: None, True: None}  # no one-row format: the general path answers every request
        self._quoted_labels = []

    def predict_sample(self, *, endpoint: str, labels_only: bool, caller: str | None = None) -> str:
        if labels_only:
            rejection = no_label_rejection(self.baseline.model_name)
            self.record_rejection(endpoint=endpoint, rejection=rejection)
            raise rejection
        return super().predict_sample(endpoint=endpoint, labels_only=False, caller=caller)

    def _answer(
        self,
        job_id: str,
        started: float,
        endpoint: str,
        rows: Sequence[Sequence[float | str]],
        array: np.ndarray | None,
        labels_only: bool,
        caller: str | None = None,
        categories: np.ndarray | None = None,
        unseen: Sequence[Sequence[str]] | None = None,
    ) -> str:
        if labels_only:
            raise no_label_rejection(self.baseline.model_name)
        if array is None or (self._schema is not None and categories is None):
            array, categories = model_arrays(rows, self.baseline)
        result = self.model.predict(array) if categories is None else self.model.predict(array, categories)
        predictions = [float(f"{v:.{PREDICTION_DIGITS}g}") for v in result.prediction.astype(np.float64).tolist()]
        outlier_scores = rounded(result.outlier_score, 4)
        if not math.isfinite(sum(predictions) + sum(outlier_scores)):
            finite = np.isfinite(result.prediction) & np.isfinite(result.outlier_score)
            raise self._refuse_unscorable(rows, finite)
        outlier_flags = (result.outlier_score > 0).tolist()
        latency_ms = (self.timer() - started) * 1000.0
        self.log.write(
            with_caller(
                regression_prediction_lines(
                    timestamp_ms=self.clock_ms(),
                    request_id=job_id,
                    endpoint=endpoint,
                    model=self.baseline.model_name,
                    model_version=self.baseline.model_version,
                    feature_names=self.baseline.feature_names,
                    rows=rows,
                    predictions=predictions,
                    is_outlier=outlier_flags,
                    outlier_scores=outlier_scores,
                    latency_ms=latency_ms,
                    unseen_categories=unseen,
                ),
                caller,
            ),
            self.metrics.prediction(rows=len(rows), outliers=sum(outlier_flags), latency_ms=latency_ms, class_counts=[]),
        )
        return compact_json(
            regression_reply(
                job_id=job_id,
                model=self.baseline.model_name,
                model_version=self.baseline.model_version,
                predictions=predictions,
                is_outlier=outlier_flags,
                outlier_scores=outlier_scores,
            )
        )

    def _parse_feedback(self, body: str | bytes | None) -> list[Label]:
        """True values: each label a finite number."""
        return parse_labels(body, label_names=(), numeric=True)

    @staticmethod
    def _feedback_item(label: Label) -> tuple[str, int, str | float, int | None]:
        return label.job_id, label.row, float(label.value or 0.0), None  # a number, no label index
