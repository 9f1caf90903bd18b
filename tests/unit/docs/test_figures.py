"""Measured figures live in one place, each with its command, machine and date; the README links there instead of
repeating them; the figures a test can recompute are recomputed; the docs speak of the product, not its history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.unit.docs.test_docs import API_DOC, README, REPO, code_blocks

PERFORMANCE = REPO / "docs" / "performance.md"
README_MAX_LINES = 250
# Pages whose prose this suite owns; docs/monitor.md is exempt until its sections are rewritten in product words.
OWN_PAGES = ("api.md", "deploy.md", "quality.md", "decisions.md", "performance.md", "infrastructure.md", "acceptance.md")
PRODUCT_WORDS_PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
HISTORY = re.compile(
    r"this wave|the wave|wave's|\bissue \d+|the seed'?s?\b(?! \d)|shared venv|models branch|is merged|previously|"
    r"before the split|(first|second|third) pass",
    flags=re.IGNORECASE,
)
# A measured quantity: a time, a size, a price, a test count.
MEASURED = re.compile(r"\d[\d,.]*\s?(µs|ms|MiB|MB|GB|KB)\b|\d+(\.\d+)? ?s\b of|\$\d|\b\d[\d,]* tests\b")


def figures_table() -> list[list[str]]:
    text = PERFORMANCE.read_text(encoding="utf-8")
    section = text[text.index("## Figures in one place") :].split("\n### ")[0]
    rows = [
        [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        for line in section.splitlines()
        if line.startswith("| ")
    ]
    return [r for r in rows[1:] if not set(r[0]) <= {"-", " "}]


def test_the_readme_is_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES


def test_the_readme_repeats_no_measured_figure() -> None:
    text = README.read_text(encoding="utf-8")
    text = re.sub(r"<!-- demo-output:start.*?<!-- demo-output:end -->", "", text, flags=re.DOTALL)  # a real run's output
    found = [m.group(0) for m in MEASURED.finditer(text)]
    assert not found, f"README states measured figures {found}: put them in docs/performance.md and link there"


def test_the_measured_figure_check_catches_figures() -> None:
    assert MEASURED.search("the suite runs 934 tests") and MEASURED.search("125.5 MiB") and MEASURED.search("$2.28")
    assert not MEASURED.search("1 to 1,000 rows, 1.5 standard deviations, port 8000")


def test_every_figure_names_its_command_and_date() -> None:
    rows = figures_table()
    assert len(rows) >= 5
    for figure, value, command, date in rows:
        assert "`" in command, f"{figure}: no command"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), f"{figure}: no date"
        assert re.search(r"\d", value), f"{figure}: no value"


def test_the_prediction_line_figure_and_example_are_what_the_code_writes() -> None:
    """The documented line is the one the contract writes for the current iris model, and its size is the figure."""
    from functions.contract.model_artifact import load_model_artifact
    from functions.contract.prediction_log import prediction_lines
    from functions.inference.onnx_model import OnnxModel
    from functions.inference.prediction_service import bounded_error

    documented = json.loads(next(text for lang, text in code_blocks(API_DOC) if lang == "json" and '"prediction"' in text))
    artifact = load_model_artifact(REPO / "models" / "iris")
    row = [documented["features"][name] for name in artifact.baseline.feature_names]
    predicted = OnnxModel(artifact).predict_one(row)
    probabilities, score = [round(p, 4) for p in predicted.probabilities], round(predicted.outlier_score, 4)  # as served
    error = bounded_error(predicted.reconstruction_error)  # the joint-drift score iris ships
    line = prediction_lines(
        timestamp_ms=documented["timestamp"], request_id=documented["request_id"], endpoint=documented["endpoint"],
        model=artifact.baseline.model_name, model_version=artifact.baseline.model_version,
        feature_names=artifact.baseline.feature_names, rows=[row],
        labels=[artifact.baseline.label_names[predicted.class_index]], class_indices=[predicted.class_index],
        probabilities=[probabilities], is_outlier=[score > 0], outlier_scores=[score], latency_ms=documented["latency_ms"],
        reconstruction_errors=[error],
    )[0]  # fmt: skip
    assert json.loads(line) == documented, "the documented log line is not what the current iris model writes"
    size = len(line.encode())
    assert f"**{size} bytes**" in API_DOC.read_text(encoding="utf-8")
    assert [r[1] for r in figures_table() if r[0].startswith("prediction log line")] == [f"{size} bytes"]


@pytest.mark.parametrize("path", PRODUCT_WORDS_PAGES, ids=lambda p: p.name)
def test_the_docs_speak_of_the_product_not_its_history(path: Path) -> None:
    found = sorted({m.group(0) for m in HISTORY.finditer(path.read_text(encoding="utf-8"))})
    assert not found, f"{path.name}: history words {found}"


def test_the_history_check_catches_history() -> None:
    assert HISTORY.search("as this wave did") and HISTORY.search("see issue 9") and HISTORY.search("the seed's rule")
    assert not HISTORY.search("a fixed seed, 50 examples per operation")
