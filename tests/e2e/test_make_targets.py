"""The make targets as a newcomer runs them: every model target honours MODEL_DIR (or refuses it in one line), and the
mistakes a first session makes end in one line that says what to do, never in a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.quality.logs import baseline_of, scenario

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
# Targets that package or benchmark models/<name> (the CDK app, bench scripts, acceptance, training of shipped models).
ONLY_UNDER_MODELS = ["train", "bench", "bench-quality", "bench-lambda", "synth", "deploy", "acceptance"]


def make(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`make` with the test's interpreter and the install stamps taken as up to date (the suite's venv is complete)."""
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    command = ["make", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def own_lines(stderr: str) -> list[str]:
    """stderr without make's own `make: *** [...] Error N` line (`make[1]: ***` when run under a make, as in `make test`)."""
    return [line for line in stderr.splitlines() if line.strip() and not re.match(r"make(\[\d+\])?: \*\*\*", line)]


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode != 0, done.stdout[-2000:]
    lines = own_lines(done.stderr)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def outside_wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """models/wine copied outside models/, and a wine log with predictions and feedback (the default model is iris)."""
    root = tmp_path_factory.mktemp("outside")
    folder = root / "my-wine"
    shutil.copytree(REPO / "models" / "wine", folder)
    log_file = scenario(baseline_of("wine"), rows=300).write(root / "predictions.jsonl")
    yield folder, log_file


# ---- MODEL_DIR: the local targets use the folder given --------------------------------------------------------------


def test_make_quality_judges_the_model_dir_it_is_given(outside_wine: tuple[Path, Path], tmp_path: Path) -> None:
    folder, log_file = outside_wine
    done = make("quality", f"MODEL_DIR={folder}", f"LOG_FILE={log_file}", f"STATE_FILE={tmp_path / 's.json'}",
                f"ALERT_FILE={tmp_path / 'a.jsonl'}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Realized quality of model wine" in done.stdout, done.stdout[-3000:]
    assert "NO_TRAFFIC" not in done.stdout.splitlines()[1]


def test_make_training_set_exports_the_model_dir_rows(outside_wine: tuple[Path, Path], tmp_path: Path) -> None:
    folder, log_file = outside_wine
    out = tmp_path / "training-set.csv"
    done = make("training-set", f"MODEL_DIR={folder}", f"LOG_FILE={log_file}", f"TRAINING_SET={out}")
    assert done.returncode == 0, done.stderr[-3000:]
    written = int(re.search(r"(\d+) labelled rows written", done.stdout).group(1))  # type: ignore[union-attr]
    assert written > 100
    assert out.read_text().splitlines()[0].split(",")[:2] == ["alcohol", "malic_acid"]
    assert "--out .local/wine-retrained" in done.stdout  # the hint never names a shipped model folder to overwrite


def test_make_monitor_judges_the_model_dir_it_is_given(outside_wine: tuple[Path, Path], tmp_path: Path) -> None:
    folder, log_file = outside_wine
    done = make("monitor", f"MODEL_DIR={folder}", f"LOG_FILE={log_file}", "WINDOW_END=last", "WINDOW_MINUTES=60",
                f"STATE_FILE={tmp_path / 's.json'}", f"ALERT_FILE={tmp_path / 'a.jsonl'}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^model wine \(version [0-9a-f]+\), window ", done.stdout, flags=re.MULTILINE), done.stdout[:1000]


def test_make_serve_serves_the_model_dir_it_is_given(outside_wine: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _ = outside_wine
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    command = ["make", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}", "serve", f"PORT={port}",
               f"MODEL_DIR={folder}", f"LOG_FILE={tmp_path / 'p.jsonl'}"]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    health = json.loads(reply.read())
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "make serve did not start"
                time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started: the group this test created
        server.wait(timeout=10)
    assert health["model"] == "wine"  # the default model is iris


@pytest.mark.parametrize("target", ONLY_UNDER_MODELS)
def test_targets_that_package_models_refuse_an_outside_folder_before_building_anything(
    target: str, outside_wine: tuple[Path, Path]
) -> None:
    folder, _ = outside_wine
    done = make(target, f"MODEL_DIR={folder}", timeout=30)
    assert_one_line(done, f"make {target}: MODEL_DIR={folder} is outside models/", "MODEL=<name>")
    assert done.returncode == 2
    assert done.stdout == ""  # nothing ran before the refusal (no layer build, no preflight)


SAME_AS_MODEL = [("synth", '"model": "wine"'), ("bench", "--model wine"), ("train", "--dataset wine --force"),
                 ("bench-lambda", "--model wine")]  # fmt: skip


@pytest.mark.parametrize(("target", "expected"), SAME_AS_MODEL)
def test_model_dir_under_models_is_the_same_as_model(target: str, expected: str) -> None:
    done = make("-n", target, "MODEL_DIR=models/wine", timeout=30)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_make_help_lists_every_described_target_in_its_group() -> None:
    done = make("help", timeout=30)
    assert done.returncode == 0, done.stderr
    groups = re.findall(r"^(\S[^:\n]*):$", done.stdout, flags=re.MULTILINE)
    assert groups[:1] == ["Install (the targets below run these themselves)"] and len(groups) == len(set(groups)) >= 4
    described = re.findall(r"^([a-z][a-z0-9-]*):[^=\n]*## ", (REPO / "Makefile").read_text(), flags=re.MULTILINE)
    listed = re.findall(r"^  make (\S+)", done.stdout, flags=re.MULTILINE)
    assert sorted(listed) == sorted(set(described) - {"help"}) and len(listed) >= 20  # help itself comes before the groups


# ---- one line, not a traceback --------------------------------------------------------------------------------------


def test_make_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = make("serve", f"PORT={port}", f"LOG_FILE={tmp_path / 'p.jsonl'}", timeout=60)
    assert_one_line(done, f"port {port}", "in use", "PORT=")


@pytest.mark.parametrize("target", ["serve", "demo"])
def test_make_serve_and_demo_on_a_bad_model_folder_say_what_is_wrong(target: str, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(REPO / "models" / "iris", folder)
    (folder / "classifier.onnx").unlink()
    done = make(target, f"MODEL_DIR={folder}", f"LOG_FILE={tmp_path / 'p.jsonl'}", f"DEMO_DIR={tmp_path / 'demo'}", timeout=60)
    module = {"serve": "local.server", "demo": "local.demo"}[target]
    assert_one_line(done, f"{module}: model folder {folder}", "classifier.onnx", "MODEL_DIR=")


def test_the_second_look_at_a_window_shows_its_verdict_and_says_what_stale_means(
    outside_wine: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, log_file = outside_wine
    args = ["monitor", f"MODEL_DIR={folder}", f"LOG_FILE={log_file}", "WINDOW_END=last", "WINDOW_MINUTES=60",
            f"STATE_FILE={tmp_path / 's.json'}", f"ALERT_FILE={tmp_path / 'a.jsonl'}"]  # fmt: skip
    first, second = make(*args), make(*args)
    assert first.returncode == second.returncode == 0, second.stderr
    verdict = next(line for line in first.stdout.splitlines() if line.startswith("window verdict"))
    assert "stale" not in first.stdout
    again = next(line for line in second.stdout.splitlines() if line.startswith("window verdict"))
    assert again.startswith(verdict.split(";")[0] + ";") and again.endswith("(unchanged: stale window, below)")
    stale = next(line for line in second.stdout.splitlines() if line.startswith("stale window"))
    assert "not after the last window this alert state judged" in stale and "STATE_FILE=" in stale
    fresh = make(*args[:-2], f"STATE_FILE={tmp_path / 'replay.json'}", f"ALERT_FILE={tmp_path / 'a.jsonl'}")
    assert "stale" not in fresh.stdout  # the way out the message names works


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("a,b,species\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "models.train", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_training_on_an_empty_cell_names_its_line_and_column(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["1,2,x", "", "3,,y", "5,6,x"])  # a blank line does not shift the count
    done = train("--csv", str(data), "--target", "species", "--out", str(tmp_path / "out"))
    assert_one_line(done, f"{data}: line 4, column 'b': an empty cell")
    assert not (tmp_path / "out").exists()


def test_training_refuses_to_overwrite_a_model_folder_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "baseline.json").write_text("{}")
    data = write_csv(tmp_path / "d.csv", [f"{i},{i % 7},{'xy'[i % 2]}" for i in range(40)])
    done = train("--csv", str(data), "--target", "species", "--out", str(out))
    assert_one_line(done, f"{out} already holds files", "--force")
    assert (out / "baseline.json").read_text() == "{}"


def test_the_deployed_stack_tests_skip_with_a_reason_when_the_outputs_file_is_missing(tmp_path: Path) -> None:
    missing = tmp_path / "cdk-outputs.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/e2e/test_deployed_stack.py"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "STACK_OUTPUTS_FILE": str(missing)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "FileNotFoundError" not in done.stdout and "failed" not in done.stdout and "error" not in done.stdout
    assert f"STACK_OUTPUTS_FILE={missing}: no such file" in done.stdout


def test_make_train_names_the_way_to_retrain_a_model_it_does_not_ship() -> None:
    done = make("train", "MODEL=flowers", timeout=30)
    assert_one_line(done, "make train retrains the shipped models (iris, wine, diabetes)", "--out models/flowers --force")
    assert done.stdout == ""
