"""Exceptions of the domain library. Each names the customer, the file and the field it is about."""

from __future__ import annotations

from pathlib import Path


class TenantRagError(Exception):
    """Base class of every error this library raises on purpose."""


class PermanentError(TenantRagError):
    """An error no retry can fix (a bad config, id or request, a store owned by another customer...).

    The Airflow operators fail such a task at once (``AirflowFailException``) instead of retrying it.
    """


class InvalidCustomerIdError(PermanentError, ValueError):
    """A customer id that cannot name a folder, a DAG or a database schema."""


class ConfigError(PermanentError):
    """A customer's config.yaml is missing, unreadable or invalid.

    ``problems`` is a list of ``(field, message)`` pairs; the string form names the customer and file.
    """

    def __init__(self, customer_id: str, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.customer_id = customer_id
        self.path = Path(path)
        self.problems = problems
        lines = [f"  - {field or '<file>'}: {message}" for field, message in problems]
        super().__init__(f"invalid config for customer {customer_id!r} in {self.path}:\n" + "\n".join(lines))

    @property
    def first_field(self) -> str:
        return self.problems[0][0] if self.problems else ""


class CustomerNotFoundError(PermanentError, LookupError):
    """No customer folder (or config.yaml) for the given id."""


class CustomerExistsError(TenantRagError):
    """create() was asked for a customer that already has a folder."""


class StateError(TenantRagError):
    """state.json could not be read or written."""


class DatabaseNotConfiguredError(TenantRagError):
    """No database URL could be found for ``conn_id`` where starting an embedded one would hide the mistake."""

    def __init__(self, conn_id: str, message: str) -> None:
        self.conn_id = conn_id
        super().__init__(message)


class SettingsError(PermanentError, ValueError):
    """An environment variable holds an unusable value (``tenant_rag.settings``).

    The message names each bad variable and the form it expects; a secret's value is never shown.
    """
