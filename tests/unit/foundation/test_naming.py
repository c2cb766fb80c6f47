"""Collection names are valid, bounded and unique; bad customer ids are refused."""

from __future__ import annotations

import pytest

from tenant_rag.errors import InvalidCustomerIdError
from tenant_rag.naming import (
    PG_IDENTIFIER_MAX_BYTES,
    dag_id_for,
    generate_collection_name,
    tenant_role_name,
    validate_customer_id,
)


def test_seed_format_for_clean_ids() -> None:
    assert generate_collection_name("acme") == "customer_acme_documents"
    assert generate_collection_name("acme_corp") == "customer_acme_corp_documents"


def test_ids_that_sanitise_alike_get_different_names() -> None:
    names = {generate_collection_name(cid) for cid in ["acme-corp", "acme_corp", "acme.corp", "Acme_Corp"]}
    assert len(names) == 4


def test_names_are_deterministic() -> None:
    assert generate_collection_name("acme-corp") == generate_collection_name("acme-corp")


def test_long_ids_fit_postgres_and_stay_unique() -> None:
    a, b = "a" * 63 + "x", "a" * 63 + "y"
    name_a, name_b = generate_collection_name(a), generate_collection_name(b)
    assert len(name_a.encode()) <= PG_IDENTIFIER_MAX_BYTES
    assert name_a != name_b
    assert len(tenant_role_name(name_a).encode()) <= PG_IDENTIFIER_MAX_BYTES
    assert tenant_role_name(name_a) != tenant_role_name(name_b)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../x",
        "a/b",
        "a\\b",
        "..",
        "acme\n",
        "ac me",
        "\x00acme",
        "é-corp",
        "日本",
        "-acme",
        "a" * 65,
        "con",
        "public",
        42,
        None,
    ],
)
def test_bad_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidCustomerIdError):
        validate_customer_id(bad)
    if isinstance(bad, str):
        with pytest.raises(InvalidCustomerIdError):
            generate_collection_name(bad)


def test_dag_id() -> None:
    assert dag_id_for("acme-corp") == "tenant_rag__acme-corp"
