"""schemathesis, a client nobody here wrote, against the local server's /openapi.json: all checks, 0 failures.

Fixed seed and bounded example count, so the run is reproducible and takes a few seconds.
`schemathesis.toml` and `schemathesis_hooks.py` (beside this file) keep `positive_data_acceptance`
strict while allowing the one documented refusal of schema-valid data (`unscorable_row`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from functions.inference.handler import create_handler
from functions.inference.settings import InferenceSettings
from local.server import make_server
from tests.fixtures.mixed_model import write_mixed_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
MAX_EXAMPLES = 50
SEED = 20261125


@pytest.mark.parametrize(
    ("model", "unseen"),
    [
        ("iris", "accept"),
        ("wine", "accept"),
        ("diabetes", "accept"),  # a regression model's document
        ("mixed", "accept"),  # numbers and categories (tests/fixtures/mixed_model.py); any string is a valid category
        ("mixed", "refuse"),  # ... and only the known ones (an enum per categorical position)
    ],
)
def test_schemathesis_finds_nothing(tmp_path: Path, model: str, unseen: str) -> None:
    log_file = tmp_path / "predictions.jsonl"
    model_dir = write_mixed_model(tmp_path / "mixed") if model == "mixed" else REPO / "models" / model
    settings = InferenceSettings.from_env(
        {"MODEL_DIR": str(model_dir), "PREDICTION_LOG_FILE": str(log_file), "UNSEEN_CATEGORIES": unseen}
    )
    httpd = make_server(create_handler(settings, stdout=io.StringIO()), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"http://127.0.0.1:{httpd.server_port}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--no-color",
        ]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.inference.schemathesis_hooks", "PYTHONPATH": str(REPO)}
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    finally:
        httpd.shutdown()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    records = [json.loads(line) for line in log_file.read_text().split("\n") if line]
    assert len(records) > MAX_EXAMPLES  # the requests reached the handler ...
    assert [r for r in records if r["message"] == "failed"] == []  # ... and none ended in a 500
    if model == "mixed":  # the generated strings reached the model: unseen ones logged as such, or never served
        predictions = [r for r in records if r["message"] == "prediction"]
        assert all(isinstance(r["features"]["plan"], str) for r in predictions)
        logged_unseen = [r for r in predictions if "unseen_categories" in r]
        assert bool(logged_unseen) == (unseen == "accept")
