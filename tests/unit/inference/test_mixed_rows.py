"""A mixed row (numbers and categories): each value checked against its feature's type, categories cut, unseen ones
accepted and named, or refused when the service is set to."""

from __future__ import annotations

import json

import numpy as np
import pytest

from functions.contract.model_artifact import parse_baseline
from functions.contract.prediction_log import MAX_CATEGORY_CHARS
from functions.inference.onnx_model import model_arrays
from functions.inference.request_parsing import MixedRows, RequestRejected, RowSchema, parse_mixed_rows
from tests.fixtures.mixed_model import mixed_baseline_document

NAMES = ("sepal_length", "sepal_width", "plan", "petal_length", "petal_width", "region")
CATEGORICAL = [("plan", ("basic", "pro", "team")), ("region", ("eu", "us"))]
ROW = [5.8, 3.0, "pro", 4.35, 1.3, "eu"]


def schema(refuse_unseen: bool = False) -> RowSchema:
    return RowSchema.of(NAMES, CATEGORICAL, refuse_unseen=refuse_unseen)


def parse(rows: object, refuse_unseen: bool = False, max_rows: int = 1000) -> MixedRows:
    body = rows if isinstance(rows, str) else json.dumps({"data": rows})
    return parse_mixed_rows(body, schema=schema(refuse_unseen), max_rows=max_rows)


def rejection(rows: object, refuse_unseen: bool = False) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        parse(rows, refuse_unseen)
    return caught.value


def test_schema_splits_the_positions_by_type() -> None:
    s = schema()
    assert s.numeric_positions == (0, 1, 3, 4) and s.categorical_positions == (2, 5)
    assert s.categories == (("basic", "pro", "team"), ("eu", "us"))


def test_a_mixed_row_becomes_the_models_two_inputs_and_the_logged_values() -> None:
    parsed = parse([ROW, [7, 3, "team", 5, 2, "us"]])
    assert parsed.values == [ROW, [7.0, 3.0, "team", 5.0, 2.0, "us"]]
    assert type(parsed.values[1][0]) is float  # an int is logged as the float the model reads
    assert parsed.numeric.dtype == np.float32 and parsed.numeric.shape == (2, 4)
    assert parsed.numeric.tolist() == np.array([[5.8, 3.0, 4.35, 1.3], [7, 3, 5, 2]], dtype=np.float32).tolist()
    assert parsed.categories.dtype == object and parsed.categories.tolist() == [["pro", "eu"], ["team", "us"]]
    assert parsed.unseen is None  # every category listed


@pytest.mark.parametrize(
    ("row", "location", "says"),
    [
        (
            [5.8, 3.0, 3, 4.35, 1.3, "eu"],
            "data[0][2]",
            "row 0, feature 'plan': expected a string (categorical: basic, pro, team), got a number",
        ),
        (
            [5.8, 3.0, None, 4.35, 1.3, "eu"],
            "data[0][2]",
            "row 0, feature 'plan': expected a string (categorical: basic, pro, team), got null",
        ),
        (
            [5.8, 3.0, "pro", 4.35, 1.3, True],
            "data[0][5]",
            "row 0, feature 'region': expected a string (categorical: eu, us), got a boolean",
        ),
        (["5.8", 3.0, "pro", 4.35, 1.3, "eu"], "data[0][0]", "row 0, feature 'sepal_length': expected a number, got a string"),
        ([5.8, 3.0, "pro", [4.35], 1.3, "eu"], "data[0][3]", "row 0, feature 'petal_length': expected a number, got a list"),
        ([5.8, 3.0, "pro", 1e39, 1.3, "eu"], "data[0][3]", "row 0, feature 'petal_length' = 1e+39 overflows float32"),
    ],
)
def test_a_wrong_type_names_the_row_the_feature_and_the_expected_type(row: list, location: str, says: str) -> None:
    error = rejection([row])
    assert (error.status, error.code) == (422, "invalid_request")
    assert error.message.startswith(says)
    assert error.details[0] == {"location": location, "problem": error.details[0]["problem"]}
    assert error.details[0]["problem"].startswith(says)


def test_nan_is_refused_naming_the_feature() -> None:
    error = rejection('{"data": [[NaN, 3.0, "pro", 4.35, 1.3, "eu"]]}')
    assert "row 0, feature 'sepal_length' must be a finite number" in error.message


def test_every_wrong_value_is_listed_with_its_place() -> None:
    error = rejection([ROW, [1, 2, 3, 4, 5, 6], ROW])
    assert [d["location"] for d in error.details] == ["data[1][2]", "data[1][5]"]
    assert error.message.endswith("(and 1 more problems)")


def test_row_length_and_shape_errors_are_as_for_numbers_only_models() -> None:
    error = rejection([ROW[:5]])
    assert (error.code, error.message) == (
        "wrong_row_length",
        "row 0 has 5 values; expected 6 (sepal_length, sepal_width, plan, petal_length, petal_width, region)",
    )
    assert rejection([]).message.startswith("data has no rows")
    assert rejection(ROW).message.startswith("data[0] must be a list")
    too_long = rejection([[*ROW, "x", 1]])  # the extra values are not checked against a feature: the length is wrong
    assert too_long.code == "wrong_row_length"
    with pytest.raises(RequestRejected) as caught:
        parse([ROW] * 3, max_rows=2)
    assert caught.value.code == "too_many_rows"


def test_a_long_category_is_cut_not_refused() -> None:
    long = "p" * (MAX_CATEGORY_CHARS + 50)
    parsed = parse([[5.8, 3.0, long, 4.35, 1.3, "eu"]])
    assert parsed.values[0][2] == "p" * MAX_CATEGORY_CHARS
    assert parsed.categories[0, 0] == "p" * MAX_CATEGORY_CHARS  # the model gets the same cut value
    assert parsed.unseen == [("plan",)]


def test_a_cut_value_is_compared_with_the_categories_after_the_cut() -> None:
    listed = "b" * MAX_CATEGORY_CHARS
    cut_schema = RowSchema.of(("plan",), [("plan", (listed,))], refuse_unseen=True)
    parsed = parse_mixed_rows(json.dumps({"data": [[listed + "tail"]]}), schema=cut_schema, max_rows=10)
    assert parsed.values == [[listed]] and parsed.unseen is None


def test_unseen_categories_are_accepted_and_named_per_row() -> None:
    parsed = parse([ROW, [5.8, 3.0, "enterprise", 4.35, 1.3, "apac"], [5.8, 3.0, "", 4.35, 1.3, "us"]])
    assert parsed.unseen == [(), ("plan", "region"), ("plan",)]
    assert parsed.categories.tolist()[1] == ["enterprise", "apac"]


def test_unseen_categories_are_refused_when_the_service_says_so() -> None:
    error = rejection([ROW, [5.8, 3.0, "enterprise", 4.35, 1.3, "eu"]], refuse_unseen=True)
    assert (error.status, error.code) == (422, "unseen_category")
    assert error.message == "row 1, feature 'plan': 'enterprise' is not a known category (known: basic, pro, team)"
    assert error.details == [{"location": "data[1][2]", "problem": error.message}]
    assert parse([ROW], refuse_unseen=True).unseen is None  # known categories still pass


def test_an_unseen_category_with_a_wrong_type_elsewhere_is_an_invalid_request() -> None:
    error = rejection([[5.8, 3.0, "enterprise", "4.35", 1.3, "eu"]], refuse_unseen=True)
    assert error.code == "invalid_request" and len(error.details) == 2


def test_a_lone_surrogate_is_refused_since_the_model_takes_utf8() -> None:
    error = rejection('{"data": [[5.8, 3.0, "pro\\ud800", 4.35, 1.3, "eu"]]}')
    assert error.code == "invalid_request" and "row 0, feature 'plan'" in error.message and "lone surrogate" in error.message
    paired = parse('{"data": [[5.8, 3.0, "pro\\ud83d\\ude00", 4.35, 1.3, "eu"]]}')  # an escaped pair is text
    assert paired.values[0][2] == "pro\U0001f600"


def test_text_of_any_kind_is_a_category() -> None:
    hostile = 'q"\\\n\t\x00é\u2028漢'
    parsed = parse([[5.8, 3.0, hostile, 4.35, 1.3, "eu"]])
    assert parsed.values[0][2] == hostile and parsed.unseen == [("plan",)]


def test_arrays_of_the_sample_row() -> None:
    numbers, texts = model_arrays([ROW], parse_baseline(mixed_baseline_document()))
    assert texts is not None
    assert numbers.dtype == np.float32 and numbers.shape == (1, 4)
    assert texts.tolist() == [["pro", "eu"]]
    assert schema().unseen([5.8, 3.0, "gold", 4.35, 1.3, "eu"]) == ("plan",)


def test_a_message_lists_at_most_ten_known_categories() -> None:
    many = tuple(f"c{i:02d}" for i in range(50))
    wide = RowSchema.of(("plan",), [("plan", many)], refuse_unseen=True)
    with pytest.raises(RequestRejected) as caught:
        parse_mixed_rows('{"data": [[1]]}', schema=wide, max_rows=10)
    assert caught.value.message.endswith(
        "(categorical: c00, c01, c02, c03, c04, c05, c06, c07, c08, c09 and 40 more (GET /metadata lists them)), got a number"
    )
    assert wide.known(0).count(",") == 9


def test_an_unscorable_row_of_a_categories_only_model_is_a_422_without_a_feature_to_blame() -> None:
    import io

    from functions.contract.model_artifact import parse_baseline
    from functions.contract.prediction_log import PredictionLogWriter
    from functions.inference.onnx_model import BatchPrediction
    from functions.inference.prediction_service import PredictionService
    from functions.inference.request_metrics import LinesAreTheMetrics
    from tests.fixtures.mixed_model import mixed_baseline_document

    document = mixed_baseline_document()
    document["features"] = [f for f in document["features"] if f.get("type") == "categorical"]
    document.pop("relations", None)  # they tie numeric features, and none is left
    baseline = parse_baseline(document)

    class NotFinite:
        def predict(self, rows: np.ndarray, categories: np.ndarray | None = None) -> BatchPrediction:
            assert rows.shape == (1, 0) and categories is not None and categories.tolist() == [["pro", "eu"]]
            return BatchPrediction(
                np.zeros(1, dtype=np.int64), np.full((1, 3), np.nan, dtype=np.float32), np.zeros(1, np.float32)
            )

    log = io.StringIO()
    service = PredictionService(
        model=NotFinite(),  # type: ignore[arg-type]
        baseline=baseline,
        log=PredictionLogWriter(log),
        metrics=LinesAreTheMetrics(),
        max_rows=10,
        max_body_bytes=1 << 20,
    )
    with pytest.raises(RequestRejected) as caught:
        service.predict_request(
            endpoint="/predict", body='{"data": [["pro", "eu"]]}', content_type="application/json", labels_only=False
        )
    assert (caught.value.status, caught.value.code) == (422, "unscorable_row")
    assert caught.value.details == [{"location": "data[0]", "problem": "the model cannot score these categories"}]
    assert [json.loads(line)["message"] for line in log.getvalue().split("\n") if line.startswith("{")] == ["rejected"]
