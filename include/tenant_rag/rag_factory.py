"""``RAGFactory``: the customers' ``CustomerRAGManager``s, built lazily and kept for the most recently used."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

from tenant_rag.config import CustomerConfig
from tenant_rag.embedding.base import Embedder
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.settings import settings


class RAGFactory:
    """Lazily built managers, at most ``TENANT_RAG_MAX_MANAGERS`` (default 64) kept, least recently used evicted."""

    _managers: ClassVar[OrderedDict[str, CustomerRAGManager]] = OrderedDict()
    _lock = threading.Lock()

    @classmethod
    def max_size(cls) -> int:
        return settings().max_managers

    @classmethod
    def get_rag_manager(
        cls,
        config: CustomerConfig,
        *,
        customer_dir: Path | None = None,
        database_url: str | None = None,
        embedder: Embedder | None = None,
    ) -> CustomerRAGManager:
        if customer_dir is None:
            from tenant_rag.customers import CustomerManager

            customer_dir = CustomerManager().paths(config.customer_id).root
        with cls._lock:
            manager = cls._managers.get(config.customer_id)
            fresh = (
                manager is not None
                and manager.config == config
                and manager.customer_dir == Path(customer_dir)
                and (database_url is None or manager._database_url == database_url)
                and (embedder is None or manager.embedder is embedder)
            )
            if manager is None or not fresh:
                manager = CustomerRAGManager(
                    config, customer_dir=Path(customer_dir), database_url=database_url, embedder=embedder
                )
                cls._managers[config.customer_id] = manager
            cls._managers.move_to_end(config.customer_id)
            while len(cls._managers) > cls.max_size():
                cls._managers.popitem(last=False)
            return manager

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls._managers.clear()

    @classmethod
    def cached_ids(cls) -> list[str]:
        with cls._lock:
            return list(cls._managers)
