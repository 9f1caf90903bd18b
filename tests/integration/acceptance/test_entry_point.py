"""`python -m acceptance` as `make acceptance` runs it: no credentials fails fast with a clear message and
deploys nothing; DRY_RUN=1 prints the plan. The real checks need an account and are skipped here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def run(env_extra: dict[str, str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # CI machines are not EC2 instances; do not wait on the metadata endpoint
        "ACCEPTANCE_RESULTS_DIR": str(tmp_path / "results"),
        **env_extra,
    }
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "acceptance"], env=env, capture_output=True, text=True, timeout=120, check=False)
    return done, time.monotonic() - started


def test_without_credentials_it_fails_fast_and_says_why(tmp_path: Path) -> None:
    done, seconds = run({"AWS_REGION": "us-east-1"}, tmp_path)
    print(f"no-credentials exit after {seconds:.2f} s")  # measured, not asserted (no wall-clock assertions)
    assert done.returncode == 2
    assert "no AWS credentials found" in done.stderr and "Nothing was deployed" in done.stderr
    assert not (tmp_path / "results").exists()


def test_dry_run_prints_the_plan(tmp_path: Path) -> None:
    done, _ = run({"DRY_RUN": "1", "MODEL": "wine"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ServerlessInference-acc-" in done.stdout and "-c model=wine" in done.stdout
    assert "estimated cost of this run" in done.stdout and "7 dashboard" in done.stdout


@pytest.mark.skipif(
    os.environ.get("ACCEPTANCE_REAL") != "1",
    reason="the acceptance checks need a real AWS account: run `make acceptance` (deploys a throw-away stack, "
    "about 40 minutes and a few cents; see docs/acceptance.md). Set ACCEPTANCE_REAL=1 to run it from pytest.",
)
def test_acceptance_in_a_real_account(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "acceptance"], env=env, timeout=3 * 3600, check=False)
    assert done.returncode == 0


def test_dry_run_with_acceptance_context_plans_the_option(tmp_path: Path) -> None:
    done, _ = run({"DRY_RUN": "1", "ACCEPTANCE_CONTEXT": "data_kms_key=true reserved_concurrency=true"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "options data_kms_key=true reserved_concurrency=true" in done.stdout
    assert "-c data_kms_key=true -c reserved_concurrency=true" in done.stdout
    for row in ("2 log delivery delay", "6 quality run"):
        assert row in done.stdout
    refused, _ = run({"DRY_RUN": "1", "ACCEPTANCE_CONTEXT": "stack_name=mine"}, tmp_path)
    assert refused.returncode == 2 and "set by the suite" in refused.stderr
