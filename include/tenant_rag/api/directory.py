"""Customer configs and states as the API sees them, cached by file stamp so a request does not parse YAML.

A config edited on disk is picked up on the next request (the stamp changes); a customer whose config is invalid
is still listed for admins, with the validation message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tenant_rag.config import CONFIG_FILE, CustomerConfig, load_customer_config
from tenant_rag.errors import InvalidCustomerIdError, TenantRagError
from tenant_rag.naming import validate_customer_id
from tenant_rag.state import CustomerState, load_state


@dataclass(frozen=True)
class CustomerEntry:
    customer_id: str
    folder: Path
    config: CustomerConfig | None
    error: str | None

    @property
    def display_name(self) -> str | None:
        return self.config.display_name if self.config else None


class CustomerDirectory:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int, int], CustomerEntry]] = {}

    def folder(self, customer_id: str) -> Path:
        return self.base_dir / validate_customer_id(customer_id)

    def get(self, customer_id: str) -> CustomerEntry | None:
        """The customer's entry, or None when the id is invalid or has no config.yaml."""
        try:
            folder = self.folder(customer_id)
        except InvalidCustomerIdError:
            return None
        path = folder / CONFIG_FILE
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(customer_id)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            entry = CustomerEntry(customer_id, folder, load_customer_config(path), None)
        except TenantRagError as exc:
            entry = CustomerEntry(customer_id, folder, None, str(exc))
        with self._lock:
            self._cache[customer_id] = (stamp, entry)
        return entry

    def ids(self) -> list[str]:
        """Valid customer ids that have a config.yaml, sorted."""
        if not self.base_dir.is_dir():
            return []
        found = []
        for path in self.base_dir.glob(f"*/{CONFIG_FILE}"):
            try:
                found.append(validate_customer_id(path.parent.name))
            except InvalidCustomerIdError:
                continue
        return sorted(found)

    def state(self, entry: CustomerEntry) -> CustomerState:
        try:
            return load_state(entry.folder, entry.customer_id)
        except TenantRagError as exc:
            return CustomerState(customer_id=entry.customer_id, last_error=str(exc))
