"""1. API: every route answers, a request without credentials is refused, bad input answers as docs/api.md says.

The bad-input cases are the error table of docs/api.md as data (`error_cases`); a unit test keeps the two in step and
runs every case against the handler in-process, so a failure here is AWS (API Gateway, Lambda) differing from
the local behaviour, not a wrong expectation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from functions.contract.model_artifact import Baseline

from ..context import RunContext
from ..results import CheckResult, Status
from ..traffic import Row

NAME = "1 api"
BODY_OVER_LIMIT_BYTES = 1_200_001  # above MAX_BODY_BYTES (1 MiB), below API Gateway's 10 MB
AUTH_REFUSED = (401, 403)
# Error table rows no HTTP client can produce through API Gateway: a direct (non-proxy) invocation, and a bug.
# Both are covered in-process by tests/integration/inference (SAM-generated events, a predictor that raises).
NOT_REACHABLE_OVER_HTTP = frozenset({(400, "not_an_api_gateway_event"), (500, "internal_error")})
UNSCORABLE_VALUE = 3.0e38  # finite, inside float32, yet iris's, wine's and diabetes's outputs are NaN for it
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete"})


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None
    status: int
    error: str | tuple[str, ...] | None  # the body's `error` code (or the codes the error table allows); None for success
    content_type: str | None = "application/json"


def _rows(baseline: Baseline, count: int) -> list[Row]:
    return [list(baseline.sample_row) for _ in range(count)]


def extreme_row(baseline: Baseline) -> Row:
    """The sample row with every number at UNSCORABLE_VALUE."""
    return baseline.row_with([UNSCORABLE_VALUE] * len(baseline.features))


def unscorable_row(model_dir: Path) -> Row | None:
    """`extreme_row` when the model's own ONNX files cannot score it (a non-finite output), else None: a model whose
    outputs stay finite for any float32 input (credit_card's) has no row a client can send to get `unscorable_row`."""
    import numpy as np

    from functions.contract.model_artifact import load_model_artifact

    artifact = load_model_artifact(model_dir)
    row = extreme_row(artifact.baseline)
    if artifact.baseline.is_regression:
        from functions.inference.regression import RegressionOnnxModel

        answer = RegressionOnnxModel(artifact).predict_one(row)
        numbers = [*np.ravel(answer.prediction).tolist(), *np.ravel(answer.outlier_score).tolist()]
    else:
        from functions.inference.onnx_model import OnnxModel

        result = OnnxModel(artifact).predict_one(row)
        numbers = [*np.ravel(result.probabilities).tolist(), *np.ravel(result.outlier_score).tolist()]
    return None if np.isfinite(np.asarray(numbers, dtype=np.float64)).all() else row


def error_cases(baseline: Baseline, max_rows: int = 1000, unscorable: Sequence[object] | None = ()) -> list[Case]:
    """The error table of docs/api.md, one case per class of bad input. `unscorable`: the row the model cannot score
    (`unscorable_row`); () for `extreme_row`, None when the model has none."""
    n = baseline.n_features
    good = baseline.sample_row
    number_at = baseline.numeric_positions[0]  # where a bad number goes (a string in a categorical slot is valid)

    def with_number(value: object) -> list[object]:
        return [value if i == number_at else v for i, v in enumerate(good)]

    if unscorable == ():
        unscorable = extreme_row(baseline)

    def body(document: object) -> bytes:
        return json.dumps(document).encode()

    padding = json.dumps({"data": [good]})[:-1] + "," + " " * BODY_OVER_LIMIT_BYTES + "}"
    cases = [
        Case("no body", "POST", "/predict", None, 400, "empty_body"),
        Case("invalid JSON", "POST", "/predict", b'{"data": [[1, 2', 400, "invalid_json"),
        Case("body over 1 MiB", "POST", "/predict", padding.encode(), 413, "body_too_large"),
        Case("content type not JSON", "POST", "/predict", b"1,2,3,4", 415, "unsupported_media_type", "text/csv"),
        Case("{} (missing data)", "POST", "/predict", b"{}", 422, "invalid_request"),
        Case("extra keys", "POST", "/predict", body({"data": [good], "model": "x"}), 422, "invalid_request"),
        Case("zero rows", "POST", "/predict", body({"data": []}), 422, "invalid_request"),
        Case(
            "too many rows",
            "POST",
            "/predict",
            body({"data": _rows(baseline, max_rows + 1)}),
            422,
            "too_many_rows",
        ),
        Case("wrong row length", "POST", "/predict", body({"data": [good[: n - 1]]}), 422, "wrong_row_length"),
        Case("string value", "POST", "/predict", body({"data": [with_number("x")]}), 422, "invalid_request"),
        Case("boolean value", "POST", "/predict", body({"data": [with_number(True)]}), 422, "invalid_request"),
        Case("null value", "POST", "/predict", body({"data": [with_number(None)]}), 422, "invalid_request"),
        Case("NaN", "POST", "/predict", ('{"data": [[NaN' + ", 1.0" * (n - 1) + "]]}").encode(), 422, "invalid_request"),
        Case("1e400", "POST", "/predict", ('{"data": [[1e400' + ", 1.0" * (n - 1) + "]]}").encode(), 422, "invalid_request"),
        Case("overflows float32", "POST", "/predict", body({"data": [with_number(1e39)]}), 422, "invalid_request"),
        Case("unknown route", "GET", "/nowhere", None, 404, "not_found"),
        Case(
            "a key twice", "POST", "/predict", ('{"data": [' + json.dumps(good) + '], "data": []}').encode(), 422, "duplicate_key"
        ),
        Case(
            "feedback label not in the model",
            "POST",
            "/feedback",
            body({"labels": [{"job_id": "0" * 32, "row": 0, "label": "not-a-label"}]}),
            422,
            "invalid_request",
        ),
        Case(
            "feedback over 1,000 items",
            "POST",
            "/feedback",
            body({"labels": [{"job_id": "0" * 32, "row": 0, "label": baseline.label_names[0]}] * 1001}),
            422,
            "too_many_labels",
        ),
    ]
    if unscorable is not None:
        cases.append(Case("unscorable row", "POST", "/predict", body({"data": [good, list(unscorable)]}), 422, "unscorable_row"))
    return cases


def route_cases(baseline: Baseline) -> list[Case]:
    """The documented routes (docs/api.md), each with a request it must answer 200."""
    two = json.dumps({"data": _rows(baseline, 2)}).encode()
    return [
        Case("GET /health", "GET", "/health", None, 200, None),
        Case("GET /metadata", "GET", "/metadata", None, 200, None),
        Case("GET /label", "GET", "/label", None, 200, None),
        Case("POST /predict", "POST", "/predict", two, 200, None),
        Case("POST /predict/label", "POST", "/predict/label", two, 200, None),
        Case("GET /predict/test", "GET", "/predict/test", None, 200, None),
        Case("GET /predict/test/label", "GET", "/predict/test/label", None, 200, None),
        Case("GET /openapi.json", "GET", "/openapi.json", None, 200, None),
    ]


def judge(case: Case, status: int, payload: object) -> str | None:
    """None when the answer is what the case expects, else what differed."""
    if status != case.status:
        return f"{case.name}: {case.method} {case.path} answered {status}, expected {case.status}"
    if case.error is not None:
        code = payload.get("error") if isinstance(payload, dict) else None
        allowed = (case.error,) if isinstance(case.error, str) else case.error
        if code not in allowed:
            return f"{case.name}: error {code!r}, expected {case.error!r}"
    return None


def check_api(ctx: RunContext) -> list[CheckResult]:
    problems: list[str] = []
    notes: list[str] = []
    cases = route_cases(ctx.baseline)
    bad_inputs = error_cases(ctx.baseline, unscorable=unscorable_row(ctx.config.model_dir))
    for case in cases + bad_inputs:
        reply = ctx.api.request(case.method, case.path, case.body, content_type=case.content_type)
        problem = judge(case, reply.status, reply.json())
        if problem:
            problems.append(problem)
    health = ctx.api.request("GET", "/health").json() or {}
    if health.get("model_version") != ctx.baseline.model_version:
        problems.append(
            f"/health serves version {health.get('model_version')!r}, the repository has {ctx.baseline.model_version}"
        )
    # Routes the deployed API documents beyond docs/api.md's: each must answer without a 5xx.
    document = ctx.api.request("GET", "/openapi.json").json() or {}
    known = {c.path for c in cases}
    for path, methods in sorted((document.get("paths") or {}).items()):
        for method in methods:
            if method.lower() not in HTTP_METHODS or path in known or "{" in path:
                continue
            reply = ctx.api.request(method.upper(), path, b"{}" if method.lower() == "post" else None)
            notes.append(f"{method.upper()} {path} (not in the routes table of docs/api.md) answered {reply.status}")
            if reply.status >= 500:
                problems.append(f"{method.upper()} {path} answered {reply.status}")
    for path, method in (("/health", "GET"), ("/predict", "POST")):
        body = json.dumps({"data": _rows(ctx.baseline, 1)}).encode() if method == "POST" else None
        reply = ctx.api.request(method, path, body, authenticated=False)
        if reply.status not in AUTH_REFUSED:
            problems.append(f"{method} {path} without credentials answered {reply.status}, expected 401 or 403")
        else:
            notes.append(f"{method} {path} without credentials: {reply.status} {reply.body[:80].decode(errors='replace')}")
    ctx.usage.api_requests = ctx.api.requests
    total = len(cases) + len(bad_inputs)
    if problems:
        return [
            CheckResult(NAME, Status.FAIL, f"{len(problems)} of {total + 2} expectations failed", observations=problems + notes)
        ]
    return [
        CheckResult(NAME, Status.PASS, f"{len(cases)} routes, {total - len(cases)} bad inputs, auth refused", observations=notes)
    ]
