"""Inference Lambda: the composition root. Everything is built once, at cold start.

A model folder that is incomplete or inconsistent fails here, at initialisation,
with a message naming the problem, never at the first request.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.contract.model_artifact import load_model_artifact
from functions.contract.names import MODEL_DIMENSION
from functions.contract.prediction_log import PredictionLogWriter
from functions.inference.api import build_api
from functions.inference.onnx_model import OnnxModel
from functions.inference.prediction_service import PredictionService
from functions.inference.request_metrics import RequestMetrics
from functions.inference.settings import InferenceSettings

settings = InferenceSettings.from_env()
logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)

artifact = load_model_artifact(settings.model_dir)
dimensions = {"service": settings.service_name, MODEL_DIMENSION: artifact.baseline.model_name}
metrics.set_default_dimensions(**{MODEL_DIMENSION: artifact.baseline.model_name})
# Powertools Metrics only carries the cold-start metric; request metrics go through RequestMetrics (see there why).
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
service = PredictionService(
    model=OnnxModel(artifact),
    baseline=artifact.baseline,
    log=PredictionLogWriter(sys.stdout, settings.prediction_log_file),
    metrics=RequestMetrics(
        stream=sys.stdout, namespace=settings.metrics_namespace, dimensions=dimensions, labels=artifact.baseline.label_names
    ),
    max_rows=settings.max_rows,
    max_body_bytes=settings.max_body_bytes,
)
app = build_api(service)
logger.info(
    "model loaded",
    extra={"model": artifact.baseline.model_name, "model_version": artifact.baseline.model_version, "model_dir": str(settings.model_dir)},
)


@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


if settings.tracing_enabled:  # X-Ray costs ~600 ms of cold start (aws-xray-sdk + botocore): only when asked for
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=settings.service_name)
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
