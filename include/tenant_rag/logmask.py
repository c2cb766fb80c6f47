"""Mask secrets in URLs before they reach a log: query values of ``key``, ``api_key``, ``token``, ``access_token``
and ``password`` (names compared case-insensitively, after percent-decoding) become ``***``.

The API never accepts a key in a URL, but a user may still paste one into the address bar, and the access log
writes the request line before any route has looked at it. ``SecretQueryFilter`` rewrites the arguments of
uvicorn's access-log records; ``install_access_log_masking()`` adds it to the access loggers (``serve-api`` and
the Airflow plugin both call it); ``mask_scope_query()`` masks an ASGI scope's query string in place, for servers
that log from the scope after the app has run. Standard library only: the Airflow plugin imports this.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote_plus

SECRET_QUERY_NAMES = frozenset({"key", "api_key", "token", "access_token", "password"})
MASK = "***"
ACCESS_LOGGERS = ("uvicorn.access",)

# a query string inside any text: from "?" up to whitespace, a quote or a fragment
_QUERY_IN_TEXT = re.compile(r"\?([^\s\"'#]*)")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter's (raw, possibly percent-encoded) name is one whose value must be masked."""
    return unquote_plus(name).strip().lower() in SECRET_QUERY_NAMES


def mask_query_string(query: str) -> str:
    """``a=1&key=s3cret&KEY=x`` -> ``a=1&key=***&KEY=***``; everything else is kept byte for byte."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        parts.append(f"{name}={MASK}" if eq and is_secret_name(name) else part)
    return "&".join(parts)


def mask_url_text(text: str) -> str:
    """Mask the secret query values of every URL (or path with a query) in ``text``."""
    if "?" not in text:
        return text
    return _QUERY_IN_TEXT.sub(lambda m: "?" + mask_query_string(m.group(1)), text)


def _mask_value(value: Any) -> Any:
    return mask_url_text(value) if isinstance(value, str) else value


class SecretQueryFilter(logging.Filter):
    """Rewrites a record's message and string arguments so no secret query value is logged; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_url_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _mask_value(arg) for name, arg in record.args.items()}
        return True


def install_access_log_masking(logger_names: Iterable[str] = ACCESS_LOGGERS) -> list[logging.Logger]:
    """Add one ``SecretQueryFilter`` to each named logger (idempotent); returns the loggers."""
    loggers = []
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretQueryFilter) for f in logger.filters):
            logger.addFilter(SecretQueryFilter())
        loggers.append(logger)
    return loggers


def mask_scope_query(scope: MutableMapping[str, Any]) -> None:
    """Mask the secret values in an ASGI HTTP scope's ``query_string`` in place."""
    raw = scope.get("query_string")
    if not raw:
        return
    text = raw.decode("latin-1")
    masked = mask_query_string(text)
    if masked != text:
        scope["query_string"] = masked.encode("latin-1")
