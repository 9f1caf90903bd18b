"""Turns a request body into rows, or into a RequestRejected that says exactly what was wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from functions.inference.schemas import FLOAT32_MAX, PredictRequest

MAX_DETAILS = 10


class RequestRejected(Exception):
    """A client error; the API maps it to `status` with a JSON body. Never a 5xx."""

    def __init__(self, status: int, code: str, message: str, details: Sequence[dict[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.job_id: str | None = None


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _problem(error: Any, max_rows: int) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    where = _location(loc)
    if kind == "missing":
        return f"missing key '{where}'; the body must look like {{\"data\": [[...], ...]}}"
    if kind == "extra_forbidden":
        return f"unexpected key '{where}'; only 'data' is accepted"
    if kind == "model_type":
        return f'the body must be a JSON object like {{"data": [[...], ...]}}, got {_kind(value)}'
    if kind == "list_type":
        return f"{where} must be a list, got {_kind(value)}"
    if kind == "too_short" and loc == ("data",):
        return f"data has no rows; send 1 to {max_rows} rows"
    if kind == "too_long" and loc == ("data",):
        return f"data has more than {max_rows} rows; send at most {max_rows} per request"
    if kind == "float_type":
        return f"{where} must be a number, got {_kind(value)}"
    if kind == "finite_number":
        return f"{where} must be a finite number; NaN and Infinity are not accepted"
    if kind in ("less_than_equal", "greater_than_equal"):
        return f"{where} = {value!r} overflows float32 (magnitude above {FLOAT32_MAX:.7g})"
    return f"{where}: {error['msg']}"


def parse_rows(body: str | bytes | None, *, feature_names: Sequence[str], max_rows: int) -> list[list[float]]:
    """Validate a /predict body: 1..max_rows rows, each exactly len(feature_names) finite float32 values."""
    if body is None or not body.strip():
        raise RequestRejected(400, "empty_body", 'the request has no body; send {"data": [[...], ...]}')
    try:
        request = PredictRequest.model_validate_json(body)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        if errors[0]["type"] == "json_invalid":
            raise RequestRejected(400, "invalid_json", f"the body is not valid JSON: {errors[0]['msg']}") from None
        details = [{"location": _location(e["loc"]), "problem": _problem(e, max_rows)} for e in errors[:MAX_DETAILS]]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise RequestRejected(422, "invalid_request", details[0]["problem"] + more, details) from None
    rows = request.data
    if len(rows) > max_rows:
        raise RequestRejected(
            422,
            "too_many_rows",
            f"data has {len(rows)} rows; send at most {max_rows} per request",
            [{"location": "data", "problem": "too many rows"}],
        )
    width = len(feature_names)
    bad = [index for index, row in enumerate(rows) if len(row) != width]
    if bad:
        first = bad[0]
        message = f"row {first} has {len(rows[first])} values; expected {width} ({', '.join(feature_names)})" + (
            f" ({len(bad) - 1} more rows have the wrong length)" if len(bad) > 1 else ""
        )
        details = [
            {"location": f"data[{index}]", "problem": f"has {len(rows[index])} values; expected {width}"}
            for index in bad[:MAX_DETAILS]
        ]
        raise RequestRejected(422, "wrong_row_length", message, details)
    return rows
