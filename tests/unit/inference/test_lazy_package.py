"""defer_package_init: a submodule loads without its package's __init__, and the package still works in full."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.inference.lazy_package import defer_package_init


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "heavypkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        "import sys\n"
        "sys.heavy_init_runs = getattr(sys, 'heavy_init_runs', 0) + 1\n"
        "from heavypkg.light import VALUE\n"
        "EXPORTED = 'from init'\n"
    )
    (root / "light.py").write_text("from heavypkg import helpers\nVALUE = helpers.HELP + 1\n")
    (root / "helpers.py").write_text("HELP = 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "heavy_init_runs", 0, raising=False)
    yield "heavypkg"
    for name in [m for m in sys.modules if m == "heavypkg" or m.startswith("heavypkg.")]:
        del sys.modules[name]


def test_submodule_imports_without_running_the_package_init(package: str) -> None:
    defer_package_init(package)
    from heavypkg.light import VALUE  # type: ignore[import-not-found]

    assert VALUE == 42
    assert sys.heavy_init_runs == 0  # type: ignore[attr-defined]


def test_a_name_from_the_init_runs_it_once_on_first_use(package: str) -> None:
    defer_package_init(package)
    from heavypkg import EXPORTED  # type: ignore[import-not-found]
    from heavypkg.light import VALUE  # type: ignore[import-not-found]  # noqa: F401

    assert EXPORTED == "from init"
    import heavypkg  # type: ignore[import-not-found]

    assert heavypkg.VALUE == 42
    assert sys.heavy_init_runs == 1  # type: ignore[attr-defined]


def test_already_imported_package_is_left_alone(package: str) -> None:
    import heavypkg  # type: ignore[import-not-found]

    defer_package_init(package)
    assert sys.modules[package] is heavypkg
    assert sys.heavy_init_runs == 1  # type: ignore[attr-defined]


def test_the_inference_api_does_not_pay_for_asyncio_and_appsync() -> None:
    """In a fresh interpreter: the handler's import leaves the AppSync resolver and asyncio out."""
    import subprocess

    code = (
        "import sys; import functions.inference.api; "
        "print('asyncio' in sys.modules, 'aws_lambda_powertools.event_handler.appsync' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout
    assert out.split() == ["False", "False"]
