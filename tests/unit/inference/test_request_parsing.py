"""Every class of bad input gets a 4xx naming what was wrong; good input passes untouched."""

from __future__ import annotations

import json

import pytest

from functions.inference.request_parsing import RequestRejected, parse_rows

IRIS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def parse(body: str | bytes | None, max_rows: int = 1000) -> list[list[float]]:
    return parse_rows(body, feature_names=IRIS, max_rows=max_rows)


def rejection(body: str | bytes | None, max_rows: int = 1000) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        parse(body, max_rows)
    return caught.value


def test_valid_rows_are_returned_as_sent() -> None:
    assert parse('{"data": [[5.1, 3.5, 1.4, 0.2], [7, 3, 5, 2]]}') == [[5.1, 3.5, 1.4, 0.2], [7.0, 3.0, 5.0, 2.0]]


def test_a_thousand_rows_are_accepted_and_one_more_is_not() -> None:
    rows = [[5.1, 3.5, 1.4, 0.2]] * 1000
    assert len(parse(json.dumps({"data": rows}))) == 1000
    error = rejection(json.dumps({"data": [*rows, rows[0]]}))
    assert error.status == 422
    assert "at most 1000" in error.message


def test_configured_row_limit_below_the_schema_limit_is_enforced() -> None:
    error = rejection(json.dumps({"data": [[1, 2, 3, 4]] * 11}), max_rows=10)
    assert (error.status, error.code) == (422, "too_many_rows")
    assert "11 rows" in error.message


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        (None, 400, "empty_body", "no body"),
        ("   ", 400, "empty_body", "no body"),
        ("{", 400, "invalid_json", "not valid JSON"),
        ('{"data": [[1,2,3,4]]', 400, "invalid_json", "not valid JSON"),
        ("{}", 422, "invalid_request", "missing key 'data'"),
        ('{"data": [[1,2,3,4]], "extra": 1}', 422, "invalid_request", "unexpected key 'extra'"),
        ('{"rows": [[1,2,3,4]]}', 422, "invalid_request", "missing key 'data'"),
        ("[[1,2,3,4]]", 422, "invalid_request", "must be a JSON object"),
        ('"text"', 422, "invalid_request", "must be a JSON object"),
        ('{"data": []}', 422, "invalid_request", "no rows"),
        ('{"data": [1, 2, 3, 4]}', 422, "invalid_request", "data[0] must be a list"),
        ('{"data": "1,2,3,4"}', 422, "invalid_request", "data must be a list"),
        ('{"data": [[1, 2, 3]]}', 422, "wrong_row_length", "row 0 has 3 values; expected 4 (sepal_length"),
        ('{"data": [[1, 2, 3, 4, 5]]}', 422, "wrong_row_length", "row 0 has 5 values; expected 4"),
        ('{"data": [[1, 2, 3, 4], []]}', 422, "wrong_row_length", "row 1 has 0 values"),
        ('{"data": [[1, "2", 3, 4]]}', 422, "invalid_request", "data[0][1] must be a number, got a string"),
        ('{"data": [[1, true, 3, 4]]}', 422, "invalid_request", "data[0][1] must be a number, got a boolean"),
        ('{"data": [[1, null, 3, 4]]}', 422, "invalid_request", "data[0][1] must be a number, got null"),
        ('{"data": [[1, [2], 3, 4]]}', 422, "invalid_request", "data[0][1] must be a number, got a list"),
        ('{"data": [[1, {"v": 2}, 3, 4]]}', 422, "invalid_request", "data[0][1] must be a number, got an object"),
        ('{"data": [[NaN, 2, 3, 4]]}', 422, "invalid_request", "finite number"),
        ('{"data": [[Infinity, 2, 3, 4]]}', 422, "invalid_request", "finite number"),
        ('{"data": [[-Infinity, 2, 3, 4]]}', 422, "invalid_request", "finite number"),
        ('{"data": [[1e400, 2, 3, 4]]}', 422, "invalid_request", "finite number"),
        ('{"data": [[1e39, 2, 3, 4]]}', 422, "invalid_request", "overflows float32"),
        ('{"data": [[-3.5e38, 2, 3, 4]]}', 422, "invalid_request", "overflows float32"),
    ],
)
def test_bad_bodies_are_rejected_with_a_reason(body: str | None, status: int, code: str, says: str) -> None:
    error = rejection(body)
    assert (error.status, error.code) == (status, code)
    assert says in error.message


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ('{"data": [[1, 2, 3]], "data": [[5.1, 3.5, 1.4, 0.2]]}', 422, "duplicate_key", "key 'data' appears more than once"),
        ('{"data": [[1, {"v": 1, "v": 2}, 3, 4]]}', 422, "duplicate_key", "key 'v'"),
        ("[" * 100_000 + "]" * 100_000, 400, "invalid_json", "nested too deeply"),
        ('{"data": [[1, NaN, 3, 4]]}', 422, "invalid_request", "data[0][1] must be a finite number"),
        ('{"data": [[1, 2, 3, Infinity]]}', 422, "invalid_request", "data[0][3] must be a finite number"),
        ('{"data": [[1, 2, NaN, -Infinity]]}', 422, "invalid_request", "data[0][2] must be a finite number"),
        (json.dumps({"data": [[1, 2, 3, 4]] * 20 + [[1, float("nan"), 3, 4]]}), 422, "invalid_request", "data[20][1]"),
        (json.dumps({"data": [[1, 2, 3, 4]] * 3 + [[1, 2, float("inf"), 4]]}), 422, "invalid_request", "data[3][2]"),
        (b'{"data": [[1, 2, 3, 4]]}\xff', 400, "invalid_json", "not UTF-8"),
        (json.dumps({"data": [[1, 2, 3, 4]] * 1001}), 422, "too_many_rows", "1001 rows"),
        ('{"data": [[1, 2, 3, 10000000000000000000000000000000000000000]]}', 422, "invalid_request", "overflows float32"),
        ('{"data": [[1, 2, 3, 1' + "0" * 400 + "]]}", 422, "invalid_request", "overflows float32"),
    ],
)
def test_more_bad_bodies(body: str | bytes, status: int, code: str, says: str) -> None:
    error = rejection(body)
    assert (error.status, error.code) == (status, code)
    assert says in error.message


def test_integers_become_floats_as_the_log_records_them() -> None:
    (row,) = parse('{"data": [[7, 3, 5, 2]]}')
    assert [type(v) for v in row] == [float] * 4


def test_largest_float32_is_accepted() -> None:
    assert parse('{"data": [[3.4028234e38, -3.4028234e38, 0, 1e-45]]}')[0][0] == pytest.approx(3.4028234e38)


def test_every_problem_is_listed_in_details() -> None:
    error = rejection('{"data": [[1, "a", 3, true], [NaN, 2, 3, 4]]}')
    locations = [detail["location"] for detail in error.details]
    assert locations == ["data[0][1]", "data[0][3]", "data[1][0]"]
    assert "and 2 more problems" in error.message


def test_wrong_lengths_on_several_rows_are_all_named() -> None:
    error = rejection('{"data": [[1, 2, 3, 4], [1, 2], [1]]}')
    assert [d["location"] for d in error.details] == ["data[1]", "data[2]"]
    assert "1 more rows have the wrong length" in error.message
