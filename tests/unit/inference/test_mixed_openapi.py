"""The OpenAPI document of a model with categorical features says each position's type, lists the known categories,
and agrees with the parser: a row the schema accepts is parsed, a row it refuses is refused (422)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from functions.contract.model_artifact import parse_baseline
from functions.inference.openapi import openapi_document
from functions.inference.request_parsing import RequestRejected, RowSchema, parse_mixed_rows
from tests.fixtures.mixed_model import mixed_baseline_document

BASELINE = parse_baseline(mixed_baseline_document())
KNOWN = [5.8, 3.0, "pro", 4.35, 1.3, "eu"]


def request_schema(refuse_unseen: bool) -> dict[str, Any]:
    document = openapi_document(BASELINE, 1000, {"/predict": ["POST"]}, refuse_unseen=refuse_unseen)
    schemas = document["components"]["schemas"]
    return {**schemas["PredictRequest"], "$defs": schemas}


def test_each_position_has_its_type_and_the_categories_are_listed() -> None:
    accepting = request_schema(False)["properties"]["data"]["items"]
    assert [p["type"] for p in accepting["prefixItems"]] == ["number", "number", "string", "number", "number", "string"]
    assert accepting["minItems"] == accepting["maxItems"] == 6
    plan = accepting["prefixItems"][2]
    assert plan["examples"] == ["basic", "pro", "team"] and "enum" not in plan
    assert "basic, pro, team" in plan["description"] and "unseen" in plan["description"]
    refusing = request_schema(True)["properties"]["data"]["items"]["prefixItems"][5]
    assert refusing["enum"] == ["eu", "us"]
    assert "plan (categorical)" in accepting["description"]


def test_the_example_is_the_sample_row_and_valid() -> None:
    schema = request_schema(False)
    (example,) = schema["examples"]
    assert example == {"data": [[5.75, 3.0, "basic", 4.25, 1.3, "eu"]]}
    Draft202012Validator(schema).validate(example)


ROWS = [
    KNOWN,
    [5.8, 3.0, "enterprise", 4.35, 1.3, "eu"],  # unseen
    [5.8, 3.0, "p" * 500, 4.35, 1.3, "eu"],  # long: cut, then unseen
    [5.8, 3.0, 3, 4.35, 1.3, "eu"],  # a number for a category
    [5.8, "3.0", "pro", 4.35, 1.3, "eu"],  # a string for a number
    [5.8, 3.0, "pro", 4.35, 1.3],  # too short
    [5.8, 3.0, "pro", 4.35, 1.3, "eu", "extra"],  # too long
    [5.8, 3.0, None, 4.35, 1.3, "eu"],
    [1e39, 3.0, "pro", 4.35, 1.3, "eu"],  # overflows float32
]


@pytest.mark.parametrize("refuse_unseen", [False, True])
@pytest.mark.parametrize("row", ROWS, ids=range(len(ROWS)))
def test_the_schema_and_the_parser_agree(refuse_unseen: bool, row: list[Any]) -> None:
    body = {"data": [row]}
    valid = Draft202012Validator(request_schema(refuse_unseen)).is_valid(body)
    schema = RowSchema.of(
        BASELINE.feature_names, [(f.name, f.categories) for f in BASELINE.categorical], refuse_unseen=refuse_unseen
    )
    try:
        parse_mixed_rows(json.dumps(body), schema=schema, max_rows=1000)
        parsed = True
    except RequestRejected as rejection:
        assert rejection.status == 422
        parsed = False
    assert valid == parsed
