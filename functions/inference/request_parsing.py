"""Turns a request body into rows (or labels), or into a RequestRejected that says exactly what was wrong.

No pydantic on this path: importing it and building the models cost ~50-80 ms of every cold
start, measured here. Its validator is faster on a one-row body (~1.4 µs against ~5 µs for the
standard library's decoder plus one type and range check over all values), a trade the cold
start wins. When a body is refused, a second, slower walk names every problem with its
location, in the words the API has always used ("data[0][1] must be a number, got a string").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from functions.contract.json_text import echoed
from functions.contract.prediction_log import MAX_CATEGORY_CHARS

FLOAT32_MAX = 3.4028234663852886e38
MAX_ROWS_PER_REQUEST = 1000
MAX_LABELS_PER_REQUEST = 1000
MAX_DETAILS = 10
SMALL_REQUEST_VALUES = 64  # up to this many values, validated in plain Python
JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_NUMBER_TYPES = frozenset((float, int))


class RequestRejected(Exception):
    """A client error; the API maps it to `status` with a JSON body. Never a 5xx."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers or {}
        self.job_id: str | None = None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json` keeps the last of two equal keys; a request that says two things is refused instead."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


_decode = json.JSONDecoder(object_pairs_hook=_unique_keys).decode


def decode_json(body: str | bytes | None, example: str) -> Any:
    """Parse a JSON body: 400 when absent or not JSON, 422 when an object repeats a key."""
    if not body or body.isspace():
        raise RequestRejected(400, "empty_body", f"the request has no body; send {example}")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return _decode(text)
    except _DuplicateKey as duplicate:
        key = echoed(duplicate.key)
        raise RequestRejected(
            422,
            "duplicate_key",
            f"key '{key}' appears more than once in a JSON object; send each key once",
            [{"location": key, "problem": "duplicate key"}],
        ) from None
    except json.JSONDecodeError as error:
        raise RequestRejected(
            400, "invalid_json", f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except UnicodeDecodeError as error:
        raise RequestRejected(400, "invalid_json", f"the body is not valid JSON: not UTF-8 ({error.reason})") from None
    except ValueError:  # after its subclasses above: int() refuses literals over sys.get_int_max_str_digits()
        raise RequestRejected(
            400, "invalid_json", "the body holds an integer with too many digits (more than 4300); send at most 39 digits"
        ) from None
    except RecursionError:
        raise RequestRejected(400, "invalid_json", "the body is not valid JSON: nested too deeply") from None


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
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _value_problem(value: Any, where: str) -> str | None:
    if type(value) not in _NUMBER_TYPES:
        return f"{where} must be a number, got {_kind(value)}"
    try:
        number = float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        return f"{where} = {echoed(repr(value))} overflows float32 (magnitude above {FLOAT32_MAX:.7g})"
    if not math.isfinite(number):
        return f"{where} must be a finite number; NaN and Infinity are not accepted"
    if abs(number) > FLOAT32_MAX:
        return f"{where} = {echoed(repr(value))} overflows float32 (magnitude above {FLOAT32_MAX:.7g})"
    return None


def _refuse(problems: list[tuple[str, str]]) -> RequestRejected:
    details = [{"location": where, "problem": problem} for where, problem in problems[:MAX_DETAILS]]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return RequestRejected(422, "invalid_request", problems[0][1] + more, details)


def _object_problems(document: Any, key: str, example: str) -> list[tuple[str, str]]:
    if not isinstance(document, dict):
        return [("body", f"the body must be a JSON object like {example}, got {_kind(document)}")]
    problems = []
    if key not in document:
        problems.append((key, f"missing key '{key}'; the body must look like {example}"))
    problems += [
        (echoed(extra), f"unexpected key '{echoed(extra)}'; only '{key}' is accepted") for extra in document if extra != key
    ]
    return problems


class Rows(NamedTuple):  # a tuple: built on every request, cheaper than a frozen dataclass
    values: list[list[float]]  # as floats, in request order: what the log records
    array: np.ndarray  # (n, width) float32: what the model reads


def parse_rows(body: str | bytes | None, *, feature_names: Sequence[str], max_rows: int) -> list[list[float]]:
    """Validate a /predict body: 1..max_rows rows, each exactly len(feature_names) finite float32 values."""
    return parse_rows_array(body, feature_names=feature_names, max_rows=max_rows).values


def parse_rows_array(body: str | bytes | None, *, feature_names: Sequence[str], max_rows: int) -> Rows:
    example = '{"data": [[...], ...]}'
    document = decode_json(body, example)
    data = document.get("data") if type(document) is dict and len(document) == 1 else None
    width = len(feature_names)
    if type(data) is list and len(data) == 1:  # the most common request: one row, checked with builtins only
        row = data[0]
        if type(row) is list and len(row) == width and set(map(type, row)) <= _NUMBER_TYPES:
            try:  # a NaN or infinity makes the sum non-finite; max and min then bound the range
                in_range = math.isfinite(sum(row)) and max(row) <= FLOAT32_MAX and min(row) >= -FLOAT32_MAX
            except OverflowError:  # an int too large for a float
                in_range = False
            if in_range:
                rows = [list(map(float, row))]
                return Rows(rows, np.array(rows, dtype=np.float32))
    elif type(data) is list and 0 < len(data) <= max_rows and all(type(row) is list and len(row) == width for row in data):
        values = list(chain.from_iterable(data))
        # Fast path: every value an int or float and within float32's range (NaN fails the comparison).
        if set(map(type, values)) <= _NUMBER_TYPES:
            if len(values) <= SMALL_REQUEST_VALUES:  # NumPy's per-call overhead loses on a few values
                try:
                    in_range = all(-FLOAT32_MAX <= value <= FLOAT32_MAX for value in values)
                except OverflowError:  # an int too large for a float
                    in_range = False
                if in_range:
                    rows = [[float(value) for value in row] for row in data]
                    return Rows(rows, np.array(rows, dtype=np.float32))
            else:
                try:
                    array = np.array(data, dtype=np.float64)
                except OverflowError:
                    array = None
                if array is not None and float(np.abs(array).max()) <= FLOAT32_MAX:
                    return Rows(array.tolist(), array.astype(np.float32))
    raise _row_rejection(document, feature_names, max_rows, example)


ValueProblem = Callable[[Any, int, int], "str | None"]  # (value, row, position) -> what is wrong with it, or None


def _numeric_value_problem(value: Any, row: int, position: int) -> str | None:
    return _value_problem(value, f"data[{row}][{position}]")


def _row_rejection(
    document: Any,
    feature_names: Sequence[str],
    max_rows: int,
    example: str,
    value_problem: ValueProblem = _numeric_value_problem,
) -> RequestRejected:
    """The slow walk over a refused body: every problem, with its location."""
    problems = _object_problems(document, "data", example)
    if problems:
        return _refuse(problems)
    data = document["data"]
    if not isinstance(data, list):
        return _refuse([("data", f"data must be a list, got {_kind(data)}")])
    if not data:
        return _refuse([("data", f"data has no rows; send 1 to {max_rows} rows")])
    if len(data) > max_rows:
        return RequestRejected(
            422,
            "too_many_rows",
            f"data has {len(data)} rows; send at most {max_rows} per request",
            [{"location": "data", "problem": "too many rows"}],
        )
    for index, row in enumerate(data):
        if not isinstance(row, list):
            problems.append((f"data[{index}]", f"data[{index}] must be a list, got {_kind(row)}"))
            continue
        for position, value in enumerate(row):
            problem = value_problem(value, index, position)
            if problem:
                problems.append((f"data[{index}][{position}]", problem))
    if problems:
        return _refuse(problems)
    width = len(feature_names)
    bad = [index for index, row in enumerate(data) if len(row) != width]
    if not bad:  # unreachable while the fast path and this walk agree; a 4xx all the same
        return _refuse([("data", "data is not a valid list of rows")])
    first = bad[0]
    message = f"row {first} has {len(data[first])} values; expected {width} ({', '.join(feature_names)})" + (
        f" ({len(bad) - 1} more rows have the wrong length)" if len(bad) > 1 else ""
    )
    details = [
        {"location": f"data[{index}]", "problem": f"has {len(data[index])} values; expected {width}"}
        for index in bad[:MAX_DETAILS]
    ]
    return RequestRejected(422, "wrong_row_length", message, details)


class Label(NamedTuple):
    job_id: str
    row: int
    label: str
    label_index: int
    value: float | None = None  # a regression model's true value (label "" and label_index -1 then)


def parse_labels(
    body: str | bytes | None, *, label_names: Sequence[str], max_items: int = MAX_LABELS_PER_REQUEST, numeric: bool = False
) -> list[Label]:
    """Validate a /feedback body: 1..max_items of {job_id: 32 hex, row: 0..999, label: one of the model's labels}.

    `numeric` (a regression model): the label is the true value, a finite number within float32's range; the
    returned Label carries it as `value` (label "" and label_index -1)."""
    example = '{"labels": [{"job_id": "<32 hex>", "row": 0, "label": %s}, ...]}' % ("12.5" if numeric else '"..."')
    document = decode_json(body, example)
    problems = _object_problems(document, "labels", example)
    if problems:
        raise _refuse(problems)
    items = document["labels"]
    if not isinstance(items, list):
        raise _refuse([("labels", f"labels must be a list, got {_kind(items)}")])
    if not items:
        raise _refuse([("labels", f"labels is empty; send 1 to {max_items} items")])
    if len(items) > max_items:
        raise RequestRejected(
            422,
            "too_many_labels",
            f"labels has {len(items)} items; send at most {max_items} per request",
            [{"location": "labels", "problem": "too many items"}],
        )
    index_of = {name: index for index, name in enumerate(label_names)}
    labels: list[Label] = []
    for index, item in enumerate(items):
        where = f"labels[{index}]"
        if not isinstance(item, dict):
            problems.append(
                (where, f'{where} must be an object like {{"job_id": ..., "row": 0, "label": ...}}, got {_kind(item)}')
            )
            continue
        item_problems = [
            (f"{where}.{key}", f"{where}: missing key '{key}'") for key in ("job_id", "row", "label") if key not in item
        ]
        item_problems += [
            (f"{where}.{echoed(key)}", f"{where}: unexpected key '{echoed(key)}'; only job_id, row and label are accepted")
            for key in item
            if key not in ("job_id", "row", "label")
        ]
        job_id, row, label = item.get("job_id"), item.get("row"), item.get("label")
        if type(row) is float and row.is_integer():  # JSON Schema counts 227.0 as an integer
            row = int(row)
        if "job_id" in item and not (isinstance(job_id, str) and JOB_ID_PATTERN.fullmatch(job_id)):
            item_problems.append(
                (
                    f"{where}.job_id",
                    f"{where}.job_id must be the 32 lower-case hex characters of a job_id, got {echoed(repr(job_id))}",
                )
            )
        if "row" in item and not (type(row) is int and 0 <= row < MAX_ROWS_PER_REQUEST):
            item_problems.append(
                (f"{where}.row", f"{where}.row must be a whole number in 0..{MAX_ROWS_PER_REQUEST - 1}, got {echoed(repr(row))}")
            )
        if numeric:
            if "label" in item and not (
                type(label) in _NUMBER_TYPES and math.isfinite(label) and abs(label) <= FLOAT32_MAX  # type: ignore[arg-type]
            ):
                item_problems.append(
                    (f"{where}.label", f"{where}.label must be a finite number (the true value), got {echoed(repr(label))}")
                )
        elif "label" in item and not (isinstance(label, str) and label in index_of):
            item_problems.append(
                (f"{where}.label", f"{where}.label must be one of {', '.join(label_names)}, got {echoed(repr(label))}")
            )
        if item_problems:
            problems += item_problems
        elif numeric:
            labels.append(Label(str(job_id), int(row), "", -1, float(label)))  # type: ignore[arg-type]
        else:
            labels.append(Label(str(job_id), int(row), str(label), index_of[str(label)]))  # type: ignore[arg-type]
    if problems:
        raise _refuse(problems)
    return labels


# --- mixed rows: numbers and categories (functions/contract/model_artifact.py, type "categorical") ------------------


KNOWN_IN_MESSAGE = 10  # known categories an error message lists, most frequent first


class RowSchema(NamedTuple):
    """What each position of a mixed model's row holds, built once per cold start from the baseline."""

    feature_names: tuple[str, ...]
    numeric_positions: tuple[int, ...]
    categorical_positions: tuple[int, ...]
    categories: tuple[tuple[str, ...], ...]  # listed categories, per categorical position, most frequent first
    listed: tuple[frozenset[str], ...]
    refuse_unseen: bool  # an unlisted category is refused (422 unseen_category) instead of accepted and logged

    @classmethod
    def of(
        cls, feature_names: Sequence[str], categorical: Sequence[tuple[str, Sequence[str]]], *, refuse_unseen: bool
    ) -> RowSchema:
        """`categorical`: (name, listed categories) of each categorical feature, in input order."""
        listed_of = {name: tuple(categories) for name, categories in categorical}
        positions = tuple(i for i, name in enumerate(feature_names) if name in listed_of)
        categories = tuple(listed_of[feature_names[i]] for i in positions)
        return cls(
            feature_names=tuple(feature_names),
            numeric_positions=tuple(i for i in range(len(feature_names)) if i not in positions),
            categorical_positions=positions,
            categories=categories,
            listed=tuple(frozenset(values) for values in categories),
            refuse_unseen=refuse_unseen,
        )

    def unseen(self, row: Sequence[float | str]) -> tuple[str, ...]:
        """Names of the row's categorical features whose value is not listed, in input order."""
        return tuple(
            self.feature_names[position]
            for position, listed in zip(self.categorical_positions, self.listed, strict=True)
            if row[position] not in listed
        )

    def known(self, category_index: int) -> str:
        """The known categories for a message: the first KNOWN_IN_MESSAGE (50 long ones would make 3 KB a problem)."""
        categories = self.categories[category_index]
        if len(categories) <= KNOWN_IN_MESSAGE:
            return ", ".join(categories)
        more = len(categories) - KNOWN_IN_MESSAGE
        return ", ".join(categories[:KNOWN_IN_MESSAGE]) + f" and {more} more (GET /metadata lists them)"


class MixedRows(NamedTuple):
    values: list[list[float | str]]  # in request order, numbers as floats, categories cut: what the log records
    numeric: np.ndarray  # (n, numeric) float32
    categories: np.ndarray  # (n, categorical) object array of str, cut to MAX_CATEGORY_CHARS
    unseen: list[tuple[str, ...]] | None  # per row, the features whose value is not listed; None when no row has one


def cut_category(text: str) -> str:
    """A category as the model and the log take it: at most MAX_CATEGORY_CHARS characters (longer is cut, not refused)."""
    return text if len(text) <= MAX_CATEGORY_CHARS else text[:MAX_CATEGORY_CHARS]


def _is_unicode(text: str) -> bool:
    """False for a lone surrogate ("\\ud800" is valid JSON): the model's string input takes UTF-8 only."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_mixed_rows(body: str | bytes | None, *, schema: RowSchema, max_rows: int) -> MixedRows:
    """Validate a /predict body for a model with categorical features: each row holds, in input order, a finite
    float32 number per numeric feature and a string per categorical one. A string longer than MAX_CATEGORY_CHARS
    is cut; an unlisted category is accepted (and reported per row in `unseen`) unless the schema refuses it."""
    example = '{"data": [[...], ...]}'
    document = decode_json(body, example)
    data = document.get("data") if type(document) is dict and len(document) == 1 else None
    width = len(schema.feature_names)
    if type(data) is list and 0 < len(data) <= max_rows and all(type(row) is list and len(row) == width for row in data):
        rows: list[list[float | str]] = []
        number_rows: list[list[float]] = []
        text_rows: list[list[str]] = []
        unseen: list[tuple[str, ...]] = []
        problems: list[tuple[str, str]] = []
        unseen_problems = 0
        numeric_positions, categorical_positions = schema.numeric_positions, schema.categorical_positions
        for index, row in enumerate(data):
            numbers = [row[i] for i in numeric_positions]
            texts = [row[i] for i in categorical_positions]
            if not (
                set(map(type, numbers)) <= _NUMBER_TYPES
                and set(map(type, texts)) <= _STRING_TYPE
                and _within_float32(numbers)
                and all(map(_is_unicode, texts))
            ):  # the slow walk over this row: every problem with its feature
                problems += [
                    (f"data[{index}][{position}]", problem)
                    for position, value in enumerate(row)
                    if (problem := _mixed_value_problem(schema, value, index, position))
                ]
                if schema.refuse_unseen:
                    refused = _unseen_problems(schema, index, [cut_category(t) if type(t) is str else t for t in texts])
                    problems += refused
                    unseen_problems += len(refused)
                continue
            numbers = [float(value) for value in numbers]
            texts = [cut_category(text) for text in texts]
            clean: list[float | str] = list(row)
            for position, number in zip(numeric_positions, numbers, strict=True):
                clean[position] = number
            for position, text in zip(categorical_positions, texts, strict=True):
                clean[position] = text
            row_unseen = tuple(
                schema.feature_names[position]
                for position, text, listed in zip(categorical_positions, texts, schema.listed, strict=True)
                if text not in listed
            )
            if row_unseen and schema.refuse_unseen:
                refused = _unseen_problems(schema, index, texts)
                problems += refused
                unseen_problems += len(refused)
            rows.append(clean)
            number_rows.append(numbers)
            text_rows.append(texts)
            unseen.append(row_unseen)
        if problems:
            rejection = _refuse(problems)
            if unseen_problems == len(problems):
                rejection.code = "unseen_category"
            raise rejection
        numeric = np.array(number_rows, dtype=np.float32).reshape(len(rows), len(numeric_positions))
        categories = np.array(text_rows, dtype=object).reshape(len(rows), len(categorical_positions))
        return MixedRows(rows, numeric, categories, unseen if any(unseen) else None)
    raise _row_rejection(
        document,
        schema.feature_names,
        max_rows,
        example,
        lambda value, row, position: _mixed_value_problem(schema, value, row, position),
    )


_STRING_TYPE = frozenset((str,))


def _within_float32(numbers: list[Any]) -> bool:
    """Every number finite and within float32's range (ints and floats only)."""
    if not numbers:
        return True
    try:  # a NaN or infinity makes the sum non-finite; max and min then bound the range
        return math.isfinite(sum(numbers)) and max(numbers) <= FLOAT32_MAX and min(numbers) >= -FLOAT32_MAX
    except OverflowError:  # an int too large for a float
        return False


def _unseen_problems(schema: RowSchema, index: int, texts: list[Any]) -> list[tuple[str, str]]:
    """Unseen categories refused (the service's setting): the row, the feature, the value and the known ones.
    A value that is not a string has its own problem (the wrong type) and is skipped here."""
    return [
        (
            f"data[{index}][{position}]",
            f"row {index}, feature '{schema.feature_names[position]}': {echoed(repr(text))} is not a known category "
            f"(known: {schema.known(category_index)})",
        )
        for category_index, (position, text) in enumerate(zip(schema.categorical_positions, texts, strict=True))
        if type(text) is str and text not in schema.listed[category_index]
    ]


def _mixed_value_problem(schema: RowSchema, value: Any, row: int, position: int) -> str | None:
    """What is wrong with one value of a mixed row, naming the row, the feature and the type it expects."""
    if position >= len(schema.feature_names):  # a row too long: its length is the problem, reported by the caller
        return None
    where = f"row {row}, feature '{schema.feature_names[position]}'"
    if position in schema.categorical_positions:
        category_index = schema.categorical_positions.index(position)
        if type(value) is not str:
            return f"{where}: expected a string (categorical: {schema.known(category_index)}), got {_kind(value)}"
        if not _is_unicode(value):
            return f"{where}: the string holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text"
        return None
    if type(value) not in _NUMBER_TYPES:
        return f"{where}: expected a number, got {_kind(value)}"
    problem = _value_problem(value, where)
    return problem
