"""Observability: CloudWatch alarms (all to the alert topic) and one dashboard, derived from the model's baseline.

Widgets per feature and per class are generated from `baseline.json`, so a new
model gets its own drift and class panels without touching this file. Metric
names and dimensions come from `functions/contract/names.py`, the same module the
functions emit them with.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.contract import names
from functions.contract.model_artifact import Baseline
from infra.api_metrics import ApiMetrics

SERVICE_DIMENSION = "service"  # added by Powertools Metrics from POWERTOOLS_SERVICE_NAME
FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
# Firehose buffers up to 5 minutes; records older than three buffers mean delivery is failing.
ARCHIVE_FRESHNESS_THRESHOLD = Duration.minutes(15)


def emf_metric(
    metric_name: str, service: str, model: str, *, statistic: str = "Sum", period: Duration = ONE_MINUTE, label: str | None = None
) -> cw.Metric:
    """A metric the functions publish as EMF, with the contract's {service, model} dimensions."""
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
        api: ApiMetrics,  # REST or HTTP API stage metrics (infra.api_metrics)
        inference_function: lambda_.IFunction,
        inference_log_group: logs.ILogGroup,
        monitor_function: lambda_.IFunction,
        monitor_dead_letter_queue: sqs.IQueue,
        archive_stream: firehose.IDeliveryStream,
        baseline: Baseline,
        alarm_action: cw.IAlarmAction,
        server_error_rate_threshold: float = 0.05,
        p99_latency_threshold_ms: float = 1500,
        archive_freshness_threshold: Duration = ARCHIVE_FRESHNESS_THRESHOLD,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []

        def alarm(alarm_id: str, description: str, **kwargs: object) -> cw.Alarm:
            created = cw.Alarm(self, alarm_id, alarm_description=description, **kwargs)  # type: ignore[arg-type]
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
            metric=archive_stream.metric("DeliveryToS3.DataFreshness", statistic="Maximum", period=FIVE_MINUTES),
            threshold=archive_freshness_threshold.to_seconds(),
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no traffic, no records waiting
        )

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(3),
            period_override=cw.PeriodOverride.AUTO,
        )
        self.dashboard.add_widgets(*self._widgets(api, inference_function, inference_log_group, monitor_function, baseline))

    @property
    def dashboard_url(self) -> str:
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def _widgets(
        self,
        api: ApiMetrics,  # REST or HTTP API stage metrics (infra.api_metrics)
        inference_function: lambda_.IFunction,
        inference_log_group: logs.ILogGroup,
        monitor_function: lambda_.IFunction,
        baseline: Baseline,
    ) -> list[cw.IWidget]:
        model = baseline.model_name
        inference = (names.INFERENCE_SERVICE, model)
        monitor = (names.MONITOR_SERVICE, model)
        predictions = emf_metric(names.METRIC_PREDICTIONS, *inference, label="predicted rows")
        outliers = emf_metric(names.METRIC_OUTLIERS, *inference, label="outlier rows")
        header = cw.TextWidget(
            markdown=(
                f"# Inference: model `{model}` version `{baseline.model_version}`\n"
                f"{baseline.description} Features: {', '.join(baseline.feature_names)}. "
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
                    emf_metric(names.METRIC_REQUESTS, *inference, label="handled requests"),
                    predictions,
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Latency percentiles (ms)",
                left=[
                    api.metric_latency(statistic=stat, period=ONE_MINUTE, label=f"API {stat}") for stat in ("p50", "p90", "p99")
                ]
                + [emf_metric(names.METRIC_LATENCY, *inference, statistic="p99", label="handler p99")],
                width=8,
            ),
            cw.GraphWidget(
                title="Errors and rejected requests",
                left=[
                    api.metric_client_error(statistic="Sum", period=ONE_MINUTE, label="API 4xx"),
                    api.metric_server_error(statistic="Sum", period=ONE_MINUTE, label="API 5xx"),
                    emf_metric(names.METRIC_REJECTED, *inference, label="rejected requests"),
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
                left=[emf_metric(names.class_metric(label), *inference, label=label) for label in baseline.label_names],
                stacked=True,
                width=8,
            ),
            cw.GraphWidget(
                title="Prediction drift and checks in alarm",
                left=[emf_metric(names.METRIC_PREDICTION_DRIFT, *monitor, statistic="Maximum", label="class-share distance")],
                right=[emf_metric(names.METRIC_CHECKS_IN_ALARM, *monitor, statistic="Maximum", label="checks in alarm")],
                left_annotations=[cw.HorizontalAnnotation(value=baseline.thresholds.prediction_drift, label="threshold")],
                width=8,
            ),
            cw.GraphWidget(
                title="Feature drift (distribution distance to training)",
                left=[
                    emf_metric(names.drift_metric(feature), *monitor, statistic="Maximum", label=feature)
                    for feature in baseline.feature_names
                ],
                left_annotations=[cw.HorizontalAnnotation(value=baseline.thresholds.distribution_distance, label="threshold")],
                width=12,
            ),
            cw.GraphWidget(
                title="Feature mean shift (relative to training mean)",
                left=[
                    emf_metric(names.mean_shift_metric(feature), *monitor, statistic="Maximum", label=feature)
                    for feature in baseline.feature_names
                ],
                left_annotations=[cw.HorizontalAnnotation(value=baseline.thresholds.mean_deviation, label="threshold")],
                width=12,
            ),
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
        ]
