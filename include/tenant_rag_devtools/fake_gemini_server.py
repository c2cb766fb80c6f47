"""A local stand-in for the Gemini embedding API, for tests and offline demos of the Gemini path.

It listens on 127.0.0.1 (an ephemeral port) and answers what the google-genai client sends for the Gemini
Developer API: ``POST /v1beta/models/{model}:batchEmbedContents`` (``{"requests": [{"model", "content":
{"parts": [{"text"}]}, "taskType", "outputDimensionality"}]}`` -> ``{"embeddings": [{"values": [...]}]}``) and
``:embedContent`` for a single content. The API key is checked in the ``x-goog-api-key`` header (or ``?key=``).

Vectors and request checks are those of ``fake_gemini_protocol``. Failures can be injected: a schedule of statuses
for the next requests, a seeded random rate, a status for every request, and a delay before each answer (to
exercise client timeouts). Every request is recorded.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tenant_rag_devtools.fake_gemini_protocol import (
    DEFAULT_DIMENSIONS,
    EMBED_PATH,
    api_error,
    check_item,
    describe,
    fake_vector,
)

MAX_BATCH = 100


@dataclass
class RecordedRequest:
    method: str
    model: str
    texts: list[str]
    task_types: list[str | None]
    dimensions: list[int | None]
    api_key: str | None
    status: int
    delivered: bool = False  # False when the client hung up (e.g. its timeout fired) before the answer


@dataclass
class _Behaviour:
    api_key: str | None
    schedule: list[int] = field(default_factory=list)
    fail_rate: float = 0.0
    fail_rate_status: int = 429
    always_status: int | None = None
    delay_s: float = 0.0
    max_batch: int = MAX_BATCH
    rng: random.Random = field(default_factory=random.Random)
    #: refuse (400) a request whose texts add up to more than this many tokens (~4 characters a token)
    max_request_tokens: int | None = None


class FakeGeminiServer:
    """``with FakeGeminiServer(...) as server:`` serves until the block ends; ``server.base_url`` is its URL."""

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        fail_statuses: Iterable[int] = (),
        fail_rate: float = 0.0,
        fail_rate_status: int = 429,
        always_status: int | None = None,
        delay_s: float = 0.0,
        seed: int = 0,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._behaviour = _Behaviour(
            api_key,
            list(fail_statuses),
            fail_rate,
            fail_rate_status,
            always_status,
            delay_s,
            max_batch,
            random.Random(seed),
        )
        self.requests: list[RecordedRequest] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change injected behaviour while running: schedule (list of statuses), fail_rate, always_status, ..."""
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self._behaviour, name):
                    raise AttributeError(f"unknown fake server setting {name!r}")
                setattr(self._behaviour, name, list(value) if name == "schedule" else value)

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake Gemini server is not running")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def successful(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.status == 200 and request.delivered]

    @property
    def calls(self) -> int:
        """Embedding requests answered with 200."""
        return len(self.successful)

    @property
    def texts_per_call(self) -> list[int]:
        return [len(request.texts) for request in self.successful]

    @property
    def attempts(self) -> int:
        """Every request received, failed ones included."""
        with self._lock:
            return len(self.requests)

    def start(self) -> FakeGeminiServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ----------------------------------------------------------------------------------
    def _next_status(self) -> int:
        with self._lock:
            behaviour = self._behaviour
            if behaviour.schedule:
                return behaviour.schedule.pop(0)
            if behaviour.always_status is not None:
                return behaviour.always_status
            if behaviour.fail_rate and behaviour.rng.random() < behaviour.fail_rate:
                return behaviour.fail_rate_status
            return 200

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], RecordedRequest]:
        """Answer one POST: (status, JSON body, the record of it). The delay is served before returning."""
        url = urlparse(path)
        match = EMBED_PATH.match(url.path)
        if not match:
            return (*api_error(404, f"no such method: {url.path}"), self._record("?", "?", [], None, 404))
        key = headers.get("x-goog-api-key") or next(iter(parse_qs(url.query).get("key", [])), None)
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            return (*api_error(400, f"request body is not JSON: {exc}"), self._record("?", "?", [], key, 400))
        method, model = match["method"], match["model"]
        items = payload.get("requests") if method == "batchEmbedContents" else [payload]
        status, answer = self._answer(model, items, key)
        record = self._record(method, model, items, key, status)
        if status == 200 and method == "embedContent":
            answer = {"embedding": answer["embeddings"][0]}
        if self._behaviour.delay_s:
            self._stopping.wait(self._behaviour.delay_s)
        return status, answer, record

    def _record(self, method: str, model: str, items: Any, key: str | None, status: int) -> RecordedRequest:
        texts, task_types, dims = describe(items)
        record = RecordedRequest(method, model, texts, task_types, dims, key, status)
        with self._lock:
            self.requests.append(record)
        return record

    def _answer(self, model: str, items: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        behaviour = self._behaviour
        if behaviour.api_key is not None and key != behaviour.api_key:
            return api_error(400, "API key not valid (fake Gemini server)")
        if not isinstance(items, list) or not items:
            return api_error(400, "'requests' must be a non-empty list")
        if len(items) > behaviour.max_batch:
            return api_error(400, f"at most {behaviour.max_batch} requests are allowed in one batch, got {len(items)}")
        if behaviour.max_request_tokens is not None:
            tokens = sum(len(text) // 4 + 1 for text in describe(items)[0])
            if tokens > behaviour.max_request_tokens:
                return api_error(400, f"request has {tokens} input tokens; the limit is {behaviour.max_request_tokens}")
        status = self._next_status()
        if status != 200:
            return api_error(status, f"injected HTTP {status} (fake Gemini server)")
        embeddings = []
        for index, item in enumerate(items):
            problem = check_item(item, model)
            if problem:
                return api_error(400, f"requests[{index}]: {problem}")
            dims = item.get("outputDimensionality") or DEFAULT_DIMENSIONS
            text = "".join(part.get("text", "") for part in item["content"]["parts"])
            embeddings.append({"values": fake_vector(text, int(dims))})
        return 200, {"embeddings": embeddings}


def _handler_for(server: FakeGeminiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, record = server.handle(self.path, headers, body)
            data = json.dumps(answer).encode("utf-8")
            record.delivered = True  # set before writing: the client may read the answer before we return
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                record.delivered = False  # the client gave up (its timeout fired) before the answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_fake_gemini(**settings: Any) -> Iterator[str]:
    """Serve a ``FakeGeminiServer(**settings)`` for the duration of the block, yielding its base URL."""
    with FakeGeminiServer(**settings) as server:
        yield server.base_url
