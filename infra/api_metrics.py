"""Front-door metrics for alarms and the dashboard, whichever API type (or Function URL) fronts the function.

REST and HTTP APIs publish different metrics in the same `AWS/ApiGateway` namespace:

| | REST API | HTTP API |
| --- | --- | --- |
| dimensions | ApiName, Stage | ApiId, Stage |
| server / client errors | 5XXError / 4XXError | 5xx / 4xx |
| requests, latency | Count, Latency | Count, Latency |

aws-cdk-lib's stage classes pick names and dimensions (`apigateway.Stage`, `apigatewayv2.HttpStage`); this class
only adds the 5xx *rate*. For REST, AWS documents the Average of 5XXError as the error rate. For HTTP APIs it
documents 5xx only as a count, so the rate is computed as Sum(5xx) / Sum(Count), which is right either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw


@dataclass(frozen=True)
class ApiMetrics:
    """The four stage metrics the Observability construct graphs, plus the 5xx rate it alarms on."""

    stage: apigw.Stage | apigwv2.HttpStage
    rate_is_average: bool  # True where AWS documents Average as the error rate (REST)

    @classmethod
    def for_rest(cls, stage: apigw.Stage) -> ApiMetrics:
        return cls(stage=stage, rate_is_average=True)

    @classmethod
    def for_http(cls, stage: apigwv2.HttpStage) -> ApiMetrics:
        return cls(stage=stage, rate_is_average=False)

    def metric_count(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self.stage.metric_count(statistic=statistic, period=period, label=label)

    def metric_client_error(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self.stage.metric_client_error(statistic=statistic, period=period, label=label)

    def metric_server_error(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self.stage.metric_server_error(statistic=statistic, period=period, label=label)

    def metric_latency(self, *, statistic: str = "Average", period: Duration, label: str | None = None) -> cw.Metric:
        return self.stage.metric_latency(statistic=statistic, period=period, label=label)

    def server_error_rate(self, period: Duration) -> cw.IMetric:
        """Share of requests answered 5xx in each period (0..1)."""
        if self.rate_is_average:
            return self.metric_server_error(statistic="Average", period=period)
        return cw.MathExpression(
            expression="IF(requests > 0, errors / requests, 0)",
            using_metrics={
                "errors": self.metric_server_error(statistic="Sum", period=period),
                "requests": self.metric_count(statistic="Sum", period=period),
            },
            label="5xx rate",
            period=period,
        )


URL_NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class FunctionUrlMetrics:
    """The same five for a Lambda Function URL: Lambda publishes UrlRequestCount, Url4xxCount, Url5xxCount and
    UrlRequestLatency in AWS/Lambda; the FunctionName dimension aggregates the URL of $LATEST and of any alias."""

    function_name: str

    def _metric(self, name: str, statistic: str, period: Duration, label: str | None) -> cw.Metric:
        return cw.Metric(
            namespace=URL_NAMESPACE,
            metric_name=name,
            dimensions_map={"FunctionName": self.function_name},
            statistic=statistic,
            period=period,
            label=label,
        )

    def metric_count(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self._metric("UrlRequestCount", statistic, period, label)

    def metric_client_error(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self._metric("Url4xxCount", statistic, period, label)

    def metric_server_error(self, *, statistic: str = "Sum", period: Duration, label: str | None = None) -> cw.Metric:
        return self._metric("Url5xxCount", statistic, period, label)

    def metric_latency(self, *, statistic: str = "Average", period: Duration, label: str | None = None) -> cw.Metric:
        return self._metric("UrlRequestLatency", statistic, period, label)

    def server_error_rate(self, period: Duration) -> cw.IMetric:
        """Share of requests answered 5xx: Sum(Url5xxCount) / Sum(UrlRequestCount), as for HTTP APIs."""
        return cw.MathExpression(
            expression="IF(requests > 0, errors / requests, 0)",
            using_metrics={
                "errors": self.metric_server_error(statistic="Sum", period=period),
                "requests": self.metric_count(statistic="Sum", period=period),
            },
            label="5xx rate",
            period=period,
        )


FrontDoorMetrics = ApiMetrics | FunctionUrlMetrics
