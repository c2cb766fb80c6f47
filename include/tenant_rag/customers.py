"""Customer lifecycle on disk: create, list, load, validate all, delete (offboard)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tenant_rag.config import CONFIG_FILE, CustomerConfig, dump_customer_config, load_customer_config
from tenant_rag.errors import (
    ConfigError,
    CustomerExistsError,
    CustomerNotFoundError,
    TenantRagError,
)
from tenant_rag.fsutil import atomic_write_json, atomic_write_text
from tenant_rag.naming import validate_customer_id
from tenant_rag.ownership import chosen_collections, chosen_collections_on_disk, collection_problem
from tenant_rag.paths import customers_dir
from tenant_rag.state import CustomerState, RAGStatus, load_state, save_state, state_path

SUBDIRS = ("exports", "cache", "vectors", "vectors/rag_results", "logs")


@dataclass
class ValidationReport:
    valid: list[CustomerConfig] = field(default_factory=list)
    errors: dict[str, TenantRagError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class CustomerPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def state(self) -> Path:
        return state_path(self.root)

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def index_cache(self) -> Path:
        return self.vectors / "index_cache.json"

    @property
    def rag_results(self) -> Path:
        return self.vectors / "rag_results"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


class CustomerManager:
    """Owns ``<base_dir>/<customer_id>/`` folders. ``base_dir`` defaults to ``paths.customers_dir()``."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else customers_dir()

    def paths(self, customer_id: str) -> CustomerPaths:
        return CustomerPaths(self.base_dir / validate_customer_id(customer_id))

    def exists(self, customer_id: str) -> bool:
        return self.paths(customer_id).config.is_file()

    def list_ids(self) -> list[str]:
        """Ids of every folder with a config.yaml, sorted (invalid folder names included, for reporting)."""
        if not self.base_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.base_dir.glob(f"*/{CONFIG_FILE}"))

    def load(self, customer_id: str) -> CustomerConfig:
        paths = self.paths(customer_id)
        if not paths.config.is_file():
            raise CustomerNotFoundError(f"customer {customer_id!r}: no {CONFIG_FILE} in {paths.root}")
        return load_customer_config(paths.config)

    def load_state(self, customer_id: str) -> CustomerState:
        return load_state(self.paths(customer_id).root, customer_id)

    def create(self, config: CustomerConfig, *, exist_ok: bool = False) -> CustomerPaths:
        """Write the folder layout, config.yaml and a ``never_built`` state.json for ``config``."""
        paths = self.paths(config.customer_id)
        if paths.config.exists() and not exist_ok:
            raise CustomerExistsError(f"customer {config.customer_id!r} already exists at {paths.root}")
        problem = collection_problem(self.base_dir, config, chosen_collections_on_disk(self.base_dir))
        if problem is not None:
            raise CustomerExistsError(f"customer {config.customer_id!r}: rag.collection_name {problem}")
        for sub in SUBDIRS:
            (paths.root / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(paths.config, dump_customer_config(config))
        if not paths.index_cache.exists():
            atomic_write_json(paths.index_cache, {"pages": {}, "note": "cache only; the database is authoritative"})
        if not paths.state.exists():
            save_state(
                paths.root,
                CustomerState(customer_id=config.customer_id, rag_collection_name=config.collection_name),
            )
        return paths

    def validate_all(self) -> ValidationReport:
        """Validate every customer; report each bad one (never stop at the first) and collection clashes."""
        report = ValidationReport()
        for customer_id in self.list_ids():
            try:
                report.valid.append(load_customer_config(self.base_dir / customer_id / CONFIG_FILE))
            except ConfigError as exc:
                report.errors[customer_id] = exc
            except TenantRagError as exc:
                report.errors[customer_id] = exc
        claims = chosen_collections(report.valid)
        for config in list(report.valid):
            problem = collection_problem(self.base_dir, config, claims)
            if problem is not None:
                report.valid.remove(config)
                report.errors[config.customer_id] = ConfigError(
                    config.customer_id,
                    self.base_dir / config.customer_id / CONFIG_FILE,
                    [("rag.collection_name", problem)],
                )
        return report

    def delete(self, customer_id: str, *, drop_store: Callable[[CustomerConfig], None] | None = None) -> None:
        """Offboard: drop the customer's store (when given a dropper) and remove its folder."""
        paths = self.paths(customer_id)
        if not paths.root.exists():
            raise CustomerNotFoundError(f"customer {customer_id!r}: no folder at {paths.root}")
        if drop_store is not None:
            drop_store(self.load(customer_id))
        shutil.rmtree(paths.root)

    def mark_deleted(self, customer_id: str) -> None:
        state = self.load_state(customer_id).model_copy(
            update={"status": RAGStatus.DELETED, "is_ready_for_queries": False}
        )
        save_state(self.paths(customer_id).root, state)
