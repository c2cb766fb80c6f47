"""Per-tenant database limits: what one customer's role may take of the shared server.

Set on each tenant role (``ALTER ROLE ... CONNECTION LIMIT``/``SET``) when its store is created and by
``customers reset-role-passwords``, so every session logged in as the role gets them, whoever opened it; the query
pool of a tenant never opens more connections than its role may have. Each is an environment variable, a field of
``tenant_rag.settings.Settings`` (defaults and accepted forms there and in the README):

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

from dataclasses import dataclass

from tenant_rag.settings import settings


@dataclass(frozen=True)
class TenantLimits:
    connection_limit: int
    settings: tuple[tuple[str, str], ...]
    superuser_settings: tuple[tuple[str, str], ...]


def tenant_limits() -> TenantLimits:
    """The limits from the environment (validated; ``SettingsError`` names a bad variable)."""
    environment = settings()
    return TenantLimits(
        connection_limit=environment.tenant_connection_limit,
        settings=(
            ("statement_timeout", environment.tenant_statement_timeout),
            ("idle_in_transaction_session_timeout", environment.tenant_idle_in_transaction_timeout),
            ("idle_session_timeout", environment.tenant_idle_session_timeout),
            ("lock_timeout", environment.tenant_lock_timeout),
        ),
        # settings only a superuser may set on a role (so a tenant session cannot raise them either)
        superuser_settings=(("temp_file_limit", environment.tenant_temp_file_limit),),
    )
