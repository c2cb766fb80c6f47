"""Robust HTTP for the Confluence client: a timeout on every call, retries with backoff, a run-wide budget.

- 429 waits for ``Retry-After`` (seconds or an HTTP date, capped), other retryable failures (5xx, connection
  errors, timeouts) back off exponentially with full jitter;
- the retry budget is shared by every request of one client: ``budget_floor + budget_ratio * requests`` retries,
  so a healthy site's occasional failures are absorbed but a broken one fails fast instead of for hours;
- after repeated 5xx on a request that carries a ``limit`` query parameter the page size is halved, and stays
  capped for the rest of the run (large pages are what time out on an overloaded site).
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

from tenant_rag.export.errors import ConfluenceAuthError, ConfluenceHTTPError, RetryBudgetExhaustedError

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
        self.page_size_cap: int | None = None

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
        cap = self.page_size_cap
        if cap is None:
            return url, params
        if "limit" in params and int(params["limit"]) > cap:
            params = {**params, "limit": cap}
        if "limit=" in urlsplit(url).query:
            current = dict(parse_qsl(urlsplit(url).query)).get("limit", "")
            if current.isdigit() and int(current) > cap:
                url = with_limit(url, cap)
        return url, params

    def _shrink(self, url: str, params: dict[str, Any]) -> None:
        current = params.get("limit") or dict(parse_qsl(urlsplit(url).query)).get("limit")
        if current is None:
            return
        new = max(self.policy.min_page_size, int(current) // 2)
        with self._lock:
            if self.page_size_cap is None or new < self.page_size_cap:
                self.page_size_cap = new
                log.warning("repeated server errors: page size reduced to %d", new)

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Headers]:
        """GET ``url`` and decode JSON; retries transient failures; raises ``ConfluenceHTTPError`` otherwise."""
        params = dict(params or {})
        attempt = 0
        server_errors = 0
        while True:
            url, params = self._apply_cap(url, params)
            with self._lock:
                self.requests += 1
            wait: float | None = None
            try:
                response = self._client.get(url, params=params or None)  # {} would drop the query
            except httpx.TransportError as exc:  # connection refused/reset/dropped, timeouts
                problem = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                status = response.status_code
                if status < 400:
                    try:
                        return response.json(), response.headers
                    except ValueError:
                        problem = "response is not JSON"
                else:
                    problem = f"HTTP {status}: {response.text[:200]}"
                if status in (401, 403):
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
