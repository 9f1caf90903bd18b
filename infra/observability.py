"""Observability: CloudWatch alarms (all to the alert topic) and one dashboard, derived from the model's baseline.

Widgets per feature and per class are generated from `baseline.json`, so a new
model gets its own drift and class panels without touching this file. Metric
names and dimensions come from `functions/contract/names.py`, the same module the
functions emit them with.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as log
from functions.contract.model_artifact import LOGS_INSIGHTS_MAX_JSON_FIELDS, Baseline, feature_field_position
from infra.alerts import alarm_name_prefix
from infra.api_metrics import FrontDoorMetrics
from infra.line_metrics import inference_metric

SERVICE_DIMENSION = "service"  # added by Powertools Metrics from POWERTOOLS_SERVICE_NAME
FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
# Firehose buffers up to 5 minutes; records older than three buffers mean delivery is failing.
ARCHIVE_FRESHNESS_THRESHOLD = Duration.minutes(15)
# Self-check: the monitor's rows per window against the inference function's own Predictions count.
SELF_CHECK_PERIOD = Duration.minutes(15)
SELF_CHECK_MIN_PREDICTIONS = 30  # below this many predicted rows in 15 minutes the ratio is not judged
SELF_CHECK_MIN_RATIO = 0.5  # the monitor must see at least half of the rows the function predicted
UNSEEN_WIDGET_FEATURES = 6  # category values shown beside each row with an unseen category
MAX_ALARM_WINDOW = Duration.days(1)  # CloudWatch: period x evaluation periods may not exceed one day


def schedule_period(expression: str) -> Duration:
    """The interval of an EventBridge `rate(...)` expression; one day for `cron(...)` (checked at least daily)."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not match:
        return MAX_ALARM_WINDOW
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit]
    return Duration.minutes(min(max(minutes, 5), int(MAX_ALARM_WINDOW.to_minutes())))


def emf_metric(
    metric_name: str, service: str, model: str, *, statistic: str = "Sum", period: Duration = ONE_MINUTE, label: str | None = None
) -> cw.Metric:
    """A metric the monitor and quality functions publish as EMF, with the contract's {service, model} dimensions.

    The inference function's metrics come from metric filters on its lines, keyed by model only (infra.line_metrics).
    """
    return cw.Metric(
        namespace=names.METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={SERVICE_DIMENSION: service, names.MODEL_DIMENSION: model},
        statistic=statistic,
        period=period,
        label=label,
    )


class Observability(Construct):
    """Alarms on the API, both functions, the monitor's heartbeat and its dead-letter queue; one dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: FrontDoorMetrics,  # REST or HTTP API stage, or Function URL, metrics (infra.api_metrics)
        inference_function: lambda_.IFunction,
        inference_log_group: logs.ILogGroup,
        monitor_function: lambda_.IFunction,
        monitor_dead_letter_queue: sqs.IQueue,
        archive_stream_name: str,
        baseline: Baseline,
        alarm_action: cw.IAlarmAction,
        server_error_rate_threshold: float = 0.05,
        p99_latency_threshold_ms: float = 1500,
        archive_freshness_threshold: Duration = ARCHIVE_FRESHNESS_THRESHOLD,
        dashboard_name: str | None = None,
        quality_function: lambda_.IFunction | None = None,
        quality_dead_letter_queue: sqs.IQueue | None = None,
        quality_schedule: str = "rate(1 hour)",
        monitor_window_minutes: int = 2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []
        stack = Stack.of(self)
        self.monitor_window_minutes = monitor_window_minutes
        prefix = alarm_name_prefix(stack)  # the topic and key policies let only `<stack>-*` alarms publish

        def alarm(alarm_id: str, description: str, **kwargs: object) -> cw.Alarm:
            created = cw.Alarm(
                self,
                alarm_id,
                alarm_name=f"{prefix}{alarm_id}",
                alarm_description=description,
                **kwargs,  # type: ignore[arg-type]
            )
            created.add_alarm_action(alarm_action)
            created.add_ok_action(alarm_action)  # recovery is news too
            self.alarms.append(created)
            return created

        self.api_5xx_rate = alarm(
            "Api5xxRate",
            f"More than {server_error_rate_threshold:.0%} of API requests answered 5xx over 5 minutes",
            metric=api.server_error_rate(FIVE_MINUTES),  # REST: Average of 5XXError; HTTP: Sum(5xx) / Sum(Count)
            threshold=server_error_rate_threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.api_p99_latency = alarm(
            "ApiP99Latency",
            f"API p99 latency above {p99_latency_threshold_ms:.0f} ms in 2 of 3 five-minute periods",
            metric=api.metric_latency(statistic="p99", period=FIVE_MINUTES),
            threshold=p99_latency_threshold_ms,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        for function_id, function in (("Inference", inference_function), ("Monitor", monitor_function)):
            alarm(
                f"{function_id}Errors",
                f"{function_id} function invocations failed",
                metric=function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm(
                f"{function_id}Throttles",
                f"{function_id} function invocations were throttled",
                metric=function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        self.monitor_stopped = alarm(
            "MonitorStopped",
            "The monitor has not run for 10 minutes (schedule disabled, function deleted or broken): nobody watches drift",
            metric=monitor_function.metric_invocations(statistic="Sum", period=FIVE_MINUTES),
            threshold=1,
            evaluation_periods=2,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,  # no data is exactly the failure we look for
        )
        self.monitor_dead_letters = alarm(
            "MonitorDeadLetters",
            "Failed monitor runs are waiting in the dead-letter queue",
            metric=monitor_dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=FIVE_MINUTES
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

        self.archive_stale = alarm(
            "ArchiveDeliveryStale",
            "Prediction records wait in Firehose longer than expected: S3 delivery is failing (bucket policy, KMS, quota)",
            metric=cw.Metric(
                namespace="AWS/Firehose",
                metric_name="DeliveryToS3.DataFreshness",
                dimensions_map={"DeliveryStreamName": archive_stream_name},
                statistic="Maximum",
                period=FIVE_MINUTES,
            ),
            threshold=archive_freshness_threshold.to_seconds(),
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no traffic, no records waiting
        )

        model = baseline.model_name
        self.failed_requests = alarm(
            "InferenceFailedRequests",
            "Accepted requests the service could not answer (JSON 500, one 'failed' line each): see the log's error_type",
            metric=inference_metric(names.METRIC_FAILED, model, period=FIVE_MINUTES),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.monitor_blind = alarm(
            "MonitorSeesFewerRows",
            f"The monitor's windows hold under {SELF_CHECK_MIN_RATIO:.0%} of the rows the inference function predicted "
            f"(at least {SELF_CHECK_MIN_PREDICTIONS} in 15 minutes): its query matches nothing or too little, so drift "
            "checks judge the wrong data. Health-probe rows (sample endpoints) count in Predictions but not in windows.",
            metric=self.self_check_expression(model, monitor_window_minutes),
            threshold=SELF_CHECK_MIN_RATIO,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        if quality_function is not None:
            period = schedule_period(quality_schedule)
            runs = 2 if period.to_seconds() * 2 <= MAX_ALARM_WINDOW.to_seconds() else 1
            alarm(
                "QualityErrors",
                "Quality function invocations failed (Athena query, permissions or code): realized accuracy is not judged",
                metric=quality_function.metric_errors(statistic="Sum", period=period),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm(
                "QualityStopped",
                f"The quality function has not run for {runs} schedule period(s) ({quality_schedule}): nobody judges accuracy",
                metric=quality_function.metric_invocations(statistic="Sum", period=period),
                threshold=1,
                evaluation_periods=runs,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            )
        if quality_dead_letter_queue is not None:
            alarm(
                "QualityDeadLetters",
                "Failed quality runs are waiting in the dead-letter queue",
                metric=quality_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=FIVE_MINUTES
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name or f"{stack.stack_name}-{model}",
            default_interval=Duration.hours(3),
            period_override=cw.PeriodOverride.AUTO,
        )
        self.dashboard.add_widgets(*self._widgets(api, inference_function, inference_log_group, monitor_function, baseline))

    @staticmethod
    def self_check_expression(model: str, window_minutes: int) -> cw.MathExpression:
        """Rows the monitor saw per minute / rows the function predicted per minute, over 15 minutes.

        Each run reports WindowRows for a `window_minutes` window, so the average per run divided by the window
        length is rows per minute; Predictions summed over the period divided by its minutes is the same unit.
        Missing WindowRows (no runs, or runs that emit nothing) count as 0; below the minimum traffic the ratio is 1.
        """
        minutes = int(SELF_CHECK_PERIOD.to_minutes())
        return cw.MathExpression(
            expression=(
                f"IF(FILL(predicted, 0) >= {SELF_CHECK_MIN_PREDICTIONS}, "
                f"(FILL(windowrows, 0) / {window_minutes}) / (FILL(predicted, 0) / {minutes}), 1)"
            ),
            using_metrics={
                "predicted": inference_metric(names.METRIC_PREDICTIONS, model, period=SELF_CHECK_PERIOD),
                "windowrows": emf_metric(
                    names.METRIC_WINDOW_ROWS, names.MONITOR_SERVICE, model, statistic="Average", period=SELF_CHECK_PERIOD
                ),
            },
            label="monitor rows / predicted rows",
            period=SELF_CHECK_PERIOD,
        )

    @property
    def dashboard_url(self) -> str:
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def _widgets(
        self,
        api: FrontDoorMetrics,  # REST or HTTP API stage, or Function URL, metrics (infra.api_metrics)
        inference_function: lambda_.IFunction,
        inference_log_group: logs.ILogGroup,
        monitor_function: lambda_.IFunction,
        baseline: Baseline,
    ) -> list[cw.IWidget]:
        model = baseline.model_name
        monitor = (names.MONITOR_SERVICE, model)
        predictions = inference_metric(names.METRIC_PREDICTIONS, model, label="predicted rows")
        outliers = inference_metric(names.METRIC_OUTLIERS, model, label="outlier rows")
        categorical = {feature.name for feature in baseline.categorical}
        listed = ", ".join(f"{name} (categorical)" if name in categorical else name for name in baseline.feature_names)
        header = cw.TextWidget(
            markdown=(
                f"# Inference: model `{model}` version `{baseline.model_version}`\n"
                f"{baseline.description} Features: {listed}. "
                f"Classes: {', '.join(baseline.label_names)}."
            ),
            width=24,
            height=2,
        )
        return [
            header,
            cw.GraphWidget(
                title="Request rate (per minute)",
                left=[
                    api.metric_count(statistic="Sum", period=ONE_MINUTE, label="API requests"),
                    inference_metric(names.METRIC_REQUESTS, model, label="handled requests"),
                    predictions,
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Latency percentiles (ms)",
                left=[
                    api.metric_latency(statistic=stat, period=ONE_MINUTE, label=f"API {stat}") for stat in ("p50", "p90", "p99")
                ]
                + [inference_metric(names.METRIC_LATENCY, model, statistic="p99", label="handler p99")],
                width=8,
            ),
            cw.GraphWidget(
                title="Errors and rejected requests",
                left=[
                    api.metric_client_error(statistic="Sum", period=ONE_MINUTE, label="API 4xx"),
                    api.metric_server_error(statistic="Sum", period=ONE_MINUTE, label="API 5xx"),
                    inference_metric(names.METRIC_REJECTED, model, label="rejected requests"),
                    inference_function.metric_errors(statistic="Sum", period=ONE_MINUTE, label="function errors"),
                ],
                right=[emf_metric(names.METRIC_REJECTED_RATIO, *monitor, statistic="Maximum", label="rejected ratio (monitor)")],
                width=8,
            ),
            cw.GraphWidget(
                title="Outlier ratio",
                left=[
                    cw.MathExpression(
                        expression="IF(predictions > 0, outliers / predictions, 0)",
                        using_metrics={"outliers": outliers, "predictions": predictions},
                        label="outliers / predictions (per minute)",
                        period=ONE_MINUTE,
                    ),
                    emf_metric(names.METRIC_OUTLIER_RATIO, *monitor, statistic="Maximum", label="monitor window ratio"),
                ],
                left_annotations=[
                    cw.HorizontalAnnotation(value=baseline.thresholds.outlier_ratio, label="alert threshold"),
                    cw.HorizontalAnnotation(value=baseline.training_outlier_rate, label="training rate", color="#2ca02c"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Predicted class counts",
                left=[inference_metric(names.class_metric(label), model, label=label) for label in baseline.label_names],
                stacked=True,
                width=8,
            ),
            cw.GraphWidget(
                title="Prediction drift and checks in alarm",
                left=[emf_metric(names.METRIC_PREDICTION_DRIFT, *monitor, statistic="Maximum", label="class-share distance")],
                right=[emf_metric(names.METRIC_CHECKS_IN_ALARM, *monitor, statistic="Maximum", label="checks in alarm")],
                # no fixed line: the check needs a significant z (sample-size critical value) and a PSI floor
                width=8,
            ),
            *_numeric_feature_widgets(baseline, monitor),
            *_category_widgets(baseline, monitor),
            cw.GraphWidget(
                title="Monitor runs",
                left=[
                    monitor_function.metric_invocations(statistic="Sum", period=ONE_MINUTE, label="runs"),
                    monitor_function.metric_errors(statistic="Sum", period=ONE_MINUTE, label="failed runs"),
                ],
                right=[emf_metric(names.METRIC_WINDOW_ROWS, *monitor, statistic="Maximum", label="rows per window")],
                width=8,
            ),
            cw.GraphWidget(
                title="Inference function",
                left=[
                    inference_function.metric_duration(statistic="p99", period=ONE_MINUTE, label="duration p99 (ms)"),
                    inference_function.metric_duration(statistic="p50", period=ONE_MINUTE, label="duration p50 (ms)"),
                ],
                right=[
                    inference_function.metric(
                        "ConcurrentExecutions", statistic="Maximum", period=ONE_MINUTE, label="concurrent executions"
                    ),
                    inference_function.metric_throttles(statistic="Sum", period=ONE_MINUTE, label="throttles"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Model quality: realized (from feedback) and estimated (mean confidence) accuracy",
                left=[
                    emf_metric(
                        names.METRIC_REALIZED_ACCURACY,
                        names.QUALITY_SERVICE,
                        model,
                        statistic="Minimum",
                        period=Duration.hours(1),
                        label="realized accuracy",
                    ),
                    emf_metric(names.METRIC_ESTIMATED_ACCURACY, *monitor, statistic="Average", label="estimated accuracy"),
                ],
                right=[
                    emf_metric(
                        names.METRIC_LABELLED_ROWS,
                        names.QUALITY_SERVICE,
                        model,
                        statistic="Maximum",
                        period=Duration.hours(1),
                        label="labelled rows (lookback)",
                    ),
                ],
                left_annotations=_holdout_annotations(baseline),
                width=8,
            ),
            cw.GraphWidget(
                title="Monitor self-check: rows seen / rows predicted",
                left=[self.self_check_expression(model, self.monitor_window_minutes)],
                left_annotations=[cw.HorizontalAnnotation(value=SELF_CHECK_MIN_RATIO, label="alarm below")],
                width=8,
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8),
            cw.LogQueryWidget(
                title="Latest outliers",
                log_group_names=[inference_log_group.log_group_name],
                query_lines=[
                    "fields @timestamp, request_id, prediction, outlier_score",
                    'filter message = "prediction" and is_outlier = 1',
                    "sort @timestamp desc",
                    "limit 20",
                ],
                width=24,
            ),
            *_unseen_category_widgets(baseline, inference_log_group),
        ]


def _category_widgets(baseline: Baseline, monitor: tuple[str, str]) -> list[cw.IWidget]:
    """Per categorical feature: the PSI of its shares (category_drift) and the share of unlisted values."""
    categorical = [feature for feature in baseline.categorical]
    if not categorical:
        return []
    return [
        cw.GraphWidget(
            title="Category drift (PSI of each categorical feature's shares against training)",
            left=[
                emf_metric(names.category_drift_metric(f.name), *monitor, statistic="Maximum", label=f.name) for f in categorical
            ],
            left_annotations=[cw.HorizontalAnnotation(value=baseline.thresholds.category_psi, label="floor")],
            width=12,
        ),
        cw.GraphWidget(
            title="Unseen categories (share of values training did not list)",
            left=[
                emf_metric(names.unseen_category_metric(f.name), *monitor, statistic="Maximum", label=f.name) for f in categorical
            ],
            width=12,
        ),
    ]


def _numeric_feature_widgets(baseline: Baseline, monitor: tuple[str, str]) -> list[cw.IWidget]:
    """Distribution distance and mean shift per numeric feature: a category has neither (its checks are its shares)."""
    numeric = [feature.name for feature in baseline.features]
    if not numeric:
        return []
    return [
        cw.GraphWidget(
            title="Feature drift (distribution distance to training)",
            left=[emf_metric(names.drift_metric(feature), *monitor, statistic="Maximum", label=feature) for feature in numeric],
            # no fixed line: the check needs the distance above its KS critical value and a PSI floor (docs/monitor.md)
            width=12,
        ),
        cw.GraphWidget(
            title="Feature mean shift (in training standard deviations)",
            left=[
                emf_metric(names.mean_shift_metric(feature), *monitor, statistic="Maximum", label=feature) for feature in numeric
            ],
            left_annotations=[  # the mean_shift check's effect-size floor, both directions (the t test must pass too)
                cw.HorizontalAnnotation(value=baseline.thresholds.effect_size_floor, label="floor"),
                cw.HorizontalAnnotation(value=-baseline.thresholds.effect_size_floor, label="floor"),
            ],
            width=12,
        ),
    ]


def unseen_category_query(baseline: Baseline) -> list[str]:
    """The latest rows whose categories training did not list: which features (`unseen_categories`, read from the
    raw line, so wide lines past Logs Insights' field cap still show it) and the values of the first categorical
    features that Logs Insights extracts."""
    shown = [
        f"features.{name}"
        for index, name in enumerate(baseline.feature_names)
        if name in {feature.name for feature in baseline.categorical}
        and feature_field_position(index) <= LOGS_INSIGHTS_MAX_JSON_FIELDS
    ][:UNSEEN_WIDGET_FEATURES]
    return [
        f'filter message = "{log.MESSAGE_PREDICTION}" and @message like /"{log.KEY_UNSEEN_CATEGORIES}":/',
        f'parse @message /"{log.KEY_UNSEEN_CATEGORIES}":\\[(?<unseen>[^\\]]*)\\]/',
        "fields " + ", ".join(["@timestamp", "request_id", "unseen", *shown]),
        "sort @timestamp desc",
        "limit 20",
    ]


def _unseen_category_widgets(baseline: Baseline, inference_log_group: logs.ILogGroup) -> list[cw.IWidget]:
    """A mixed model's new categories, row by row: what the unseen_category check counts, with the values."""
    if not baseline.has_categories:
        return []
    return [
        cw.LogQueryWidget(
            title="Latest rows with unseen categories",
            log_group_names=[inference_log_group.log_group_name],
            query_lines=unseen_category_query(baseline),
            width=24,
        )
    ]


def _holdout_annotations(baseline: Baseline) -> list[cw.HorizontalAnnotation]:
    """The hold-out accuracy line, when the model's baseline has one (models trained before it do not)."""
    holdout = getattr(baseline, "holdout", None)
    accuracy = getattr(holdout, "accuracy", None) if holdout is not None else None
    if isinstance(holdout, dict):
        accuracy = holdout.get("accuracy")
    return [cw.HorizontalAnnotation(value=float(accuracy), label="hold-out accuracy")] if accuracy is not None else []
