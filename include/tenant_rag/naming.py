"""Customer ids and the database names derived from them.

A customer id names a folder, a DAG and a Postgres schema, so it is held to the strictest of the three.
The schema (``customer_<safe>_documents``) and the role (``customer_<safe>_reader``) are both derived from the
customer id through one injective step, ``safe_name``: an id that is already a plain lower-case name and does not end
like a hash tag stays as it is; every other id (sanitised, truncated, or one that merely looks like ``x_1a2b3c4d``)
gets ``_<8 hex digits of sha256(id)>`` appended. So two ids never map to one schema or one role (a hash collision
is still refused, by the database's ownership registry: ``tenant_rag.store.registry``). The ``customer_`` prefix is
reserved for these derived names: a chosen ``rag.collection_name`` may not start with it (``check_chosen_name``).
"""

from __future__ import annotations

import hashlib
import re

from tenant_rag.errors import InvalidCustomerIdError

MAX_CUSTOMER_ID_LENGTH = 64
PG_IDENTIFIER_MAX_BYTES = 63
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"con", "prn", "aux", "nul", "com1", "lpt1", "default", "public"}
_PREFIX, _SUFFIX, _ROLE_SUFFIX = "customer_", "_documents", "_reader"
_HASH_TAG = re.compile(r"_[0-9a-f]{8}$")
_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: schemas a chosen collection name may never take: PostgreSQL's own and this project's registry
RESERVED_SCHEMA_PREFIXES = ("pg_", "tenant_rag", _PREFIX)
RESERVED_SCHEMAS = {"public", "information_schema"}


def validate_customer_id(customer_id: object) -> str:
    """Return ``customer_id`` unchanged if it is usable, else raise ``InvalidCustomerIdError`` saying why."""
    if not isinstance(customer_id, str):
        raise InvalidCustomerIdError(f"customer id must be a string, got {type(customer_id).__name__}")
    if not customer_id:
        raise InvalidCustomerIdError("customer id must not be empty")
    if len(customer_id) > MAX_CUSTOMER_ID_LENGTH:
        raise InvalidCustomerIdError(
            f"customer id {customer_id[:20]!r}... is {len(customer_id)} characters; at most "
            f"{MAX_CUSTOMER_ID_LENGTH} are allowed"
        )
    if not customer_id.isprintable() or any(ch.isspace() for ch in customer_id):
        raise InvalidCustomerIdError(f"customer id {customer_id!r} contains whitespace or control characters")
    if "/" in customer_id or "\\" in customer_id or ".." in customer_id:
        raise InvalidCustomerIdError(f"customer id {customer_id!r} looks like a path; use letters and digits")
    if not _ID_RE.match(customer_id):
        raise InvalidCustomerIdError(
            f"customer id {customer_id!r} is not allowed: use ASCII letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    if customer_id.lower() in _RESERVED:
        raise InvalidCustomerIdError(f"customer id {customer_id!r} is a reserved name")
    return customer_id


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def safe_name(customer_id: str) -> str:
    """The injective, identifier-safe form of a customer id that its schema and role names are built from."""
    validate_customer_id(customer_id)
    safe = re.sub(r"[^a-z0-9_]", "_", customer_id.lower())
    budget = PG_IDENTIFIER_MAX_BYTES - len(_PREFIX) - len(_SUFFIX)
    if safe != customer_id or len(safe) > budget or _HASH_TAG.search(safe):
        tag = _short_hash(customer_id)
        safe = f"{safe[: budget - len(tag) - 1]}_{tag}"
    return safe


def generate_collection_name(customer_id: str) -> str:
    """``customer_<safe>_documents``: the default schema of a customer, unique per id, at most 63 bytes."""
    return f"{_PREFIX}{safe_name(customer_id)}{_SUFFIX}"


def tenant_role_name(customer_id: str) -> str:
    """``customer_<safe>_reader``: the database role that may read only this customer's schema.

    Derived from the customer id (never from a chosen collection name), so no two customers share a role.
    """
    return f"{_PREFIX}{safe_name(customer_id)}{_ROLE_SUFFIX}"


def check_chosen_name(collection_name: str) -> str:
    """Refuse a chosen ``rag.collection_name`` that is not a plain identifier or takes a reserved shape.

    The ``customer_`` prefix belongs to the derived names: allowing it would let one customer name another's
    default schema. ``pg_*``, ``tenant_rag*``, ``public`` and ``information_schema`` belong to PostgreSQL and this
    project. Raises ``ValueError`` saying why.
    """
    if not _PLAIN_IDENTIFIER.match(collection_name):
        raise ValueError(f"{collection_name!r} must be a lower-case identifier of at most 63 bytes")
    if collection_name in RESERVED_SCHEMAS or collection_name.startswith(RESERVED_SCHEMA_PREFIXES):
        raise ValueError(
            f"{collection_name!r} is reserved: a chosen name may not start with "
            f"{', '.join(repr(p) for p in RESERVED_SCHEMA_PREFIXES)} nor be public/information_schema "
            "(leave collection_name unset for the default customer_<id>_documents)"
        )
    return collection_name


def dag_id_for(customer_id: str) -> str:
    return f"tenant_rag__{customer_id}"
