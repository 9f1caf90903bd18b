"""HTTP routes of the inference API (Powertools API Gateway REST resolver) and the last guard around them.

Request bodies are parsed by `PredictionService` (see `request_parsing`), not by the
resolver's `enable_validation`: measured here, the resolver's validation costs ~230 µs a
request. The OpenAPI document is built from the pydantic models in `openapi.py`, only
when `/openapi.json` is first asked for, so pydantic stays out of the cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.inference.lazy_package import defer_unused_powertools

defer_unused_powertools()  # see lazy_package

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response, ResponseBuilder  # noqa: E402

from functions.contract.json_text import compact_json, echoed  # noqa: E402
from functions.contract.model_artifact import FEATURE_CATEGORICAL, FEATURE_NUMERIC, Baseline  # noqa: E402
from functions.contract.prediction_log import LogUnavailable  # noqa: E402
from functions.inference.events import NOT_AN_API_EVENT, NotAnApiEvent, caller_arn, http_api_reply, rest_event  # noqa: E402
from functions.inference.prediction_service import PredictionService, RequestFailed  # noqa: E402
from functions.inference.request_parsing import MAX_ROWS_PER_REQUEST, RequestRejected  # noqa: E402

JSON = "application/json"


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=compact_json(payload), headers=headers)


def _json_text(status: int, text: str) -> Response:
    """A reply the service has already encoded (a str body is sent as is)."""
    return Response(status_code=status, content_type=JSON, body=text)


def _error(code: str, message: str, job_id: str | None, details: list[dict[str, str]] | None = None) -> dict:
    return {"error": code, "message": message, "details": details or [], "job_id": job_id}


def _metadata(baseline: Baseline, max_rows: int) -> dict[str, Any]:
    document = baseline.document
    metadata = {
        "model": document["model"],
        "task": baseline.task,
        "input": _input_description(baseline),
        "labels": list(baseline.label_names),
        "training_outlier_rate": baseline.training_outlier_rate,
        "prediction_distribution": dict(zip(baseline.label_names, baseline.class_distribution, strict=True)),
        "thresholds": {key: float(value) for key, value in document["thresholds"].items()},
        "max_rows_per_request": max_rows,
    }
    if baseline.prediction_stats is not None:  # regression: the training predictions, what output drift compares with
        stats = baseline.prediction_stats
        metadata["prediction_statistics"] = {"mean": stats.mean, "std": stats.std, "min": stats.min, "max": stats.max}
    return metadata


def _input_description(baseline: Baseline) -> list[dict[str, Any]]:
    """Every feature in request order: a number's training statistics, a category's listed values and shares."""
    numeric = {f.name: f for f in baseline.features}
    categorical = {f.name: f for f in baseline.categorical}
    described: list[dict[str, Any]] = []
    for name in baseline.feature_names:
        if name in numeric:
            f = numeric[name]
            described.append({"name": name, "type": FEATURE_NUMERIC, "mean": f.mean, "std": f.std, "min": f.min, "max": f.max})
        else:
            c = categorical[name]
            described.append(
                {
                    "name": name,
                    "type": FEATURE_CATEGORICAL,
                    "categories": list(c.categories),
                    "shares": list(c.shares),
                    "other_share": c.other_share,
                }
            )
    return described


class NoCompressionCheckBuilder(ResponseBuilder):
    """Powertools' response builder, minus reading the request headers when no compression is configured.

    Powertools decides on gzip after merging every request header into one case-insensitive dict,
    on every reply (~2.5 µs with the 18 headers of a real API Gateway event, measured here). Its
    answer is False whenever neither the route nor the reply asks for compression, whatever the
    headers say, and no route here does: this returns that answer without the merge, and defers to
    Powertools otherwise (`test_response_builder` checks both for every combination).
    """

    @staticmethod
    def _has_compression_enabled(route_compression: bool, response_compression: bool | None, event: Any) -> bool:
        if not route_compression and not response_compression:
            return False
        return ResponseBuilder._has_compression_enabled(route_compression, response_compression, event)


def inference_resolver() -> APIGatewayRestResolver:
    resolver = APIGatewayRestResolver(enable_validation=False)
    if hasattr(resolver, "_response_builder_class"):  # Powertools 3.x sets it per resolver; otherwise its own stays
        resolver._response_builder_class = NoCompressionCheckBuilder
    return resolver


class InferenceApi:
    """Routes, the one place where domain errors become HTTP replies, and the event adapter."""

    def __init__(self, service: PredictionService, *, log_caller: bool = False) -> None:
        """`log_caller`: write the request's IAM caller into its prediction lines (Function URL: no access log)."""
        self.service = service
        self.app = app = inference_resolver()
        self.routes: dict[str, list[str]] = {}  # path -> methods: 405 with Allow, and the OpenAPI test
        baseline = service.baseline
        self.max_rows = min(service.max_rows, MAX_ROWS_PER_REQUEST)
        health = {"status": "ok", "model": baseline.model_name, "model_version": baseline.model_version}
        labels = {"model": baseline.model_name, "model_version": baseline.model_version, "labels": list(baseline.label_names)}
        metadata = _metadata(baseline, self.max_rows)
        self._openapi: str | None = None

        def route(method: str, path: str) -> Callable[[Callable[[], Response]], Callable[[], Response]]:
            self.routes.setdefault(path, []).append(method)
            return app.route(path, method=method, include_in_schema=False)

        def caller() -> str | None:
            return caller_arn(app.current_event.raw_event) if log_caller else None

        def post(endpoint: str, labels_only: bool) -> Response:
            """Body and content type come from the raw event: Powertools' merged header view costs ~7 µs a request."""
            raw = app.current_event.raw_event
            reply = service.predict_request(
                endpoint=endpoint,
                body=raw.get("body"),
                content_type=_content_type(raw),
                labels_only=labels_only,
                is_base64=bool(raw.get("isBase64Encoded")),
                caller=caller(),
            )
            return _json_text(200, reply)

        def sample(endpoint: str, labels_only: bool) -> Response:
            return _json_text(200, service.predict_sample(endpoint=endpoint, labels_only=labels_only, caller=caller()))

        # Powertools tries routes in the order they were added: the hot one first.
        route("POST", "/predict")(lambda: post("/predict", labels_only=False))
        route("GET", "/health")(lambda: _json(200, health))
        route("GET", "/metadata")(lambda: _json(200, metadata))
        if baseline.is_regression:  # a number, not a label: the label routes answer 404 before reading any body
            from functions.inference.regression import no_label_rejection

            def no_label(endpoint: str) -> Response:
                rejection = no_label_rejection(baseline.model_name)
                service.record_rejection(endpoint=endpoint, rejection=rejection)
                raise rejection

            route("GET", "/label")(lambda: no_label("/label"))
            route("POST", "/predict/label")(lambda: no_label("/predict/label"))
        else:
            route("GET", "/label")(lambda: _json(200, labels))
            route("POST", "/predict/label")(lambda: post("/predict/label", labels_only=True))
        route("GET", "/predict/test")(lambda: sample("/predict/test", labels_only=False))
        route("GET", "/predict/test/label")(lambda: sample("/predict/test/label", labels_only=True))

        @route("POST", "/feedback")
        def post_feedback() -> Response:
            raw = app.current_event.raw_event
            reply = service.feedback_request(
                body=raw.get("body"), content_type=_content_type(raw), is_base64=bool(raw.get("isBase64Encoded"))
            )
            return _json(202, reply)

        @route("GET", "/openapi.json")
        def get_openapi() -> Response:
            if self._openapi is None:
                from functions.inference.openapi import openapi_document  # pydantic: only when asked for

                self._openapi = compact_json(
                    openapi_document(baseline, self.max_rows, self.routes, refuse_unseen=service.refuse_unseen)
                )
            return _json_text(200, self._openapi)

        @app.exception_handler(RequestRejected)
        def reply_rejected(rejection: RequestRejected) -> Response:
            body = _error(rejection.code, rejection.message, rejection.job_id, rejection.details)
            return _json(rejection.status, body, rejection.headers or None)

        @app.exception_handler(RequestFailed)
        def reply_failed(failure: RequestFailed) -> Response:
            return _json(500, self._failed_body(failure))

        @app.exception_handler(LogUnavailable)
        def reply_log_unavailable(error: LogUnavailable) -> Response:
            return _json(503, _log_unavailable_body(error), {"Retry-After": "5"})

        @app.exception_handler(Exception)
        def reply_unexpected(error: Exception) -> Response:
            try:
                failure = service.record_failure(endpoint=_logged_path(app.current_event.path), error=error)
            except LogUnavailable as unavailable:
                return reply_log_unavailable(unavailable)
            return _json(500, self._failed_body(failure))

        @app.not_found
        def reply_not_found(_: Exception) -> Response:
            event = app.current_event
            method, path = event.http_method, event.path
            allowed = self.routes.get(path)
            if allowed:
                allow = ", ".join(sorted(allowed))
                rejection = RequestRejected(
                    405, "method_not_allowed", f"{echoed(method)} is not allowed on {path}; use {allow}", headers={"Allow": allow}
                )
            else:
                rejection = RequestRejected(404, "not_found", f"no route {echoed(method)} {echoed(path)}; see GET /openapi.json")
            try:
                service.record_rejection(endpoint=_logged_path(path), rejection=rejection)
            except LogUnavailable as unavailable:
                return reply_log_unavailable(unavailable)
            return reply_rejected(rejection)

    @staticmethod
    def _failed_body(failure: RequestFailed) -> dict[str, Any]:
        return _error(
            "internal_error",
            f"the service could not answer this request ({failure.error_type}); it has been logged",
            failure.job_id,
        )

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        """Route one event; whatever happens, the caller gets a JSON reply and the log one record."""
        try:
            request, is_http_api = rest_event(event)
        except NotAnApiEvent as error:
            rejection = RequestRejected(400, "not_an_api_gateway_event", str(error))
            status, body = 400, _error(rejection.code, rejection.message, None)
            try:
                self.service.record_rejection(endpoint=NOT_AN_API_EVENT, rejection=rejection)
                body["job_id"] = rejection.job_id
            except LogUnavailable as unavailable:
                status, body = 503, _log_unavailable_body(unavailable)
            return {
                "statusCode": status,
                "headers": {"Content-Type": JSON},
                "body": compact_json(body),
                "isBase64Encoded": False,
            }
        try:
            reply = self.app.resolve(request, context)
        except Exception as error:  # the resolver itself failed: still one record and a JSON 500
            status = 500
            try:
                failure = self.service.record_failure(endpoint=_logged_path(str(request.get("path"))), error=error)
                body = self._failed_body(failure)
            except LogUnavailable as unavailable:
                status, body = 503, _log_unavailable_body(unavailable)
            except Exception:  # the log itself is failing: answer anyway
                body = _error("internal_error", "the service could not answer this request", None)
            reply = {
                "statusCode": status,
                "multiValueHeaders": {"Content-Type": [JSON]},
                "body": compact_json(body),
                "isBase64Encoded": False,
            }
        return http_api_reply(reply) if is_http_api else reply


def _log_unavailable_body(error: LogUnavailable) -> dict[str, Any]:
    """503: the request was not answered because it could not be recorded (the server's stderr says why)."""
    return _error(
        "log_unavailable", "the prediction log cannot be written; the request was not recorded, retry later", error.job_id
    )


def _content_type(raw: dict[str, Any]) -> str | None:
    """Header names are case-insensitive: the two usual spellings are looked up first, then every name."""
    headers = raw.get("headers") or {}
    value = headers.get("content-type") or headers.get("Content-Type")
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == "content-type"), None)


def _logged_path(path: str) -> str:
    """An unknown path is client data: the rejected line's endpoint holds a bounded copy."""
    return echoed(path)
