"""Shared pieces of the local server's HTTP answers: the request view, errors, cursors, time formatting."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from tenant_rag_devtools.confluence_server.site import Page, Site

V1_PATH = "/rest/api"


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    origin: str  # "http://127.0.0.1:PORT"
    context: str  # "/wiki" on Cloud, "" on Server
    site: Site
    flavor: str
    site_timezone: str = "UTC"
    user_timezone: str | None = None  # the indexing user's zone (CQL dates are read in it); None: the site's
    share_user_timezone: bool = True  # False: ``user/current`` answers ``timeZone: null`` (a privacy setting)

    @property
    def cql_timezone(self) -> str:
        return self.user_timezone or self.site_timezone

    @property
    def base(self) -> str:
        return self.origin + self.context

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def many(self, name: str) -> list[str]:
        """Repeated (``a=1&a=2``) or comma-separated (``a=1,2``) values."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    def limit(self, default: int = 25, maximum: int = 250) -> int:
        raw = self.one("limit")
        if raw is None:
            return default
        if not raw.isdigit():
            raise ApiError(400, f"limit {raw!r} is not a number")
        return max(1, min(maximum, int(raw)))


@dataclass
class Response:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a file download instead of JSON
    content_type: str = "application/json;charset=UTF-8"

    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def v2_error(status: int, message: str) -> Response:
    code = REASONS.get(status, "Error").upper().replace(" ", "_")
    return Response(status, {"errors": [{"status": status, "code": code, "title": message, "detail": None}]})


def v1_error(status: int, message: str) -> Response:
    return Response(
        status,
        {
            "statusCode": status,
            "data": {"authorized": status not in (401, 403), "valid": status != 400, "errors": [], "successful": False},
            "message": message,
            "reason": REASONS.get(status, "Error"),
        },
    )


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except ValueError as exc:
        raise ApiError(400, "invalid cursor") from exc
    if not isinstance(state, dict):
        raise ApiError(400, "invalid cursor")
    return state


def relative_url(path: str, params: dict[str, Any]) -> str:
    flat = [(k, v) for k, values in params.items() for v in (values if isinstance(values, list) else [values])]
    return f"{path}?{urlencode(flat)}" if flat else path


def webui(page: Page, flavor: str) -> str:
    slug = quote_plus(page.title)
    if flavor == "cloud":
        return f"/spaces/{page.space_key}/pages/{page.page_id}/{slug}"
    return f"/display/{page.space_key}/{slug}"


def tinyui(page_id: str) -> str:
    raw = int(page_id).to_bytes(4, "little") if page_id.isdigit() else page_id.encode()[:4]
    return "/x/" + base64.urlsafe_b64encode(raw).decode().rstrip("=").rstrip("A")


def user_json(req: Request, account_id: str) -> dict[str, Any]:
    name = req.site.users.get(account_id, "Demo Author")
    user: dict[str, Any] = {"type": "known"}
    if req.flavor == "cloud":
        user.update(accountId=account_id, accountType="atlassian")
        key, avatar = f"accountId={account_id}", f"{req.context}/aa-avatar/{account_id}"
    else:
        user.update(userKey=account_id, username=account_id)
        key, avatar = f"key={account_id}", "/images/icons/profilepics/default.svg"
    user.update(
        publicName=name,
        profilePicture={"path": avatar, "width": 48, "height": 48, "isDefault": req.flavor != "cloud"},
        displayName=name,
        isExternalCollaborator=False,
        _expandable={"operations": "", "personalSpace": ""},
        _links={"self": f"{req.base}/rest/api/user?{key}"},
    )
    return user


def labels_v2(page: Page) -> list[dict[str, str]]:
    return [{"id": str(zlib.crc32(name.encode())), "name": name, "prefix": "global"} for name in sorted(page.labels)]
