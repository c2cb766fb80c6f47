"""Permission-aware retrieval end to end: the demo site's restrictions, exported over real HTTP from the local
Confluence-compatible server, indexed by the real pipeline and enforced by the store, for two users of one customer.

globex's "Salary Bands and Pay Review" is read-restricted to the group ``globex-people-leads`` (Hanna is in it,
Tomás is not); its child "Pay Review Calendar" inherits the restriction, and so does a file attached to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.permissions import Identity
from tenant_rag_devtools.confluence_server import samples_globex
from tenant_rag_devtools.confluence_server.access import DEFAULT_GROUP
from tenant_rag_devtools.confluence_server.sample_files import MEDIA_TYPES, pdf_bytes
from tenant_rag_devtools.confluence_server.samples import populate_customer
from tenant_rag_devtools.confluence_server.server import FakeConfluence
from tests.integration.export.conftest import FAST
from tests.integration.export.conftest import make_config as confluence_config
from tests.integration.rag.rag_core_support import make_config, make_customer, offline_embedder

CREDENTIALS = ConfluenceCredentials(username="demo@example.com", api_token="demo-token")
HANNA = Identity(samples_globex.HANNA, (DEFAULT_GROUP, samples_globex.PAY_GROUP))
TOMAS = Identity(samples_globex.TOMAS, (DEFAULT_GROUP,))
PAY_PAGES = {"Salary Bands and Pay Review", "Pay Review Calendar"}
QUESTION = "When is the annual pay review, and which salary band is a senior support agent in?"
MODES = ("vector", "lexical", "hybrid")


def _titles(manager: CustomerRAGManager, who: Identity, mode: str, question: str = QUESTION) -> set[str]:
    return {doc.metadata["title"] for doc in manager.query(question, top_k=12, mode=mode, identity=who).documents}


@pytest.fixture
def globex(pg_url: str, tmp_path: Path) -> tuple[FakeConfluence, dict[str, str], CustomerRAGManager, Path]:
    fake = FakeConfluence(flavor="cloud", auth=("demo@example.com", "demo-token"))
    ids = populate_customer(fake, "globex")
    config = make_config("globex", permissions="enforce")
    root = make_customer(tmp_path / "customers", config)
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    return fake, ids, manager, root


def _sync(fake: FakeConfluence, manager: CustomerRAGManager, root: Path) -> dict[str, object]:
    with fake.serve() as url:
        config = confluence_config(url, ["HR", "SUPPORT"], customer="globex")
        export_customer(config, root, credentials=CREDENTIALS, retry_policy=FAST)
    return dict(manager.update_index(root / "exports"))


def test_two_users_of_one_customer_get_different_answers_in_every_mode(globex) -> None:
    fake, _, manager, root = globex
    stats = _sync(fake, manager, root)
    assert stats["pages_restricted"] == 2  # the restricted parent and the child that inherits it
    for mode in MODES:
        hanna, tomas = _titles(manager, HANNA, mode), _titles(manager, TOMAS, mode)
        assert hanna >= PAY_PAGES, mode
        assert not PAY_PAGES & tomas, mode
    # asked for 12, vector search returns every page each may read (12 for Hanna, 10 for Tomás), no more
    assert len(_titles(manager, HANNA, "vector")) == 12 and len(_titles(manager, TOMAS, "vector")) == 10


def test_lifting_the_parent_restriction_shows_the_subtree_and_restricting_the_child_hides_only_it(globex) -> None:
    fake, ids, manager, root = globex
    _sync(fake, manager, root)
    fake.permissions.set_read_restriction(ids["Salary Bands and Pay Review"])  # lifted: no new page version
    stats = _sync(fake, manager, root)
    assert stats["permissions_changed"] == 2 and stats["pages_restricted"] == 0 and stats["embedding_calls"] == 0
    for mode in MODES:
        assert _titles(manager, TOMAS, mode) >= PAY_PAGES, mode

    fake.permissions.set_read_restriction(ids["Pay Review Calendar"], users=(samples_globex.HANNA,))
    stats = _sync(fake, manager, root)
    assert stats["permissions_changed"] == 1 and stats["pages_restricted"] == 1
    for mode in MODES:
        tomas, hanna = _titles(manager, TOMAS, mode), _titles(manager, HANNA, mode)
        assert "Salary Bands and Pay Review" in tomas and "Pay Review Calendar" not in tomas, mode
        assert hanna >= PAY_PAGES, mode


def test_a_file_attached_to_a_restricted_page_is_hidden_with_it(globex) -> None:
    fake, ids, manager, root = globex
    pdf = pdf_bytes(["Band B6 covers directors: yearly base salary from 110,000 EUR, reviewed by the board."])
    fake.attach(ids["Salary Bands and Pay Review"], "directors-band.pdf", pdf, MEDIA_TYPES["pdf"])
    _sync(fake, manager, root)
    question = "yearly base salary of band B6 directors reviewed by the board"
    for mode in ("lexical", "hybrid"):
        assert "Salary Bands and Pay Review > directors-band.pdf" in _titles(manager, HANNA, mode, question), mode
        assert not any("directors-band" in t for t in _titles(manager, TOMAS, mode, question)), mode
