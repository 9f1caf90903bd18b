"""The local server on loopback: same handler, real HTTP, a bounded load test and a fuzz run."""

from __future__ import annotations

import http.client
import io
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.inference.handler import create_handler
from functions.inference.settings import InferenceSettings
from local.server import make_server

MODELS = Path(__file__).resolve().parents[3] / "models"
LOAD_SECONDS = 10.0  # bounded in time ...
LOAD_MAX_REQUESTS_PER_WORKER = 2_000  # ... and in count
LOAD_WORKERS = 32


class Server:
    def __init__(self, log_file: Path) -> None:
        settings_ = InferenceSettings.from_env({"MODEL_DIR": str(MODELS / "iris"), "PREDICTION_LOG_FILE": str(log_file)})
        self.log_file = log_file
        self.httpd = make_server(create_handler(settings_, stdout=io.StringIO()), "127.0.0.1", 0)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "predictions.jsonl")
    yield running
    running.stop()


JSON = {"Content-Type": "application/json"}


def test_endpoints_over_http(server: Server) -> None:
    assert server.request("GET", "/health")[0] == 200
    assert server.request("GET", "/metadata")[1]["labels"] == ["setosa", "versicolor", "virginica"]
    assert server.request("GET", "/label")[0] == 200
    assert server.request("GET", "/predict/test")[0] == 200
    assert server.request("GET", "/predict/test/label")[0] == 200
    assert server.request("GET", "/openapi.json")[1]["openapi"].startswith("3.")
    status, body = server.request("POST", "/predict?verbose=1", json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]}).encode(), JSON)
    assert status == 200
    assert body["predictions"][0]["label"] == "setosa"
    status, body = server.request("POST", "/predict/label", b'{"data": [[5.1, 3.5]]}', JSON)
    assert status == 422
    messages = [r["message"] for r in server.records()]
    assert messages == ["prediction", "prediction", "prediction", "rejected"]


def test_bounded_load_loses_nothing_and_duplicates_no_job_id(server: Server) -> None:
    """32 keep-alive clients for at most 10 s: every accepted row leaves exactly one record."""
    accepted_rows: dict[str, int] = {}
    rejected_ids: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            for _ in range(LOAD_MAX_REQUESTS_PER_WORKER):
                if time.monotonic() > deadline:
                    break
                rows = [
                    [
                        round(rng.uniform(4, 8), 1),
                        round(rng.uniform(2, 4.5), 1),
                        round(rng.uniform(1, 7), 1),
                        round(rng.uniform(0.1, 2.5), 1),
                    ]
                    for _ in range(rng.randint(1, 5))
                ]
                if rng.random() < 0.1:
                    rows[0] = rows[0][:3]  # a bad request now and then
                connection.request("POST", "/predict", body=json.dumps({"data": rows}), headers=JSON)
                response = connection.getresponse()
                body = json.loads(response.read())
                with lock:
                    if response.status == 200:
                        accepted_rows[body["job_id"]] = len(body["predictions"])
                    elif response.status == 422:
                        rejected_ids.append(body["job_id"])
                    else:
                        failures.append(f"{response.status} {body}")
        except Exception as error:  # any transport error is a failure of the test
            with lock:
                failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(LOAD_WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 30)

    assert failures == []
    assert len(accepted_rows) > 100
    records = server.records()
    predictions = [r for r in records if r["message"] == "prediction"]
    rejected = [r for r in records if r["message"] == "rejected"]
    per_request: dict[str, list[int]] = {}
    for record in predictions:
        per_request.setdefault(record["request_id"], []).append(record["row"])
    assert {job: len(rows) for job, rows in per_request.items()} == accepted_rows
    assert all(sorted(rows) == list(range(len(rows))) for rows in per_request.values())
    assert sorted(r["request_id"] for r in rejected) == sorted(rejected_ids)
    all_ids = list(accepted_rows) + rejected_ids
    assert len(set(all_ids)) == len(all_ids)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=20,
)
bodies = st.one_of(
    st.builds(lambda data: json.dumps({"data": data}), json_values),
    st.builds(
        lambda rows: json.dumps({"data": rows}),
        st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=6), max_size=4),
    ),
    st.builds(json.dumps, json_values),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8", ""]))
def test_fuzzed_bodies_never_get_a_5xx(server: Server, body: str, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, reply = server.request("POST", "/predict", body.encode("utf-8", errors="surrogatepass"), headers)
    assert status in (200, 400, 413, 415, 422), reply
    if status != 200:
        assert reply["error"] and reply["message"] and reply["job_id"]
