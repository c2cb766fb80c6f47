"""Customer lifecycle: create, list, load, validate all, delete; and the CLI on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tenant_rag.cli import main
from tenant_rag.config import CustomerConfig, DirectoryExportConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.errors import CustomerExistsError, CustomerNotFoundError, InvalidCustomerIdError
from tenant_rag.state import RAGStatus


def make(customer_id: str, **rag: object) -> CustomerConfig:
    return CustomerConfig.model_validate(
        {
            "customer_id": customer_id,
            "display_name": customer_id.title(),
            "export": DirectoryExportConfig(source="directory", path="exports").model_dump(),
            "rag": rag,
        }
    )


def test_create_writes_seed_layout(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    paths = manager.create(make("acme"))
    for rel in [
        "config.yaml",
        "state.json",
        "exports",
        "cache",
        "vectors/index_cache.json",
        "vectors/rag_results",
        "logs",
    ]:
        assert (paths.root / rel).exists(), rel
    assert manager.load("acme") == make("acme")
    state = manager.load_state("acme")
    assert state.status is RAGStatus.NEVER_BUILT
    assert state.rag_collection_name == "customer_acme_documents"


def test_create_twice_and_collection_clash(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    manager.create(make("acme"))
    with pytest.raises(CustomerExistsError):
        manager.create(make("acme"))
    with pytest.raises(ValidationError, match="reserved"):  # another customer's default name: refused by shape
        make("other", collection_name="customer_acme_documents")
    manager.create(make("first", collection_name="shared_docs"))
    with pytest.raises(CustomerExistsError, match="belongs to customer 'first'"):
        manager.create(make("other", collection_name="shared_docs"))


def test_list_sorted_and_load_unknown(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    for cid in ["zeta", "acme", "mid"]:
        manager.create(make(cid))
    assert manager.list_ids() == ["acme", "mid", "zeta"]
    with pytest.raises(CustomerNotFoundError):
        manager.load("nobody")
    with pytest.raises(InvalidCustomerIdError):
        manager.load("../etc")


def test_validate_all_reports_every_bad_customer(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    manager.create(make("good"))
    (customers_dir / "bad1").mkdir()
    (customers_dir / "bad1" / "config.yaml").write_text("customer_id: bad1\n")
    (customers_dir / "bad2").mkdir()
    (customers_dir / "bad2" / "config.yaml").write_text("{{{")
    report = manager.validate_all()
    assert [c.customer_id for c in report.valid] == ["good"]
    assert sorted(report.errors) == ["bad1", "bad2"]
    assert "display_name" in str(report.errors["bad1"])


def test_validate_all_detects_duplicate_collection(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    manager.create(make("a1", collection_name="shared_name"))
    other = customers_dir / "a2"
    other.mkdir()
    (other / "config.yaml").write_text(
        "customer_id: a2\ndisplay_name: A2\nexport: {source: directory, path: x}\nrag: {collection_name: shared_name}\n"
    )
    report = manager.validate_all()
    assert "a1" not in report.errors  # the owner (its state.json records the collection) keeps it
    assert "a2" in report.errors and "belongs to customer 'a1'" in str(report.errors["a2"])


def test_delete_removes_folder_and_calls_dropper(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    manager.create(make("acme"))
    dropped: list[str] = []
    manager.delete("acme", drop_store=lambda config: dropped.append(config.collection_name))
    assert dropped == ["customer_acme_documents"]
    assert not (customers_dir / "acme").exists()
    with pytest.raises(CustomerNotFoundError):
        manager.delete("acme")


def test_cli_create_list_validate_show(customers_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "customers",
                "create",
                "acme",
                "--name",
                "Acme",
                "--base-url",
                "https://acme.example/wiki",
                "--space",
                "ENG",
                "--space",
                "OPS",
            ]
        )
        == 0
    )
    assert main(["customers", "create", "globex", "--directory", "/srv/md"]) == 0
    assert main(["customers", "list"]) == 0
    assert main(["customers", "validate"]) == 0
    out = capsys.readouterr().out
    assert "acme\tnever_built" in out and "2 valid, 0 invalid" in out
    assert main(["customers", "show", "acme"]) == 0
    assert '"space_keys": [\n        "ENG",\n        "OPS"' in capsys.readouterr().out
    (customers_dir / "broken").mkdir()
    (customers_dir / "broken" / "config.yaml").write_text("customer_id: broken\n")
    assert main(["customers", "validate"]) == 1
    assert "INVALID broken" in capsys.readouterr().err
    assert main(["customers", "delete", "globex"]) == 2
    assert main(["customers", "delete", "globex", "--confirm", "globex", "--keep-index"]) == 0
    assert not (customers_dir / "globex").exists()
