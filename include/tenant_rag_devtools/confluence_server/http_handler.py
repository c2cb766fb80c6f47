"""The HTTP side of the local Confluence server: counting, fault injection, then the site's answer.

Each request is counted and logged, may draw an injected fault (a dropped connection, a slow answer, a 429 with
``Retry-After``, a 500), and is otherwise answered by the site (``FakeConfluence.respond``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tenant_rag_devtools.confluence_server.faults import FaultInjector
from tenant_rag_devtools.confluence_server.responses import Response, v1_error
from tenant_rag_devtools.confluence_server.traffic import Traffic, request_kind

log = logging.getLogger(__name__)


class ServedSite(Protocol):
    """What the handler needs of the site it serves (``server.FakeConfluence``)."""

    count_lock: threading.Lock
    request_count: int
    request_log: deque[str]
    faults: FaultInjector
    traffic: Traffic

    @property
    def context(self) -> str: ...

    def respond(self, path: str, query: dict[str, list[str]], origin: str, auth_header: str | None) -> Response: ...


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, closed socket) is normal under fault injection: no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)


class SiteHandler(BaseHTTPRequestHandler):
    fake: ServedSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        log.debug("fake confluence: " + format, *args)

    def do_GET(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with fake.count_lock:
            fake.request_count += 1
            fake.request_log.append(self.path)
        limit_values = query.get("limit") or []
        limit = int(limit_values[-1]) if limit_values and limit_values[-1].isdigit() else None
        fault = fake.faults.draw(limit)
        settings = fake.faults.settings
        kind = request_kind(parts.path, fake.context)
        if fault == "drop":
            fake.traffic.record(kind, "drop")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        if fault == "slow":
            time.sleep(settings.slow_seconds)
        if fault == "429":
            seconds = settings.retry_after
            value = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
            fake.traffic.record(kind, 429)
            return self._send(Response(429, {"message": "Rate limit exceeded"}, {"Retry-After": value}))
        if fault == "500":
            fake.traffic.record(kind, 500)
            return self._send(v1_error(500, "injected internal server error"))
        host = self.headers.get("Host") or "127.0.0.1"
        response = fake.respond(parts.path, query, f"http://{host}", self.headers.get("Authorization"))
        fake.traffic.record(kind, response.status)
        self._send(response)

    def _send(self, response: Response) -> None:
        body = response.body()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        if response.status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Confluence"')
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
