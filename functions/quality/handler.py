"""Quality Lambda: runs on an EventBridge schedule (hourly by default); the event's `time` ends the lookback."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.contract.names import MODEL_DIMENSION

from .composition import build_app_from_env
from .service import scheduled_end

APP = build_app_from_env(os.environ)  # cold start: a bad setting or baseline fails the init, not a run
logger = Logger(service=APP.settings.service_name)
metrics = Metrics(namespace=APP.settings.metrics_namespace, service=APP.settings.service_name)
metrics.set_default_dimensions(**{MODEL_DIMENSION: APP.baseline.model_name})


def _emit(name: str, value: float, unit: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = APP.job.run(scheduled_end(EventBridgeEvent(event).time), _emit, now_ms=int(time.time() * 1000))
    summary = result.summary()
    scanned = APP.runner.last.bytes_scanned if APP.runner.last else None
    logger.info("quality evaluation", extra={**summary, "bytes_scanned": scanned})
    return summary


handler = lambda_handler
