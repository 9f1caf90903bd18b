"""Serve the inference Lambda handler on loopback, no AWS and no Docker.

Each HTTP request becomes an API Gateway REST proxy event for the very same
`lambda_handler` the cloud runs. Calls are serialised, as one Lambda instance
serves one request at a time (and Powertools' resolver keeps the current event
on the app). Prediction lines go to stdout and to a JSON-lines file that the
local monitor reads.

    python -m local.server --port 8000 --model iris --log-file .local/predictions.jsonl
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from functions.contract import names
from local.api_gateway import FakeContext, api_event

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOG_FILE = REPO_ROOT / ".local" / "predictions.jsonl"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit: larger requests never reach Lambda

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(*, model: str, model_dir: str | None, log_file: Path) -> Handler:
    """Import the Lambda module the way Lambda does: configuration from the environment, read at import."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    os.environ[names.ENV_MODEL_DIR] = model_dir or str(REPO_ROOT / "models" / model)
    os.environ[names.ENV_PREDICTION_LOG_FILE] = str(log_file)
    os.environ.setdefault(names.ENV_SERVICE_NAME, names.INFERENCE_SERVICE)
    os.environ.setdefault(names.ENV_METRICS_NAMESPACE, names.METRICS_NAMESPACE)
    from functions.inference.handler import lambda_handler

    return lambda_handler


def make_server(handler: Handler, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class ProxyHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-lambda"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._reply(413, {"Content-Type": "application/json"}, b'{"error":"body_too_large","message":"over 10 MB"}')
                self.close_connection = True
                return
            raw = self.rfile.read(length) if length else None
            path = self.path.split("?", 1)[0]
            event = api_event(self.command, path, raw, headers=dict(self.headers.items()), content_type=None)
            with lock:
                reply = handler(event, FakeContext())
            body = reply.get("body") or ""
            payload = base64.b64decode(body) if reply.get("isBase64Encoded") else body.encode()
            headers = {**reply.get("headers", {}), **{k: v[-1] for k, v in (reply.get("multiValueHeaders") or {}).items()}}
            self._reply(int(reply["statusCode"]), headers, payload)

        def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Access lines go to stderr so stdout carries only the log contract and EMF."""
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # socketserver's default backlog of 5 resets bursts of new connections

    return Server((host, port), ProxyHandler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--model", default=os.environ.get("MODEL", names.DEFAULT_MODEL), help="folder name under models/")
    parser.add_argument("--model-dir", default=None, help="explicit model folder (overrides --model)")
    parser.add_argument("--log-file", type=Path, default=Path(os.environ.get("LOG_FILE") or DEFAULT_LOG_FILE))
    args = parser.parse_args()
    handler = load_handler(model=args.model, model_dir=args.model_dir, log_file=args.log_file)
    server = make_server(handler, args.host, args.port)
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
    main()
