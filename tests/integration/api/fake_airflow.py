"""A small fake of Airflow 3's REST API on a real HTTP server: ``/auth/token`` and ``/api/v2/dags/.../dagRuns``.

It checks what the real one checks for our calls: JSON credentials for a token, a bearer token on every API call
(expired tokens answer 401), a known DAG id (404 otherwise), and the trigger body's shape (``logical_date`` key
present, ``conf`` an object, no unknown fields: 422 otherwise).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

TRIGGER_FIELDS = {
    "dag_run_id",
    "data_interval_start",
    "data_interval_end",
    "logical_date",
    "run_after",
    "conf",
    "note",
    "partition_key",
}


@dataclass
class FakeAirflow:
    username: str = "admin"
    password: str = "s3cret"
    dags: set[str] = field(default_factory=set)
    token_lifetime: float = 3600.0
    runs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    valid_tokens: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def issue_token(self) -> str:
        exp = time.time() + self.token_lifetime
        header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        payload = (
            base64.urlsafe_b64encode(json.dumps({"sub": self.username, "exp": exp, "n": self.token_requests}).encode())
            .rstrip(b"=")
            .decode()
        )
        token = f"{header}.{payload}.sig"
        self.valid_tokens[token] = exp
        return token

    def expire_all_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def set_state(self, dag_id: str, run_id: str, state: str) -> None:
        with self.lock:
            self.runs[(dag_id, run_id)]["state"] = state


def _handler(fake: FakeAirflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else None

        def _authorized(self) -> bool:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            with fake.lock:
                exp = fake.valid_tokens.get(token)
            if scheme != "Bearer" or exp is None or exp < time.time():
                self._send(401, {"detail": "Not authenticated"})
                return False
            return True

        def do_POST(self) -> None:
            body = self._body()
            with fake.lock:
                fake.calls.append(("POST", self.path, body))
            if self.path == "/auth/token":
                if not isinstance(body, dict) or set(body) != {"username", "password"}:
                    self._send(422, {"detail": "username and password required"})
                    return
                if body["username"] != fake.username or body["password"] != fake.password:
                    self._send(401, {"detail": "Invalid credentials"})
                    return
                with fake.lock:
                    fake.token_requests += 1
                    token = fake.issue_token()
                self._send(201, {"access_token": token})
                return
            match = re.fullmatch(r"/api/v2/dags/([^/]+)/dagRuns", self.path)
            if not match:
                self._send(404, {"detail": "Not Found"})
                return
            if not self._authorized():
                return
            dag_id = unquote(match.group(1))
            if dag_id not in fake.dags:
                self._send(404, {"detail": f"DAG with dag_id: '{dag_id}' not found"})
                return
            if not isinstance(body, dict) or "logical_date" not in body or set(body) - TRIGGER_FIELDS:
                self._send(422, {"detail": [{"msg": "invalid trigger body"}]})
                return
            if not isinstance(body.get("conf", {}), dict):
                self._send(422, {"detail": [{"msg": "conf must be an object"}]})
                return
            now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            with fake.lock:
                run_id = f"manual__{now}__{len(fake.runs)}"
                run = {
                    "dag_run_id": run_id,
                    "dag_id": dag_id,
                    "logical_date": None,
                    "queued_at": now,
                    "start_date": None,
                    "end_date": None,
                    "state": "queued",
                    "conf": body.get("conf") or {},
                    "note": body.get("note"),
                    "run_type": "manual",
                }
                fake.runs[(dag_id, run_id)] = run
            self._send(200, run)

        def do_GET(self) -> None:
            with fake.lock:
                fake.calls.append(("GET", self.path, None))
            match = re.fullmatch(r"/api/v2/dags/([^/]+)/dagRuns/([^/]+)", self.path)
            if not match:
                self._send(404, {"detail": "Not Found"})
                return
            if not self._authorized():
                return
            key = (unquote(match.group(1)), unquote(match.group(2)))
            with fake.lock:
                run = fake.runs.get(key)
            if run is None:
                self._send(404, {"detail": f"The DagRun with dag_id: `{key[0]}` and run_id: `{key[1]}` was not found"})
                return
            self._send(200, run)

    return Handler


@contextmanager
def fake_airflow(**kwargs: Any) -> Iterator[FakeAirflow]:
    fake = FakeAirflow(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
