"""The local log file failing under the running handler: a 503 with the request's id, a line on stderr,
nothing written twice or half; a deleted or rotated file is reopened at its path."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from functions.contract import prediction_log
from functions.inference.handler import create_handler
from functions.inference.settings import InferenceSettings
from local.api_gateway import FakeContext, api_event

MODELS = Path(__file__).resolve().parents[3] / "models"
SETOSA = [5.1, 3.5, 1.4, 0.2]
JOB = "0123456789abcdef0123456789abcdef"
REQUESTS = [
    ("POST", "/predict", json.dumps({"data": [SETOSA]})),
    ("POST", "/predict", json.dumps({"data": [SETOSA] * 40})),
    ("POST", "/predict/label", json.dumps({"data": [SETOSA]})),
    ("POST", "/feedback", json.dumps({"labels": [{"job_id": JOB, "row": 0, "label": "setosa"}]})),
    ("GET", "/predict/test", None),
    ("POST", "/predict", '{"data": [[1, 2]]}'),  # a rejection needs its record too
    ("GET", "/nowhere", None),
    ("PUT", "/predict", None),
]


def handler_with_log(path: str) -> tuple[object, io.StringIO]:
    stdout = io.StringIO()
    settings = InferenceSettings.from_env({"MODEL_DIR": str(MODELS / "iris"), "PREDICTION_LOG_FILE": path})
    return create_handler(settings, stdout=stdout), stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_a_full_disk_gives_503_with_the_request_id_a_stderr_line_and_nothing_written(
    method: str, path: str, body: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    handler, stdout = handler_with_log("/dev/full")
    capsys.readouterr()
    reply = handler(api_event(method, path, body), FakeContext())  # type: ignore[operator]
    answer = json.loads(reply["body"])
    assert (reply["statusCode"], answer["error"]) == (503, "log_unavailable")
    assert len(answer["job_id"]) == 32
    assert stdout.getvalue() == ""  # not a prediction line, not three failed lines: nothing
    (warning,) = [line for line in capsys.readouterr().err.split("\n") if line]
    assert "cannot write the prediction log /dev/full" in warning


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_on_a_malformed_event_is_503_too(capsys: pytest.CaptureFixture[str]) -> None:
    handler, stdout = handler_with_log("/dev/full")
    reply = handler({"hello": "world"}, FakeContext())  # type: ignore[operator]
    assert (reply["statusCode"], json.loads(reply["body"])["error"]) == (503, "log_unavailable")
    assert stdout.getvalue() == ""


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def predict(handler: object) -> dict[str, object]:
    reply = handler(api_event("POST", "/predict", json.dumps({"data": [SETOSA]})), FakeContext())  # type: ignore[operator]
    assert reply["statusCode"] == 200
    return json.loads(reply["body"])


def test_a_deleted_log_file_is_recreated_at_its_path(tmp_path: Path) -> None:
    log = tmp_path / "predictions.jsonl"
    handler, _ = handler_with_log(str(log))
    first = predict(handler)
    assert [r["request_id"] for r in records(log)] == [first["job_id"]]
    log.unlink()
    second = predict(handler)
    assert [r["request_id"] for r in records(log)] == [second["job_id"]]


def test_a_rotated_log_file_is_left_whole_and_a_new_one_started(tmp_path: Path) -> None:
    log = tmp_path / "predictions.jsonl"
    handler, _ = handler_with_log(str(log))
    first = predict(handler)
    log.rename(tmp_path / "predictions.jsonl.1")
    second = predict(handler)
    assert [r["request_id"] for r in records(tmp_path / "predictions.jsonl.1")] == [first["job_id"]]
    assert [r["request_id"] for r in records(log)] == [second["job_id"]]


def test_a_short_write_is_taken_back_so_no_record_is_half_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "predictions.jsonl"
    handler, stdout = handler_with_log(str(log))
    first = predict(handler)
    before, printed = log.read_bytes(), stdout.getvalue()
    real_write = os.write

    def half(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(prediction_log.os, "write", half)
    reply = handler(api_event("POST", "/predict", json.dumps({"data": [SETOSA] * 5})), FakeContext())  # type: ignore[operator]
    assert reply["statusCode"] == 503
    monkeypatch.undo()
    assert log.read_bytes() == before
    assert stdout.getvalue() == printed
    assert "only" in capsys.readouterr().err
    third = predict(handler)  # and the log takes the next request whole
    assert [r["request_id"] for r in records(log)] == [first["job_id"], third["job_id"]]
