"""The README's local path, as a reader runs it: `make serve`, every local curl of the README and the API page against
it, `make monitor` on that log."""

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

from tests.unit.docs.test_docs import API_DOC, README, curl_commands

REPO = Path(__file__).resolve().parents[2]
LOCAL = "localhost:8000"
PLACEHOLDER = re.compile(r"[0-9a-f]*…\([^)]*\)")

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    command = ["make", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """`make serve` on a free loopback port, with its log in a temp folder."""
    log_file = tmp_path_factory.mktemp("serve") / "predictions.jsonl"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    stamps = ["-o", ".venv/.installed-local", "-o", ".venv/.installed-dev"]
    command = ["make", "--no-print-directory", *stamps, f"BIN={Path(sys.executable).parent}", "serve", f"PORT={port}"]
    server = subprocess.Popen(
        [*command, f"LOG_FILE={log_file}"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "make serve did not start"
            time.sleep(0.1)
        yield port, log_file
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started: the group this test created
        server.wait(timeout=10)


def local_curls() -> list[list[str]]:
    return [words for path in (README, API_DOC) for words in curl_commands(path) if any(LOCAL in w for w in words)]


def test_the_readme_has_local_curls() -> None:
    assert len(local_curls()) >= 2


def test_every_local_readme_curl_gets_an_answer_and_make_monitor_judges_the_log(served: tuple[int, Path]) -> None:
    port, log_file = served
    answered, job_id = 0, None
    for words in local_curls():
        command = [w.replace(LOCAL, f"127.0.0.1:{port}") for w in words]
        if job_id:  # a documented placeholder such as "4c1e…(the 32 hex of a prediction)": the last real job id
            command = [PLACEHOLDER.sub(job_id, w) for w in command]
        done = subprocess.run([*command, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, (words, done.stderr)
        body, status = done.stdout.rsplit("\n", 1)
        assert status.startswith("2"), (words, status, body)
        reply = json.loads(body)
        if any("/predict" in w for w in words):
            assert "predictions" in reply
            answered += 1
            job_id = reply["job_id"]
    records = [json.loads(line) for line in log_file.read_text().split("\n") if line]
    assert sum(r["message"] == "prediction" for r in records) >= answered
    assert not [r for r in records if r["message"] == "rejected"]

    judged = _make("monitor", f"LOG_FILE={log_file}", "WINDOW_END=last", f"LOCAL_DIR={log_file.parent}")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert f"rows {sum(r['message'] == 'prediction' for r in records)}" in judged.stdout
