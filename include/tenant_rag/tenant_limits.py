"""Per-tenant database limits: what one customer's role may take of the shared server.

Set on each tenant role (``ALTER ROLE ... CONNECTION LIMIT``/``SET``) when its store is created and by
``customers reset-role-passwords``, so every session logged in as the role gets them, whoever opened it; the query
pool of a tenant never opens more connections than its role may have. Each is an environment variable:

=============================================  =======  =====================================================
``TENANT_RAG_TENANT_CONNECTION_LIMIT``          8        connections one tenant role may hold (1-1000)
``TENANT_RAG_TENANT_STATEMENT_TIMEOUT``         30s      longest statement of a tenant session
``TENANT_RAG_TENANT_IDLE_IN_TRANSACTION_TIMEOUT`` 30s    an open transaction left idle is ended
``TENANT_RAG_TENANT_IDLE_SESSION_TIMEOUT``      10min    an idle session is closed (longer than the pool's 60 s)
``TENANT_RAG_TENANT_LOCK_TIMEOUT``              5s       longest wait for a lock
``TENANT_RAG_TENANT_TEMP_FILE_LIMIT``           1GB      temporary file space per session (set only by a superuser)
=============================================  =======  =====================================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tenant_rag.errors import PermanentError

CONNECTION_LIMIT_ENV = "TENANT_RAG_TENANT_CONNECTION_LIMIT"
DEFAULT_CONNECTION_LIMIT = 8
_DURATION = re.compile(r"^\d+\s*(us|ms|s|min|h|d)?$")
_SIZE = re.compile(r"^\d+\s*(kB|MB|GB|TB)?$")
#: (setting, environment variable, default, pattern): the role-level settings of every tenant session
SESSION_SETTINGS: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    ("statement_timeout", "TENANT_RAG_TENANT_STATEMENT_TIMEOUT", "30s", _DURATION),
    ("idle_in_transaction_session_timeout", "TENANT_RAG_TENANT_IDLE_IN_TRANSACTION_TIMEOUT", "30s", _DURATION),
    ("idle_session_timeout", "TENANT_RAG_TENANT_IDLE_SESSION_TIMEOUT", "10min", _DURATION),
    ("lock_timeout", "TENANT_RAG_TENANT_LOCK_TIMEOUT", "5s", _DURATION),
)
#: settings only a superuser may set on a role (so a tenant session cannot raise them either)
SUPERUSER_SETTINGS: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    ("temp_file_limit", "TENANT_RAG_TENANT_TEMP_FILE_LIMIT", "1GB", _SIZE),
)


class TenantLimitsError(PermanentError):
    """An environment variable for the tenant limits holds an unusable value; the message names it."""


@dataclass(frozen=True)
class TenantLimits:
    connection_limit: int
    settings: tuple[tuple[str, str], ...]
    superuser_settings: tuple[tuple[str, str], ...]


def _setting(env: str, default: str, pattern: re.Pattern[str]) -> str:
    value = os.environ.get(env, default).strip()
    if not pattern.match(value):
        raise TenantLimitsError(f"{env}={value!r} is not a valid value (for example {default!r})")
    return value


def connection_limit() -> int:
    """``TENANT_RAG_TENANT_CONNECTION_LIMIT`` (default 8)."""
    raw = os.environ.get(CONNECTION_LIMIT_ENV, str(DEFAULT_CONNECTION_LIMIT)).strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise TenantLimitsError(f"{CONNECTION_LIMIT_ENV}={raw!r} must be a whole number from 1 to 1000")
    return value


def tenant_limits() -> TenantLimits:
    """The limits from the environment (validated; ``TenantLimitsError`` names a bad variable)."""
    return TenantLimits(
        connection_limit=connection_limit(),
        settings=tuple((name, _setting(env, default, rx)) for name, env, default, rx in SESSION_SETTINGS),
        superuser_settings=tuple((name, _setting(env, default, rx)) for name, env, default, rx in SUPERUSER_SETTINGS),
    )
