"""Inference Lambda: the composition root. Everything is built once, at cold start.

A model folder that is incomplete or inconsistent fails here, at initialisation,
with a message naming the problem, never at the first request.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import IO, Any

from functions.inference.lazy_package import defer_unused_powertools

defer_unused_powertools()  # before the first Powertools import; see lazy_package

from aws_lambda_powertools import Logger, Metrics  # noqa: E402
from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: E402

from functions.contract.model_artifact import load_model_artifact  # noqa: E402
from functions.contract.names import MODEL_DIMENSION  # noqa: E402
from functions.contract.prediction_log import PredictionLogWriter  # noqa: E402
from functions.inference.api import InferenceApi  # noqa: E402
from functions.inference.onnx_model import OnnxModel  # noqa: E402
from functions.inference.prediction_service import PredictionService  # noqa: E402
from functions.inference.request_metrics import LinesAreTheMetrics  # noqa: E402
from functions.inference.settings import InferenceSettings  # noqa: E402

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]  # Any: Lambda passes a LambdaContext, tests a stand-in

# Powertools Metrics only carries the cold-start metric; request metrics are metric filters on the lines.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def create_handler(settings: InferenceSettings, stdout: IO[str] = sys.stdout) -> LambdaHandler:
    """Build model sessions, log writer, metrics and routes; return the Lambda entry point."""
    logger = Logger(service=settings.service_name)
    metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
    artifact = load_model_artifact(settings.model_dir)
    baseline = artifact.baseline
    metrics.set_default_dimensions(**{MODEL_DIMENSION: baseline.model_name})
    if baseline.is_regression:  # one number per row (docs/regression.md)
        from functions.inference.regression import RegressionOnnxModel, RegressionPredictionService

        model: Any = RegressionOnnxModel(artifact)  # its own batch type: RegressionPredictionService reads it
        service_class: type[PredictionService] = RegressionPredictionService
    else:
        model, service_class = OnnxModel(artifact), PredictionService
    service = service_class(
        model=model,
        baseline=baseline,
        log=PredictionLogWriter(stdout, settings.prediction_log_file),
        metrics=LinesAreTheMetrics(),  # metric filters count the lines (infra/line_metrics.py)
        max_rows=settings.max_rows,
        max_body_bytes=settings.max_body_bytes,
        refuse_unseen=settings.refuse_unseen,
    )
    api = InferenceApi(service, log_caller=settings.log_caller)
    logger.info(
        "model loaded",
        extra={"model": baseline.model_name, "model_version": baseline.model_version, "model_dir": str(artifact.directory)},
    )

    # Powertools Metrics records the cold start on the first call; later calls skip its flush, which
    # finds nothing to publish but still costs ~8 µs a request (a filtered warning included).
    first_call = metrics.log_metrics(capture_cold_start_metric=True)(api.handle)
    route = [first_call]

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        call = route[0]
        route[0] = api.handle
        return call(event, context)

    if settings.tracing_enabled:  # X-Ray costs ~600 ms of cold start (aws-xray-sdk + botocore): only when asked for
        from aws_lambda_powertools import Tracer

        return Tracer(service=settings.service_name).capture_lambda_handler(handle)
    return handle


lambda_handler = create_handler(InferenceSettings.from_env())
