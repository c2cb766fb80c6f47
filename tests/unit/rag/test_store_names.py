"""Store naming: schema, role and table identifiers derived from a customer's config (no database needed)."""

from __future__ import annotations

import pytest
from psycopg import sql
from pydantic import ValidationError

from tenant_rag.store.schema import StoreError, store_names
from tests.integration.rag.rag_core_support import make_config


def test_store_names_are_quoted_identifiers() -> None:
    names = store_names(make_config("Acme-Corp"))
    assert names.schema.startswith("customer_acme_corp_") and names.schema.endswith("_documents")
    assert names.role.endswith("_reader") and names.role != names.schema
    assert names.gen_table(3, "chunks") == sql.Identifier(names.schema, "g3_chunks")
    with pytest.raises(ValueError, match="unknown generation table"):
        names.gen_table(1, "pg_authid")


def test_store_names_refuse_reserved_collection_names() -> None:
    with pytest.raises(ValidationError, match="reserved"):  # refused when the config loads
        make_config("acme", collection_name="pg_toast_x")
    good = make_config("acme")
    forged = good.model_copy(update={"rag": good.rag.model_copy(update={"collection_name": "pg_toast_x"})})
    with pytest.raises(StoreError, match=r"'acme'.*pg_toast_x"):  # and by the store, should a config skip that
        store_names(forged)
