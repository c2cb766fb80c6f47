"""Error responses: every error is JSON ``{"error": <code>, "message": <text>, "detail": [...]?}``.

Bad input is a 4xx with a code a client can branch on; an unexpected exception is logged and answered with a
generic 500 body (no traceback, no internals).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tenant_rag.errors import DatabaseNotConfiguredError

log = logging.getLogger(__name__)

NOT_FOUND_MESSAGE = "customer not found"


class ErrorBody(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


class ApiError(Exception):
    """Raised by routes and dependencies; rendered as an ``ErrorBody``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def customer_not_found() -> ApiError:
    """The one answer for an unknown customer and for a customer the caller may not see (no existence leak)."""
    return ApiError(404, "not_found", NOT_FOUND_MESSAGE)


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "unauthenticated",
        "send an API key in the X-API-Key header (or Authorization: Bearer <key>)",
        headers={"WWW-Authenticate": 'Bearer realm="tenant-rag"'},
    )


def forbidden_admin() -> ApiError:
    return ApiError(403, "forbidden", "this endpoint needs the admin key")


def error_response(
    status: int,
    code: str,
    message: str,
    detail: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=code, message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for item in errors:
        cleaned.append(
            {
                "loc": [str(part) for part in item.get("loc", ())],
                "msg": str(item.get("msg", "")),
                "type": str(item.get("type", "")),
            }
        )
    return cleaned[:20]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(DatabaseNotConfiguredError)
    async def _no_database(_: Request, exc: DatabaseNotConfiguredError) -> JSONResponse:
        # logged once where it is raised (Services.database_url); the message says what to configure
        return error_response(503, "database_not_configured", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _clean_validation_errors(exc.errors())
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path", "header"))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_response(422, "invalid_request", message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error" if exc.status_code >= 500 else "bad_request")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; the server log has the details")
