"""Which customer a chosen ``rag.collection_name`` belongs to, decided from the files (no database at parse time).

Default names cannot collide (``tenant_rag.naming``), so only chosen names are checked. When two or more configs
choose one name, its owner is the claimant whose ``state.json`` records that collection (written when the customer
was created with it, and by every run); if that does not single one out, the one that has built an index. Every
other claimant is refused: ``customers create`` refuses it, ``customers validate`` names it, and the DAG factory
gives it a config-error DAG. With no owner at all, every claimant is refused until all but one choose another name.
The database's ownership registry (``tenant_rag.store.registry``) enforces the same at write time, whatever the files
say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from tenant_rag.config import CONFIG_FILE, CustomerConfig, load_customer_config
from tenant_rag.errors import TenantRagError
from tenant_rag.state import load_state

_CHOOSES_A_NAME = re.compile(r"collection_name['\"]?\s*:\s*['\"]?(?!null\b|~)[A-Za-z_]")


def chosen_collections(configs: Iterable[CustomerConfig]) -> dict[str, list[str]]:
    """``{collection: [customer ids]}`` of the configs that choose their ``rag.collection_name``."""
    claims: dict[str, list[str]] = {}
    for config in configs:
        if config.rag.collection_name is not None:
            claims.setdefault(config.collection_name, []).append(config.customer_id)
    return claims


def chosen_collections_on_disk(base_dir: Path) -> dict[str, list[str]]:
    """``chosen_collections`` of every readable config under ``base_dir`` (unreadable ones claim nothing).

    Only files whose text chooses a name (``collection_name:`` followed by an identifier, not ``null``) are parsed:
    a shard's DAG file reads thousands of configs' text, not thousands of models, at parse time.
    """
    configs = []
    for path in sorted(base_dir.glob(f"*/{CONFIG_FILE}")):
        try:
            if not _CHOOSES_A_NAME.search(path.read_text(encoding="utf-8")):
                continue
            configs.append(load_customer_config(path))
        except (TenantRagError, OSError, UnicodeDecodeError):
            continue
    return chosen_collections(configs)


def collection_owner(base_dir: Path, collection: str, claimants: Sequence[str]) -> str | None:
    """The claimant whose state records ``collection`` (and, if several do, the only one that built it)."""
    recorded, built = [], []
    for customer_id in sorted(set(claimants)):
        try:
            state = load_state(base_dir / customer_id, customer_id)
        except TenantRagError:
            continue
        if state.customer_id == customer_id and state.rag_collection_name == collection:
            recorded.append(customer_id)
            if state.last_index_time is not None:
                built.append(customer_id)
    if len(recorded) == 1:
        return recorded[0]
    return built[0] if len(built) == 1 else None


def collection_problem(base_dir: Path, config: CustomerConfig, claims: dict[str, list[str]]) -> str | None:
    """Why ``config`` may not have its chosen collection (another claimant owns it, or none does), or None."""
    if config.rag.collection_name is None:
        return None
    collection = config.collection_name
    claimants = sorted({*claims.get(collection, []), config.customer_id})
    others = [c for c in claimants if c != config.customer_id]
    if not others:
        return None
    owner = collection_owner(base_dir, collection, claimants)
    if owner == config.customer_id:
        return None
    if owner is not None:
        return f"{collection!r} belongs to customer {owner!r} (its state.json records it); choose another name"
    return (
        f"{collection!r} is also chosen by {', '.join(repr(c) for c in others)} and no state.json singles out its "
        "owner; every claimant is refused until all but one choose another name"
    )
