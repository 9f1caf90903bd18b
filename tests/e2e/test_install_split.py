"""`make demo` needs only requirements-local.txt: the demo runs with every package that only requirements-dev.txt
installs made unimportable (in the demo, the local server it starts and the monitor it runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.unit.docs.test_requirements import closure, normalized

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e

BLOCKER = """
import importlib.abc, sys
BLOCKED = set({blocked!r})

class DevOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} comes from requirements-dev.txt only; the main job must not need it")
        return None

sys.meta_path.insert(0, DevOnly())
"""


def dev_only_modules() -> set[str]:
    """Top-level import names of the distributions requirements-dev.txt adds, unless a main-job distribution shares them."""
    local = set(closure(REPO / "requirements-local.txt"))
    dev_only = set(closure(REPO / "requirements-dev.txt")) - local
    blocked = set()
    for module, distributions in metadata.packages_distributions().items():
        names = {normalized(d) for d in distributions}
        if names & dev_only and not names & local:
            blocked.add(module)
    return blocked


def test_the_blocked_set_is_the_tooling() -> None:
    modules = dev_only_modules()
    assert {"moto", "pytest", "aws_cdk", "mypy", "cfnlint", "cdk_nag"} <= modules
    assert not {"numpy", "onnxruntime", "sklearn", "duckdb", "matplotlib"} & modules


def test_the_demo_runs_without_the_dev_packages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(dev_only_modules())), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    probe = subprocess.run([sys.executable, "-c", "import moto"], env=env, capture_output=True, text=True, check=False)
    assert "requirements-dev.txt only" in probe.stderr  # the blocker is active in child processes
    done = subprocess.run(
        [sys.executable, "-m", "local.demo", "--model", "wine", "--workdir", str(tmp_path / "demo")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
