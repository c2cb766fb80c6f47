"""Credentials where a customer's config.yaml must not have them: by key name, or inside any string value.

Secrets belong in Airflow Connections or environment variables; ``find_secrets`` reports every field of a raw
config that holds one, naming the field and never the value, so the config is refused before anything uses it.
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEYS = re.compile(r"(passw(or)?d|secret|token|api[_-]?key|credential|private[_-]?key)", re.IGNORECASE)
# Credentials inside string values (any field): a URL with user info (``https://TOKEN@host``, ``user:pw@``), a URL
# query parameter named like a credential, or a credential *assignment* (``password=...``, ``token: ...``,
# ``Authorization: Bearer ...``). Words alone (``label = "password-policy"``, ``title ~ "token"``) are fine.
_URL_USERINFO = re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/?#\s@]+@", re.IGNORECASE)
_CREDENTIAL_NAME = (
    r"(?:[a-z0-9]+[_-])*"
    r"(?:(?:api|access|auth|bearer|client|private|refresh|session|personal)?[_-]?"
    r"(?:token|password|passwd|pwd|secret|credentials?)|(?:api|secret|private|access|client)[_-]?key|apikey"
    r"|authorization)"
)
_URL_SECRET_PARAM = re.compile(
    rf"[?&;](?P<name>{_CREDENTIAL_NAME}|(?:[a-z0-9]+[_-])*(?:key|sig|signature|auth))=[^&#\s]", re.IGNORECASE
)
_CREDENTIAL_ASSIGNMENT = re.compile(
    rf"(?<![a-z0-9_-])(?P<name>{_CREDENTIAL_NAME})(?![a-z0-9])[\"']?\s*(?P<sep>[:=])\s*"
    r"(?P<scheme>(?:bearer|basic|token)\s+)?[\"']?(?P<value>[^\s\"',;&)}\]]+)",
    re.IGNORECASE,
)
_CONNECTION_HINT = "put it in an Airflow Connection (conn_id) instead"


def find_secrets(raw: Any, where: str = "") -> list[tuple[str, str]]:
    """Fields of a raw config that hold a credential: by key name, or a string value (any field, any depth) with
    a URL carrying credentials or a credential assignment. Messages name the field, never the value."""
    found: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            field = f"{where}.{key}" if where else str(key)
            if _SECRET_KEYS.search(str(key)) and value not in (None, "", [], {}):
                found.append((field, f"looks like a secret; {_CONNECTION_HINT}"))
            else:
                found.extend(find_secrets(value, field))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            found.extend(find_secrets(value, f"{where}[{index}]"))
    elif isinstance(raw, str):
        problem = _secret_in_text(raw)
        if problem:
            found.append((where, f"{problem}; {_CONNECTION_HINT}"))
    return found


def _secret_in_text(text: str) -> str | None:
    """What credential a string value holds (never the value itself), or None."""
    if _URL_USERINFO.search(text):
        return "is a URL with credentials (user info before '@')"
    param = _URL_SECRET_PARAM.search(text)
    if param:
        return f"is a URL with a credential query parameter ({param['name']!r})"
    for assignment in _CREDENTIAL_ASSIGNMENT.finditer(text):
        if assignment["sep"] == "=" or assignment["scheme"] or _looks_secret(assignment["value"]):
            return f"holds a credential assignment ({assignment['name']!r} = ...)"
    return None


def _looks_secret(value: str) -> bool:
    """After ``name:`` prose is common (``title ~ "Password: how to reset"``); a secret is one long or mixed word."""
    return len(value) >= 16 or (len(value) >= 6 and any(ch.isdigit() for ch in value))
