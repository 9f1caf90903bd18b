"""Bytecode for Lambda's read-only directories: the interpreter finder, the layer's and the asset's `.pyc` files.

Offline and fast. A fake `python3.12` (a shell script) answers the finder's probe and plays compileall: it
logs its arguments and writes one `.pyc` per `.py` (none for a file marked `py2 only`). The tests that need
the real compiler run with a CPython 3.12 when this machine has one and are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import bundling
from infra.asset_files import asset_hash, function_asset_files, write_function_asset
from infra.bytecode import (
    BytecodeError,
    Interpreter,
    compile_tree,
    compileall_command,
    find_python,
    probe,
    pyc_path,
)
from infra.constants import LAYER_PYTHON_VERSION
from tests.infra.test_packaging import REPO_ROOT, fake_repo, load_build_layer  # noqa: F401  (fake_repo: a fixture)

TAG = "cpython-312"
PY2_MARKER = "py2 only"
FAKE_PYTHON = """#!/bin/sh
if [ "$2" = "-c" ]; then
  echo '{{"implementation": "{implementation}", "version": "{version}", "cache_tag": "{tag}", "magic": "cb0d0d0a"}}'
  exit 0
fi
echo "$@" >> "{log}"
for root; do :; done
find "$root" -name '*.py' ! -path '*/__pycache__/*' | while read -r source; do
  grep -q '{marker}' "$source" && continue
  mkdir -p "$(dirname "$source")/__pycache__"
  echo bytecode > "$(dirname "$source")/__pycache__/$(basename "$source" .py).{tag}.pyc"
done
"""


def fake_python(directory: Path, *, version: str = "3.12.99", implementation: str = "cpython", name: str = "python3.12") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tag = f"{implementation}-{''.join(version.split('.')[:2])}"
    script = directory / name
    log = directory / "calls.log"
    script.write_text(FAKE_PYTHON.format(implementation=implementation, version=version, tag=tag, log=log, marker=PY2_MARKER))
    script.chmod(0o755)
    return script


def fake_interpreter(tmp_path: Path) -> Interpreter:
    found = probe(fake_python(tmp_path / "fake-bin"), LAYER_PYTHON_VERSION)
    assert isinstance(found, Interpreter)
    return found


def compileall_calls(interpreter: Interpreter) -> list[str]:
    log = interpreter.path.parent / "calls.log"
    return log.read_text().splitlines() if log.is_file() else []


@pytest.fixture(scope="session")
def real_python312() -> Interpreter:
    found = find_python(LAYER_PYTHON_VERSION)
    if found is None:
        pytest.skip(f"no CPython {LAYER_PYTHON_VERSION} on this machine")
    return found


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


# --- the finder ---------------------------------------------------------------------------------------------------
def test_finder_skips_a_wrong_version_and_a_broken_shim_and_picks_the_target(tmp_path):
    path_dir = tmp_path / "bin"
    fake_python(path_dir, version="3.11.9")  # `python3.12` on PATH that is really 3.11
    pyenv_root = tmp_path / "pyenv"
    shim = pyenv_root / "shims" / "python3.12"
    shim.parent.mkdir(parents=True)
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    older = fake_python(pyenv_root / "versions" / "3.12.1" / "bin", version="3.12.1")
    newer = fake_python(pyenv_root / "versions" / "3.12.10" / "bin", version="3.12.10")
    fake_python(pyenv_root / "versions" / "3.13.0" / "bin", version="3.13.0", name="python3.12")
    env = {"PATH": f"{path_dir}{os.pathsep}{shim.parent}", "PYENV_ROOT": str(pyenv_root), "HOME": str(tmp_path)}
    found = find_python("3.12", env=env)
    assert found is not None
    assert (found.path, found.version, found.cache_tag) == (newer, "3.12.10", TAG)  # newest patch release first
    assert older.is_file()


def test_a_named_interpreter_of_another_version_is_refused(tmp_path):
    wrong = fake_python(tmp_path / "311", version="3.11.9")
    with pytest.raises(BytecodeError, match=r"cpython 3\.11\.9, not CPython 3\.12"):
        find_python("3.12", override=wrong, env={})
    with pytest.raises(BytecodeError, match=r"pypy 3\.12\.99, not CPython 3\.12"):
        find_python("3.12", env={"BYTECODE_PYTHON": str(fake_python(tmp_path / "pypy", implementation="pypy"))})
    with pytest.raises(BytecodeError, match="does not run"):
        find_python("3.12", override=tmp_path / "nothing-here", env={})
    right = fake_python(tmp_path / "312", version="3.12.4")
    found = find_python("3.12", override=right, env={"BYTECODE_PYTHON": str(wrong)})  # the option wins
    assert found is not None and found.version == "3.12.4"


def test_compileall_is_called_for_the_target_with_unchecked_hash(tmp_path):
    interpreter = fake_interpreter(tmp_path)
    command = compileall_command(interpreter, tmp_path / "site", strip=tmp_path / "site", prepend="/opt/python")
    assert command[:4] == [str(interpreter.path), "-I", "-m", "compileall"]
    assert command[command.index("--invalidation-mode") + 1] == "unchecked-hash"
    assert command[command.index("-o") + 1] == "0"
    assert command[command.index("-p") + 1] == "/opt/python"


def test_real_312_writes_unchecked_hash_bytecode_and_reports_what_does_not_compile(tmp_path, real_python312):
    site = tmp_path / "python"
    write(site, {"pkg/__init__.py": "", "pkg/mod.py": "assert True\nVALUE = 1\n", "pkg/templates/old.py": "print 'py2'\n"})
    report = compile_tree(real_python312, site, strip=site, prepend="/opt/python")
    assert (report.py_files, report.pyc_files, report.failed) == (3, 2, ["pkg/templates/old.py"])
    pyc = pyc_path(site / "pkg" / "mod.py", TAG)
    assert pyc.parent.name == "__pycache__" and pyc.name == f"mod.{TAG}.pyc"
    header = pyc.read_bytes()[:16]
    assert header[:4].hex() == real_python312.magic
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source never checked (unchecked-hash)
    assert report.added_bytes == sum(p.stat().st_size for p in site.rglob("*.pyc"))
    # 3.12 loads the .pyc even after the source changed (what unchecked-hash means); file names read /opt/python.
    (site / "pkg" / "mod.py").write_text("VALUE = 2\n")
    check = (
        "import marshal, pkg.mod as m; print(m.VALUE, m.__spec__.cached.endswith('.cpython-312.pyc'),"
        " marshal.loads(open(m.__spec__.cached, 'rb').read()[16:]).co_filename)"
    )
    result = subprocess.run(
        [str(real_python312.path), "-E", "-s", "-B", "-c", check], cwd=site, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1", "True", "/opt/python/pkg/mod.py"]


# --- the layer ----------------------------------------------------------------------------------------------------
@pytest.fixture
def offline_layer_build(tmp_path, monkeypatch):
    """build_layer with pip replaced by a writer of a small site (one dist-info per locked package) and no zip."""
    build_layer = load_build_layer()
    installs: list[Path] = []

    def pip_install(site: Path, python_version: str, arch: str, lock_file: Path) -> None:
        installs.append(site)
        write(site, {"numpy/__init__.py": "x = 1\n", "numpy/linalg/__init__.py": "", "typing_extensions.py": "y = 2\n"})
        for name, version in build_layer.read_lock(lock_file).items():
            (site / f"{name.replace('-', '_')}-{version}.dist-info").mkdir(parents=True)

    monkeypatch.setattr(build_layer, "pip_install", pip_install)
    monkeypatch.setattr(build_layer, "zipped_size", lambda directory: 1)
    build_layer.installs = installs  # type: ignore[attr-defined]
    return build_layer


def layer_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--output", str(tmp_path / "build" / "layer"), "--model", "iris", *extra]


def manifest(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "build" / "layer-manifest.json").read_text())


def test_layer_ships_bytecode_for_every_module_and_the_manifest_records_it(tmp_path, offline_layer_build):
    fake = fake_python(tmp_path / "fake-bin")
    assert offline_layer_build.main(layer_args(tmp_path, "--bytecode-python", str(fake))) == 0
    site = tmp_path / "build" / "layer" / "python"
    sources = sorted(site.rglob("*.py"))
    assert len(sources) == 3
    assert all(pyc_path(source, TAG).is_file() for source in sources)  # fails when the bytecode step is removed
    layer_call, asset_call = compileall_calls(fake_interpreter(tmp_path))  # the asset's .pyc count in the size check
    assert "--invalidation-mode unchecked-hash" in layer_call and "-o 0" in layer_call and "-p /opt/python" in layer_call
    assert "-p /var/task" in asset_call
    bytecode = manifest(tmp_path)["bytecode"]
    assert bytecode["enabled"] is True
    assert (bytecode["python"], bytecode["cache_tag"], bytecode["invalidation_mode"], bytecode["optimize"]) == (
        "3.12.99",
        TAG,
        "unchecked-hash",
        0,
    )
    assert (bytecode["py_files"], bytecode["pyc_files"], bytecode["not_compiled"]) == (3, 3, [])
    assert bytecode["added_bytes"] == sum(p.stat().st_size for p in site.rglob("*.pyc")) > 0


def test_layer_without_bytecode_is_rebuilt_and_says_so(tmp_path, offline_layer_build):
    fake = fake_python(tmp_path / "fake-bin")
    assert offline_layer_build.main(layer_args(tmp_path, "--no-bytecode")) == 0
    assert manifest(tmp_path)["bytecode"]["enabled"] is False
    assert not list((tmp_path / "build" / "layer").rglob("*.pyc"))
    # The same layer with bytecode has other inputs: rebuilt (an old sources-only layer is not kept).
    assert offline_layer_build.main(layer_args(tmp_path, "--bytecode-python", str(fake))) == 0
    assert len(offline_layer_build.installs) == 2
    assert manifest(tmp_path)["bytecode"]["enabled"] is True
    assert offline_layer_build.main(layer_args(tmp_path, "--bytecode-python", str(fake))) == 0
    assert len(offline_layer_build.installs) == 2  # up to date


def test_layer_build_without_interpreter_fails_in_one_line_before_downloading(tmp_path, offline_layer_build, monkeypatch):
    monkeypatch.setattr(offline_layer_build, "find_python", lambda version, override=None: None)
    with pytest.raises(SystemExit) as failure:
        offline_layer_build.main(layer_args(tmp_path))
    message = str(failure.value.code)
    assert "\n" not in message
    assert message.startswith("error: no CPython 3.12 found")
    assert "--bytecode-python" in message and "--no-bytecode" in message and "pyenv install 3.12" in message
    assert offline_layer_build.installs == []
    assert offline_layer_build.main(layer_args(tmp_path, "--no-bytecode")) == 0


def test_layer_build_refuses_a_named_interpreter_of_another_version(tmp_path, offline_layer_build):
    wrong = fake_python(tmp_path / "311", version="3.11.9", name="python3.11")
    with pytest.raises(SystemExit, match=r"error: bytecode interpreter refused: .* 3\.11\.9, not CPython 3\.12"):
        offline_layer_build.main(layer_args(tmp_path, "--bytecode-python", str(wrong)))


def test_layer_fails_only_when_an_importable_module_of_a_layer_package_does_not_compile(tmp_path, capsys):
    build_layer = load_build_layer()
    interpreter = fake_interpreter(tmp_path)
    site = tmp_path / "python"
    py2 = f"# {PY2_MARKER}\nprint 'x'\n"
    write(
        site,
        {
            "numpy/__init__.py": "",
            "numpy/core/__init__.py": "",
            "numpy/templates/render.py": py2,  # no __init__.py: never imported
            "numpy/bad-name.py": py2,  # not an identifier: never imported
            "jmespath/__init__.py": "",
            "jmespath/compat2.py": py2,  # importable, but not one of the layer's packages
        },
    )
    info = build_layer.compile_layer(site, interpreter)
    assert info["not_compiled"] == ["jmespath/compat2.py", "numpy/bad-name.py", "numpy/templates/render.py"]
    assert "3 file(s) do not compile" in capsys.readouterr().out
    write(site, {"pydantic/__init__.py": "", "pydantic/v1/__init__.py": "", "pydantic/v1/old.py": py2})
    with pytest.raises(SystemExit, match=r"pydantic/v1/old\.py \(pydantic\.v1\.old\)"):
        build_layer.compile_layer(site, interpreter)


def test_built_layer_ships_bytecode():
    """After `make layer`: the manifest says every .py has its .pyc (skipped on a clone that never built it)."""
    manifest_path = REPO_ROOT / ".build" / "layer-manifest.json"
    if not manifest_path.is_file():
        pytest.skip("no layer built here (make layer)")
    bytecode = json.loads(manifest_path.read_text()).get("bytecode", {})
    if bytecode.get("enabled") is False:
        pytest.skip("layer built with --no-bytecode")
    assert bytecode.get("cache_tag") == TAG, "layer built before bytecode: run `make layer`"
    assert bytecode["pyc_files"] == bytecode["py_files"] - len(bytecode["not_compiled"])


# --- the function asset -------------------------------------------------------------------------------------------
def shipped_pyc(out: Path) -> tuple[list[Path], list[Path]]:
    sources = sorted((out / "functions").rglob("*.py"))
    return sources, sorted(out.rglob("*.pyc"))


def test_asset_gains_a_312_pyc_for_every_py_and_a_different_hash(tmp_path, fake_repo):  # noqa: F811
    files = function_asset_files(fake_repo, "iris")
    interpreter = fake_interpreter(tmp_path)
    out = tmp_path / "asset"
    report = write_function_asset(out, files, interpreter)
    sources, compiled = shipped_pyc(out)
    assert len(sources) == 3
    assert compiled == sorted(pyc_path(source, TAG) for source in sources)
    assert report is not None and report.pyc_files == 3
    (call,) = compileall_calls(interpreter)
    assert "-p /var/task" in call and "--invalidation-mode unchecked-hash" in call
    # Sources only: no .pyc, the sources-only hash; with bytecode another hash, the same for any 3.12 build.
    assert write_function_asset(tmp_path / "plain", files, None) is None
    assert shipped_pyc(tmp_path / "plain")[1] == []
    without, with_pyc = asset_hash(files), asset_hash(files, interpreter)
    assert without != with_pyc
    other_build = Interpreter(path=Path("/elsewhere/python3.12"), version="3.12.7", cache_tag=TAG, magic=interpreter.magic)
    assert asset_hash(files, other_build) == with_pyc
    assert asset_hash(files, Interpreter(Path("/x"), "3.13.0", "cpython-313", "f30d0d0a")) != with_pyc


def test_our_functions_package_compiles_on_the_runtime_version(tmp_path, real_python312):
    files = function_asset_files(REPO_ROOT, "iris")
    write_function_asset(tmp_path, files, real_python312)
    sources, compiled = shipped_pyc(tmp_path)
    assert sources and compiled == sorted(pyc_path(source, TAG) for source in sources)


def test_a_module_that_does_not_compile_fails_the_bundling(tmp_path, fake_repo):  # noqa: F811
    (fake_repo / "functions" / "inference" / "handler.py").write_text(f"# {PY2_MARKER}\n")
    with pytest.raises(BytecodeError, match=r"functions/ do not compile on Python 3\.12\.99: inference/handler\.py"):
        write_function_asset(tmp_path / "out", function_asset_files(fake_repo, "iris"), fake_interpreter(tmp_path))


def test_synth_without_interpreter_warns_once_and_ships_sources(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bundling, "find_python", lambda version: None)
    bundling.asset_bytecode_python.cache_clear()
    try:
        first = bundling.function_code(REPO_ROOT, "iris")
        second = bundling.function_code(REPO_ROOT, "iris")
    finally:
        bundling.asset_bytecode_python.cache_clear()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("warning: no CPython 3.12 found") and "every cold start will compile" in line
    assert first.path == second.path
    files = function_asset_files(REPO_ROOT, "iris")
    bundler = bundling.CopyFilesBundler(files, None)
    assert bundler.try_bundle(str(tmp_path / "out"))
    sources, compiled = shipped_pyc(tmp_path / "out")
    assert sources and not compiled


def test_synth_bundler_compiles_when_an_interpreter_is_found(tmp_path, monkeypatch):
    interpreter = fake_interpreter(tmp_path)
    monkeypatch.setattr(bundling, "find_python", lambda version: interpreter)
    bundling.asset_bytecode_python.cache_clear()
    try:
        assert bundling.asset_bytecode_python() is interpreter
    finally:
        bundling.asset_bytecode_python.cache_clear()
    files = function_asset_files(REPO_ROOT, "iris")
    assert bundling.CopyFilesBundler(files, interpreter).try_bundle(str(tmp_path / "out"))
    sources, compiled = shipped_pyc(tmp_path / "out")
    assert compiled == sorted(pyc_path(source, TAG) for source in sources)
    shutil.rmtree(tmp_path / "out")
