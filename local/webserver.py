"""A real HTTP server on 127.0.0.1 that serves feeds and pages (tests, demo and benchmarks).

Each path answers with a Resource: a body, or a behaviour a hostile or broken web
server has (slow drip, endless body, redirect chains, gzip, 304 for a matching ETag).
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Resource:
    body: bytes | Callable[[], bytes] = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # send an ETag and answer 304 when it matches
    last_modified: str | None = None  # send Last-Modified and honour If-Modified-Since
    delay: float = 0.0  # seconds before answering
    drip: float | None = None  # seconds between single bytes
    endless: int | None = None  # stream this many bytes of filler without Content-Length
    gzip: bool = False
    redirect: str | None = None

    def payload(self) -> bytes:
        return self.body() if callable(self.body) else self.body


class _Handler(BaseHTTPRequestHandler):
    server: WebServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        server = self.server
        path = self.path
        with server.lock:
            server.requests.append((path, dict(self.headers.items())))
            resource = server.routes.get(path) or server.routes.get(path.split("?", 1)[0])
        if resource is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        if resource.delay:
            time.sleep(resource.delay)
        if resource.redirect is not None:
            self._send(
                resource.status if resource.status in (301, 302, 303, 307, 308) else 302,
                b"",
                {"Location": resource.redirect},
            )
            return
        if resource.endless is not None:
            self._endless(resource)
            return
        body = resource.payload()
        headers = {"Content-Type": resource.content_type, **resource.headers}
        if resource.etag and resource.status == 200:
            tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                self._send(304, b"", {"ETag": tag})
                return
        if resource.last_modified and resource.status == 200:
            headers["Last-Modified"] = resource.last_modified
            if self.headers.get("If-Modified-Since") == resource.last_modified and not resource.etag:
                self._send(304, b"", {})
                return
        if resource.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if resource.drip is not None:
            self._drip(resource, body, headers)
            return
        self._send(resource.status, body, headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _drip(self, resource: Resource, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(resource.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                if self.server.stopping.is_set():
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(resource.drip or 0)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _endless(self, resource: Resource) -> None:
        chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
        try:
            self.send_response(200)
            self.send_header("Content-Type", resource.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            while sent < (resource.endless or 0) and not self.server.stopping.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True


class WebServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a poll opening dozens of connections at
    # once would see refused SYNs retried a second later.
    request_queue_size = 256

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes: dict[str, Resource] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up on a body it did not want (a size cap, a timeout) is normal here.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, resource: Resource | bytes | str, **kwargs: Any) -> str:
        if isinstance(resource, str):
            resource = resource.encode("utf-8")
        if isinstance(resource, bytes):
            resource = Resource(body=resource, **kwargs)
        with self.lock:
            self.routes[path] = resource
        return self.url(path)

    def requests_for(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self.serve_forever, name="webserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
