"""Prediction monitor Lambda: runs on an EventBridge schedule; the event's `time` ends the judged window."""

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
from .service import scheduled_window_end

APP = build_app_from_env(os.environ)  # cold start: a bad setting or baseline fails the init, not an evaluation
logger = Logger(service=APP.settings.service_name)
metrics = Metrics(namespace=APP.settings.metrics_namespace, service=APP.settings.service_name)
metrics.set_default_dimensions(**{MODEL_DIMENSION: APP.baseline.model_name})


def _emit(name: str, value: float, unit: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    window_end = scheduled_window_end(EventBridgeEvent(event).time)
    if APP.minute_monitor is not None:  # minute mode: the scheduled minute is "now"; minutes before it minus the lag settle
        summary = APP.minute_monitor.run(int(window_end.timestamp() * 1000), _emit).summary()
        logger.info("monitor evaluation", extra=summary)
        return summary
    result = APP.monitor.run(window_end, _emit, now_ms=int(time.time() * 1000))
    summary = result.summary()
    logger.info("monitor evaluation", extra=summary)
    return summary


handler = lambda_handler  # infra points at functions.monitor.handler.lambda_handler; `handler` is the short alias
