"""Documentation that cannot go stale silently: commands, curl examples, tables and snippets checked against the code."""

from __future__ import annotations

import ast
import inspect
import json
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
API_DOC = REPO / "docs" / "api.md"  # routes, the error table, feedback, the log line
DEPLOY_DOC = REPO / "docs" / "deploy.md"  # the stack outputs list
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]


def code_blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, indented ones (inside lists) included."""
    blocks, language, lines, inside = [], "", [], False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("```"):
            if inside:
                blocks.append((language, "\n".join(lines)))
                lines, inside = [], False
            else:
                language, inside = line[3:].strip(), True
            continue
        if inside:
            lines.append(line)
    return blocks


def curl_commands(path: Path) -> list[list[str]]:
    """Every curl command in the file's code blocks, continuation lines joined, as shell words."""
    commands = []
    for _, text in code_blocks(path):
        for command in re.split(r"(?<!\\)\n", text):
            words = shlex.split(command.replace("\\\n", " "), comments=True) if "curl" in command else []
            for index, word in enumerate(words):
                if word == "curl":
                    end = next((i for i in range(index + 1, len(words)) if words[i] in {";", "|", "&&", ">"}), len(words))
                    commands.append(words[index:end])
    return commands


def sends_json_content_type(words: list[str]) -> bool:
    headers = [words[i + 1] for i, w in enumerate(words[:-1]) if w in {"-H", "--header"}]
    return any(h.lower().replace(" ", "") == "content-type:application/json" for h in headers)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_curl_that_sends_a_body_says_it_is_json(path: Path) -> None:
    """Without the header curl sends a form (application/x-www-form-urlencoded) and the API answers 415."""
    with_body = [c for c in curl_commands(path) if any(w in {"-d", "--data", "--data-raw", "--data-binary"} for w in c)]
    missing = [" ".join(c) for c in with_body if not sends_json_content_type(c)]
    assert not missing, f"{path.name}: curl with a body but no -H 'content-type: application/json':\n" + "\n".join(missing)


def test_the_curl_check_catches_a_missing_header() -> None:
    words = shlex.split("""curl -s localhost:8000/predict -d '{"data": [[1, 2, 3, 4]]}'""")
    assert not sends_json_content_type(words)
    assert sends_json_content_type([*words, "-H", "Content-Type: application/json"])


def test_the_docs_have_curl_examples() -> None:
    assert curl_commands(README)  # the first 10 minutes call the local API
    assert len(curl_commands(API_DOC)) + len(curl_commands(DEPLOY_DOC)) >= 5  # the parser finds them (none would pass)


def test_the_readme_starts_with_exactly_two_commands() -> None:
    language, first = code_blocks(README)[0]
    assert language == "bash"
    assert [line.split("#")[0].strip() for line in first.splitlines()] == ["make demo", "make test"]


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*):", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_make_target_the_docs_name_exists(path: Path) -> None:
    named = set(re.findall(r"`make ([a-z][a-z0-9-]*)", path.read_text(encoding="utf-8")))
    named |= {w for _, text in code_blocks(path) for w in re.findall(r"^make ([a-z][a-z0-9-]*)", text, flags=re.MULTILINE)}
    assert named, "no make commands found"
    assert named <= makefile_targets(), f"{path.name} names make targets the Makefile lacks: {sorted(named - makefile_targets())}"


def test_the_stack_outputs_list_names_every_output() -> None:
    from infra import constants

    outputs = {value for name, value in vars(constants).items() if name.startswith("OUTPUT_")}
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    listed = text[text.index("The outputs (`cdk-outputs.json`) hold") :].split("\n\n")[0]
    missing = sorted(o for o in outputs if f"`{o}`" not in listed)
    assert not missing, f"docs/deploy.md's stack outputs list lacks {missing}"


def error_table() -> dict[str, tuple[int, str]]:
    """The error table of docs/api.md: input cell -> (status, error code)."""
    rows = {}
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].isdigit() and cells[2].startswith("`"):
            rows[cells[0]] = (int(cells[1]), cells[2].strip("`"))
    return rows


FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BODIES = {  # the start of an error table input cell -> a body of that kind
    "invalid JSON": "{not json",
    "`{}`, missing `data`": "{}",
    "extra keys": '{"data": [[1, 2, 3, 4]], "model": "x"}',
    "zero rows": '{"data": []}',
    "more than 1,000 rows": json.dumps({"data": [[1, 2, 3, 4]] * 1001}),
    "wrong row length": '{"data": [[1, 2, 3]]}',
    "strings, booleans, null, lists": '{"data": [[1, "x", 3, 4]]}',
    "NaN, ±Infinity, 1e400": '{"data": [[NaN, 2, 3, 4]]}',
    "overflows float32": '{"data": [[1e39, 2, 3, 4]]}',
}


@pytest.mark.parametrize("documented_input", sorted(BODIES))
def test_the_error_table_names_the_code_the_parser_returns(documented_input: str) -> None:
    from functions.inference.request_parsing import RequestRejected, parse_rows

    table = error_table()
    rows = [cell for cell in table if cell.startswith(documented_input)]
    assert len(rows) == 1, f"docs/api.md's error table needs one row starting {documented_input!r} (rows: {sorted(table)})"
    status, code = table[rows[0]]
    with pytest.raises(RequestRejected) as refused:
        parse_rows(BODIES[documented_input], feature_names=FEATURES, max_rows=1000)
    assert (refused.value.status, refused.value.code) == (status, code)


PLACEHOLDERS = {"x_all", "y_all", "x_train", "x_test", "y_test", "my_classifier_pipeline"}  # the reader's own data


def test_the_pipeline_snippet_imports_what_it_uses_and_matches_the_signatures() -> None:
    from models import train

    snippets = [
        text for path in DOCS for language, text in code_blocks(path) if language == "python" and "export_model_folder(" in text
    ]
    assert snippets, "no doc shows export_model_folder(...) with your own pipelines"
    snippet = snippets[0]
    tree = ast.parse(snippet)
    defined = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    }
    defined |= {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    assert used - defined - PLACEHOLDERS == set(), "names the snippet uses but never imports"
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        target = getattr(train, call.func.id, None)
        if target in (train.TrainingData, train.export_model_folder):
            inspect.signature(target).bind(*[None] * len(call.args), **{k.arg: None for k in call.keywords if k.arg})
