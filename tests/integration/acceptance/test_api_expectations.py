"""The API check's expectations are right: they cover every row of the error table in docs/api.md, and the handler,
run in-process with real API Gateway events, answers each case as expected. A deployed API that answers
otherwise is then AWS differing from local behaviour, not a wrong test."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from acceptance.checks.api import NOT_REACHABLE_OVER_HTTP, error_cases, judge, route_cases, unscorable_row
from acceptance.checks.log_contract import compare_records
from acceptance.local_reference import reference
from functions.contract import names
from local.api_gateway import FakeContext, api_event

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def readme_error_rows() -> set[tuple[int, str]]:
    """(status, error) pairs of the API page's bad-input table, e.g. `| no body | 400 | `empty_body` | ... |`."""
    pairs = set()
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|[^|]+\|\s*(\d{3})\s*\|\s*([^|]+)\|", line)
        if match:
            for code in re.findall(r"`([a-z_]+)`", match.group(2)):
                pairs.add((int(match.group(1)), code))
    return pairs


def test_every_readme_error_row_has_a_case(iris_artifact: Any) -> None:
    rows = readme_error_rows()
    assert len(rows) >= 8, rows  # the table is there and parsed
    covered = {
        (case.status, code)
        for case in error_cases(iris_artifact.baseline)
        for code in ((case.error,) if isinstance(case.error, str) else case.error or ())
    }
    assert rows - NOT_REACHABLE_OVER_HTTP <= covered, f"error table rows without an acceptance case: {rows - covered}"


@pytest.fixture(scope="module", params=["iris", "credit_card"])
def served(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> tuple[Any, Any, Path]:
    """(handler, baseline) of a shipped model: numbers only, and numbers with categories (bad numbers go where a
    number is expected; a string in a categorical slot is a valid, unseen category)."""
    models = Path(__file__).resolve().parents[3] / "models"
    monkeypatch_module.setenv(names.ENV_MODEL_DIR, str(models / request.param))
    monkeypatch_module.delenv(names.ENV_PREDICTION_LOG_FILE, raising=False)
    from functions.contract.model_artifact import load_model_artifact
    from functions.inference.handler import create_handler
    from functions.inference.settings import InferenceSettings

    handler = create_handler(InferenceSettings.from_env(), stdout=io.StringIO())
    return handler, load_model_artifact(models / request.param).baseline, models / request.param


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_every_case_answers_as_expected_in_process(served: tuple[Any, Any, Path]) -> None:
    handler, baseline, model_dir = served
    problems = []
    for case in route_cases(baseline) + error_cases(baseline, unscorable=unscorable_row(model_dir)):
        headers = {"Content-Type": case.content_type} if case.content_type and case.method == "POST" else {}
        event = api_event(case.method, case.path, case.body, headers=headers, content_type=None)
        with contextlib.redirect_stdout(io.StringIO()):
            reply = handler(event, FakeContext())
        payload = json.loads(reply["body"]) if reply.get("body") else None
        problem = judge(case, int(reply["statusCode"]), payload)
        if problem:
            problems.append(problem)
    assert problems == []


def test_judge_names_a_wrong_answer(iris_artifact: Any) -> None:
    case = error_cases(iris_artifact.baseline)[0]
    assert judge(case, 200, {}) is not None
    assert "error" in (judge(case, case.status, {"error": "other"}) or "")


def test_local_reference_writes_one_record_per_row_equal_to_itself() -> None:
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5]]})
    first = reference("iris", "POST", "/predict", body)
    second = reference("iris", "POST", "/predict", body)
    assert first["status"] == 200 and [r["row"] for r in first["lines"]] == [0, 1]
    job = json.loads(first["body"])["job_id"]
    assert all(r["request_id"] == job for r in first["lines"])
    # Two runs of the same request differ only in per-call values: the comparison the log-contract check makes.
    relabelled = [dict(r, request_id=job) for r in second["lines"]]
    assert compare_records(job, relabelled, first["lines"], "prediction") == []


@pytest.mark.parametrize(("model", "scorable"), [("iris", False), ("wine", False), ("diabetes", False), ("credit_card", True)])
def test_the_unscorable_case_is_sent_only_to_a_model_that_cannot_score_extreme_numbers(model: str, scorable: bool) -> None:
    row = unscorable_row(Path(__file__).resolve().parents[3] / "models" / model)
    assert (row is None) is scorable
