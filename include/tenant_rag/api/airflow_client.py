"""A small client for Airflow 3's REST API (``/api/v2``): trigger a DAG run and read its state.

Authentication follows Airflow 3's auth manager: ``POST /auth/token`` with ``{"username", "password"}`` returns a
JWT (``access_token``) that is sent as ``Authorization: Bearer``. The token is cached until shortly before its
``exp`` claim and fetched again once when the API answers 401. A ready token can be configured instead.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from tenant_rag.api.models import DagRun
from tenant_rag.urls import public_url

TOKEN_PATH = "/auth/token"
TOKEN_SLACK_SECONDS = 60


class AirflowError(Exception):
    """Any failure talking to Airflow; ``kind`` says which (for the HTTP status the API answers)."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # unavailable | auth | not_found | conflict | rejected
        self.status = status


def dag_run_from_api(data: dict[str, Any]) -> DagRun:
    return DagRun(
        dag_id=str(data.get("dag_id", "")),
        run_id=str(data.get("dag_run_id") or data.get("run_id") or ""),
        state=str(data.get("state") or "unknown"),
        logical_date=data.get("logical_date"),
        queued_at=data.get("queued_at"),
        start_date=data.get("start_date"),
        end_date=data.get("end_date"),
        conf=data.get("conf") if isinstance(data.get("conf"), dict) else None,
    )


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: only used to refresh in time)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = json.dumps(detail) if detail is not None and not isinstance(detail, str) else detail
    return f"Airflow answered {response.status_code}: {(text or response.text or '').strip()[:300]}"


class AirflowClient:
    """Thread-safe; one instance per API process."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._static_token = token
        self._token: str | None = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _fetch_token(self) -> str:
        if not self._username or self._password is None:
            raise AirflowError(
                "auth", "no Airflow credentials: set TENANT_RAG_API_AIRFLOW_USERNAME and _PASSWORD (or _TOKEN)"
            )
        try:
            response = self._http.post(TOKEN_PATH, json={"username": self._username, "password": self._password})
        except httpx.HTTPError as exc:
            raise AirflowError("unavailable", f"cannot reach Airflow at {public_url(self.base_url)}: {exc}") from exc
        if response.status_code not in (200, 201):
            kind = "unavailable" if response.status_code >= 500 else "auth"
            raise AirflowError(kind, f"token request refused: {_message(response)}", response.status_code)
        try:
            token = str(response.json()["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AirflowError("unavailable", "token response has no access_token") from exc
        return token

    def _bearer(self, *, refresh: bool = False) -> str:
        if self._static_token:
            return self._static_token
        with self._lock:
            if refresh or self._token is None or time.time() >= self._token_expiry:
                self._token = self._fetch_token()
                expiry = _jwt_expiry(self._token)
                self._token_expiry = (expiry - TOKEN_SLACK_SECONDS) if expiry else time.time() + 300
            return self._token

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._bearer(refresh=attempt > 0)}"}
            try:
                response = self._http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise AirflowError(
                    "unavailable", f"cannot reach Airflow at {public_url(self.base_url)}: {exc}"
                ) from exc
            if response.status_code == 401 and attempt == 0 and not self._static_token:
                continue
            break
        status = response.status_code
        if status in (200, 201):
            try:
                data = response.json()
            except ValueError as exc:
                raise AirflowError("unavailable", "Airflow answered with a body that is not JSON") from exc
            if not isinstance(data, dict):
                raise AirflowError("unavailable", "Airflow answered with an unexpected JSON body")
            return data
        kind = {401: "auth", 403: "auth", 404: "not_found", 409: "conflict"}.get(status)
        if kind is None:
            kind = "unavailable" if status >= 500 else "rejected"
        raise AirflowError(kind, _message(response), status)

    def trigger_dag_run(self, dag_id: str, conf: dict[str, Any], *, note: str | None = None) -> DagRun:
        """Queue a manual run (``logical_date`` null: Airflow 3's manual-run form) and return it."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        data = self._request("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", body)
        return dag_run_from_api(data)

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        return dag_run_from_api(self._request("GET", path))
