"""The local server on loopback: same handler, real HTTP, a bounded load test and a fuzz run."""

from __future__ import annotations

import http.client
import io
import json
import random
import socket
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
        return [json.loads(line) for line in self.log_file.read_text().split("\n") if line]

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
    """32 keep-alive clients for at most 10 s, 1 % of requests with an extreme (finite, unscorable) value:
    records = accepted rows + rejected requests, exactly."""
    accepted_rows: dict[str, int] = {}
    rejected_ids: list[str] = []
    unscorable: list[str] = []
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
                draw = rng.random()
                if draw < 0.01:
                    rows[rng.randrange(len(rows))][1] = 8.9e37  # passes the float32 check; the model returns NaN
                elif draw < 0.1:
                    rows[0] = rows[0][:3]  # a bad request now and then
                connection.request("POST", "/predict", body=json.dumps({"data": rows}), headers=JSON)
                response = connection.getresponse()
                body = json.loads(response.read())
                with lock:
                    if response.status == 200:
                        accepted_rows[body["job_id"]] = len(body["predictions"])
                    elif response.status == 422:
                        rejected_ids.append(body["job_id"])
                        if body["error"] == "unscorable_row":
                            unscorable.append(body["job_id"])
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
    assert unscorable, "no extreme request was sent: the 1 % mix did not run"
    records = server.records()
    assert len(records) == sum(accepted_rows.values()) + len(rejected_ids)
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


# --- raw sockets: what http.client would never send -----------------------------------------------

BODY = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'


def raw_exchange(server: Server, data: bytes, *, close_write: bool = False, wait: float = 2.0) -> bytes:
    """Send bytes as they are, read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(data)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        connection.settimeout(wait)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def json_body(response: bytes) -> dict[str, Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), head
    return json.loads(body)


def post_head(extra: str) -> bytes:
    return f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def test_chunked_body_is_predicted(server: Server) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    response = raw_exchange(server, post_head("Transfer-Encoding: chunked\r\nConnection: close\r\n") + chunked)
    assert status_of(response) == 200, response
    assert json_body(response)["predictions"][0]["label"] == "setosa"
    assert [r["message"] for r in server.records()] == ["prediction"]


def test_expect_100_continue_gets_continue_then_the_answer(server: Server) -> None:
    head = post_head(f"Expect: 100-continue\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n")
    response = raw_exchange(server, head + BODY)
    assert response.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), response[:80]


@pytest.mark.parametrize("length", ["abc", "-1", "1 2"])
def test_malformed_content_length_is_refused_without_calling_the_handler(server: Server, length: str) -> None:
    response = raw_exchange(server, post_head(f"Content-Length: {length}\r\n") + BODY)
    assert status_of(response) == 400, response
    assert server.log_file.read_text() == ""


def test_unknown_request_line_gets_a_400_not_silence(server: Server) -> None:
    response = raw_exchange(server, b"HELLO WORLD\r\n\r\n")
    assert status_of(response) == 400
    assert server.log_file.read_text() == ""


def test_truncated_body_is_never_predicted(server: Server) -> None:
    """Content-Length 100, 32 bytes sent, client gone: no handler call, no record."""
    raw_exchange(server, post_head("Content-Length: 100\r\n") + BODY, close_write=True, wait=1.0)
    assert server.request("GET", "/health")[0] == 200  # the server is still serving
    assert server.log_file.read_text() == ""


def test_body_over_10_mib_gets_a_json_413_with_job_id_and_a_rejected_line(server: Server) -> None:
    big = b" " * (10 * 1024 * 1024 + 1)
    response = raw_exchange(server, post_head(f"Content-Length: {len(big)}\r\nConnection: close\r\n") + big, wait=5)
    assert status_of(response) == 413
    reply = json_body(response)
    (record,) = server.records()
    assert (record["message"], record["status"], record["request_id"]) == ("rejected", 413, reply["job_id"])


@pytest.mark.parametrize(
    ("method", "path", "allow"), [("HEAD", "/health", "GET"), ("OPTIONS", "/predict", "POST"), ("TRACE", "/predict", "POST")]
)
def test_head_options_and_trace_are_answered_with_json_405(server: Server, method: str, path: str, allow: str) -> None:
    response = raw_exchange(server, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head, _, body = response.partition(b"\r\n\r\n")
    assert status_of(response) == 405
    assert b"content-type: application/json" in head.lower()
    assert f"allow: {allow}".encode() in head.lower().replace(allow.lower().encode(), allow.encode())
    if method == "HEAD":
        assert body == b""  # HEAD: headers only
    else:
        assert json.loads(body)["error"] == "method_not_allowed"
    (record,) = server.records()
    assert record["status"] == 405


def test_a_70_kb_url_gets_a_json_404_and_a_short_rejected_line(server: Server) -> None:
    path = "/" + "a" * 70_000
    response = raw_exchange(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert status_of(response) == 404
    assert json_body(response)["error"] == "not_found"
    (record,) = server.records()
    assert len(record["endpoint"]) <= 200


def test_calls_are_serialised_like_one_lambda_instance(tmp_path: Path) -> None:
    """Eight clients at once: the handler never runs two calls at the same time."""
    active, peak, guard = [0], [0], threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with guard:
            active[0] -= 1
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    httpd = make_server(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:

        def client() -> None:
            for _ in range(5):
                connection = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=10)
                connection.request("GET", "/health")
                connection.getresponse().read()
                connection.close()

        clients = [threading.Thread(target=client) for _ in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=30)
    finally:
        httpd.shutdown()
    assert peak[0] == 1


def test_slow_connections_are_closed_so_they_cannot_hold_the_server(tmp_path: Path) -> None:
    """As many idle half-sent requests as the connection limit: they are cut, and /health is answered."""
    from local.server import ServerLimits

    settings_ = InferenceSettings.from_env({"MODEL_DIR": str(MODELS / "iris"), "PREDICTION_LOG_FILE": str(tmp_path / "p.jsonl")})
    limits = ServerLimits(connection_limit=8, channel_timeout_s=1, cleanup_interval_s=1)
    httpd = make_server(create_handler(settings_, stdout=io.StringIO()), "127.0.0.1", 0, limits)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    slow = []
    try:
        for _ in range(limits.connection_limit):
            sock = socket.create_connection(("127.0.0.1", httpd.server_port), timeout=20)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            slow.append(sock)
        connection = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=20)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        connection.close()
        assert all(sock.recv(1024) == b"" for sock in slow)  # closed by the server, not answered
    finally:
        for sock in slow:
            sock.close()
        httpd.shutdown()
        httpd.server_close()


def test_headers_over_the_limit_are_refused_by_waitress_with_431(tmp_path: Path) -> None:
    from local.server import ServerLimits

    settings_ = InferenceSettings.from_env({"MODEL_DIR": str(MODELS / "iris"), "PREDICTION_LOG_FILE": str(tmp_path / "p.jsonl")})
    httpd = make_server(create_handler(settings_, stdout=io.StringIO()), "127.0.0.1", 0, ServerLimits(max_header_bytes=4096))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", httpd.server_port, timeout=20)
        connection.request("GET", "/health", headers={"X-Big": "b" * 8192})
        assert connection.getresponse().status == 431
        connection.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
