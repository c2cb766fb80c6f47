"""Faults: 20% of calls failing (429 + Retry-After, 500, slow, dropped) give the same export as a clean run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.export import ConfluenceHTTPError, RetryPolicy, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS, tree


def _site(fake: FakeConfluence, pages: int = 60) -> list[str]:
    fake.add_space("ENG", "Engineering")
    fake.add_user("u-1", "Ada Lovelace")
    ids: list[str] = []
    for number in range(pages):
        parent = ids[number // 4] if number >= 4 else None
        body = (
            f'<h2>Section {number}</h2><p>text <ac:link><ri:user ri:account-id="u-1" /></ac:link> '
            f'<ac:link><ri:page ri:content-title="Page {max(0, number - 1)}" /></ac:link></p>'
        )
        ids.append(fake.add_page("ENG", f"Page {number}", body, parent_id=parent, labels=["l"]))
    return ids


@pytest.mark.parametrize(("flavor", "seed"), [("cloud", 1), ("cloud", 2), ("server", 3)])
def test_twenty_percent_faults_give_the_same_export(
    config_for: Callable[..., CustomerConfig], tmp_path: Path, flavor: str, seed: int
) -> None:
    fake = FakeConfluence(flavor=flavor, auth=CLOUD_AUTH, bearer="server-pat", seed=seed)  # type: ignore[arg-type]
    _site(fake)
    credentials = CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS
    policy = RetryPolicy(timeout_seconds=0.5, max_retries=8, backoff_base=0.005, backoff_max=0.05)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor, page_size=10)
        clean = export_customer(config, tmp_path / "clean", credentials=credentials, retry_policy=policy)
        fake.set_faults(rate=0.2, retry_after=0.02, slow_seconds=1.0)  # slow answers exceed the 0.5 s timeout
        faulty = export_customer(config, tmp_path / "faulty", credentials=credentials, retry_policy=policy)
    assert clean["retries"] == 0 and faulty["retries"] > 0
    assert faulty["errors"] == [] and faulty["pages_written"] == clean["pages_written"] == 60
    assert all(fake.faults.injected[kind] > 0 for kind in ("429", "500", "slow", "drop")), fake.faults.injected
    assert tree(tmp_path / "faulty") == tree(tmp_path / "clean")


def test_a_page_failing_after_retries_is_an_error_and_the_rest_goes_on(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake, pages=8)
    fake.break_page(ids[5])
    config = config_for(served, ["ENG"])
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["pages_written"] == 7
    assert [(e["page_id"], e["space_key"]) for e in stats["errors"]] == [(ids[5], "ENG")]
    assert "500" in stats["errors"][0]["error"] and stats["retries"] == FAST.max_retries
    assert stats["errors_total"] == 1
    fake.fix_page(ids[5])
    again = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert (again["pages_fetched"], again["errors"]) == (1, [])  # the next run picks it up


def test_an_old_page_that_fails_keeps_its_previous_file(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake, pages=4)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    before = tree(tmp_path)
    fake.update_page(ids[2], storage="<p>new</p>")
    fake.break_page(ids[2], status=503)
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["errors_total"] == 1 and tree(tmp_path) == before


def test_listing_failures_stop_the_run(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    _site(fake, pages=3)
    fake.set_faults(rate=1.0, kinds=["500"])
    with pytest.raises(ConfluenceHTTPError, match="500"):
        export_customer(
            config_for(served, ["ENG"]),
            tmp_path,
            credentials=CLOUD_CREDENTIALS,
            retry_policy=RetryPolicy(max_retries=2, backoff_base=0.001),
        )
