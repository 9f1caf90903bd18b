"""defer_package_init: a submodule loads without its package's __init__, and the package still works in full."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.inference.lazy_package import _submodule_exports, defer_package_init


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "heavypkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        "import sys\n"
        "sys.heavy_init_runs = getattr(sys, 'heavy_init_runs', 0) + 1\n"
        "from heavypkg.light import VALUE\n"
        "from .light import VALUE as LIGHT_VALUE\n"
        "from .helpers import HELP, OTHER\n"
        "OTHER = 'rebound in init'\n"
        "EXPORTED = 'from init'\n"
    )
    (root / "light.py").write_text("from heavypkg import helpers\nVALUE = helpers.HELP + 1\n")
    (root / "helpers.py").write_text("import sys\nsys.helpers_runs = getattr(sys, 'helpers_runs', 0) + 1\nHELP = 41\nOTHER = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "heavy_init_runs", 0, raising=False)
    monkeypatch.setattr(sys, "helpers_runs", 0, raising=False)
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


def test_exports_are_read_from_relative_imports_bound_once(package: str, tmp_path: Path) -> None:
    exports = _submodule_exports(str(tmp_path / package / "__init__.py"))
    # VALUE comes from an absolute import, OTHER is rebound: both need the real __init__
    assert exports == {"LIGHT_VALUE": ("light", "VALUE"), "HELP": ("helpers", "HELP")}


def test_a_name_bound_by_a_relative_import_loads_only_its_submodule(package: str) -> None:
    defer_package_init(package)
    from heavypkg import HELP  # type: ignore[import-not-found]

    assert HELP == 41
    assert sys.heavy_init_runs == 0  # type: ignore[attr-defined]
    from heavypkg import LIGHT_VALUE  # type: ignore[import-not-found]

    assert LIGHT_VALUE == 42
    assert sys.heavy_init_runs == 0  # type: ignore[attr-defined]
    from heavypkg import OTHER  # type: ignore[import-not-found]

    assert OTHER == "rebound in init"  # what the real __init__ gives, not helpers.OTHER
    assert sys.heavy_init_runs == 1  # type: ignore[attr-defined]
    assert sys.helpers_runs == 1  # type: ignore[attr-defined]


def test_a_subpackage_its_parent_imports_stays_deferred(package: str, tmp_path: Path) -> None:
    """Powertools' own __init__ imports the Logger, which imports jmespath_utils: deferring must not need the parent."""
    sub = tmp_path / package / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("import sys\nsys.sub_runs = getattr(sys, 'sub_runs', 0) + 1\ndef f():\n    return 7\n")
    init = tmp_path / package / "__init__.py"
    init.write_text("from heavypkg import sub\n" + init.read_text())
    sys.sub_runs = 0  # type: ignore[attr-defined]
    defer_package_init("heavypkg.sub")
    import heavypkg  # type: ignore[import-not-found]

    assert sys.heavy_init_runs == 1  # type: ignore[attr-defined]
    assert sys.sub_runs == 0  # type: ignore[attr-defined]
    assert heavypkg.sub.f() == 7
    assert sys.sub_runs == 1  # type: ignore[attr-defined]
    del sys.sub_runs  # type: ignore[attr-defined]


def run_fresh(code: str) -> str:
    import subprocess

    repo = Path(__file__).resolve().parents[3]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo).stdout


def test_the_handler_loads_only_the_event_classes_and_no_jmespath() -> None:
    """In a fresh interpreter: the cold start leaves the other ~35 event classes and jmespath unloaded."""
    out = run_fresh(
        "import os, sys; os.environ['MODEL_DIR'] = 'models/iris'; import functions.inference.handler; "
        "print('aws_lambda_powertools.utilities.data_classes.sqs_event' in sys.modules, 'jmespath' in sys.modules)"
    )
    assert out.split()[-2:] == ["False", "False"]


def test_deferred_powertools_gives_the_same_objects_and_still_works_in_full() -> None:
    out = run_fresh(
        "from functions.inference.lazy_package import defer_unused_powertools\n"
        "defer_unused_powertools()\n"
        "from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, ALBEvent\n"
        "from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent as Direct\n"
        "from aws_lambda_powertools.utilities.data_classes.alb_event import ALBEvent as DirectAlb\n"
        "print(APIGatewayProxyEvent is Direct, ALBEvent is DirectAlb)\n"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source\n"
        "from aws_lambda_powertools.utilities.jmespath_utils import query\n"
        "print(SQSEvent.__name__, callable(event_source), query({'a': {'b': 1}}, 'a.b'))\n"
        "from aws_lambda_powertools import Logger\n"
        "Logger(service='t', correlation_id_path='a')\n"
        "print('ok')\n"
    )
    assert out.split() == ["True", "True", "SQSEvent", "True", "1", "ok"]
