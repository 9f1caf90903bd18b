"""Serve the inference Lambda handler on loopback, no AWS and no Docker.

HTTP is spoken by waitress, a maintained pure-Python WSGI server (chunked bodies,
`Expect: 100-continue`, malformed and truncated requests refused before the handler
is called). A thin WSGI adapter turns each complete request into an API Gateway REST
proxy event for the very same `lambda_handler` the cloud runs. Calls are serialised,
as one Lambda instance serves one request at a time (Powertools' resolver keeps the
current event on the app). Prediction lines go to stdout and to a JSON-lines file that
the local monitor reads.

    python -m local.server --port 8000 --model iris --log-file .local/predictions.jsonl
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from functions.contract import names
from functions.contract.model_artifact import ModelArtifactError
from local import MODEL_FOLDER_HINT
from local.api_gateway import FakeContext, api_event

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOG_FILE = REPO_ROOT / ".local" / "predictions.jsonl"
# API Gateway stops bodies over 10 MiB before Lambda; locally the handler sees up to 64 MiB and refuses
# them itself (413 with a job_id and a rejected line); waitress refuses anything larger on its own.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
WAITRESS_THREADS = 4  # connections are read and written in parallel; the handler runs one call at a time


@dataclass(frozen=True)
class ServerLimits:
    """The limits that decide which requests waitress refuses before the handler sees them (docs/api.md).

    Such refusals (a bad chunk size, two Content-Length headers, headers over `max_header_bytes`, a body
    over `max_body_bytes`) are waitress's own plain-text replies and leave no log record: waitress offers
    no public hook to shape them.
    """

    connection_limit: int = 512  # open connections; more wait in the listen backlog
    channel_timeout_s: int = 10  # an idle or slow connection is closed after this long
    cleanup_interval_s: int = 2  # how often idle connections are looked for
    max_header_bytes: int = 256 * 1024  # request line + headers; over it: 431
    max_body_bytes: int = MAX_REQUEST_BYTES  # over it: 413 from waitress (the handler refuses over 10 MiB itself)
    threads: int = WAITRESS_THREADS
    backlog: int = 1024


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
StartResponse = Callable[..., Any]


def load_handler(*, model: str, model_dir: str | None, log_file: Path) -> Handler:
    """Import the Lambda module the way Lambda does: configuration from the environment, read at import."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    os.environ[names.ENV_MODEL_DIR] = model_dir or str(REPO_ROOT / "models" / model)
    os.environ[names.ENV_PREDICTION_LOG_FILE] = str(log_file)
    os.environ.setdefault(names.ENV_SERVICE_NAME, names.INFERENCE_SERVICE)
    os.environ.setdefault(names.ENV_METRICS_NAMESPACE, names.METRICS_NAMESPACE)
    from functions.inference.handler import lambda_handler

    return lambda_handler


def wsgi_adapter(handler: Handler) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI application that answers each request with one serialised handler call."""
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith("/") or not environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1."):
            # A request line API Gateway would never forward: refused here, as a malformed request, handler not called.
            payload = b'{"error":"bad_request","message":"malformed request line; expected METHOD /path HTTP/1.1"}'
            start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        raw = environ["wsgi.input"].read()  # waitress has read the whole body (de-chunked) before calling us
        if raw:
            headers["Content-Length"] = str(len(raw))
        try:
            body: str | None = raw.decode("utf-8") if raw else None
            base64_encoded = False
        except UnicodeDecodeError:  # as API Gateway does for binary bodies: the handler gets the exact bytes
            body, base64_encoded = base64.b64encode(raw).decode(), True
        # PATH_INFO is the percent-decoded path as latin-1 text (PEP 3333); API Gateway hands Lambda UTF-8.
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace") or "/"
        event = api_event(environ["REQUEST_METHOD"], path, body, headers=headers, content_type=None)
        event["isBase64Encoded"] = base64_encoded
        query = environ.get("QUERY_STRING")
        if query:
            from urllib.parse import parse_qs

            parsed = parse_qs(query, keep_blank_values=True)
            event["queryStringParameters"] = {key: values[-1] for key, values in parsed.items()}
            event["multiValueQueryStringParameters"] = parsed
        with lock:
            reply = handler(event, FakeContext())
        payload = (
            base64.b64decode(reply.get("body") or "") if reply.get("isBase64Encoded") else (reply.get("body") or "").encode()
        )
        reply_headers = {**(reply.get("headers") or {})}
        for key, values in (reply.get("multiValueHeaders") or {}).items():
            reply_headers[key] = ", ".join(values)
        reply_headers = {k: v for k, v in reply_headers.items() if k.lower() not in ("content-length", "connection")}
        status = int(reply["statusCode"])
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{status} {reason}", [*reply_headers.items(), ("Content-Length", str(len(payload)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [payload]  # HEAD: the headers a GET would get, no body

    return application


def make_server(handler: Handler, host: str = "127.0.0.1", port: int = 8000, limits: ServerLimits | None = None) -> Any:
    """A waitress server bound now; `serve_forever()` / `shutdown()` / `server_port` as http.server has them."""
    import logging

    from waitress.server import create_server

    limits = limits or ServerLimits()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N" on every burst
    server = create_server(
        wsgi_adapter(handler),
        host=host,
        port=port,
        threads=limits.threads,
        max_request_body_size=limits.max_body_bytes,
        max_request_header_size=limits.max_header_bytes,
        connection_limit=limits.connection_limit,
        channel_timeout=limits.channel_timeout_s,
        cleanup_interval=limits.cleanup_interval_s,
        backlog=limits.backlog,
        ident="local-lambda",
        clear_untrusted_proxy_headers=True,
    )
    return _ServerHandle(server)


class _ServerHandle:
    """The small interface the tests and `main` use, over waitress's server object."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.server_port = int(server.effective_port)

    def serve_forever(self) -> None:
        with contextlib.suppress(OSError):  # the socket map was closed by shutdown()
            self._server.run()

    def shutdown(self) -> None:
        self._server.task_dispatcher.shutdown()  # finish the calls in flight first, then stop accepting
        self._server.close()

    def server_close(self) -> None:
        self._server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--model", default=os.environ.get("MODEL", names.DEFAULT_MODEL), help="folder name under models/")
    parser.add_argument("--model-dir", default=None, help="explicit model folder (overrides --model)")
    parser.add_argument("--log-file", type=Path, default=Path(os.environ.get("LOG_FILE") or DEFAULT_LOG_FILE))
    defaults = ServerLimits()
    parser.add_argument("--connection-limit", type=int, default=defaults.connection_limit, help="open connections at most")
    parser.add_argument(
        "--channel-timeout", type=int, default=defaults.channel_timeout_s, help="seconds before an idle connection is closed"
    )
    parser.add_argument(
        "--max-header-bytes", type=int, default=defaults.max_header_bytes, help="request line + headers; over it: 431"
    )
    args = parser.parse_args()
    limits = ServerLimits(
        connection_limit=args.connection_limit, channel_timeout_s=args.channel_timeout, max_header_bytes=args.max_header_bytes
    )
    model_dir = args.model_dir or str(REPO_ROOT / "models" / args.model)
    handler = load_handler(model=args.model, model_dir=model_dir, log_file=args.log_file)
    try:
        server = make_server(handler, args.host, args.port, limits)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise SystemExit(
            f"serve: port {args.port} on {args.host} is in use (another `make serve`?); stop it or pick another: PORT=8001"
        ) from None
    print(
        json.dumps({"message": "serving", "url": f"http://{args.host}:{server.server_port}", "log_file": str(args.log_file)}),
        file=sys.stderr,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    try:
        main()
    except ModelArtifactError as error:  # a model folder that cannot be served: one line, no traceback
        print(f"local.server: {error} {MODEL_FOLDER_HINT}", file=sys.stderr)
        raise SystemExit(2) from None
