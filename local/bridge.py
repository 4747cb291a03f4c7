"""Serve a Lambda function behind an HTTP API locally, without Docker.

Each HTTP request becomes the API Gateway HTTP API (payload v2.0) event that
`sam local start-api` and AWS would send, and the function's answer goes back as
the HTTP response. The event shape is the one in events/approvals.json.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
TEXT_TYPES = ("application/x-www-form-urlencoded", "text/", "application/json")


@dataclass
class LambdaContext:
    """The attributes powertools reads from the Lambda context."""

    function_name: str = "ApprovalsFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 10.0
    aws_request_id: str = ""
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:000000000000:function:ApprovalsFunction"
    log_group_name: str = "/aws/lambda/ApprovalsFunction"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    method: str,
    raw_path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    route_key: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, as AWS builds it."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type", "")
    is_text = any(content_type.startswith(t) for t in TEXT_TYPES)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "127",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key or "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if query:
        from urllib.parse import parse_qsl

        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if body:
        event["body"] = (
            base64.b64encode(body).decode() if not is_text else body.decode("utf-8", errors="replace")
        )
    return event


def to_http(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    status = int(result.get("statusCode", 200))
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return status, headers, body


class _BridgeHandler(BaseHTTPRequestHandler):
    server: Bridge
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = http_api_event(
            self.command, parts.path, query=parts.query, headers=dict(self.headers.items()), body=body
        )
        try:
            # One request at a time, as one Lambda container serves them: the powertools
            # resolver keeps the current event on the app object.
            with self.server.lock:
                result = self.server.handler(event, LambdaContext())
            status, headers, payload = to_http(result)
        except Exception as exc:  # what API Gateway does when the function crashes
            self.server.errors.append(exc)
            traceback.print_exc(file=sys.stderr)
            status, headers, payload = (
                500,
                {"Content-Type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle
    do_POST = _handle


class Bridge(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: Handler, port: int = 3000, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _BridgeHandler)
        self.handler = handler
        self.errors: list[Exception] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> Bridge:
        threading.Thread(target=self.serve_forever, name="bridge", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def load_event(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]
