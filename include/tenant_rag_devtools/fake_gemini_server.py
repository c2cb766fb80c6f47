"""A local stand-in for the Gemini embedding API, for tests and offline demos of the Gemini path.

It listens on 127.0.0.1 (an ephemeral port) and answers what the google-genai client sends for the Gemini
Developer API: ``POST /v1beta/models/{model}:batchEmbedContents`` (``{"requests": [{"model", "content":
{"parts": [{"text"}]}, "taskType", "outputDimensionality"}]}`` -> ``{"embeddings": [{"values": [...]}]}``) and
``:embedContent`` for a single content. The API key is checked in the ``x-goog-api-key`` header (or ``?key=``).

Vectors are deterministic feature-hashed bags of words, scaled so they are *not* unit length (as the real service
returns them for reduced dimensions): equal texts give equal vectors, texts sharing words give similar ones.
Failures can be injected: a schedule of statuses for the next requests, a seeded random rate, a status for every
request, and a delay before each answer (to exercise client timeouts). Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_BATCH = 100
DEFAULT_DIMENSIONS = 3072
_PATH = re.compile(
    r"^/(?P<version>v1beta|v1)/models/(?P<model>[A-Za-z0-9._-]+):(?P<method>batchEmbedContents|embedContent)$"
)
_WORD = re.compile(r"\w+")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


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


def fake_vector(text: str, dimensions: int, scale: float = 3.0) -> list[float]:
    """Deterministic signed feature hashing of the lower-cased words of ``text``; never the zero vector."""
    values = [0.0] * dimensions
    for word in _WORD.findall(text.lower()) or [""]:
        digest = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "big")
        values[digest % dimensions] += scale if digest >> 63 else -scale
    if not any(values):
        values[0] = scale
    return values


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
        match = _PATH.match(url.path)
        if not match:
            return (*_error(404, f"no such method: {url.path}"), self._record("?", "?", [], None, 404))
        key = headers.get("x-goog-api-key") or next(iter(parse_qs(url.query).get("key", [])), None)
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            return (*_error(400, f"request body is not JSON: {exc}"), self._record("?", "?", [], key, 400))
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
        texts, task_types, dims = _describe(items)
        record = RecordedRequest(method, model, texts, task_types, dims, key, status)
        with self._lock:
            self.requests.append(record)
        return record

    def _answer(self, model: str, items: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        behaviour = self._behaviour
        if behaviour.api_key is not None and key != behaviour.api_key:
            return _error(400, "API key not valid (fake Gemini server)")
        if not isinstance(items, list) or not items:
            return _error(400, "'requests' must be a non-empty list")
        if len(items) > behaviour.max_batch:
            return _error(400, f"at most {behaviour.max_batch} requests are allowed in one batch, got {len(items)}")
        if behaviour.max_request_tokens is not None:
            tokens = sum(len(text) // 4 + 1 for text in _describe(items)[0])
            if tokens > behaviour.max_request_tokens:
                return _error(400, f"request has {tokens} input tokens; the limit is {behaviour.max_request_tokens}")
        status = self._next_status()
        if status != 200:
            return _error(status, f"injected HTTP {status} (fake Gemini server)")
        embeddings = []
        for index, item in enumerate(items):
            problem = _check_item(item, model)
            if problem:
                return _error(400, f"requests[{index}]: {problem}")
            dims = item.get("outputDimensionality") or DEFAULT_DIMENSIONS
            text = "".join(part.get("text", "") for part in item["content"]["parts"])
            embeddings.append({"values": fake_vector(text, int(dims))})
        return 200, {"embeddings": embeddings}


def _check_item(item: Any, model: str) -> str | None:
    if not isinstance(item, dict):
        return "must be an object"
    if "model" in item and item["model"] != f"models/{model}":
        return f"model {item['model']!r} does not match the URL's models/{model}"
    parts = (item.get("content") or {}).get("parts")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) and "text" in p for p in parts):
        return "content.parts must be a non-empty list of text parts"
    dims = item.get("outputDimensionality")
    if dims is not None and not (isinstance(dims, int) and 1 <= dims <= DEFAULT_DIMENSIONS):
        return f"outputDimensionality must be between 1 and {DEFAULT_DIMENSIONS}"
    return None


def _describe(items: Any) -> tuple[list[str], list[str | None], list[int | None]]:
    texts: list[str] = []
    task_types: list[str | None] = []
    dims: list[int | None] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        parts = (item.get("content") or {}).get("parts") or []
        texts.append("".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)))
        task_types.append(item.get("taskType"))
        dims.append(item.get("outputDimensionality"))
    return texts, task_types, dims


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}}


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
