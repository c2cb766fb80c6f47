"""Robust HTTP for the Confluence client: a timeout on every call, retries with backoff, a run-wide budget.

- 429 waits for ``Retry-After`` (seconds or an HTTP date, capped), other retryable failures (5xx, connection
  errors, timeouts) back off exponentially with full jitter;
- the retry budget is shared by every request of one client: ``budget_floor + budget_ratio * requests`` retries,
  so a healthy site's occasional failures are absorbed but a broken one fails fast instead of for hours;
- after repeated 5xx on a request that carries a ``limit`` query parameter the page size is halved (large pages are
  what time out on an overloaded site); after a few successes at the reduced size it doubles again, up to the
  largest size that has worked in this run (see :class:`PageSizeCap`).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from tenant_rag.export.errors import (
    ConfluenceAuthError,
    ConfluenceForbiddenError,
    ConfluenceHTTPError,
    DownloadTooLargeError,
    RetryBudgetExhaustedError,
)

log = logging.getLogger(__name__)
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    budget_floor: int = 50
    budget_ratio: float = 0.5
    shrink_after_5xx: int = 2
    min_page_size: int = 1
    grow_after_successes: int = 3


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date); None when absent/invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def with_limit(url: str, limit: int) -> str:
    """``url`` with its ``limit`` query parameter replaced (other parameters and their order kept)."""
    parts = urlsplit(url)
    query = [(k, str(limit) if k == "limit" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def sent_limit(url: str, params: dict[str, Any]) -> int | None:
    """The ``limit`` a request asks for (in ``params`` or already in the URL's query), if any."""
    value = params.get("limit")
    if value is None:
        value = dict(parse_qsl(urlsplit(url).query)).get("limit")
    return int(value) if value is not None and str(value).isdigit() else None


class PageSizeCap:
    """The run-wide cap on ``limit``: halved after repeated 5xx, doubled again after successes at the cap.

    It grows back only up to the largest size that has succeeded in this run: a size lost to random 5xx comes back
    after ``grow_after`` successes in a row, while a size that never worked (an overloaded site whose big pages
    always time out) is not tried again. Not thread-safe by itself: ``HttpClient`` calls it under its lock.
    """

    def __init__(self, *, min_size: int = 1, grow_after: int = 3) -> None:
        self.min_size = max(1, min_size)
        self.grow_after = max(1, grow_after)
        self.value: int | None = None  # None: no cap
        self._largest_ok = 0
        self._streak = 0

    def apply(self, limit: int) -> int:
        return limit if self.value is None else min(limit, self.value)

    def failed(self, limit: int) -> int | None:
        """Repeated 5xx at ``limit``: the new cap when it shrank, else None."""
        self._streak = 0
        new = max(self.min_size, limit // 2)
        if self.value is None or new < self.value:
            self.value = new
            return new
        return None

    def succeeded(self, limit: int) -> int | None:
        """A success at ``limit``: the new cap when it grew, else None."""
        self._largest_ok = max(self._largest_ok, limit)
        if self.value is None or limit < self.value:
            return None  # smaller requests say nothing about the cap
        self._streak += 1
        if self._streak < self.grow_after:
            return None
        self._streak = 0
        grown = min(self.value * 2, self._largest_ok)
        if grown <= self.value:
            return None
        self.value = grown
        return grown


class HttpClient:
    """A thread-safe JSON GET client with retries; counts requests and retries for the export stats."""

    def __init__(
        self,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._client = httpx.Client(
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": "tenant-rag-export/1", **(headers or {})},
            timeout=httpx.Timeout(self.policy.timeout_seconds),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self._sleep = sleep
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.page_size = PageSizeCap(min_size=self.policy.min_page_size, grow_after=self.policy.grow_after_successes)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take_retry(self) -> bool:
        with self._lock:
            allowed = self.policy.budget_floor + self.policy.budget_ratio * self.requests
            if self.retries >= allowed:
                return False
            self.retries += 1
            return True

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * (2**attempt))
        with self._lock:
            return self._random.uniform(ceiling / 2, ceiling)

    def _apply_cap(self, url: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        with self._lock:
            if self.page_size.value is None:
                return url, params
            if "limit" in params:
                capped = self.page_size.apply(int(params["limit"]))
                if capped != int(params["limit"]):
                    params = {**params, "limit": capped}
            current = dict(parse_qsl(urlsplit(url).query)).get("limit", "")
            if current.isdigit() and self.page_size.apply(int(current)) != int(current):
                url = with_limit(url, self.page_size.apply(int(current)))
        return url, params

    def _shrink(self, url: str, params: dict[str, Any]) -> None:
        limit = sent_limit(url, params)
        if limit is None:
            return
        with self._lock:
            new = self.page_size.failed(limit)
        if new is not None:
            log.warning("repeated server errors: page size reduced to %d", new)

    def _grow(self, url: str, params: dict[str, Any]) -> None:
        limit = sent_limit(url, params)
        if limit is None:
            return
        with self._lock:
            new = self.page_size.succeeded(limit)
        if new is not None:
            log.info("requests succeed again: page size raised to %d", new)

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        """GET ``url`` and decode JSON; retries transient failures; raises ``ConfluenceHTTPError`` otherwise.

        Returns the decoded payload and the response (for its headers and ``links``). 401 raises
        ``ConfluenceAuthError``, 403 its subclass ``ConfluenceForbiddenError``; neither is retried.
        """
        return self._get(url, params, _json_body, {})

    def get_bytes(self, url: str, *, max_bytes: int) -> bytes:
        """GET a file (an attachment download) with the same retries; a body larger than ``max_bytes`` raises
        ``DownloadTooLargeError`` as soon as it is, without reading the rest."""

        def read(response: httpx.Response) -> bytes:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadTooLargeError(f"{url} is {declared} bytes, over {max_bytes}", url=url, status=None)
            data = bytearray()
            for block in response.iter_bytes():
                data += block
                if len(data) > max_bytes:
                    raise DownloadTooLargeError(f"{url} is over {max_bytes} bytes", url=url, status=None)
            return bytes(data)

        body, _ = self._get(url, None, read, {"Accept": "*/*"})
        return bytes(body)

    def _get(
        self, url: str, params: dict[str, Any] | None, read: Callable[[httpx.Response], Any], headers: dict[str, str]
    ) -> tuple[Any, httpx.Response]:
        params = dict(params or {})
        attempt = 0
        server_errors = 0
        while True:
            url, params = self._apply_cap(url, params)
            with self._lock:
                self.requests += 1
            wait: float | None = None
            status: int | None = None
            try:  # {} would drop the query
                with self._client.stream("GET", url, params=params or None, headers=headers) as response:
                    status = response.status_code
                    if status < 400:
                        try:
                            payload = read(response)
                        except ValueError:
                            problem = "response is not JSON"
                        else:
                            self._grow(url, params)
                            return payload, response
                    else:
                        response.read()
                        problem = f"HTTP {status}: {response.text[:200]}"
            except httpx.TransportError as exc:  # connection refused/reset/dropped, timeouts
                problem = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                assert status is not None
                if status == 403:
                    message = f"{problem} for {response.url}"
                    raise ConfluenceForbiddenError(message, url=str(response.url), status=status)
                if status == 401:
                    raise ConfluenceAuthError(f"{problem} for {response.url}", url=str(response.url), status=status)
                if status >= 400 and status not in RETRYABLE_STATUS:
                    raise ConfluenceHTTPError(f"{problem} for {response.url}", url=str(response.url), status=status)
                if status == 429:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                elif status >= 500:
                    server_errors += 1
                    if server_errors >= self.policy.shrink_after_5xx:
                        self._shrink(url, params)
            if attempt >= self.policy.max_retries:
                raise ConfluenceHTTPError(
                    f"gave up after {attempt + 1} attempts: {problem} ({url})", url=url, status=status
                )
            if not self._take_retry():
                raise RetryBudgetExhaustedError(f"retry budget exhausted: {problem} ({url})", url=url, status=status)
            delay = min(wait, self.policy.max_retry_after) if wait is not None else self._backoff(attempt)
            log.info("retrying %s in %.2fs after %s", url, delay, problem)
            self._sleep(delay)
            attempt += 1


def _json_body(response: httpx.Response) -> Any:
    response.read()
    return response.json()
