"""The install split the README promises: the main job's set stays free of test and CDK tooling, pins never disagree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
MAIN_JOB_TARGETS = ("demo", "serve", "monitor", "train", "preflight", "bootstrap")
HEAVY_TOOLING = {"aws-cdk-lib", "cdk-nag", "cfn-lint", "moto", "mypy", "pytest", "hypothesis", "ruff", "constructs"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_pins(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[normalized(name.split("[")[0])] = version.strip()
    return pins


def closure(path: Path) -> dict[str, str]:
    """Pins of a requirements file with the files it includes (-r)."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-r "):
            pins |= closure(path.parent / line[3:].strip())
    return pins | direct_pins(path)


FILES = [REPO / "requirements.txt", REPO / "requirements-local.txt", REPO / "requirements-dev.txt"]


def test_every_line_is_pinned_exactly() -> None:
    for path in FILES:
        for name, version in direct_pins(path).items():
            assert re.fullmatch(r"\d+(\.\d+)*", version), f"{path.name}: {name} is not pinned with == ({version!r})"


def test_a_package_pinned_in_two_files_has_the_same_pin() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in FILES:
        for name, version in direct_pins(path).items():
            if name in seen:
                assert seen[name][1] == version, f"{name}: {seen[name][0]} pins {seen[name][1]}, {path.name} pins {version}"
            seen[name] = (path.name, version)


def test_the_main_job_set_has_no_test_or_cdk_tooling_and_the_dev_set_has_everything() -> None:
    local, dev = closure(REPO / "requirements-local.txt"), closure(REPO / "requirements-dev.txt")
    assert not HEAVY_TOOLING & set(local), f"requirements-local.txt pulls in {sorted(HEAVY_TOOLING & set(local))}"
    assert set(local) <= set(dev)
    assert set(dev) >= HEAVY_TOOLING
    assert set(closure(REPO / "requirements.txt")) <= set(local)  # the Lambda runtime serves the local API too


def prerequisites() -> dict[str, list[str]]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m[1]: m[2].split("##")[0].split() for m in re.finditer(r"^([a-z][a-z0-9-]*):(?!=)(.*)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("target", MAIN_JOB_TARGETS)
def test_the_main_job_targets_install_only_the_main_job_set(target: str) -> None:
    needs = prerequisites()[target]
    assert "install" in needs and "install-dev" not in needs, needs


@pytest.mark.parametrize("target", ["test", "lint", "layer"])
def test_the_tooling_targets_install_the_dev_set(target: str) -> None:
    assert "install-dev" in prerequisites()[target]
