"""The log contract: keys, flatness, size, and one write per request."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from functions.contract.prediction_log import (
    KEY_RECONSTRUCTION_ERROR,
    PREDICTION_KEYS,
    REJECTED_KEYS,
    PredictionLogWriter,
    prediction_lines,
    rejected_line,
)

MODELS = Path(__file__).resolve().parents[3] / "models"

IRIS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
# a model without the joint-drift model writes every key but reconstruction_error
KEYS_WITHOUT_JOINT_DRIFT = tuple(key for key in PREDICTION_KEYS if key != KEY_RECONSTRUCTION_ERROR)


def lines(n: int = 2) -> list[str]:
    return prediction_lines(
        timestamp_ms=1_795_619_508_506,
        request_id="604b8bab475f4cbd9f3216799d0dd6d7",
        endpoint="/predict",
        model="iris",
        model_version="92b1afb9328d",
        feature_names=IRIS,
        rows=[[5.1, 3.5, 1.4, 0.2]] * n,
        labels=["setosa"] * n,
        class_indices=[0] * n,
        probabilities=[[0.9975, 0.0025, 0.0]] * n,
        is_outlier=[False] * n,
        outlier_scores=[-0.1094] * n,
        latency_ms=0.26631,
    )


def test_prediction_line_has_the_contract_keys_in_order() -> None:
    record = json.loads(lines(1)[0])
    assert tuple(record) == KEYS_WITHOUT_JOINT_DRIFT
    assert record["message"] == "prediction"
    assert record["features"] == {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    assert record["latency_ms"] == 0.266


def test_prediction_line_is_compact() -> None:
    """Log ingestion is billed per byte: an iris record stays under 420 bytes (measured: 417 with confidence)."""
    size = len(lines(1)[0].encode())
    assert size <= 420, size


def test_rows_are_numbered_in_request_order() -> None:
    assert [json.loads(line)["row"] for line in lines(3)] == [0, 1, 2]


def test_rejected_line_has_the_contract_keys() -> None:
    record = json.loads(
        rejected_line(
            timestamp_ms=1, request_id="r", endpoint="/predict", model="iris", model_version="v", status=422, reason='bad "x"'
        )
    )
    assert tuple(record) == REJECTED_KEYS
    assert record["reason"] == 'bad "x"'


def test_non_finite_values_never_reach_the_log() -> None:
    with pytest.raises(ValueError):
        prediction_lines(
            timestamp_ms=1,
            request_id="r",
            endpoint="/predict",
            model="m",
            model_version="v",
            feature_names=("a",),
            rows=[[math.nan]],
            labels=["x"],
            class_indices=[0],
            probabilities=[[1.0]],
            is_outlier=[False],
            outlier_scores=[0.0],
            latency_ms=1.0,
        )


def test_writer_writes_a_batch_at_once_to_stream_and_file(tmp_path) -> None:
    stream = io.StringIO()
    path = tmp_path / "log.jsonl"
    writer = PredictionLogWriter(stream, str(path))
    writer.write(lines(3))
    writer.write([])
    writer.close()
    assert stream.getvalue() == path.read_text() == "\n".join(lines(3)) + "\n"


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_the_metrics_document_goes_with_the_lines_in_one_write_and_not_to_the_file(tmp_path) -> None:
    stream = CountingStream()
    path = tmp_path / "log.jsonl"
    writer = PredictionLogWriter(stream, str(path))
    writer.write(lines(2), '{"_aws":{}}\n')
    writer.write([], '{"_aws":{}}\n')
    writer.close()
    assert stream.writes == 2
    assert stream.getvalue() == "\n".join(lines(2)) + '\n{"_aws":{}}\n{"_aws":{}}\n'
    assert path.read_text() == "\n".join(lines(2)) + "\n"


def reference_line(**kwargs: object) -> list[str]:
    """The same record through `json` (a NumPy scalar latency forces the encoder path; json writes it as a float)."""
    import numpy as np

    kwargs = dict(kwargs)
    kwargs["latency_ms"] = np.float64(kwargs["latency_ms"])  # type: ignore[arg-type]
    return prediction_lines(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(20))
def test_assembled_lines_equal_what_json_writes(seed: int) -> None:
    import random

    rng = random.Random(seed)
    n_features, n_labels, n_rows = rng.randint(1, 13), rng.randint(2, 5), rng.randint(1, 6)
    values = [0.0, -0.0, 1, -3, 1e-45, 3.4028234e38, -1.5e-7, 123456789.123, 5e-324, 0.1]
    kwargs = {
        "timestamp_ms": rng.randint(0, 2**42),
        "request_id": "".join(rng.choice("0123456789abcdef") for _ in range(32)),
        "endpoint": rng.choice(["/predict", "/predict/label", "/predict/test"]),
        "model": rng.choice(["iris", "wine", 'flöwers "quoted"', "100%d"]),
        "model_version": "92b1afb9328d",
        "feature_names": [rng.choice([f"f_{i}", f"f%r{i}", f"%%s{i}"]) for i in range(n_features)],
        "rows": [[rng.choice([rng.uniform(-1e6, 1e6), rng.choice(values)]) for _ in range(n_features)] for _ in range(n_rows)],
        "labels": [rng.choice(["setosa", "class_0", "é\u2028", "50%s"]) for _ in range(n_rows)],
        "class_indices": [rng.randrange(n_labels) for _ in range(n_rows)],
        "probabilities": [[round(rng.random(), 4) for _ in range(n_labels)] for _ in range(n_rows)],
        "is_outlier": [rng.random() < 0.5 for _ in range(n_rows)],
        "outlier_scores": [round(rng.uniform(-2, 2), 4) for _ in range(n_rows)],
        "latency_ms": rng.uniform(0, 50),
    }
    joint = seed % 2 == 0
    if joint:
        kwargs["reconstruction_errors"] = [round(rng.uniform(0, 9), 4) for _ in range(n_rows)]
    assembled = prediction_lines(**kwargs)  # type: ignore[arg-type]
    assert assembled == reference_line(**kwargs)
    for index, line in enumerate(assembled):
        record = json.loads(line)
        assert tuple(record) == (PREDICTION_KEYS if joint else KEYS_WITHOUT_JOINT_DRIFT)
        if joint:
            assert record[KEY_RECONSTRUCTION_ERROR] == kwargs["reconstruction_errors"][index]  # type: ignore[index]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_never_written(bad: float) -> None:
    for field in ("rows", "probabilities", "outlier_scores"):
        kwargs = {
            "timestamp_ms": 1,
            "request_id": "a" * 32,
            "endpoint": "/predict",
            "model": "iris",
            "model_version": "v",
            "feature_names": IRIS,
            "rows": [[5.1, 3.5, 1.4, 0.2]],
            "labels": ["setosa"],
            "class_indices": [0],
            "probabilities": [[0.9, 0.1, 0.0]],
            "is_outlier": [False],
            "outlier_scores": [-0.1],
            "latency_ms": 0.2,
        }
        if field == "rows":
            kwargs["rows"] = [[5.1, bad, 1.4, 0.2]]
        elif field == "probabilities":
            kwargs["probabilities"] = [[bad, 0.1, 0.0]]
        else:
            kwargs["outlier_scores"] = [bad]
        with pytest.raises(ValueError):
            prediction_lines(**kwargs)  # type: ignore[arg-type]


# --- bounds on client text: every line one line, UTF-8, and short ---------------------------------


def test_compact_json_escapes_the_characters_splitlines_breaks_on() -> None:
    from functions.contract.json_text import compact_json

    text = compact_json({"key \u2028": "a\u2029b\x85c", "plain": "café"})
    assert text.splitlines() == [text]
    assert json.loads(text) == {"key \u2028": "a\u2029b\x85c", "plain": "café"}
    assert "café" in text  # other text stays as is


def test_compact_json_keeps_a_lone_surrogate_escaped_so_utf8_can_carry_it() -> None:
    from functions.contract.json_text import compact_json

    text = compact_json({"k": "\ud800", "l": "é"})
    text.encode("utf-8")  # would raise on a raw surrogate
    assert json.loads(text) == {"k": "\ud800", "l": "é"}


def test_echoed_keeps_64_characters_and_says_how_long_the_original_was() -> None:
    from functions.contract.json_text import echoed

    assert echoed("short") == "short"
    assert echoed("k" * 64) == "k" * 64
    assert echoed("k" * 1_000_000) == "k" * 64 + "… (1000000 characters)"


WORST_CHARACTER = "\x01"  # escaped as \u0001: six bytes, the most any character takes in a line


def test_the_largest_rejected_line_is_bounded_whatever_the_reason_and_endpoint() -> None:
    from functions.contract.prediction_log import failed_line, rejected_line

    line = rejected_line(
        timestamp_ms=-(2**63),
        request_id="f" * 32,
        endpoint=WORST_CHARACTER * 10**6,
        model="iris",
        model_version="0783ded3d366",
        status=422,
        reason=WORST_CHARACTER * 10**6,
    )
    size = len(line.encode())
    assert size <= 8 * 1024
    stated = f"{size:,} bytes"  # the README's API section and docs/api.md state the bound this line measures
    repo = Path(__file__).resolve().parents[3]
    assert stated in (repo / "README.md").read_text(encoding="utf-8")
    assert stated in (repo / "docs" / "api.md").read_text(encoding="utf-8")
    assert json.loads(line)["reason"].endswith("… (1000000 characters)")
    failed = failed_line(
        timestamp_ms=0, request_id="f" * 32, endpoint=WORST_CHARACTER * 10**6, model="iris", model_version="x", error_type="E"
    )
    assert len(failed.encode()) <= 2 * 1024


def test_the_largest_prediction_line_of_iris_and_wine() -> None:
    """Every number at its longest text (24 characters); the line's size is then fixed by the model."""
    from functions.contract.model_artifact import load_model_artifact
    from functions.contract.prediction_log import prediction_lines

    longest = -2.2250738585072014e-308
    sizes = {}
    for model in ("iris", "wine"):
        baseline = load_model_artifact(MODELS / model).baseline
        n = len(baseline.label_names)
        (line,) = prediction_lines(
            timestamp_ms=-(2**63),
            request_id="f" * 32,
            endpoint="/predict/label",
            model=baseline.model_name,
            model_version=baseline.model_version,
            feature_names=baseline.feature_names,
            rows=[[longest] * len(baseline.feature_names)],
            labels=[max(baseline.label_names, key=len)],
            class_indices=[0],
            probabilities=[[longest] * n],
            is_outlier=[False],
            outlier_scores=[longest],
            latency_ms=longest,
        )
        sizes[model] = len(line.encode())
    print(f"largest prediction line: {sizes}")
    assert sizes["iris"] <= 1024
    assert sizes["wine"] <= 2048


# --- categorical features: strings in `features`, `unseen_categories` -----------------------------------------------

MIXED = ("sepal_length", "plan", "petal_length", "region")


def mixed_lines(rows: list[list[float | str]], unseen: list[tuple[str, ...]] | None, caller: str | None = None) -> list[str]:
    from functions.contract.prediction_log import with_caller

    n = len(rows)
    return with_caller(
        prediction_lines(
            timestamp_ms=1_795_619_508_506,
            request_id="604b8bab475f4cbd9f3216799d0dd6d7",
            endpoint="/predict",
            model="mixed",
            model_version="fixture00001",
            feature_names=MIXED,
            rows=rows,
            labels=["setosa"] * n,
            class_indices=[0] * n,
            probabilities=[[0.9975, 0.0025, 0.0]] * n,
            is_outlier=[False] * n,
            outlier_scores=[-0.1094] * n,
            latency_ms=0.26631,
            reconstruction_errors=[0.5] * n,
            unseen_categories=unseen,
        ),
        caller,
    )


def test_a_mixed_line_logs_categories_as_strings_byte_for_byte() -> None:
    (line,) = mixed_lines([[5.1, "pro", 1.4, "eu"]], None)
    assert line == (
        '{"message":"prediction","timestamp":1795619508506,"request_id":"604b8bab475f4cbd9f3216799d0dd6d7","row":0,'
        '"endpoint":"/predict","model":"mixed","model_version":"fixture00001","is_outlier":false,"outlier_score":-0.1094,'
        '"prediction":"setosa","class_index":0,"confidence":0.9975,"reconstruction_error":0.5,"latency_ms":0.266,'
        '"features":{"sepal_length":5.1,"plan":"pro","petal_length":1.4,"region":"eu"},"probabilities":[0.9975,0.0025,0.0]}'
    )


def test_unseen_categories_follow_probabilities_and_precede_the_caller() -> None:
    from functions.contract.prediction_log import KEY_CALLER, KEY_UNSEEN_CATEGORIES, OPTIONAL_PREDICTION_KEYS

    first, second = mixed_lines(
        [[5.1, "pro", 1.4, "eu"], [5.1, "gold", 1.4, "mars"]], [(), ("plan", "region")], caller="arn:aws:iam::1:user/x"
    )
    assert KEY_UNSEEN_CATEGORIES not in json.loads(first)  # absent when every category was listed
    record = json.loads(second)
    assert list(record)[-3:] == ["probabilities", KEY_UNSEEN_CATEGORIES, KEY_CALLER]
    assert OPTIONAL_PREDICTION_KEYS == (KEY_UNSEEN_CATEGORIES, KEY_CALLER)
    assert record[KEY_UNSEEN_CATEGORIES] == ["plan", "region"]
    assert record["features"]["plan"] == "gold"
    assert second.endswith(
        '"probabilities":[0.9975,0.0025,0.0],"unseen_categories":["plan","region"],"caller":"arn:aws:iam::1:user/x"}'
    )


HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    "\\u0000 literal",
    "new\nline\rreturn\ttab",
    "\x00\x01\x1f\x7f",
    "é漢字😀",
    "\u2028\u2029\x85",  # line ends for str.splitlines and some JavaScript
    "\ud800 lone surrogate",
    '}],"message":"rejected',
    "%s %r %d %%",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_line_stays_one_valid_json_line_whatever_the_category_holds(text: str) -> None:
    (line,) = mixed_lines([[5.1, text, 1.4, "eu"]], [("plan",)])
    assert len(line.splitlines()) == 1
    line.encode("utf-8")  # stdout can write it
    record = json.loads(line)
    assert record["features"]["plan"] == text and record["message"] == "prediction"
    assert tuple(record)[: len(PREDICTION_KEYS)] == PREDICTION_KEYS


def test_the_writer_cuts_a_category_to_the_contract_bound_whoever_called_it() -> None:
    from functions.contract.prediction_log import MAX_CATEGORY_CHARS

    short = json.loads(mixed_lines([[5.1, "x", 1.4, "eu"]], [("plan",)])[0])
    huge = json.loads(mixed_lines([[5.1, "x" * 100_000, 1.4, "eu"]], [("plan",)])[0])
    assert huge["features"]["plan"] == "x" * MAX_CATEGORY_CHARS
    longest = mixed_lines([[5.1, "😀" * 100_000, 1.4, "eu"]], [("plan",)])[0]
    # the bound in bytes: 64 characters of at most 4 UTF-8 bytes each (an escape takes up to 6 ASCII bytes each)
    assert len(longest.encode()) - len(json.dumps(short, separators=(",", ":")).encode()) <= 6 * MAX_CATEGORY_CHARS


def test_numbers_only_rows_keep_the_fast_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """The %-format assembly serves numbers-only rows, with or without an all-empty unseen list; a string in a row
    goes through json."""
    import functions.contract.prediction_log as log

    assembled: list[int] = []
    original = log._assembled_lines
    monkeypatch.setattr(log, "_assembled_lines", lambda *args: assembled.append(1) or original(*args))
    lines()
    mixed_lines([[5.1, 2.0, 1.4, 3.0]], [()])
    assert assembled == [1, 1]
    mixed_lines([[5.1, "pro", 1.4, "eu"]], None)
    assert assembled == [1, 1]


def test_regression_lines_carry_categories_and_unseen_categories() -> None:
    from functions.contract.prediction_log import MAX_CATEGORY_CHARS, regression_prediction_lines

    first, second = regression_prediction_lines(
        timestamp_ms=1,
        request_id="r",
        endpoint="/predict",
        model="m",
        model_version="v",
        feature_names=("age", "plan"),
        rows=[[30.0, "pro"], [40.0, "z" * 100]],
        predictions=[1.5, 2.5],
        is_outlier=[False, True],
        outlier_scores=[-0.1, 0.2],
        latency_ms=0.1,
        unseen_categories=[(), ("plan",)],
    )
    assert "unseen_categories" not in json.loads(first)
    record = json.loads(second)
    assert record["features"] == {"age": 40.0, "plan": "z" * MAX_CATEGORY_CHARS}
    assert list(record)[-1] == "unseen_categories" and record["unseen_categories"] == ["plan"]
