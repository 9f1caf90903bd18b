"""Bytecode for Lambda: find a CPython of the runtime's minor version and compile a tree with it.

Lambda's code and layer directories are read-only, so Python cannot write `__pycache__`
there: every module shipped without a `.pyc` is compiled from source on every cold start.
The layer build (`layers/build_layer.py`) and the function asset bundler
(`infra/bundling.py`) therefore ship `__pycache__/<module>.cpython-312.pyc` files,
compiled here by an interpreter of exactly the target minor version (a `.pyc` only loads
in the version that wrote it: its magic number and cache tag say which).

`--invalidation-mode unchecked-hash`: the import system loads the `.pyc` without looking
at the source's mtime or hash. Zips do not keep mtimes reliably, and the files never change
after the build. Optimisation level 0: asserts and docstrings are kept.

Free of CDK imports: the layer script and the bench use it without starting jsii.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

INVALIDATION_MODE = "unchecked-hash"
OPTIMIZE = 0
# Explicit interpreter for the bytecode (layer build and synth); `--bytecode-python` wins over it.
ENV_BYTECODE_PYTHON = "BYTECODE_PYTHON"
PROBE_TIMEOUT_SECONDS = 20
_PROBE = (
    "import importlib.util, json, sys; print(json.dumps({'implementation': sys.implementation.name, "
    "'version': '.'.join(map(str, sys.version_info[:3])), 'cache_tag': sys.implementation.cache_tag, "
    "'magic': importlib.util.MAGIC_NUMBER.hex()}))"
)


class BytecodeError(ValueError):
    """No usable interpreter where one was named, or the compiler could not run."""


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # e.g. "3.12.1"
    cache_tag: str  # e.g. "cpython-312"
    magic: str  # importlib.util.MAGIC_NUMBER in hex: equal for every patch release of one minor version

    def settings(self) -> dict[str, object]:
        """What decides the bytes of the `.pyc` files (the patch release does not): for digests and hashes."""
        return {"cache_tag": self.cache_tag, "magic": self.magic, "invalidation_mode": INVALIDATION_MODE, "optimize": OPTIMIZE}


@dataclass
class CompileReport:
    py_files: int
    pyc_files: int
    added_bytes: int
    failed: list[str] = field(default_factory=list)  # sources (relative to the compiled root) left without a .pyc
    output: str = ""  # compileall's error messages


def cache_tag_for(version: str) -> str:
    """'3.12' -> 'cpython-312'."""
    major, minor = version.split(".")[:2]
    return f"cpython-{major}{minor}"


def bytecode_settings(version: str) -> dict[str, object]:
    """The bytecode options for a target version, known without an interpreter (for the layer's inputs digest)."""
    return {"cache_tag": cache_tag_for(version), "invalidation_mode": INVALIDATION_MODE, "optimize": OPTIMIZE}


def probe(path: Path | str, version: str) -> Interpreter | str:
    """The interpreter at `path` if it is CPython `version` (major.minor); otherwise why not."""
    try:
        result = subprocess.run(
            [str(path), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path}: does not run ({error.__class__.__name__})"
    if result.returncode != 0:
        return f"{path}: exits {result.returncode}"
    try:
        facts = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"{path}: unexpected output"
    found = ".".join(facts["version"].split(".")[:2])
    if facts["implementation"] != "cpython" or found != ".".join(version.split(".")[:2]):
        return f"{path}: {facts['implementation']} {facts['version']}, not CPython {version}"
    if facts["cache_tag"] != cache_tag_for(version):
        return f"{path}: cache tag {facts['cache_tag']}, not {cache_tag_for(version)}"
    return Interpreter(path=Path(path), version=facts["version"], cache_tag=facts["cache_tag"], magic=facts["magic"])


def _run_for_path(command: list[str], env: Mapping[str, str]) -> list[str]:
    """Paths a helper (pyenv, uv) prints, one per line or ':'-separated; none when it fails."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False, env=dict(env)
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    return [part for line in result.stdout.splitlines() for part in line.strip().split(os.pathsep) if part]


def _tool(name: str, search_path: str, fallback: Path) -> str | None:
    """A helper program on PATH, else at its usual place."""
    return shutil.which(name, path=search_path) or (str(fallback) if fallback.is_file() else None)


def _version_key(directory: Path) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in directory.name.split("."))


def candidates(version: str, env: Mapping[str, str] | None = None) -> list[Path]:
    """Where a CPython `version` may live, most specific first: PATH, pyenv, uv."""
    env = os.environ if env is None else env
    minor = ".".join(version.split(".")[:2])
    executable = f"python{minor}"
    search_path = env.get("PATH", os.defpath)
    found: list[Path] = []
    on_path = shutil.which(executable, path=search_path)
    if on_path:
        found.append(Path(on_path))  # may be a pyenv shim that refuses to run: the probe sorts that out
    # pyenv: `pyenv prefix 3.12` (honours PYENV_VERSION and pyenv's own resolution), then its versions folder.
    pyenv_root = Path(env.get("PYENV_ROOT") or Path.home() / ".pyenv")
    pyenv = _tool("pyenv", search_path, pyenv_root / "bin" / "pyenv")
    if pyenv:
        pyenv_env = dict(env)
        if env.get("PYENV_VERSION", "").startswith(minor):
            found += [Path(p) / "bin" / executable for p in _run_for_path([pyenv, "prefix"], pyenv_env)]
        found += [Path(p) / "bin" / executable for p in _run_for_path([pyenv, "prefix", minor], pyenv_env)]
    installs = [d for d in (pyenv_root / "versions").glob(f"{minor}*") if d.name == minor or d.name.startswith(minor + ".")]
    found += [d / "bin" / executable for d in sorted(installs, key=_version_key, reverse=True)]
    # uv: on PATH or next to this interpreter (the project's virtualenv has it); `find` never downloads.
    uv = _tool("uv", search_path, Path(sys.executable).with_name("uv"))
    if uv:
        found += [Path(p) for p in _run_for_path([uv, "python", "find", minor], {**env, "UV_PYTHON_DOWNLOADS": "never"})]
    unique: list[Path] = []
    for path in found:
        if path not in unique and path.is_file():
            unique.append(path)
    return unique


def find_python(version: str, override: Path | str | None = None, env: Mapping[str, str] | None = None) -> Interpreter | None:
    """A CPython of `version`'s minor version, or None when this machine has none.

    `override` (else $BYTECODE_PYTHON) names the interpreter: it must be that version, or BytecodeError.
    """
    env = os.environ if env is None else env
    named = override or env.get(ENV_BYTECODE_PYTHON) or None
    if named is not None:
        found = probe(named, version)
        if isinstance(found, str):
            raise BytecodeError(f"bytecode interpreter refused: {found}")
        return found
    for path in candidates(version, env):
        found = probe(path, version)
        if isinstance(found, Interpreter):
            return found
    return None


def missing_interpreter_message(version: str) -> str:
    return (
        f"no CPython {version} found to compile the bytecode (looked on PATH for python{version}, in pyenv and uv): "
        f"install one (`pyenv install {version}` or `uv python install {version}`) or name it with "
        f"--bytecode-python PATH / ${ENV_BYTECODE_PYTHON}"
    )


def pyc_path(source: Path, cache_tag: str) -> Path:
    """Where the import system looks for a source's bytecode (PEP 3147, optimisation level 0)."""
    return source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"


def compileall_command(interpreter: Interpreter, root: Path, *, strip: Path, prepend: str, workers: int = 0) -> list[str]:
    """`python3.12 -I -m compileall` for `root`; paths in the bytecode read `prepend` + path below `strip`."""
    return [
        str(interpreter.path),
        "-I",  # ignore PYTHON* variables: PYTHONPYCACHEPREFIX would move the .pyc files out of the tree
        "-m",
        "compileall",
        "-q",
        "-f",
        "-j",
        str(workers),
        "-o",
        str(OPTIMIZE),
        "--invalidation-mode",
        INVALIDATION_MODE,
        "-s",
        str(strip),
        "-p",
        prepend,
        str(root),
    ]


def compile_tree(interpreter: Interpreter, root: Path, *, strip: Path, prepend: str, workers: int = 0) -> CompileReport:
    """Compile every `.py` under `root`; report sources left without a `.pyc` (they do not compile on this version)."""
    root, strip = root.resolve(), strip.resolve()
    before = {p: p.stat().st_size for p in root.rglob(f"*.{interpreter.cache_tag}.pyc")}
    command = compileall_command(interpreter, root, strip=strip, prepend=prepend, workers=workers)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1: some file failed, judged below file by file
        raise BytecodeError(f"compileall failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-500:]}")
    sources = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    failed = [s.relative_to(root).as_posix() for s in sources if not pyc_path(s, interpreter.cache_tag).is_file()]
    compiled = list(root.rglob(f"__pycache__/*.{interpreter.cache_tag}.pyc"))
    added = sum(p.stat().st_size for p in compiled) - sum(before.values())
    return CompileReport(
        py_files=len(sources), pyc_files=len(compiled), added_bytes=added, failed=failed, output=result.stdout.strip()
    )
