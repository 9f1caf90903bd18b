"""A model folder that cannot be served stops `make demo` and `make serve` with one line naming the folder and
file, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local import MODEL_FOLDER_HINT

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("command", [["local.demo", "--workdir"], ["local.server", "--port", "0", "--log-file"]])
def test_an_invalid_feature_name_is_one_line_naming_the_file(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(REPO / "models" / "iris", folder)
    document = json.loads((folder / "baseline.json").read_text())
    document["features"][0]["name"] = "mean radius"
    (folder / "baseline.json").write_text(json.dumps(document))
    module, *options = command
    result = subprocess.run(
        [sys.executable, "-m", module, "--model-dir", str(folder), *options, str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{module}: {folder / 'baseline.json'}: baseline.features[0]: feature name 'mean radius' must match "
        "^[a-z][a-z0-9_]{0,62}$ " + MODEL_FOLDER_HINT
    )
